import NSDEKernels

// One-line forwards to the NSDEKernels C functions (`…_f64`).
extension Double: SDEScalar {
  @inlinable
  public static func activation(
    _ kind: Int32, n: Int, x: UnsafePointer<Double>, y: UnsafeMutablePointer<Double>?,
    dy: UnsafeMutablePointer<Double>?, d2y: UnsafeMutablePointer<Double>?
  ) { nsde_activation_f64(kind, n, x, y, dy, d2y) }
  @inlinable
  public static func biasActivation(
    _ kind: Int32, rows: Int, cols: Int, z: UnsafeMutablePointer<Double>,
    bias: UnsafePointer<Double>?, da: UnsafeMutablePointer<Double>?
  ) { nsde_bias_activation_f64(kind, rows, cols, z, bias, da) }
  @inlinable
  public static func scaleByDerivative(
    _ kind: Int32, n: Int, out: UnsafeMutablePointer<Double>, g: UnsafePointer<Double>,
    a: UnsafePointer<Double>?, d: UnsafePointer<Double>?
  ) { nsde_scale_by_derivative_f64(kind, n, out, g, a, d) }
  @inlinable
  public static func addProductsDiagonal(
    rows: Int, d: Int, x: UnsafePointer<Double>, b: UnsafePointer<Double>, sigma: UnsafePointer<Double>,
    dw: UnsafePointer<Double>, h: RowStepSizes<Double>, out: UnsafeMutablePointer<Double>
  ) { nsde_add_products_diagonal_f64(rows, d, x, b, sigma, dw, h.uniform, h.perGroup, h.groupRows, out) }
  @inlinable
  public static func addProductsAdditive(
    rows: Int, d: Int, x: UnsafePointer<Double>, b: UnsafePointer<Double>, sigma: UnsafePointer<Double>,
    dw: UnsafePointer<Double>, h: RowStepSizes<Double>, out: UnsafeMutablePointer<Double>
  ) { nsde_add_products_additive_f64(rows, d, x, b, sigma, dw, h.uniform, h.perGroup, h.groupRows, out) }
  @inlinable
  public static func addProductsGeneral(
    rows: Int, d: Int, m: Int, x: UnsafePointer<Double>, b: UnsafePointer<Double>, sigma: UnsafePointer<Double>,
    dw: UnsafePointer<Double>, h: RowStepSizes<Double>, out: UnsafeMutablePointer<Double>
  ) { nsde_add_products_general_f64(rows, d, m, x, b, sigma, dw, h.uniform, h.perGroup, h.groupRows, out) }
  @inlinable
  public static func scaledRows(
    rows: Int, cols: Int, h: RowStepSizes<Double>, x: UnsafePointer<Double>, out: UnsafeMutablePointer<Double>
  ) { nsde_scaled_rows_f64(rows, cols, h.uniform, h.perGroup, h.groupRows, x, out) }
  @inlinable
  public static func applyControl(
    points: Int, k: Int, m: Int, u: UnsafePointer<Double>, dw: UnsafeMutablePointer<Double>, h: RowStepSizes<Double>,
    kl: UnsafeMutablePointer<Double>, logWeights: UnsafeMutablePointer<Double>
  ) { nsde_apply_control_f64(points, k, m, u, dw, h.uniform, h.perGroup, h.groupRows, kl, logWeights) }
  @inlinable
  public static func multiply(
    n: Int, x: UnsafePointer<Double>, y: UnsafePointer<Double>, out: UnsafeMutablePointer<Double>
  ) {
    nsde_mul_f64(n, x, y, out)
  }
  @inlinable
  public static func rowOuter(
    rows: Int, d: Int, m: Int, a: UnsafePointer<Double>, b: UnsafePointer<Double>, out: UnsafeMutablePointer<Double>
  ) { nsde_row_outer_f64(rows, d, m, a, b, out) }
  @inlinable
  public static func rowTransposeApply(
    rows: Int, d: Int, m: Int, s: UnsafePointer<Double>, v: UnsafePointer<Double>, out: UnsafeMutablePointer<Double>
  ) { nsde_row_transpose_apply_f64(rows, d, m, s, v, out) }
  @inlinable
  public static func controlGradient(
    points: Int, k: Int, m: Int, a: Double, u: UnsafePointer<Double>, h: RowStepSizes<Double>, v: UnsafePointer<Double>,
    c: UnsafePointer<Double>?, w: UnsafePointer<Double>, out: UnsafeMutablePointer<Double>
  ) { nsde_control_gradient_f64(points, k, m, a, u, h.uniform, h.perGroup, h.groupRows, v, c, w, out) }
  @inlinable
  public static func broadcastRows(rows: Int, cols: Int, row: UnsafePointer<Double>, out: UnsafeMutablePointer<Double>)
  {
    nsde_broadcast_rows_f64(rows, cols, row, out)
  }
  @inlinable
  public static func addColumnSums(
    rows: Int, cols: Int, a: UnsafePointer<Double>, lda: Int, into out: UnsafeMutablePointer<Double>
  ) { nsde_column_sums_f64(rows, cols, a, lda, out) }
  @inlinable
  public static func streamCopy(n: Int, from x: UnsafePointer<Double>, to out: UnsafeMutablePointer<Double>) {
    nsde_stream_copy_f64(n, x, out)
  }
  @inlinable
  public static func gemmTile(
    rows: Int, cols: Int, k: Int, a: UnsafePointer<Double>, ars: Int, aks: Int, b: UnsafePointer<Double>, ldb: Int,
    bias: UnsafePointer<Double>?, accumulate: Bool, c: UnsafeMutablePointer<Double>, ldc: Int
  ) { nsde_gemm_tile_f64(rows, cols, k, a, ars, aks, b, ldb, bias, accumulate ? 1 : 0, c, ldc) }
  @inlinable
  public static func normals(
    seed: UInt64, step: Int, firstPath: Int, paths: Int, dimension: Int, scale: Double,
    into out: UnsafeMutablePointer<Double>, ld: Int
  ) { nsde_normals_f64(seed, UInt64(step), Int64(firstPath), paths, dimension, scale, out, ld) }
  @inlinable
  public static func normals(
    seed: UInt64, step: Int, firstPath: Int, paths: Int, dimension: Int, scales: UnsafePointer<Double>, group: Int,
    into out: UnsafeMutablePointer<Double>, ld: Int
  ) { nsde_normals_grouped_f64(seed, UInt64(step), Int64(firstPath), paths, dimension, scales, group, out, ld) }
  public static var fmaProbeLanes: Int { Int(NSDE_FMA_PROBE_LANES_F64) }
  @inlinable
  public static func fmaProbe(iterations: Int, a: Double, b: Double) -> Double { nsde_fma_probe_f64(iterations, a, b) }
}
