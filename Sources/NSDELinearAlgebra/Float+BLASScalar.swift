import CBLAS
import CLAPACKE
import NSDEKernels
import RealModule

extension Float: BLASScalar {
  public static var dtypeName: String { "Float" }

  @inlinable
  public static func gemm(
    transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float, a: UnsafePointer<Float>,
    lda: Int, b: UnsafePointer<Float>, ldb: Int, beta: Float, c: UnsafeMutablePointer<Float>,
    ldc: Int
  ) {
    cblas_sgemm(
      CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
      blasint(m), blasint(n), blasint(k), alpha, a, blasint(lda), b, blasint(ldb), beta, c,
      blasint(ldc))
  }
  @inlinable
  public static func gemv(
    trans: Bool, m: Int, n: Int, alpha: Float, a: UnsafePointer<Float>, lda: Int,
    x: UnsafePointer<Float>, incx: Int, beta: Float, y: UnsafeMutablePointer<Float>, incy: Int
  ) {
    cblas_sgemv(
      CblasRowMajor, trans ? CblasTrans : CblasNoTrans, blasint(m), blasint(n), alpha, a,
      blasint(lda), x, blasint(incx), beta, y, blasint(incy))
  }
  @inlinable
  public static func axpy(
    n: Int, alpha: Float, x: UnsafePointer<Float>, incx: Int, y: UnsafeMutablePointer<Float>,
    incy: Int
  ) { cblas_saxpy(blasint(n), alpha, x, blasint(incx), y, blasint(incy)) }
  @inlinable
  public static func dot(
    n: Int, x: UnsafePointer<Float>, incx: Int, y: UnsafePointer<Float>, incy: Int
  ) -> Float { cblas_sdot(blasint(n), x, blasint(incx), y, blasint(incy)) }
  @inlinable
  public static func nrm2(n: Int, x: UnsafePointer<Float>, incx: Int) -> Float {
    cblas_snrm2(blasint(n), x, blasint(incx))
  }
  @inlinable
  public static func scal(n: Int, alpha: Float, x: UnsafeMutablePointer<Float>, incx: Int) {
    cblas_sscal(blasint(n), alpha, x, blasint(incx))
  }

  public static func potrf(n: Int, a: UnsafeMutablePointer<Float>, lda: Int) -> Int {
    Int(LAPACKE_spotrf(LAPACK_ROW_MAJOR, CChar(UInt8(ascii: "L")), Int32(n), a, Int32(lda)))
  }
  public static func potrs(
    n: Int, nrhs: Int, a: UnsafePointer<Float>, lda: Int, b: UnsafeMutablePointer<Float>, ldb: Int
  ) -> Int {
    Int(
      LAPACKE_spotrs(
        LAPACK_ROW_MAJOR, CChar(UInt8(ascii: "L")), Int32(n), Int32(nrhs), a,
        Int32(lda), b, Int32(ldb)))
  }
  public static func gesv(
    n: Int, nrhs: Int, a: UnsafeMutablePointer<Float>, lda: Int, ipiv: UnsafeMutablePointer<Int32>,
    b: UnsafeMutablePointer<Float>, ldb: Int
  ) -> Int {
    Int(
      LAPACKE_sgesv(
        LAPACK_ROW_MAJOR, Int32(n), Int32(nrhs), a, Int32(lda), ipiv, b,
        Int32(ldb)))
  }
  public static func syev(
    vectors: Bool, n: Int, a: UnsafeMutablePointer<Float>, lda: Int, w: UnsafeMutablePointer<Float>
  ) -> Int {
    Int(
      LAPACKE_ssyev(
        LAPACK_ROW_MAJOR, CChar(UInt8(ascii: vectors ? "V" : "N")), CChar(UInt8(ascii: "L")),
        Int32(n), a, Int32(lda), w))
  }

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
  public static func countNonFinite(n: Int, x: UnsafePointer<Float>) -> Int {
    nsde_count_nonfinite_f32(n, x)
  }
  @inlinable
  public static func emDiagonal(
    n: Int, x: UnsafePointer<Float>, b: UnsafePointer<Float>, sigma: UnsafePointer<Float>,
    dw: UnsafePointer<Float>, h: Float, out: UnsafeMutablePointer<Float>
  ) { nsde_em_diagonal_f32(n, x, b, sigma, dw, h, out) }
  @inlinable
  public static func emAdditive(
    rows: Int, d: Int, x: UnsafePointer<Float>, b: UnsafePointer<Float>, sigma: UnsafePointer<Float>,
    dw: UnsafePointer<Float>, h: Float, out: UnsafeMutablePointer<Float>
  ) { nsde_em_additive_f32(rows, d, x, b, sigma, dw, h, out) }
  @inlinable
  public static func emGeneral(
    rows: Int, d: Int, m: Int, x: UnsafePointer<Float>, b: UnsafePointer<Float>, sigma: UnsafePointer<Float>,
    dw: UnsafePointer<Float>, h: Float, out: UnsafeMutablePointer<Float>
  ) { nsde_em_general_f32(rows, d, m, x, b, sigma, dw, h, out) }
  @inlinable
  public static func applyControl(
    points: Int, k: Int, m: Int, u: UnsafePointer<Float>, dw: UnsafeMutablePointer<Float>, h: Float,
    kl: UnsafeMutablePointer<Double>, logWeights: UnsafeMutablePointer<Double>
  ) { nsde_apply_control_f32(points, k, m, u, dw, h, kl, logWeights) }
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
  public static func rowApplyAdd(
    rows: Int, d: Int, m: Int, alpha: Float, s: UnsafePointer<Float>, v: UnsafePointer<Float>,
    out: UnsafeMutablePointer<Float>
  ) { nsde_row_apply_add_f32(rows, d, m, alpha, s, v, out) }
  @inlinable
  public static func controlGradient(
    points: Int, k: Int, m: Int, a: Float, u: UnsafePointer<Float>, h: Float, v: UnsafePointer<Float>,
    c: UnsafePointer<Double>?, w: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>
  ) { nsde_control_gradient_f32(points, k, m, a, u, h, v, c, w, out) }
  @inlinable
  public static func broadcastRows(rows: Int, cols: Int, row: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>) {
    nsde_broadcast_rows_f32(rows, cols, row, out)
  }
}
