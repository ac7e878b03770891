import Foundation
import XCTest
import _NSDETestSupport

final class EvaluationTests: XCTestCase {
  /// The toy densities integrate to 1 (a fine grid over their support), and
  /// their mean −log p on a large sample is the known entropy where it has a closed form.
  func testToyDensitiesAreNormalised() throws {
    for set in [ToyDataset.twoMoons, .eightGaussians, .checkerboard] {
      let n = 200
      let lo = -5.0
      let hi = 5.0
      let step = (hi - lo) / Double(n)
      let grid = Matrix<Double>(rows: n * n, cols: 2) { r, c in lo + (Double(c == 0 ? r / n : r % n) + 0.5) * step }
      let nll = try XCTUnwrap(set.negativeLogDensity(grid))
      let mass = nll.map { Double.exp(-$0) }.reduce(0, +) * step * step
      XCTAssertEqual(mass, 1, accuracy: 0.01, "\(set)")
    }
    let checker = ToyDataset.checkerboard.sample(count: 2000, seed: 1, as: Double.self)
    for v in try XCTUnwrap(ToyDataset.checkerboard.negativeLogDensity(checker)) {
      XCTAssertEqual(v, Double.log(32), accuracy: 1e-12)
    }
    XCTAssertNil(ToyDataset.pinwheel.negativeLogDensity(checker))
  }

  /// The Gaussian baseline: −log N by Cholesky equals the 2-D closed form;
  /// its samples have the fitted moments.
  func testGaussianBaseline() throws {
    let data = Matrix<Double>(rows: 400, cols: 2)
    var rng = SplitMix64(seed: 5)
    for r in 0..<400 {
      let a = rng.nextNormal()
      let b = rng.nextNormal()
      data[r, 0] = 1 + 2 * a
      data[r, 1] = -1 + 0.5 * a + 0.3 * b
    }
    let g = try GaussianBaseline(fitting: data)
    let s = g.covariance
    let det = s[0, 0] * s[1, 1] - s[0, 1] * s[1, 0]
    let x = try Matrix<Double>(rows: 1, cols: 2, elements: [0.3, 0.7])
    let dx = [0.3 - g.mean[0], 0.7 - g.mean[1]]
    let quad = (s[1, 1] * dx[0] * dx[0] - 2 * s[0, 1] * dx[0] * dx[1] + s[0, 0] * dx[1] * dx[1]) / det
    let expected = 0.5 * quad + 0.5 * Double.log(det) + Double.log(2 * Double.pi)
    XCTAssertEqual(try g.negativeLogDensity(x)[0], expected, accuracy: 1e-12)
    let drawn = g.sample(count: 20000, seed: 9, as: Double.self)
    let refit = try GaussianBaseline(fitting: drawn)
    XCTAssertLessThan(relativeError(refit.mean, g.mean), 0.05)
    XCTAssertLessThan(relativeError(refit.covariance.elements, g.covariance.elements), 0.05)
  }

  /// Energy distance: 0 between a sample and itself, symmetric, larger for a shifted sample.
  func testEnergyDistance() throws {
    let a = ToyDataset.twoMoons.sample(count: 300, seed: 1, as: Double.self)
    let b = ToyDataset.twoMoons.sample(count: 200, seed: 2, as: Double.self)
    XCTAssertEqual(try energyDistance(a, a), 0, accuracy: 1e-12)
    XCTAssertEqual(try energyDistance(a, b), try energyDistance(b, a), accuracy: 1e-12)
    let shifted = b.copy()
    for r in 0..<shifted.rows { shifted[r, 0] += 1 }
    XCTAssertGreaterThan(try energyDistance(a, shifted), 10 * (try energyDistance(a, b)))
    // Against a direct double loop.
    var direct = 0.0
    func dist(_ x: Matrix<Double>, _ i: Int, _ y: Matrix<Double>, _ j: Int) -> Double {
      ((x[i, 0] - y[j, 0]) * (x[i, 0] - y[j, 0]) + (x[i, 1] - y[j, 1]) * (x[i, 1] - y[j, 1])).squareRoot()
    }
    for i in 0..<300 { for j in 0..<200 { direct += 2 * dist(a, i, b, j) / 60000 } }
    for i in 0..<300 { for j in 0..<300 { direct -= dist(a, i, a, j) / 90000 } }
    for i in 0..<200 { for j in 0..<200 { direct -= dist(b, i, b, j) / 40000 } }
    XCTAssertEqual(try energyDistance(a, b), direct, accuracy: 1e-12)
  }

  /// A model evaluation runs chunked (several solves); the baseline, the true
  /// density and the noise floor are filled in as the reference says.
  func testModelEvaluationSmoke() throws {
    let model = try NeuralSDEModel<Double>(
      .reference(latentDimension: 2, hidden: 8, posterior: .feedback), seed: 3)
    let held = ToyDataset.twoMoons.sample(count: 12, seed: 1, as: Double.self)
    let train = ToyDataset.twoMoons.sample(count: 200, seed: 2, as: Double.self)
    let grid = try TimeGrid(uniformSteps: 5)
    let e = try ModelEvaluation.evaluate(
      model, heldOut: held, training: train, reference: .dataset(.twoMoons), grid: grid,
      options: .init(pathsPerPoint: 50, samples: 100, maxPathsPerSolve: 200))
    XCTAssertEqual(e.points, 12)
    XCTAssertTrue(e.negativeLogLikelihood.isFinite)
    // Jensen on the same paths: the importance-weighted bound is at most F̂.
    XCTAssertLessThanOrEqual(e.negativeLogLikelihood, e.freeEnergy)
    XCTAssertGreaterThan(e.negativeLogLikelihoodStandardError, 0)
    XCTAssertTrue(e.freeEnergy.isFinite)
    XCTAssertNotNil(e.trueNegativeLogLikelihood)
    XCTAssertGreaterThan(e.energyDistanceNoiseFloor, 0)
    let user = try ModelEvaluation.evaluate(
      model, heldOut: held, training: train, reference: .data, grid: grid,
      options: .init(pathsPerPoint: 10, samples: 50))
    XCTAssertNil(user.trueNegativeLogLikelihood)
    XCTAssertEqual(user.gaussianNegativeLogLikelihood, e.gaussianNegativeLogLikelihood, accuracy: 1e-12)
    // User data: both sides of the statistic and of its null are half the held-out rows.
    XCTAssertEqual(user.samples, 6)
    XCTAssertEqual(e.samples, 100)
  }

  /// The energy-distance test has power: an untrained model (far from two
  /// moons) lies many null standard deviations above the null, while a
  /// sample of the data itself, at the same size, does not.
  func testEnergyDistanceZScoreSeparatesModelFromData() throws {
    let model = try NeuralSDEModel<Double>(.reference(latentDimension: 2, hidden: 8), seed: 3)
    let held = ToyDataset.twoMoons.sample(count: 10, seed: 1, as: Double.self)
    let grid = try TimeGrid(uniformSteps: 4)
    let e = try ModelEvaluation.evaluate(
      model, heldOut: held, training: held, reference: .dataset(.twoMoons), grid: grid,
      options: .init(pathsPerPoint: 4, samples: 2000))
    XCTAssertGreaterThan(e.energyDistanceZScore, 10, "\(e.energyDistance) vs \(e.energyDistanceNoiseFloor)")
    // The data against fresh data of the same size: a draw from the null.
    let a = ToyDataset.twoMoons.sample(count: 2000, seed: 77, as: Double.self)
    let b = ToyDataset.twoMoons.sample(count: 2000, seed: 78, as: Double.self)
    let z = (try energyDistance(a, b) - e.energyDistanceNoiseFloor) / e.energyDistanceNoiseFloorSpread
    XCTAssertLessThan(abs(z), 4)
  }
}
