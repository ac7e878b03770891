/// Dense solvers and factorisations backed by LAPACKE (row-major).
///
/// Inputs are never modified: each routine works on a copy. These are for
/// oracles and small systems (d×d, N·d×N·d), not for hot paths.
public enum LAPACK {
  /// Lower Cholesky factor `L` of a symmetric positive definite matrix, `A = L·Lᵀ`.
  /// - Throws: `shapeMismatch` if `A` is not square; `lapack` if it is not positive definite.
  public static func cholesky<T: BLASScalar>(_ a: Matrix<T>) throws -> Matrix<T> {
    try requireSquare(a, "cholesky")
    try requireFinite(a, "cholesky input")
    let l = a.copy()
    let info = T.potrf(n: a.rows, a: l.base, lda: Swift.max(a.cols, 1))
    guard info == 0 else {
      throw NSDEError.lapack(
        routine: "potrf", info: info,
        detail: info > 0
          ? "the leading minor of order \(info) is not positive definite"
          : "argument \(-info) is invalid")
    }
    for r in 0..<a.rows { for c in (r + 1)..<Swift.max(a.cols, r + 1) { l[r, c] = 0 } }
    return l
  }

  /// Solves `A·X = B` for symmetric positive definite `A` (n×n) and `B` (n×k) by Cholesky.
  public static func choleskySolve<T: BLASScalar>(_ a: Matrix<T>, _ b: Matrix<T>) throws -> Matrix<T> {
    let l = try cholesky(a)
    guard b.rows == a.rows else {
      throw NSDEError.shapeMismatch("choleskySolve: A is \(a.shapeDescription) but B is \(b.shapeDescription)")
    }
    try requireFinite(b, "choleskySolve right-hand side")
    let x = b.copy()
    if b.count == 0 { return x }
    let info = T.potrs(n: a.rows, nrhs: b.cols, a: l.base, lda: a.cols, b: x.base, ldb: b.cols)
    guard info == 0 else {
      throw NSDEError.lapack(routine: "potrs", info: info, detail: "argument \(-info) is invalid")
    }
    return x
  }

  /// `log det A` for symmetric positive definite `A`, from its Cholesky factor.
  public static func logDeterminantSPD<T: BLASScalar>(_ a: Matrix<T>) throws -> T {
    let l = try cholesky(a)
    var s: T = 0
    for i in 0..<a.rows { s += T.log(l[i, i]) }
    return 2 * s
  }

  /// Solves the general square system `A·X = B` by LU with partial pivoting.
  public static func solve<T: BLASScalar>(_ a: Matrix<T>, _ b: Matrix<T>) throws -> Matrix<T> {
    try requireSquare(a, "solve")
    guard b.rows == a.rows else {
      throw NSDEError.shapeMismatch("solve: A is \(a.shapeDescription) but B is \(b.shapeDescription)")
    }
    try requireFinite(a, "solve matrix")
    try requireFinite(b, "solve right-hand side")
    let lu = a.copy()
    let x = b.copy()
    if a.rows == 0 || b.cols == 0 { return x }
    var ipiv = [Int32](repeating: 0, count: a.rows)
    let info = ipiv.withUnsafeMutableBufferPointer {
      T.gesv(n: a.rows, nrhs: b.cols, a: lu.base, lda: a.cols, ipiv: $0.baseAddress!, b: x.base, ldb: b.cols)
    }
    guard info == 0 else {
      throw NSDEError.lapack(
        routine: "gesv", info: info,
        detail: info > 0 ? "the matrix is singular (U[\(info - 1),\(info - 1)] = 0)" : "argument \(-info) is invalid")
    }
    return x
  }

  /// Eigenvalues (ascending) and eigenvectors (columns) of a symmetric matrix.
  public static func symmetricEigen<T: BLASScalar>(_ a: Matrix<T>) throws -> (values: [T], vectors: Matrix<T>) {
    try requireSquare(a, "symmetricEigen")
    try requireFinite(a, "symmetricEigen input")
    let v = a.copy()
    var w = [T](repeating: 0, count: a.rows)
    if a.rows == 0 { return (w, v) }
    let info = w.withUnsafeMutableBufferPointer {
      T.syev(vectors: true, n: a.rows, a: v.base, lda: a.cols, w: $0.baseAddress!)
    }
    guard info == 0 else {
      throw NSDEError.lapack(routine: "syev", info: info, detail: "the eigenvalue iteration did not converge")
    }
    return (w, v)
  }

  /// The transition and integrated covariance of `dX = A X dt + B dW` over
  /// a time Δ, by Van Loan's block exponential:
  /// `exp(Δ [[−A, BBᵀ], [0, Aᵀ]]) = [[·, F12], [0, F22]]`, `e^{AΔ} = F22ᵀ`,
  /// `Q = ∫_0^Δ e^{As} BBᵀ e^{Aᵀs} ds = F22ᵀ F12` (`noiseCovariance` = BBᵀ, d × d).
  public static func integratedCovariance<T: BLASScalar>(
    drift a: Matrix<T>, noiseCovariance bbT: Matrix<T>, over delta: T
  ) throws -> (transition: Matrix<T>, covariance: Matrix<T>) {
    try requireSquare(a, "integratedCovariance")
    let d = a.rows
    let vl = Matrix<T>(rows: 2 * d, cols: 2 * d)
    for r in 0..<d {
      for c in 0..<d {
        vl[r, c] = -a[r, c] * delta
        vl[r, d + c] = bbT[r, c] * delta
        vl[d + r, d + c] = a[c, r] * delta
      }
    }
    let e = try exponential(vl)
    let f12 = Matrix<T>(rows: d, cols: d) { r, c in e[r, d + c] }
    let f22 = Matrix<T>(rows: d, cols: d) { r, c in e[d + r, d + c] }
    return (Matrix(rows: d, cols: d) { r, c in f22[c, r] }, try BLAS.matmul(f22, transposeA: true, f12))
  }

  /// The matrix exponential `e^A` by scaling and squaring with a degree-13 Padé
  /// approximant (Higham 2005); the Padé denominator is solved with `gesv`.
  public static func exponential<T: BLASScalar>(_ a: Matrix<T>) throws -> Matrix<T> {
    try requireSquare(a, "exponential")
    try requireFinite(a, "exponential input")
    let n = a.rows
    // 1-norm for the scaling.
    var norm: T = 0
    for c in 0..<n {
      var s: T = 0
      for r in 0..<n { s += Swift.abs(a[r, c]) }
      norm = Swift.max(norm, s)
    }
    let theta13: T = 5.371920351148152
    var squarings = 0
    if norm > theta13 {
      squarings = Swift.max(0, Int((T.log2(norm / theta13)).rounded(.up)))
    }
    let scale = T.pow(2, -T(squarings))
    let x = Matrix<T>(rows: n, cols: n) { r, c in a[r, c] * scale }
    let b: [T] = [
      64_764_752_532_480_000, 32_382_376_266_240_000, 7_771_770_303_897_600, 1_187_353_796_428_800, 129_060_195_264_000,
      10_559_470_521_600, 670_442_572_800, 33_522_128_640, 1_323_241_920, 40_840_800, 960960, 16380, 182, 1,
    ]
    let x2 = try BLAS.matmul(x, x)
    let x4 = try BLAS.matmul(x2, x2)
    let x6 = try BLAS.matmul(x4, x2)
    func combo(_ c6: T, _ c4: T, _ c2: T, _ c0: T, withIdentity: Bool) -> Matrix<T> {
      Matrix<T>(rows: n, cols: n) { r, c in
        c6 * x6[r, c] + c4 * x4[r, c] + c2 * x2[r, c] + (withIdentity && r == c ? c0 : 0)
      }
    }
    // U = X·[X6·(b13 X6 + b11 X4 + b9 X2) + b7 X6 + b5 X4 + b3 X2 + b1 I]
    let u1 = try BLAS.matmul(x6, combo(b[13], b[11], b[9], 0, withIdentity: false))
    let u2 = combo(b[7], b[5], b[3], b[1], withIdentity: true)
    let uInner = Matrix<T>(rows: n, cols: n) { r, c in u1[r, c] + u2[r, c] }
    let u = try BLAS.matmul(x, uInner)
    // V = X6·(b12 X6 + b10 X4 + b8 X2) + b6 X6 + b4 X4 + b2 X2 + b0 I
    let v1 = try BLAS.matmul(x6, combo(b[12], b[10], b[8], 0, withIdentity: false))
    let v2 = combo(b[6], b[4], b[2], b[0], withIdentity: true)
    let p = Matrix<T>(rows: n, cols: n) { r, c in v1[r, c] + v2[r, c] + u[r, c] }
    let q = Matrix<T>(rows: n, cols: n) { r, c in v1[r, c] + v2[r, c] - u[r, c] }
    var result = try solve(q, p)
    for _ in 0..<squarings { result = try BLAS.matmul(result, result) }
    return result
  }

  static func requireSquare<T>(_ a: Matrix<T>, _ routine: String) throws {
    guard a.rows == a.cols else {
      throw NSDEError.shapeMismatch("\(routine) needs a square matrix, got \(a.shapeDescription)")
    }
  }

  static func requireFinite<T>(_ a: Matrix<T>, _ what: String) throws {
    let bad = T.countNonFinite(n: a.count, x: a.base)
    guard bad == 0 else { throw NSDEError.nonFinite("\(what) has \(bad) NaN/Inf value(s)") }
  }
}
