import Foundation
import XCTest
import _NSDETestSupport

/// The per-channel Gaussian-process baseline of sequences.
final class GaussianProcessBaselineTests: XCTestCase {
  /// Sequences drawn from a known Matérn-3/2 GP (two channels): the fit
  /// scores its training data at least as well as the true parameters (it
  /// maximises the marginal likelihood) and recovers them roughly.
  func testFitRecoversAKnownProcess() throws {
    let truth = [(mean: 0.5, signal: 1.0, length: 0.7, noise: 0.2), (mean: -1.0, signal: 0.5, length: 2.0, noise: 0.1)]
    var rng = SplitMix64(seed: 11)
    var data = SequenceData(ids: [], columns: ["a", "b"], offsets: [0], times: [], values: [])
    for s in 0..<60 {
      let n = 8 + Int(rng.next() % 20)
      let times = (0..<n).map { _ in 6 * rng.nextUnit() }.sorted()
      var columns: [[Double]] = []
      for t in truth {
        let k = Matrix<Double>(rows: n, cols: n) { i, j in
          let r = abs(times[i] - times[j]) * 3.0.squareRoot() / t.length
          return t.signal * t.signal * (1 + r) * exp(-r) + (i == j ? t.noise * t.noise : 0)
        }
        let l = try LAPACK.cholesky(k)
        let z = (0..<n).map { _ in rng.nextNormal() }
        columns.append((0..<n).map { i in t.mean + (0...i).map { l[i, $0] * z[$0] }.reduce(0, +) })
      }
      data.ids.append(String(s))
      data.times += times
      for i in 0..<n { data.values += [columns[0][i], columns[1][i]] }
      data.offsets.append(data.times.count)
    }
    let fit = try GaussianProcessBaseline(fitting: data)
    let fitted = try fit.negativeLogLikelihood(data).reduce(0, +)
    var exact = fit
    exact.mean = truth.map(\.mean)
    exact.signal = truth.map(\.signal)
    exact.lengthScale = truth.map(\.length)
    exact.noise = truth.map(\.noise)
    XCTAssertLessThanOrEqual(fitted, try exact.negativeLogLikelihood(data).reduce(0, +) + 1e-6)
    for c in 0..<2 {
      XCTAssertEqual(fit.lengthScale[c], truth[c].length, accuracy: 0.3 * truth[c].length, "channel \(c)")
      XCTAssertEqual(fit.noise[c], truth[c].noise, accuracy: 0.3 * truth[c].noise, "channel \(c)")
      XCTAssertEqual(fit.signal[c], truth[c].signal, accuracy: 0.3 * truth[c].signal, "channel \(c)")
    }
  }

  /// On `ou` the baseline is worse than the data's own density on held-out
  /// sequences (the channels are coupled; it models them apart) but far
  /// better than an independent Gaussian per value.
  func testOUBaselineSitsBetweenTheTruthAndNoise() throws {
    let train = try SequenceDataset.ou.sample(count: 64, seed: 1)
    let held = try SequenceDataset.ou.sample(count: 32, seed: 2)
    let values = Double(held.values.count)
    let gp = try GaussianProcessBaseline(fitting: train).negativeLogLikelihood(held).reduce(0, +) / values
    let truth = try SequenceDataset.ou.negativeLogLikelihood(held).reduce(0, +) / values
    let p = try OrnsteinUhlenbeck.builtIn.stationaryCovariance()
    // One Gaussian per value with the stationary marginal variance.
    let marginal = 0.5 * log(2 * Double.pi * (p[0, 0] + 0.01)) + 0.5
    print("ou held-out −log p per value: GP \(gp), truth \(truth), marginal Gaussian ≈ \(marginal)")
    XCTAssertGreaterThan(gp, truth)
    XCTAssertLessThan(gp, marginal - 0.3)
  }
}
