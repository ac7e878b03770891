/// Checked matrix products on views. Hot code calls `Scalar.gemm` directly
/// with pointers; these entry points validate shapes first and name both
/// shapes when they disagree.
public enum BLAS {
  /// `C ← α·op(A)·op(B) + β·C`.
  ///
  /// - Parameters:
  ///   - a: `m×k` (or `k×m` if `transposeA`).
  ///   - b: `k×n` (or `n×k` if `transposeB`).
  ///   - c: `m×n`, written.
  /// - Throws: `NSDEError.shapeMismatch` naming the shapes.
  public static func gemm<T: BLASScalar>(
    _ a: MatrixView<T>, transposeA: Bool = false, _ b: MatrixView<T>, transposeB: Bool = false,
    into c: MatrixView<T>, alpha: T = 1, beta: T = 0
  ) throws {
    let (m, ka) = transposeA ? (a.cols, a.rows) : (a.rows, a.cols)
    let (kb, n) = transposeB ? (b.cols, b.rows) : (b.rows, b.cols)
    let opA = transposeA ? "Aᵀ" : "A"
    let opB = transposeB ? "Bᵀ" : "B"
    guard ka == kb else {
      throw NSDEError.shapeMismatch(
        "\(opA)·\(opB): \(opA) is \(m)×\(ka) but \(opB) is \(kb)×\(n) (inner dimensions differ)")
    }
    guard c.rows == m, c.cols == n else {
      throw NSDEError.shapeMismatch("\(opA)·\(opB) is \(m)×\(n) but the output C is \(c.rows)×\(c.cols)")
    }
    if m == 0 || n == 0 { return }
    if ka == 0 {
      // BLAS leaves C untouched for k = 0 only if β = 1; make it C ← β·C.
      for r in 0..<m { for j in 0..<n { c[r, j] = beta == 0 ? 0 : beta * c[r, j] } }
      return
    }
    T.gemm(
      transA: transposeA, transB: transposeB, m: m, n: n, k: ka, alpha: alpha,
      a: a.base, lda: Swift.max(a.ld, 1), b: b.base, ldb: Swift.max(b.ld, 1), beta: beta,
      c: c.base, ldc: Swift.max(c.ld, 1))
  }

  /// `op(A)·op(B)` as a new matrix.
  public static func matmul<T: BLASScalar>(
    _ a: Matrix<T>, transposeA: Bool = false, _ b: Matrix<T>, transposeB: Bool = false
  ) throws -> Matrix<T> {
    let m = transposeA ? a.cols : a.rows
    let n = transposeB ? b.rows : b.cols
    let c = Matrix<T>(rows: m, cols: n)
    try gemm(a.view, transposeA: transposeA, b.view, transposeB: transposeB, into: c.view)
    return c
  }
}
