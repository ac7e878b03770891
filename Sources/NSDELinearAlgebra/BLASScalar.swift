@_exported import NSDEFormats
@_exported import RealModule

/// A floating-point type with BLAS and LAPACK.
///
/// Requirements are named like the BLAS/LAPACK routines without their `s`/`d`
/// prefix; `Float` and `Double` conform with one-line forwards to the
/// `cblas_s…`/`cblas_d…` and `LAPACKE_s…`/`LAPACKE_d…` functions (sizes
/// converted by `blasInt`). The library's own elementwise and solver kernels
/// are a separate protocol, `SDEScalar`, in NeuralSDE.
/// Everything above this protocol is written once, generically. Matrices are
/// row-major everywhere; `lda`, `ldb`, `ldc` are row strides in elements.
public protocol BLASScalar: BinaryFloatingPoint, Real, SIMDScalar, Sendable, Codable {
  /// Short name of the type for reports: "Float" or "Double".
  static var dtypeName: String { get }

  // MARK: BLAS level 3 / 2 / 1

  /// `C ← α·op(A)·op(B) + β·C` with `op(A)` m×k, `op(B)` k×n, `C` m×n.
  static func gemm(
    transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
    alpha: Self, a: UnsafePointer<Self>, lda: Int,
    b: UnsafePointer<Self>, ldb: Int,
    beta: Self, c: UnsafeMutablePointer<Self>, ldc: Int)
  /// `y ← α·op(A)·x + β·y` with `A` m×n.
  static func gemv(
    trans: Bool, m: Int, n: Int, alpha: Self, a: UnsafePointer<Self>, lda: Int,
    x: UnsafePointer<Self>, incx: Int, beta: Self, y: UnsafeMutablePointer<Self>, incy: Int)
  /// `y ← α·x + y`.
  static func axpy(
    n: Int, alpha: Self, x: UnsafePointer<Self>, incx: Int,
    y: UnsafeMutablePointer<Self>, incy: Int)
  /// `xᵀy`.
  static func dot(n: Int, x: UnsafePointer<Self>, incx: Int, y: UnsafePointer<Self>, incy: Int) -> Self
  /// `‖x‖₂`.
  static func nrm2(n: Int, x: UnsafePointer<Self>, incx: Int) -> Self
  /// `x ← α·x`.
  static func scal(n: Int, alpha: Self, x: UnsafeMutablePointer<Self>, incx: Int)

  // MARK: LAPACK (row-major; return LAPACKE's info)

  /// Cholesky factorisation `A = L·Lᵀ` of a symmetric positive definite n×n matrix (lower).
  static func potrf(n: Int, a: UnsafeMutablePointer<Self>, lda: Int) -> Int
  /// Solves `A·X = B` given the lower Cholesky factor from `potrf`; `B` is n×nrhs.
  static func potrs(
    n: Int, nrhs: Int, a: UnsafePointer<Self>, lda: Int,
    b: UnsafeMutablePointer<Self>, ldb: Int
  ) -> Int
  /// Solves `A·X = B` by LU with partial pivoting; `A` is overwritten.
  static func gesv(
    n: Int, nrhs: Int, a: UnsafeMutablePointer<Self>, lda: Int,
    ipiv: UnsafeMutablePointer<Int32>, b: UnsafeMutablePointer<Self>, ldb: Int
  ) -> Int
  /// Eigenvalues (ascending, into `w`) of a symmetric n×n matrix (lower
  /// triangle read); if `vectors`, `A` is overwritten by the eigenvectors, one
  /// per column, in the order of `w`.
  static func syev(
    vectors: Bool, n: Int, a: UnsafeMutablePointer<Self>, lda: Int,
    w: UnsafeMutablePointer<Self>
  ) -> Int

  /// Number of NaN or ±Inf values among `n`.
  static func countNonFinite(n: Int, x: UnsafePointer<Self>) -> Int
}

/// A size or stride as the 32-bit integer of the CBLAS/LAPACKE interface;
/// stops with a message naming the value if it does not fit (the library's
/// memory checks keep sizes far below this).
@inlinable
public func blasInt(_ value: Int) -> Int32 {
  guard let v = Int32(exactly: value) else {
    fatalError("BLAS/LAPACK size \(value) exceeds the 32-bit interface of the linked library")
  }
  return v
}
