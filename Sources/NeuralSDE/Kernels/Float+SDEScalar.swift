import NSDEKernels

// One-line forwards to the NSDEKernels C functions (`…_f32`).
extension Float: SDEScalar {
  @inlinable
  public static func activation(
    _ kind: Int32, n: Int, x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>?,
    dy: UnsafeMutablePointer<Float>?, d2y: UnsafeMutablePointer<Float>?
  ) { nsde_activation_f32(kind, n, x, y, dy, d2y) }
  @inlinable
  public static func biasActivation(
    _ kind: Int32, rows: Int, cols: Int, z: UnsafeMutablePointer<Float>,
    bias: UnsafePointer<Float>?, da: UnsafeMutablePointer<Float>?
  ) { nsde_bias_activation_f32(kind, rows, cols, z, bias, da) }
  @inlinable
  public static func scaleByDerivative(
    _ kind: Int32, n: Int, out: UnsafeMutablePointer<Float>, g: UnsafePointer<Float>,
    a: UnsafePointer<Float>?, d: UnsafePointer<Float>?
  ) { nsde_scale_by_derivative_f32(kind, n, out, g, a, d) }
  @inlinable
  public static func addProductsDiagonal(
    rows: Int, d: Int, x: UnsafePointer<Float>, b: UnsafePointer<Float>, sigma: UnsafePointer<Float>,
    dw: UnsafePointer<Float>, h: RowStepSizes<Float>, out: UnsafeMutablePointer<Float>
  ) { nsde_add_products_diagonal_f32(rows, d, x, b, sigma, dw, h.uniform, h.perGroup, h.groupRows, out) }
  @inlinable
  public static func addProductsAdditive(
    rows: Int, d: Int, x: UnsafePointer<Float>, b: UnsafePointer<Float>, sigma: UnsafePointer<Float>,
    dw: UnsafePointer<Float>, h: RowStepSizes<Float>, out: UnsafeMutablePointer<Float>
  ) { nsde_add_products_additive_f32(rows, d, x, b, sigma, dw, h.uniform, h.perGroup, h.groupRows, out) }
  @inlinable
  public static func addProductsGeneral(
    rows: Int, d: Int, m: Int, x: UnsafePointer<Float>, b: UnsafePointer<Float>, sigma: UnsafePointer<Float>,
    dw: UnsafePointer<Float>, h: RowStepSizes<Float>, out: UnsafeMutablePointer<Float>
  ) { nsde_add_products_general_f32(rows, d, m, x, b, sigma, dw, h.uniform, h.perGroup, h.groupRows, out) }
  @inlinable
  public static func scaledRows(
    rows: Int, cols: Int, h: RowStepSizes<Float>, x: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>
  ) { nsde_scaled_rows_f32(rows, cols, h.uniform, h.perGroup, h.groupRows, x, out) }
  @inlinable
  public static func applyControl(
    points: Int, k: Int, m: Int, u: UnsafePointer<Float>, dw: UnsafeMutablePointer<Float>, h: RowStepSizes<Float>,
    kl: UnsafeMutablePointer<Double>, logWeights: UnsafeMutablePointer<Double>
  ) { nsde_apply_control_f32(points, k, m, u, dw, h.uniform, h.perGroup, h.groupRows, kl, logWeights) }
  @inlinable
  public static func multiply(
    n: Int, x: UnsafePointer<Float>, y: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>
  ) {
    nsde_mul_f32(n, x, y, out)
  }
  @inlinable
  public static func rowOuter(
    rows: Int, d: Int, m: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>
  ) { nsde_row_outer_f32(rows, d, m, a, b, out) }
  @inlinable
  public static func rowTransposeApply(
    rows: Int, d: Int, m: Int, s: UnsafePointer<Float>, v: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>
  ) { nsde_row_transpose_apply_f32(rows, d, m, s, v, out) }
  @inlinable
  public static func controlGradient(
    points: Int, k: Int, m: Int, a: Float, u: UnsafePointer<Float>, h: RowStepSizes<Float>, v: UnsafePointer<Float>,
    c: UnsafePointer<Double>?, w: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>
  ) { nsde_control_gradient_f32(points, k, m, a, u, h.uniform, h.perGroup, h.groupRows, v, c, w, out) }
  @inlinable
  public static func broadcastRows(rows: Int, cols: Int, row: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>) {
    nsde_broadcast_rows_f32(rows, cols, row, out)
  }
  @inlinable
  public static func addColumnSums(
    rows: Int, cols: Int, a: UnsafePointer<Float>, lda: Int, into out: UnsafeMutablePointer<Float>
  ) { nsde_column_sums_f32(rows, cols, a, lda, out) }
  @inlinable
  public static func streamCopy(n: Int, from x: UnsafePointer<Float>, to out: UnsafeMutablePointer<Float>) {
    nsde_stream_copy_f32(n, x, out)
  }
  @inlinable
  public static func gemmTile(
    rows: Int, cols: Int, k: Int, a: UnsafePointer<Float>, ars: Int, aks: Int, b: UnsafePointer<Float>, ldb: Int,
    bias: UnsafePointer<Float>?, accumulate: Bool, c: UnsafeMutablePointer<Float>, ldc: Int
  ) { nsde_gemm_tile_f32(rows, cols, k, a, ars, aks, b, ldb, bias, accumulate ? 1 : 0, c, ldc) }
  @inlinable
  public static func normals(
    seed: UInt64, step: Int, firstPath: Int, paths: Int, dimension: Int, scale: Double,
    into out: UnsafeMutablePointer<Float>, ld: Int
  ) { nsde_normals_f32(seed, UInt64(step), Int64(firstPath), paths, dimension, scale, out, ld) }
  @inlinable
  public static func normals(
    seed: UInt64, step: Int, firstPath: Int, paths: Int, dimension: Int, scales: UnsafePointer<Double>, group: Int,
    into out: UnsafeMutablePointer<Float>, ld: Int
  ) { nsde_normals_grouped_f32(seed, UInt64(step), Int64(firstPath), paths, dimension, scales, group, out, ld) }
  public static var fmaProbeLanes: Int { Int(NSDE_FMA_PROBE_LANES_F32) }
  @inlinable
  public static func fmaProbe(iterations: Int, a: Float, b: Float) -> Float { nsde_fma_probe_f32(iterations, a, b) }
}
