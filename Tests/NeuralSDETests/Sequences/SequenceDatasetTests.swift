import Foundation
import XCTest
import _NSDETestSupport

/// The built-in `ou` sequences and their exact density.
final class SequenceDatasetTests: XCTestCase {
  /// Reproducible from the seed, 10–40 increasing times on [0, 5] per sequence, finite values.
  func testOUSequencesHaveTheDocumentedShape() throws {
    let a = try SequenceDataset.ou.sample(count: 50, seed: 3)
    let b = try SequenceDataset.ou.sample(count: 50, seed: 3)
    XCTAssertTrue(a.same(as: b))
    XCTAssertFalse(a.same(as: try SequenceDataset.ou.sample(count: 50, seed: 4)))
    XCTAssertEqual(a.count, 50)
    XCTAssertEqual(a.dimension, 2)
    var lengths = Set<Int>()
    for s in 0..<a.count {
      let r = a.observations(s)
      lengths.insert(r.count)
      XCTAssertTrue((10...40).contains(r.count))
      XCTAssertTrue(r.allSatisfy { a.times[$0] >= 0 && a.times[$0] <= 5 })
      XCTAssertTrue(zip(r, r.dropFirst()).allSatisfy { a.times[$0] < a.times[$1] })
    }
    XCTAssertGreaterThan(lengths.count, 10)
    XCTAssertTrue(a.values.allSatisfy(\.isFinite))
  }

  /// P∞ solves the Lyapunov equation, and the sample covariance of the
  /// observations is P∞ + r² I (within sampling error).
  func testStationaryCovariance() throws {
    let ou = OrnsteinUhlenbeck.builtIn
    let p = try ou.stationaryCovariance()
    let a = Matrix<Double>(rows: 2, cols: 2) { r, c in ou.drift[r * 2 + c] }
    let b = Matrix<Double>(rows: 2, cols: 2) { r, c in ou.diffusion[r * 2 + c] }
    let ap = try BLAS.matmul(a, p)
    let bb = try BLAS.matmul(b, b, transposeB: true)
    for r in 0..<2 { for c in 0..<2 { XCTAssertEqual(ap[r, c] + ap[c, r] + bb[r, c], 0, accuracy: 1e-12) } }
    let data = try SequenceDataset.ou.sample(count: 400, seed: 9)
    let n = Double(data.times.count)
    for (i, j) in [(0, 0), (1, 1), (0, 1)] {
      var s = 0.0
      for r in 0..<data.times.count { s += data.values[r * 2 + i] * data.values[r * 2 + j] }
      let expected = p[i, j] + (i == j ? ou.observationStd * ou.observationStd : 0)
      // Observations within a sequence are correlated: a loose but failing-capable bound.
      XCTAssertEqual(s / n, expected, accuracy: 0.1 * p[0, 0], "(\(i), \(j))")
    }
  }

  /// The Kalman filter's `−log p` equals the joint Gaussian of all observed
  /// entries (`Cov(X_a, X_b) = P∞ e^{Aᵀ(t_b − t_a)}`), with missing entries.
  func testKalmanEqualsJointGaussian() throws {
    let ou = OrnsteinUhlenbeck.builtIn
    let times = [0.3, 0.35, 1.2, 2.0, 2.05]
    let values: [Double] = [0.2, -0.1, .nan, 0.3, 0.5, .nan, -0.2, 0.1, 0.4, 0.4]
    let data = SequenceData(ids: ["s"], columns: ["a", "b"], offsets: [0, 5], times: times, values: values)
    let kalman = try ou.negativeLogLikelihood(data, sequence: 0)
    let p = try ou.stationaryCovariance()
    let entries = (0..<5).flatMap { j in (0..<2).filter { !values[j * 2 + $0].isNaN }.map { (j, $0) } }
    let joint = Matrix<Double>(rows: entries.count, cols: entries.count)
    for (u, (j, i)) in entries.enumerated() {
      for (v, (k, l)) in entries.enumerated() {
        let (first, second, fi, si) = j <= k ? (j, k, i, l) : (k, j, l, i)
        let phi = try LAPACK.exponential(
          Matrix(rows: 2, cols: 2) { r, c in ou.drift[r * 2 + c] * (times[second] - times[first]) })
        let cross = try BLAS.matmul(p, phi, transposeB: true)  // Cov(X_first, X_second)
        joint[u, v] = cross[fi, si] + (u == v ? ou.observationStd * ou.observationStd : 0)
      }
    }
    let y = Matrix<Double>(rows: entries.count, cols: 1) { u, _ in values[entries[u].0 * 2 + entries[u].1] }
    let solved = try LAPACK.choleskySolve(joint, y)
    let direct =
      0.5 * (0..<entries.count).map { y[$0, 0] * solved[$0, 0] }.reduce(0, +)
      + 0.5 * (try LAPACK.logDeterminantSPD(joint)) + 0.5 * Double(entries.count) * log(2 * Double.pi)
    XCTAssertEqual(kalman, direct, accuracy: 1e-10 * abs(direct))
  }

  /// The true model scores its own data better than a model with a wrong noise level or drift.
  func testTrueModelScoresItsDataBest() throws {
    let data = try SequenceDataset.ou.sample(count: 100, seed: 5)
    let truth = try SequenceDataset.ou.negativeLogLikelihood(data).reduce(0, +)
    var noisier = OrnsteinUhlenbeck.builtIn
    noisier.observationStd = 0.2
    var slower = OrnsteinUhlenbeck.builtIn
    slower.drift = [-0.25, -1, 1, -0.25]
    for other in [noisier, slower] {
      let score = try (0..<data.count).map { try other.negativeLogLikelihood(data, sequence: $0) }.reduce(0, +)
      XCTAssertGreaterThan(score, truth + 10)
    }
  }

  /// `lorenz`: 10–40 times on [0, 1] per sequence, 3 columns, sequence s the
  /// same whatever the count; normalised as documented (over 300 sequences
  /// each channel's mean within 0.15 of 0 and standard deviation within 0.15
  /// of 1); no density is claimed.
  func testLorenzSequencesAreNormalisedAndReproducible() throws {
    let data = try SequenceDataset.lorenz.sample(count: 300, seed: 5)
    XCTAssertEqual(data.columns, ["y0", "y1", "y2"])
    for s in 0..<data.count {
      let r = data.observations(s)
      XCTAssertTrue((10...40).contains(r.count))
      XCTAssertTrue(data.times[r].allSatisfy { $0 >= 0 && $0 <= 1 })
    }
    for c in 0..<3 {
      let v = stride(from: c, to: data.values.count, by: 3).map { data.values[$0] }
      let mean = v.reduce(0, +) / Double(v.count)
      let sd = (v.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(v.count - 1)).squareRoot()
      XCTAssertEqual(mean, 0, accuracy: 0.15, "channel \(c)")
      XCTAssertEqual(sd, 1, accuracy: 0.15, "channel \(c)")
    }
    let few = try SequenceDataset.lorenz.sample(count: 3, seed: 5)
    XCTAssertTrue(few.same(as: data.selecting([0, 1, 2])))
    XCTAssertNil(SequenceDataset.lorenz.process)
    XCTAssertThrowsError(try SequenceDataset.lorenz.negativeLogLikelihood(few))
  }
}
