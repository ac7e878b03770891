import Foundation
import XCTest
import _NSDETestSupport

/// The optimal feedback control of the linear-Gaussian model (docs/MODEL.md §6)
/// applied at the left end-points: its controlled Euler–Maruyama chain stays
/// Gaussian, so its discrete free energy has a closed form.
final class OptimalFeedbackTests: XCTestCase {
  let y: [Double] = [0.8, -0.4]

  func oracle(general: Bool) throws -> LinearGaussianOracle { try Self.oracle(general: general) }

  static func oracle(general: Bool) throws -> LinearGaussianOracle { try .example(general: general, std: 0.3) }

  /// The affine closed form reproduces the deterministic-control closed form
  /// when the gains are zero (two independent derivations of the same number).
  func testAffineClosedFormReducesToDeterministic() throws {
    var o = try oracle(general: true)
    o.u0 = [0.5, -0.3, 0.1]
    o.u1 = [0.2, 0.4, -0.1]
    for n in [1, 7, 30] {
      let control = AffineFeedbackControl(
        gains: (0..<n).map { _ in Matrix(rows: 3, cols: 2) },
        offsets: try (0..<n).map { i in
          let t = Double(i) / Double(n)
          return try Matrix(rows: 1, cols: 3, elements: (0..<3).map { o.u0[$0] + o.u1[$0] * t })
        })
      XCTAssertEqual(
        try o.discreteFreeEnergy(y: y, control: control), try o.discreteFreeEnergy(y: y, steps: n), accuracy: 1e-12)
    }
  }

  /// Monte Carlo F̂ under the optimal affine feedback control equals the closed
  /// form within 4 standard errors (general m = 3 ≠ d and additive noise).
  func testMonteCarloMatchesClosedForm() throws {
    for general in [true, false] {
      let o = try oracle(general: general)
      let model = try o.model(general: general)
      for n in [5, 20] {
        let control = try o.optimalFeedbackControl(y: y, steps: n)
        let est = try model.variationalEstimates(
          data: Matrix(rows: 1, cols: 2) { _, c in self.y[c] },
          noise: PhiloxBrownianIncrements(seed: UInt64(11 + n), dimension: o.m), grid: TimeGrid(uniformSteps: n),
          pathsPerPoint: 20000, affineControl: control)
        let exact = try o.discreteFreeEnergy(y: y, control: control)
        XCTAssertLessThan(
          abs(est.freeEnergy.mean - exact), 4 * est.freeEnergy.standardError,
          "general \(general), N \(n): MC \(est.freeEnergy.mean) ± \(est.freeEnergy.standardError) vs \(exact)")
        XCTAssertGreaterThan(est.freeEnergy.standardError, 0)
      }
    }
  }

  /// `F^N(u*) − (−log p^N(y))` is positive, shrinks like 1/N, and is far below
  /// the best mean-field gap at every N.
  func testGapShrinksLikeOneOverN() throws {
    for general in [true, false] {
      let o = try oracle(general: general)
      let ns = [10, 20, 40, 80, 160]
      var gaps: [Double] = []
      for n in ns {
        let f = try o.discreteFreeEnergy(y: y, control: try o.optimalFeedbackControl(y: y, steps: n))
        let nll = try o.discreteNegativeLogLikelihood(y: y, steps: n)
        let meanField = try o.bestMeanFieldGap(steps: n)
        XCTAssertGreaterThan(f - nll, 0, "N \(n)")
        XCTAssertLessThan(f - nll, 0.2 * meanField, "N \(n): feedback gap \(f - nll), mean-field \(meanField)")
        gaps.append(f - nll)
      }
      let slope = logLogSlope(ns.map(Double.init), gaps)
      print(
        "optimal feedback gaps (general \(general)): \(gaps), slope \(slope), mean-field gap \(try o.bestMeanFieldGap(steps: 160))"
      )
      XCTAssertEqual(slope, -1, accuracy: 0.15, "general \(general): gaps \(gaps)")
    }
  }

  /// The best mean-field gap is what minimising over deterministic controls
  /// leaves: a brute-force minimisation over constant controls cannot beat it.
  func testBestMeanFieldGapIsALowerLimitForDeterministicControls() throws {
    var o = try oracle(general: false)
    let n = 10
    let nll = try o.discreteNegativeLogLikelihood(y: y, steps: n)
    let gap = try o.bestMeanFieldGap(steps: n)
    var best = Double.infinity
    for a in stride(from: -3.0, through: 3.0, by: 0.25) {
      for b in stride(from: -3.0, through: 3.0, by: 0.25) {
        o.u0 = [a, b]
        best = min(best, try o.discreteFreeEnergy(y: y, steps: n) - nll)
      }
    }
    XCTAssertGreaterThanOrEqual(best, gap - 1e-12)
    XCTAssertLessThan(best, gap + 0.2, "a grid of constant controls comes close to the optimum")
  }
}

final class PosteriorSamplingTests: XCTestCase {
  /// Weighted posterior paths under the optimal affine control reproduce the
  /// exact posterior mean of `X_N` given y of the N-step linear-Gaussian chain
  /// (Gaussian conditioning of the prior moments) within 5 standard errors.
  func testWeightedPosteriorMeanMatchesExact() throws {
    let y: [Double] = [0.8, -0.4]
    let o = try OptimalFeedbackTests.oracle(general: true)
    let model = try o.model(general: true)
    let n = 10
    let k = 20000
    let samples = try model.samplePosterior(
      data: Matrix(rows: 1, cols: 2) { _, c in y[c] }, pathsPerPoint: k,
      noise: PhiloxBrownianIncrements(seed: 5, dimension: o.m), grid: TimeGrid(uniformSteps: n), recordSteps: [0, n],
      affineControl: try o.optimalFeedbackControl(y: y, steps: n))
    XCTAssertEqual(samples.weights.reduce(0, +), 1, accuracy: 1e-12)
    XCTAssertEqual(samples.trajectory.count, 2)
    XCTAssertEqual(samples.trajectory[1].elements, samples.latent.elements)
    XCTAssertEqual(samples.trajectory[0][7, 1], o.x0[1])
    // Exact: m + P Cᵀ (C P Cᵀ + s² I)⁻¹ (y − C m − e).
    let (m, p) = try o.prior.discreteMoments(steps: n)
    let c = o.decoder
    let s = try BLAS.matmul(try BLAS.matmul(c, p), c, transposeB: true)
    for i in 0..<2 { s[i, i] += o.std * o.std }
    let r = Matrix<Double>(rows: 2, cols: 1) { i, _ in y[i] - o.decoderBias[i] - c[i, 0] * m[0] - c[i, 1] * m[1] }
    let gain = try BLAS.matmul(try BLAS.matmul(p, c, transposeB: true), try LAPACK.choleskySolve(s, r))
    let exact = (0..<2).map { m[$0] + gain[$0, 0] }
    let ess = 1 / samples.weights.map { $0 * $0 }.reduce(0, +)
    XCTAssertGreaterThan(ess, 0.5 * Double(k), "the optimal control makes nearly equal weights")
    for j in 0..<2 {
      var mean = 0.0
      var second = 0.0
      for q in 0..<k {
        mean += samples.weights[q] * samples.latent[q, j]
        second += samples.weights[q] * samples.latent[q, j] * samples.latent[q, j]
      }
      let se = ((second - mean * mean) / ess).squareRoot()
      XCTAssertLessThan(abs(mean - exact[j]), 5 * se, "coordinate \(j): \(mean) vs exact \(exact[j]) (SE \(se))")
    }
  }
}
