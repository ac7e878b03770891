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
      blasInt(m), blasInt(n), blasInt(k), alpha, a, blasInt(lda), b, blasInt(ldb), beta, c,
      blasInt(ldc))
  }
  @inlinable
  public static func gemv(
    trans: Bool, m: Int, n: Int, alpha: Double, a: UnsafePointer<Double>, lda: Int,
    x: UnsafePointer<Double>, incx: Int, beta: Double, y: UnsafeMutablePointer<Double>, incy: Int
  ) {
    cblas_dgemv(
      CblasRowMajor, trans ? CblasTrans : CblasNoTrans, blasInt(m), blasInt(n), alpha, a,
      blasInt(lda), x, blasInt(incx), beta, y, blasInt(incy))
  }
  @inlinable
  public static func axpy(
    n: Int, alpha: Double, x: UnsafePointer<Double>, incx: Int, y: UnsafeMutablePointer<Double>,
    incy: Int
  ) { cblas_daxpy(blasInt(n), alpha, x, blasInt(incx), y, blasInt(incy)) }
  @inlinable
  public static func dot(
    n: Int, x: UnsafePointer<Double>, incx: Int, y: UnsafePointer<Double>, incy: Int
  ) -> Double { cblas_ddot(blasInt(n), x, blasInt(incx), y, blasInt(incy)) }
  @inlinable
  public static func nrm2(n: Int, x: UnsafePointer<Double>, incx: Int) -> Double {
    cblas_dnrm2(blasInt(n), x, blasInt(incx))
  }
  @inlinable
  public static func scal(n: Int, alpha: Double, x: UnsafeMutablePointer<Double>, incx: Int) {
    cblas_dscal(blasInt(n), alpha, x, blasInt(incx))
  }

  public static func potrf(n: Int, a: UnsafeMutablePointer<Double>, lda: Int) -> Int {
    Int(LAPACKE_dpotrf(LAPACK_ROW_MAJOR, CChar(UInt8(ascii: "L")), blasInt(n), a, blasInt(lda)))
  }
  public static func potrs(
    n: Int, nrhs: Int, a: UnsafePointer<Double>, lda: Int, b: UnsafeMutablePointer<Double>, ldb: Int
  ) -> Int {
    Int(
      LAPACKE_dpotrs(
        LAPACK_ROW_MAJOR, CChar(UInt8(ascii: "L")), blasInt(n), blasInt(nrhs), a,
        blasInt(lda), b, blasInt(ldb)))
  }
  public static func gesv(
    n: Int, nrhs: Int, a: UnsafeMutablePointer<Double>, lda: Int, ipiv: UnsafeMutablePointer<Int32>,
    b: UnsafeMutablePointer<Double>, ldb: Int
  ) -> Int {
    Int(
      LAPACKE_dgesv(
        LAPACK_ROW_MAJOR, blasInt(n), blasInt(nrhs), a, blasInt(lda), ipiv, b,
        blasInt(ldb)))
  }
  public static func syev(
    vectors: Bool, n: Int, a: UnsafeMutablePointer<Double>, lda: Int, w: UnsafeMutablePointer<Double>
  ) -> Int {
    Int(
      LAPACKE_dsyev(
        LAPACK_ROW_MAJOR, CChar(UInt8(ascii: vectors ? "V" : "N")), CChar(UInt8(ascii: "L")),
        blasInt(n), a, blasInt(lda), w))
  }

  @inlinable
  public static func countNonFinite(n: Int, x: UnsafePointer<Double>) -> Int {
    nsde_count_nonfinite_f64(n, x)
  }
}
