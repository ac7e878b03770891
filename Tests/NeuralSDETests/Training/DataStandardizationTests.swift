import Foundation
import XCTest
import _NSDETestSupport

/// The principal-axis scalings of `DataStandardization`: what the model sees
/// has the covariance the scaling promises, the inverse map undoes the
/// forward one, the log-Jacobian is the map's, and the checks refuse axes
/// that are not orthonormal.
final class DataStandardizationTests: XCTestCase {
  /// Correlated rows in 3 columns of very different scales: `y = μ + M g`, g standard normal.
  func correlated(rows: Int, seed: UInt64) -> Matrix<Double> {
    var rng = SplitMix64(seed: seed)
    let m: [[Double]] = [[100, 0, 0], [99.9, 2, 0], [0.3, -0.1, 0.05]]
    let y = Matrix<Double>(rows: rows, cols: 3)
    for r in 0..<rows {
      let g = (0..<3).map { _ in rng.nextNormal() }
      for i in 0..<3 { y[r, i] = [5.0, -3, 1][i] + (0..<3).reduce(0) { $0 + m[i][$1] * g[$1] } }
    }
    return y
  }

  /// The covariance (divisor n) of `z`'s rows.
  func covariance(_ z: Matrix<Double>) -> [[Double]] {
    let n = Double(z.rows)
    let mean = (0..<z.cols).map { c in (0..<z.rows).reduce(0) { $0 + z[$1, c] } / n }
    return (0..<z.cols).map { i in
      (0..<z.cols).map { j in (0..<z.rows).reduce(0) { $0 + (z[$1, i] - mean[i]) * (z[$1, j] - mean[j]) } / n }
    }
  }

  /// The determinant of a 3 × 3 matrix (rule of Sarrus).
  func determinant(_ a: [[Double]]) -> Double {
    a[0][0] * (a[1][1] * a[2][2] - a[1][2] * a[2][1]) - a[0][1] * (a[1][0] * a[2][2] - a[1][2] * a[2][0])
      + a[0][2] * (a[1][0] * a[2][1] - a[1][1] * a[2][0])
  }

  func testWhiteningGivesTheIdentityCovarianceAndTheGaussiansJacobian() throws {
    let y = correlated(rows: 400, seed: 3)
    let map = try DataStandardization(fitting: y, axisScaling: .whitening)
    XCTAssertNil(map.problem(dimension: 3))
    let z = map.standardized(y)
    let c = covariance(z)
    for i in 0..<3 { for j in 0..<3 { XCTAssertEqual(c[i][j], i == j ? 1 : 0, accuracy: 1e-9, "\(i), \(j)") } }
    // z = A (y − μ) with det A = 1/√det Cov(y): log-Jacobian ½ log det Cov(y).
    XCTAssertEqual(map.logJacobian, 0.5 * log(determinant(covariance(y))), accuracy: 1e-9)
    let back = map.original(z)
    for r in 0..<y.rows { for k in 0..<3 { XCTAssertEqual(back[r, k], y[r, k], accuracy: 1e-9 * abs(y[r, k]) + 1e-9) } }
    // Per-column only: the covariance of z is the correlation matrix (off-diagonals not 0).
    let plain = try DataStandardization(fitting: y, axisScaling: .none)
    XCTAssertNil(plain.axes)
    XCTAssertGreaterThan(abs(covariance(plain.standardized(y))[0][1]), 0.9)
  }

  func testVarianceFloorRaisesOnlyTheSmallVariances() throws {
    let y = correlated(rows: 400, seed: 4)
    let plain = DataStandardization(fitting: y)
    let map = try DataStandardization(fitting: y, axisScaling: .varianceFloor(0.25))
    let before = try LAPACK.symmetricEigen(Matrix(rows: 3, cols: 3) { covariance(plain.standardized(y))[$0][$1] })
    let after = try LAPACK.symmetricEigen(Matrix(rows: 3, cols: 3) { covariance(map.standardized(y))[$0][$1] })
    let floor = 0.25 * before.values.reduce(0, +) / 3
    XCTAssertLessThan(before.values[0], floor)  // this data has a variance below the floor
    XCTAssertGreaterThan(before.values[2], floor)
    for k in 0..<3 { XCTAssertEqual(after.values[k], max(before.values[k], floor), accuracy: 1e-9, "axis \(k)") }
    // −Σ log f: the raised axes' ½ log(λ/floor).
    let expected =
      plain.logJacobian + before.values.reduce(0) { $0 + 0.5 * log(min($1, floor) / floor) }
    XCTAssertEqual(map.logJacobian, expected, accuracy: 1e-9)
  }

  func testAxesMustBeOrthonormalAndComeWithTheirScales() throws {
    let ok = try DataStandardization(fitting: correlated(rows: 50, seed: 5), axisScaling: .whitening)
    var bad = ok
    bad.axisScales = nil
    XCTAssertTrue(bad.problem(dimension: 3)?.contains("both or neither") ?? false)
    bad = ok
    bad.axes![1] += 0.01
    XCTAssertTrue(
      bad.problem(dimension: 3)?.contains("orthonormal") ?? false, "\(String(describing: bad.problem(dimension: 3)))")
    bad = ok
    // Unit columns that are not orthogonal: caught by UUᵀv = v.
    bad.axes = [1, 1, 0, 0, 0, 1, 0, 0, 0]
    XCTAssertTrue(
      bad.problem(dimension: 3)?.contains("not orthonormal") ?? false,
      "\(String(describing: bad.problem(dimension: 3)))")
    bad = ok
    bad.axisScales![2] = -1
    XCTAssertTrue(bad.problem(dimension: 3)?.contains("axis scale 2") ?? false)
    bad = ok
    bad.axes = [1, 0, 0, 1]
    XCTAssertTrue(bad.problem(dimension: 3)?.contains("3 × 3") ?? false)
  }

  /// Data in a subspace has no density to condition or whiten: a constant
  /// column, or linearly dependent columns, is an error naming which (as for
  /// the one-Gaussian baseline), not a map with infinite factors.
  func testDegenerateDataIsNamed() throws {
    let y = correlated(rows: 60, seed: 8)
    let constant = Matrix<Double>(rows: y.rows, cols: 4) { r, c in c < 3 ? y[r, c] : 2.5 }
    let dependent = Matrix<Double>(rows: y.rows, cols: 4) { r, c in c < 3 ? y[r, c] : 2 * y[r, 0] - y[r, 1] }
    for (data, fragment) in [(constant, "column 3 is constant"), (dependent, "rank 3 of 4")] {
      for scaling in [DataStandardization.AxisScaling.whitening, .varianceFloor(0.25)] {
        XCTAssertThrowsError(try DataStandardization(fitting: data, axisScaling: scaling)) {
          XCTAssertTrue("\($0)".contains(fragment), "\($0)")
        }
      }
      XCTAssertThrowsError(try GaussianBaseline(fitting: data)) { XCTAssertTrue("\($0)".contains(fragment), "\($0)") }
    }
  }
}
