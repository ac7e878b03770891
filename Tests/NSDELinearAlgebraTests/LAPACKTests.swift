import Foundation
import NSDELinearAlgebra
import XCTest
import _NSDETestSupport

final class LAPACKTests: XCTestCase {
  func spd(_ n: Int, seed: UInt64) throws -> Matrix<Double> {
    let g: Matrix<Double> = randomMatrix(n, n, seed: seed)
    let a = try BLAS.matmul(g, g, transposeB: true)
    for i in 0..<n { a[i, i] += Double(n) }
    return a
  }

  func testCholeskySolveAgreesWithNaiveSolve() throws {
    for n in [1, 3, 12] {
      let a = try spd(n, seed: UInt64(n))
      let b: Matrix<Double> = randomMatrix(n, 4, seed: 99)
      let x = try LAPACK.choleskySolve(a, b)
      let rowsA = (0..<n).map { r in (0..<n).map { a[r, $0] } }
      let rowsB = (0..<n).map { r in (0..<4).map { b[r, $0] } }
      let ref = naiveSolve(rowsA, rowsB).flatMap { $0 }
      XCTAssertLessThan(relativeError(x.elements, ref), 1e-12, "n = \(n)")
      // L·Lᵀ reproduces A and L is lower triangular.
      let l = try LAPACK.cholesky(a)
      let llt = try BLAS.matmul(l, l, transposeB: true)
      XCTAssertLessThan(relativeError(llt.elements, a.elements), 1e-14)
      for r in 0..<n { for c in (r + 1)..<max(n, r + 1) { XCTAssertEqual(l[r, c], 0) } }
    }
  }

  func testGeneralSolveEigenAndLogDet() throws {
    let a: Matrix<Double> = randomMatrix(6, 6, seed: 5)
    let b: Matrix<Double> = randomMatrix(6, 2, seed: 6)
    let x = try LAPACK.solve(a, b)
    let ax = try BLAS.matmul(a, x)
    XCTAssertLessThan(relativeError(ax.elements, b.elements), 1e-12)

    let s = try spd(5, seed: 7)
    let (w, v) = try LAPACK.symmetricEigen(s)
    // V·diag(w)·Vᵀ = S
    let vd = Matrix<Double>(rows: 5, cols: 5) { r, c in v[r, c] * w[c] }
    let rebuilt = try BLAS.matmul(vd, v, transposeB: true)
    XCTAssertLessThan(relativeError(rebuilt.elements, s.elements), 1e-12)
    XCTAssertEqual(try LAPACK.logDeterminantSPD(s), w.map { log($0) }.reduce(0, +), accuracy: 1e-10)
  }

  func testMatrixExponential() throws {
    // Diagonal: exp of the entries. Rotation generator: cos/sin. Large norm: scaling and squaring.
    let d = try Matrix<Double>(rows: 2, cols: 2, elements: [0.3, 0, 0, -2])
    let ed = try LAPACK.exponential(d)
    XCTAssertEqual(ed[0, 0], exp(0.3), accuracy: 1e-15)
    XCTAssertEqual(ed[1, 1], exp(-2.0), accuracy: 1e-15)
    for theta in [0.5, 7.0, 40.0] {
      let r = try Matrix<Double>(rows: 2, cols: 2, elements: [0, -theta, theta, 0])
      let e = try LAPACK.exponential(r)
      XCTAssertLessThan(
        relativeError(e.elements, [cos(theta), -sin(theta), sin(theta), cos(theta)]), 1e-12, "θ = \(theta)")
    }
    // exp(A)·exp(−A) = I for a random matrix.
    let a: Matrix<Double> = randomMatrix(5, 5, seed: 8)
    let minusA = Matrix<Double>(rows: 5, cols: 5) { r, c in -a[r, c] }
    let p = try BLAS.matmul(LAPACK.exponential(a), LAPACK.exponential(minusA))
    let eye = Matrix<Double>(rows: 5, cols: 5) { r, c in r == c ? 1 : 0 }
    XCTAssertLessThan(relativeError(p.elements, eye.elements), 1e-12)
  }

  /// Van Loan's block exponential against closed forms: for diagonal A the
  /// transition is `e^{a_i Δ}` and `Q_ij = (BBᵀ)_ij expm1((a_i + a_j)Δ) / (a_i + a_j)`.
  func testIntegratedCovariance() throws {
    let a = try Matrix<Double>(rows: 2, cols: 2, elements: [-0.5, 0, 0, -1.5])
    let bbT = try Matrix<Double>(rows: 2, cols: 2, elements: [0.4, 0.1, 0.1, 0.9])
    for delta in [1e-6, 0.3, 4.0] {
      let (phi, q) = try LAPACK.integratedCovariance(drift: a, noiseCovariance: bbT, over: delta)
      for i in 0..<2 {
        XCTAssertEqual(phi[i, i], exp(a[i, i] * delta), accuracy: 1e-14)
        for j in 0..<2 {
          let s = a[i, i] + a[j, j]
          let exact = bbT[i, j] * expm1(s * delta) / s
          XCTAssertEqual(q[i, j], exact, accuracy: 1e-13 * Swift.max(abs(exact), 1e-300) + 1e-18, "Δ \(delta)")
        }
      }
      XCTAssertEqual(phi[0, 1], 0, accuracy: 1e-16)
    }
  }

  func testErrorsNameTheProblem() throws {
    let notSPD = try Matrix<Double>(rows: 2, cols: 2, elements: [1, 2, 2, 1])
    XCTAssertNil(expectError(containing: ["potrf", "order 2"]) { _ = try LAPACK.cholesky(notSPD) })
    let rect = Matrix<Double>(rows: 2, cols: 3)
    XCTAssertNil(expectError(containing: ["square", "2×3"]) { _ = try LAPACK.cholesky(rect) })
    let singular = Matrix<Double>(rows: 2, cols: 2)
    XCTAssertNil(
      expectError(containing: ["gesv", "singular"]) { _ = try LAPACK.solve(singular, Matrix(rows: 2, cols: 1)) })
    let nan = try Matrix<Double>(rows: 1, cols: 1, elements: [.nan])
    XCTAssertNil(expectError(containing: ["NaN"]) { _ = try LAPACK.cholesky(nan) })
  }
}
