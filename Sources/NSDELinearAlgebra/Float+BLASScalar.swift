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
      blasInt(m), blasInt(n), blasInt(k), alpha, a, blasInt(lda), b, blasInt(ldb), beta, c,
      blasInt(ldc))
  }
  @inlinable
  public static func gemv(
    trans: Bool, m: Int, n: Int, alpha: Float, a: UnsafePointer<Float>, lda: Int,
    x: UnsafePointer<Float>, incx: Int, beta: Float, y: UnsafeMutablePointer<Float>, incy: Int
  ) {
    cblas_sgemv(
      CblasRowMajor, trans ? CblasTrans : CblasNoTrans, blasInt(m), blasInt(n), alpha, a,
      blasInt(lda), x, blasInt(incx), beta, y, blasInt(incy))
  }
  @inlinable
  public static func axpy(
    n: Int, alpha: Float, x: UnsafePointer<Float>, incx: Int, y: UnsafeMutablePointer<Float>,
    incy: Int
  ) { cblas_saxpy(blasInt(n), alpha, x, blasInt(incx), y, blasInt(incy)) }
  @inlinable
  public static func dot(
    n: Int, x: UnsafePointer<Float>, incx: Int, y: UnsafePointer<Float>, incy: Int
  ) -> Float { cblas_sdot(blasInt(n), x, blasInt(incx), y, blasInt(incy)) }
  @inlinable
  public static func nrm2(n: Int, x: UnsafePointer<Float>, incx: Int) -> Float {
    cblas_snrm2(blasInt(n), x, blasInt(incx))
  }
  @inlinable
  public static func scal(n: Int, alpha: Float, x: UnsafeMutablePointer<Float>, incx: Int) {
    cblas_sscal(blasInt(n), alpha, x, blasInt(incx))
  }

  public static func potrf(n: Int, a: UnsafeMutablePointer<Float>, lda: Int) -> Int {
    Int(LAPACKE_spotrf(LAPACK_ROW_MAJOR, CChar(UInt8(ascii: "L")), blasInt(n), a, blasInt(lda)))
  }
  public static func potrs(
    n: Int, nrhs: Int, a: UnsafePointer<Float>, lda: Int, b: UnsafeMutablePointer<Float>, ldb: Int
  ) -> Int {
    Int(
      LAPACKE_spotrs(
        LAPACK_ROW_MAJOR, CChar(UInt8(ascii: "L")), blasInt(n), blasInt(nrhs), a,
        blasInt(lda), b, blasInt(ldb)))
  }
  public static func gesv(
    n: Int, nrhs: Int, a: UnsafeMutablePointer<Float>, lda: Int, ipiv: UnsafeMutablePointer<Int32>,
    b: UnsafeMutablePointer<Float>, ldb: Int
  ) -> Int {
    Int(
      LAPACKE_sgesv(
        LAPACK_ROW_MAJOR, blasInt(n), blasInt(nrhs), a, blasInt(lda), ipiv, b,
        blasInt(ldb)))
  }
  public static func syev(
    vectors: Bool, n: Int, a: UnsafeMutablePointer<Float>, lda: Int, w: UnsafeMutablePointer<Float>
  ) -> Int {
    Int(
      LAPACKE_ssyev(
        LAPACK_ROW_MAJOR, CChar(UInt8(ascii: vectors ? "V" : "N")), CChar(UInt8(ascii: "L")),
        blasInt(n), a, blasInt(lda), w))
  }

  @inlinable
  public static func countNonFinite(n: Int, x: UnsafePointer<Float>) -> Int {
    nsde_count_nonfinite_f32(n, x)
  }
}
