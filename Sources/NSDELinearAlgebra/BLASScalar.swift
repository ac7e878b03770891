@_exported import NSDEFormats
@_exported import RealModule

/// A floating-point type with BLAS, LAPACK and vectorised elementwise kernels.
///
/// Requirements are named like the BLAS/LAPACK routines without their `s`/`d`
/// prefix; `Float` and `Double` conform with one-line forwards to the
/// `cblas_s…`/`cblas_d…`, `LAPACKE_s…`/`LAPACKE_d…` and NSDEKernels functions.
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

  // MARK: Elementwise kernels (NSDEKernels)

  /// `y = φ(x)`, `dy = φ'(x)`, `d2y = φ''(x)` over `n` values; outputs may be nil.
  static func activation(
    _ kind: Int32, n: Int, x: UnsafePointer<Self>, y: UnsafeMutablePointer<Self>?,
    dy: UnsafeMutablePointer<Self>?, d2y: UnsafeMutablePointer<Self>?)
  /// Fused, in place over rows×cols: `z ← φ(z + bias)` (bias broadcast over
  /// rows), `da = φ'(z + bias)`; `bias` and `da` may be nil.
  static func biasActivation(
    _ kind: Int32, rows: Int, cols: Int, z: UnsafeMutablePointer<Self>,
    bias: UnsafePointer<Self>?, da: UnsafeMutablePointer<Self>?)
  /// `out = g ⊙ φ'(z)` with φ' taken from `a = φ(z)` (tanh), from `d = φ'(z)`
  /// (softplus, SiLU, LipSwish) or 1 (identity); `out` may equal `g`.
  static func scaleByDerivative(
    _ kind: Int32, n: Int, out: UnsafeMutablePointer<Self>, g: UnsafePointer<Self>,
    a: UnsafePointer<Self>?, d: UnsafePointer<Self>?)
  // MARK: Euler–Maruyama kernels (NSDEKernels, see nsde_kernels.h)

  /// `out = x + h·b + σ ⊙ dw` over n values.
  static func emDiagonal(
    n: Int, x: UnsafePointer<Self>, b: UnsafePointer<Self>, sigma: UnsafePointer<Self>,
    dw: UnsafePointer<Self>, h: Self, out: UnsafeMutablePointer<Self>)
  /// `out[r] = x[r] + h·b[r] + σ ⊙ dw[r]`, one σ row shared by all rows.
  static func emAdditive(
    rows: Int, d: Int, x: UnsafePointer<Self>, b: UnsafePointer<Self>, sigma: UnsafePointer<Self>,
    dw: UnsafePointer<Self>, h: Self, out: UnsafeMutablePointer<Self>)
  /// `out[r] = x[r] + h·b[r] + σ[r]·dw[r]` with σ[r] a d×m matrix.
  static func emGeneral(
    rows: Int, d: Int, m: Int, x: UnsafePointer<Self>, b: UnsafePointer<Self>, sigma: UnsafePointer<Self>,
    dw: UnsafePointer<Self>, h: Self, out: UnsafeMutablePointer<Self>)
  /// The control as a shift of the increments, with KL and log-weight accumulation.
  static func applyControl(
    points: Int, k: Int, m: Int, u: UnsafePointer<Self>, dw: UnsafeMutablePointer<Self>, h: Self,
    kl: UnsafeMutablePointer<Double>, logWeights: UnsafeMutablePointer<Double>)

  /// `out = x ⊙ y` over n values (`out` may equal `x`).
  static func multiply(n: Int, x: UnsafePointer<Self>, y: UnsafePointer<Self>, out: UnsafeMutablePointer<Self>)
  /// Per-row outer products `out[r, j·m + l] = a[r, j]·b[r, l]`.
  static func rowOuter(
    rows: Int, d: Int, m: Int, a: UnsafePointer<Self>, b: UnsafePointer<Self>, out: UnsafeMutablePointer<Self>)
  /// Per-row `out[r] = S[r]ᵀ·v[r]` with `S[r]` a row-major d×m matrix.
  static func rowTransposeApply(
    rows: Int, d: Int, m: Int, s: UnsafePointer<Self>, v: UnsafePointer<Self>, out: UnsafeMutablePointer<Self>)
  /// Per-row `out[r] += α·S[r]·v[r]` with `S[r]` a row-major d×m matrix.
  static func rowApplyAdd(
    rows: Int, d: Int, m: Int, alpha: Self, s: UnsafePointer<Self>, v: UnsafePointer<Self>,
    out: UnsafeMutablePointer<Self>)

  /// Per-point control gradient `out_q = a·u_q + h·Σ_{p∈q} v_p + Σ_{p∈q} c_p·w_p` (c may be nil).
  static func controlGradient(
    points: Int, k: Int, m: Int, a: Self, u: UnsafePointer<Self>, h: Self, v: UnsafePointer<Self>,
    c: UnsafePointer<Double>?, w: UnsafePointer<Self>, out: UnsafeMutablePointer<Self>)

  /// Copies `row` (cols values) into every row of `out` (rows × cols, contiguous).
  static func broadcastRows(rows: Int, cols: Int, row: UnsafePointer<Self>, out: UnsafeMutablePointer<Self>)

  /// Number of NaN or ±Inf values among `n`.
  static func countNonFinite(n: Int, x: UnsafePointer<Self>) -> Int
}
