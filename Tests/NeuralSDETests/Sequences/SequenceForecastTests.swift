import Foundation
import XCTest
import _NSDETestSupport

/// Forecast draws, their scores and the baselines' predictive laws.
final class SequenceForecastTests: XCTestCase {
  /// A sequence model that is exactly a scaled Brownian motion observed with
  /// noise: zero drift and control, constant diffusion σ, `x_0 = 0`, identity
  /// decoder with noise r. Euler–Maruyama simulates it exactly on any grid.
  func brownianModel(sigma: Double, noise r: Double) throws -> NeuralSDEModel<Double> {
    let model = try NeuralSDEModel<Double>(
      .sequence(latentDimension: 1, dataDimension: 1, hidden: 3, lookahead: 2), seed: 1)
    let p = model.parameters
    for i in 0..<p.count { p.base[i] = 0 }
    for s in p.slices {
      if s.name == "diffusion.1.bias" { p.base[s.offset] = log(exp(sigma) - 1) }
      if s.name == "decoder.0.weight" { p.base[s.offset] = 1 }
      if s.name == "decoder.log_std" { p.base[s.offset] = log(r) }
    }
    return model
  }

  /// Draws of a Brownian-motion model at an interpolation and two forecast
  /// times match the exact Gaussian conditional `y_q | y_obs` (covariance
  /// `σ² min(t, s) + r² δ` in model time): their means within 5 standard
  /// errors and their standard deviations within 6 %. The draws are
  /// resampled from prior paths by their importance weights, so this checks
  /// the merged grid, the weights, the resampling and the likelihood draws.
  func testDrawsMatchTheExactConditionalOfBrownianMotion() throws {
    let (sigma, r) = (1.0, 0.4)
    let model = try brownianModel(sigma: sigma, noise: r)
    let layout = SequenceLayout(leadIn: 0.5, leadInSteps: 2, stepsPerInterval: 3, timeScale: 2)
    let observed = SequenceData(
      ids: ["a"], columns: ["y"], offsets: [0, 3], times: [1, 2, 4], values: [0.3, 0.9, 0.2])
    let queries = [3.0, 5.0, 7.0]
    var forecaster = SequenceForecaster<Double>(layout: layout)
    forecaster.pathsPerSequence = 40000
    forecaster.samples = 4000
    forecaster.seed = 5
    let f = try forecaster.forecast(model, observed: observed, at: [queries])[0]
    XCTAssertEqual(f.times, queries)
    XCTAssertGreaterThan(f.effectiveSampleSize, 2000)
    // Model time t = (τ − 1)/2 + 0.5.
    let t = { (tau: Double) in (tau - 1) / 2 + 0.5 }
    // The exact conditional, by hand: Σ_qo Σ_oo⁻¹ y and Σ_qq − Σ_qo Σ_oo⁻¹ Σ_oq.
    let o = observed.times
    let soo = Matrix<Double>(rows: 3, cols: 3) { i, j in sigma * sigma * min(t(o[i]), t(o[j])) + (i == j ? r * r : 0) }
    let soq = Matrix<Double>(rows: 3, cols: 3) { i, j in sigma * sigma * min(t(o[i]), t(queries[j])) }
    let alpha = try LAPACK.choleskySolve(soo, Matrix(rows: 3, cols: 1) { i, _ in observed.values[i] })
    let beta = try LAPACK.choleskySolve(soo, soq)
    let exact = (
      mean: (0..<3).map { q in (0..<3).map { soq[$0, q] * alpha[$0, 0] }.reduce(0, +) },
      variance: (0..<3).map { q in
        sigma * sigma * t(queries[q]) + r * r - (0..<3).map { soq[$0, q] * beta[$0, q] }.reduce(0, +)
      }
    )
    for q in queries.indices {
      let x = f.draws(query: q, channel: 0)
      let mean = x.reduce(0, +) / Double(x.count)
      let sd = (x.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(x.count - 1)).squareRoot()
      let se = exact.variance[q].squareRoot() / Double(f.effectiveSampleSize).squareRoot()
      print(
        "query \(queries[q]): mean \(mean) vs \(exact.mean[q]) (se \(se)); sd \(sd) vs \(exact.variance[q].squareRoot())"
      )
      XCTAssertEqual(mean, exact.mean[q], accuracy: 5 * se, "query \(queries[q])")
      XCTAssertEqual(sd, exact.variance[q].squareRoot(), accuracy: 0.06 * exact.variance[q].squareRoot())
    }
  }

  /// Queries before a sequence's first observation, non-finite queries and a
  /// count that does not match are refused with the sequence named; a query
  /// at an observation time reads that node.
  func testBadQueriesAreRefused() throws {
    let model = try brownianModel(sigma: 1, noise: 0.5)
    let observed = SequenceData(ids: ["s1"], columns: ["y"], offsets: [0, 2], times: [1, 2], values: [0, 1])
    var forecaster = SequenceForecaster<Double>(layout: SequenceLayout())
    forecaster.pathsPerSequence = 10
    forecaster.samples = 5
    XCTAssertThrowsError(try forecaster.forecast(model, observed: observed, at: [[0.5]])) { error in
      XCTAssertTrue(
        "\(error)".contains("sequence s1") && "\(error)".contains("before its first observation"), "\(error)")
    }
    XCTAssertThrowsError(try forecaster.forecast(model, observed: observed, at: [[.nan]])) { error in
      XCTAssertTrue("\(error)".contains("not finite"), "\(error)")
    }
    XCTAssertThrowsError(try forecaster.forecast(model, observed: observed, at: []))
    let f = try forecaster.forecast(model, observed: observed, at: [[2, 3, 3]])[0]
    XCTAssertEqual(f.times, [2, 3])
    XCTAssertEqual(f.draws.count, 5 * 2)
  }

  /// The sample CRPS against the Gaussian closed form (20000 draws, within
  /// 1 %); the closed form against a numerical integral of `(F(x) − 1{x ≥ y})²`;
  /// the sorted-draws formula against the O(S²) pair sum.
  func testCRPS() throws {
    var rng = SplitMix64(seed: 3)
    let (mu, sigma, y) = (0.4, 1.7, -0.9)
    let draws = (0..<20000).map { _ in mu + sigma * rng.nextNormal() }
    let closed = ContinuousRankedProbabilityScore.gaussian(mean: mu, std: sigma, observation: y)
    XCTAssertEqual(ContinuousRankedProbabilityScore.samples(draws, observation: y), closed, accuracy: 0.01 * closed)
    // Midpoint rule on [μ − 12σ, y] and [y, μ + 12σ] (the integrand jumps at y).
    var integral = 0.0
    for (a, b, step) in [(mu - 12 * sigma, y, 0.0), (y, mu + 12 * sigma, 1.0)] {
      let n = 200_000
      let h = (b - a) / Double(n)
      for i in 0..<n {
        let x = a + (Double(i) + 0.5) * h
        let cdf = 0.5 * erfc(-(x - mu) / sigma / 2.0.squareRoot())
        integral += (cdf - step) * (cdf - step) * h
      }
    }
    XCTAssertEqual(closed, integral, accuracy: 1e-6)
    let small = (0..<7).map { _ in rng.nextNormal() }
    var pairs = 0.0
    for a in small { for b in small { pairs += abs(a - b) } }
    let brute = small.map { abs($0 - y) }.reduce(0, +) / 7 - pairs / (2 * 7 * 6)
    XCTAssertEqual(ContinuousRankedProbabilityScore.samples(small, observation: y), brute, accuracy: 1e-12)
  }

  /// The baselines' predictive laws agree with their own densities: for one
  /// more value v of channel c at a later (or interpolated) time,
  /// `−log N(v; predictive) = −log p(past + v) − (−log p(past))` (the OU set's
  /// Kalman filter, the GP's marginal likelihood), to 1e-9.
  func testPredictiveLawsMatchTheDensities() throws {
    let data = try SequenceDataset.ou.sample(count: 3, seed: 4)
    let gp = try GaussianProcessBaseline(fitting: data, iterations: 30)
    let ou = OrnsteinUhlenbeck.builtIn
    for s in 0..<data.count {
      let one = data.selecting([s])
      let rows = one.observations(0)
      for (tau, c, v) in [
        (one.times[rows.upperBound - 1] + 0.37, 1, 0.25), (one.times[rows.lowerBound] + 0.011, 0, -0.4),
      ] {
        guard !one.times.contains(tau) else { continue }
        var plus = one
        let insert = plus.times.firstIndex { $0 > tau } ?? plus.times.count
        plus.times.insert(tau, at: insert)
        plus.values.insert(contentsOf: c == 0 ? [v, .nan] : [.nan, v], at: insert * 2)
        plus.offsets = [0, plus.times.count]
        for (name, predictive, nll) in [
          (
            "ou", try ou.predictive(one, sequence: 0, at: [tau]),
            { (d: SequenceData) in try ou.negativeLogLikelihood(d, sequence: 0) }
          ),
          (
            "gp", try gp.predictive(one, sequence: 0, at: [tau]),
            { (d: SequenceData) in try gp.negativeLogLikelihood(d)[0] }
          ),
        ] {
          let m = predictive.mean[c]
          let sd = predictive.std[c]
          let direct = 0.5 * log(2 * Double.pi * sd * sd) + 0.5 * (v - m) * (v - m) / (sd * sd)
          XCTAssertEqual(direct, try nll(plus) - nll(one), accuracy: 1e-9, "\(name), sequence \(s), τ = \(tau)")
        }
      }
    }
  }
}
