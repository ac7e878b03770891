import Foundation
import XCTest
import _NSDETestSupport

/// The Monte Carlo objectives against the closed forms of the linear-Gaussian
/// model (docs/MODEL.md §5).
final class LinearGaussianTests: XCTestCase {
  let y: [Double] = [0.8, -0.4]

  func oracle(general: Bool, u0: [Double]? = nil, u1: [Double]? = nil) throws -> LinearGaussianOracle {
    try .example(general: general, u0: u0, u1: u1)
  }

  func data(_ points: Int) -> Matrix<Double> { Matrix(rows: points, cols: 2) { _, c in self.y[c] } }

  /// F̂ by Monte Carlo equals the closed-form discrete free energy within 4 standard errors.
  func testMonteCarloFreeEnergyMatchesClosedForm() throws {
    let controls: [([Double], [Double])] = [
      ([0, 0, 0], [0, 0, 0]), ([0.5, -0.3, 0.1], [0.2, 0.4, -0.1]), ([1.2, 0.8, -0.5], [-1, 0, 0.6]),
    ]
    for general in [true, false] {
      for (u0, u1) in controls {
        let o = try oracle(
          general: general, u0: Array(u0.prefix(general ? 3 : 2)), u1: Array(u1.prefix(general ? 3 : 2)))
        let model = try o.model(general: general)
        for n in [5, 20] {
          let grid = try TimeGrid(uniformSteps: n)
          let est = try model.freeEnergy(
            data: data(1), noise: PhiloxBrownianIncrements(seed: UInt64(n), dimension: o.m), grid: grid,
            pathsPerPoint: 20000)
          let exact = try o.discreteFreeEnergy(y: y, steps: n)
          XCTAssertLessThan(
            abs(est.mean - exact), 4 * est.standardError,
            "general \(general), u0 \(u0), N \(n): MC \(est.mean) ± \(est.standardError) vs exact \(exact)")
          XCTAssertEqual(est.kl[0], o.discreteKL(steps: n), accuracy: 1e-12)
        }
      }
    }
  }

  /// The closed-form F is never below the exact discrete −log p(y) (Gibbs), for random controls.
  func testFreeEnergyBoundsNegativeLogLikelihood() throws {
    var rng = SplitMix64(seed: 3)
    for trial in 0..<40 {
      let u0 = (0..<3).map { _ in 2 * rng.nextNormal() }
      let u1 = (0..<3).map { _ in 2 * rng.nextNormal() }
      let o = try oracle(general: true, u0: u0, u1: u1)
      for n in [1, 3, 10, 50] {
        let f = try o.discreteFreeEnergy(y: y, steps: n)
        let nll = try o.discreteNegativeLogLikelihood(y: y, steps: n)
        XCTAssertGreaterThanOrEqual(f, nll, "trial \(trial), N \(n)")
      }
    }
  }

  /// The importance-weighted estimate lies between −log p(y) and F̂, and
  /// approaches −log p(y) as K grows (averaged over 200 replicates).
  func testImportanceWeightedEstimateTightens() throws {
    let o = try oracle(general: true, u0: [0.5, -0.3, 0.1], u1: [0.2, 0.4, -0.1])
    let model = try o.model(general: true)
    let n = 10
    let grid = try TimeGrid(uniformSteps: n)
    let nll = try o.discreteNegativeLogLikelihood(y: y, steps: n)
    let f = try o.discreteFreeEnergy(y: y, steps: n)
    var gaps: [Double] = []
    for k in [1, 10, 100] {
      let est = try model.variationalEstimates(
        data: data(200), noise: PhiloxBrownianIncrements(seed: 77, dimension: 3), grid: grid, pathsPerPoint: k)
      let iw = est.importanceWeighted.perDataPoint
      let mean = iw.reduce(0, +) / Double(iw.count)
      let se = (iw.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(iw.count - 1) / Double(iw.count))
        .squareRoot()
      XCTAssertGreaterThan(mean, nll - 4 * se, "K = \(k)")
      XCTAssertLessThan(mean, f + 4 * se, "K = \(k)")
      gaps.append(mean - nll)
    }
    XCTAssertLessThan(gaps[2], gaps[1])
    XCTAssertLessThan(gaps[1], gaps[0])
    XCTAssertLessThan(gaps[2], 0.2 * (f - nll), "gap at K = 100: \(gaps[2]) vs F − NLL = \(f - nll)")
  }

  /// The diffusion limit: the k-layer DLGM's free energy converges to the
  /// SDE's at rate O(1/k).
  func testDiffusionLimitRate() throws {
    let o = try oracle(general: true, u0: [0.5, -0.3, 0.1], u1: [0.2, 0.4, -0.1])
    let fc = try o.continuousFreeEnergy(y: y)
    let ks = [10, 20, 40, 80, 160]
    let errors = try ks.map { abs(try o.discreteFreeEnergy(y: y, steps: $0) - fc) }
    let slope = logLogSlope(ks.map { 1 / Double($0) }, errors)
    XCTAssertEqual(slope, 1, accuracy: 0.1, "errors \(errors)")
    // The matrix-exponential moments agree with a very fine discretisation.
    let (mc, cc) = try o.continuousMoments()
    let (md, cd) = try o.discreteMoments(steps: 20000)
    XCTAssertLessThan(relativeError(mc, md), 1e-3)
    XCTAssertLessThan(relativeError(cc.elements, cd.elements), 1e-3)
  }

  /// Scalar OU with small σ: minimising F̂ over a constant control never goes
  /// below the exact −log p(y). (Dropping σ in front of b̃ breaks this.)
  func testBoundHoldsUnderMinimisationWithSmallSigma() throws {
    let o = LinearGaussianOracle(
      a: try Matrix(rows: 1, cols: 1, elements: [-1]), c0: [0], c1: [0],
      sigma: try Matrix(rows: 1, cols: 1, elements: [0.2]),
      x0: [0], decoder: try Matrix(rows: 1, cols: 1, elements: [1]), decoderBias: [0], std: 0.1, u0: [0], u1: [0])
    let model = try o.model(general: false)
    let n = 50
    let grid = try TimeGrid(uniformSteps: n)
    let target: [Double] = [1.0]
    let nll = try o.discreteNegativeLogLikelihood(y: target, steps: n)
    let bias = try model.parameters.values("posterior.0.bias")
    var best = Double.infinity
    var bestSE = 0.0
    var u = 0.0
    while u <= 16 {
      bias[0] = u
      let est = try model.freeEnergy(
        data: Matrix(rows: 1, cols: 1) { _, _ in 1.0 }, noise: PhiloxBrownianIncrements(seed: 9, dimension: 1),
        grid: grid,
        pathsPerPoint: 4000)
      if est.mean < best {
        best = est.mean
        bestSE = est.standardError
      }
      u += 0.25
    }
    XCTAssertGreaterThan(best, nll - 4 * bestSE, "min F̂ = \(best) ± \(bestSE), −log p(y) = \(nll)")
  }
}
