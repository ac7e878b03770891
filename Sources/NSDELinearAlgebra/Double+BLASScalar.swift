import CBLAS
import CLAPACKE
import NSDEKernels
import RealModule

extension Double: BLASScalar {
  public static var dtypeName: String { "Double" }

  @inlinable
  public static func gemm(
    transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Double, a: UnsafePointer<Double>,
    lda: Int, b: UnsafePointer<Double>, ldb: Int, beta: Double, c: UnsafeMutablePointer<Double>,
    ldc: Int
  ) {
    cblas_dgemm(
      CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
      blasint(m), blasint(n), blasint(k), alpha, a, blasint(lda), b, blasint(ldb), beta, c,
      blasint(ldc))
  }
  @inlinable
  public static func gemv(
    trans: Bool, m: Int, n: Int, alpha: Double, a: UnsafePointer<Double>, lda: Int,
    x: UnsafePointer<Double>, incx: Int, beta: Double, y: UnsafeMutablePointer<Double>, incy: Int
  ) {
    cblas_dgemv(
      CblasRowMajor, trans ? CblasTrans : CblasNoTrans, blasint(m), blasint(n), alpha, a,
      blasint(lda), x, blasint(incx), beta, y, blasint(incy))
  }
  @inlinable
  public static func axpy(
    n: Int, alpha: Double, x: UnsafePointer<Double>, incx: Int, y: UnsafeMutablePointer<Double>,
    incy: Int
  ) { cblas_daxpy(blasint(n), alpha, x, blasint(incx), y, blasint(incy)) }
  @inlinable
  public static func dot(
    n: Int, x: UnsafePointer<Double>, incx: Int, y: UnsafePointer<Double>, incy: Int
  ) -> Double { cblas_ddot(blasint(n), x, blasint(incx), y, blasint(incy)) }
  @inlinable
  public static func nrm2(n: Int, x: UnsafePointer<Double>, incx: Int) -> Double {
    cblas_dnrm2(blasint(n), x, blasint(incx))
  }
  @inlinable
  public static func scal(n: Int, alpha: Double, x: UnsafeMutablePointer<Double>, incx: Int) {
    cblas_dscal(blasint(n), alpha, x, blasint(incx))
  }

  public static func potrf(n: Int, a: UnsafeMutablePointer<Double>, lda: Int) -> Int {
    Int(LAPACKE_dpotrf(LAPACK_ROW_MAJOR, CChar(UInt8(ascii: "L")), Int32(n), a, Int32(lda)))
  }
  public static func potrs(
    n: Int, nrhs: Int, a: UnsafePointer<Double>, lda: Int, b: UnsafeMutablePointer<Double>, ldb: Int
  ) -> Int {
    Int(
      LAPACKE_dpotrs(
        LAPACK_ROW_MAJOR, CChar(UInt8(ascii: "L")), Int32(n), Int32(nrhs), a,
        Int32(lda), b, Int32(ldb)))
  }
  public static func gesv(
    n: Int, nrhs: Int, a: UnsafeMutablePointer<Double>, lda: Int, ipiv: UnsafeMutablePointer<Int32>,
    b: UnsafeMutablePointer<Double>, ldb: Int
  ) -> Int {
    Int(
      LAPACKE_dgesv(
        LAPACK_ROW_MAJOR, Int32(n), Int32(nrhs), a, Int32(lda), ipiv, b,
        Int32(ldb)))
  }
  public static func syev(
    vectors: Bool, n: Int, a: UnsafeMutablePointer<Double>, lda: Int, w: UnsafeMutablePointer<Double>
  ) -> Int {
    Int(
      LAPACKE_dsyev(
        LAPACK_ROW_MAJOR, CChar(UInt8(ascii: vectors ? "V" : "N")), CChar(UInt8(ascii: "L")),
        Int32(n), a, Int32(lda), w))
  }

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
  public static func countNonFinite(n: Int, x: UnsafePointer<Double>) -> Int {
    nsde_count_nonfinite_f64(n, x)
  }
  @inlinable
  public static func emDiagonal(
    n: Int, x: UnsafePointer<Double>, b: UnsafePointer<Double>, sigma: UnsafePointer<Double>,
    dw: UnsafePointer<Double>, h: Double, out: UnsafeMutablePointer<Double>
  ) { nsde_em_diagonal_f64(n, x, b, sigma, dw, h, out) }
  @inlinable
  public static func emAdditive(
    rows: Int, d: Int, x: UnsafePointer<Double>, b: UnsafePointer<Double>, sigma: UnsafePointer<Double>,
    dw: UnsafePointer<Double>, h: Double, out: UnsafeMutablePointer<Double>
  ) { nsde_em_additive_f64(rows, d, x, b, sigma, dw, h, out) }
  @inlinable
  public static func emGeneral(
    rows: Int, d: Int, m: Int, x: UnsafePointer<Double>, b: UnsafePointer<Double>, sigma: UnsafePointer<Double>,
    dw: UnsafePointer<Double>, h: Double, out: UnsafeMutablePointer<Double>
  ) { nsde_em_general_f64(rows, d, m, x, b, sigma, dw, h, out) }
  @inlinable
  public static func applyControl(
    points: Int, k: Int, m: Int, u: UnsafePointer<Double>, dw: UnsafeMutablePointer<Double>, h: Double,
    kl: UnsafeMutablePointer<Double>, logWeights: UnsafeMutablePointer<Double>
  ) { nsde_apply_control_f64(points, k, m, u, dw, h, kl, logWeights) }
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
  public static func rowApplyAdd(
    rows: Int, d: Int, m: Int, alpha: Double, s: UnsafePointer<Double>, v: UnsafePointer<Double>,
    out: UnsafeMutablePointer<Double>
  ) { nsde_row_apply_add_f64(rows, d, m, alpha, s, v, out) }
  @inlinable
  public static func controlGradient(
    points: Int, k: Int, m: Int, a: Double, u: UnsafePointer<Double>, h: Double, v: UnsafePointer<Double>,
    c: UnsafePointer<Double>?, w: UnsafePointer<Double>, out: UnsafeMutablePointer<Double>
  ) { nsde_control_gradient_f64(points, k, m, a, u, h, v, c, w, out) }
  @inlinable
  public static func broadcastRows(rows: Int, cols: Int, row: UnsafePointer<Double>, out: UnsafeMutablePointer<Double>)
  {
    nsde_broadcast_rows_f64(rows, cols, row, out)
  }
}
