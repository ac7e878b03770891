import Foundation
import XCTest
import _NSDETestSupport

final class MemoryAndNumericsTests: XCTestCase {
  override func tearDown() { MemoryLimit.override = nil }

  /// The estimates made before allocating cover what the estimators then
  /// allocate (never less), without overstating it by more than 30 %.
  func testEstimatesMatchTheWorkspaces() throws {
    for posterior in PosteriorControl.allCases {
      for noise in [NoiseType.diagonal, .additive, .general(noiseDimension: 3)] {
        let model = try NeuralSDEModel<Double>(
          .reference(latentDimension: 4, hidden: 16, noise: noise, posterior: posterior), seed: 1)
        let data = ToyDataset.twoMoons.sample(count: 32, seed: 2, as: Double.self)
        let grid = try TimeGrid(uniformSteps: 12)
        let noiseSource = PhiloxBrownianIncrements<Double>(seed: 3, dimension: model.noiseDimension)
        let estimator = BackpropThroughSolver(chunks: 2)
        let r = try estimator.gradient(
          of: model, data: data, noise: noiseSource, grid: grid, pathsPerPoint: 4, objective: .freeEnergy)
        let estimate = try XCTUnwrap(
          estimator.estimatedWorkspaceBytes(model: model, points: 32, pathsPerPoint: 4, steps: 12))
        let actual = r.diagnostics.peakWorkspaceBytes
        XCTAssertGreaterThanOrEqual(estimate, actual, "\(posterior), \(noise)")
        XCTAssertLessThanOrEqual(Double(estimate), 1.3 * Double(actual), "\(posterior), \(noise)")
      }
    }
  }

  /// A request over the limit fails before allocating, naming the request,
  /// the estimate and the limit; sizes that overflow are named as such.
  func testRequestsOverTheLimitFailClearly() throws {
    let model = try NeuralSDEModel<Double>(.reference(latentDimension: 4, hidden: 16), seed: 1)
    let data = ToyDataset.twoMoons.sample(count: 64, seed: 2, as: Double.self)
    let grid = try TimeGrid(uniformSteps: 20)
    let noise = PhiloxBrownianIncrements<Double>(seed: 3, dimension: 4)
    MemoryLimit.override = 100_000
    XCTAssertNil(
      expectError(containing: ["backprop through 20 steps of 256 paths", "would need", "97.7 KiB are available"]) {
        _ = try BackpropThroughSolver().gradient(
          of: model, data: data, noise: noise, grid: grid, pathsPerPoint: 4, objective: .freeEnergy)
      })
    XCTAssertNil(
      expectError(containing: ["Euler–Maruyama solve of 256 paths"]) {
        _ = try model.freeEnergy(data: data, noise: noise, grid: grid, pathsPerPoint: 4)
      })
    XCTAssertNil(
      expectError(containing: ["pathwise sensitivities"]) {
        _ = try ForwardPathwise().gradient(
          of: model, data: data, noise: noise, grid: grid, pathsPerPoint: 4, objective: .freeEnergy)
      })
    MemoryLimit.override = nil
    XCTAssertNil(
      expectError(containing: ["more memory than can be addressed"]) {
        try MemoryLimit.check(SizeArithmetic.product(Int.max / 2, 3), for: "a test")
      })
    XCTAssertEqual(MemoryLimit.parse("64MiB"), 64 << 20)
    XCTAssertEqual(MemoryLimit.parse("1.5GiB"), 3 << 29)
    XCTAssertNil(MemoryLimit.parse("-1"))
    XCTAssertNil(MemoryLimit.parse("lots"))
  }

  /// The gradient norm does not overflow for entries near the Double maximum
  /// (the sum of squares would), and clipping still works there.
  func testNormWithoutOverflow() throws {
    let big = [1e300, -1e300, 3e299]
    XCTAssertEqual(euclideanNorm(big), 1e300 * (2 + 0.09).squareRoot(), accuracy: 1e286)
    XCTAssertEqual(euclideanNorm([3e-300, 4e-300]), 5e-300, accuracy: 1e-313)
    XCTAssertEqual(euclideanNorm([]), 0)
    let p = try ParameterVector<Double>(layout: [ParameterSlice(name: "w", offset: 0, shape: [3])])
    let adam = Adam<Double>(learningRate: 1e-3, gradientClipNorm: 1)
    try adam.update(p, gradient: big)
    XCTAssertTrue(adam.lastGradientNorm.isFinite)
    XCTAssertTrue(p.elements.allSatisfy(\.isFinite))
    XCTAssertNil(
      expectError(containing: ["norm exceeds the largest Double"]) {
        try adam.update(p, gradient: [1.7e308, 1.7e308, 1.7e308])
      })
    XCTAssertNil(
      expectError(containing: ["1 NaN/Inf value"]) { try adam.update(p, gradient: [1, .nan, 0]) })
  }
}

final class PathwiseOverflowTests: XCTestCase {
  /// Tangents that overflow give a named error, not NaN entries with success;
  /// backprop on the same model and noise stays finite.
  func testOverflowingTangentsAreNamed() throws {
    let f = try GradientFixture(noise: .diagonal)
    let huge = [Double](repeating: 1e307, count: f.model.parameterCount)
    XCTAssertNil(
      expectError(containing: ["pathwise sensitivities overflowed"]) {
        _ = try ForwardPathwise().directionalDerivative(
          of: f.model, data: f.data, noise: f.noise, grid: f.grid, pathsPerPoint: f.k, objective: .freeEnergy,
          direction: huge)
      })
    let backprop = try BackpropThroughSolver().gradient(
      of: f.model, data: f.data, noise: f.noise, grid: f.grid, pathsPerPoint: f.k, objective: .freeEnergy)
    XCTAssertTrue(backprop.gradient.allSatisfy(\.isFinite))
  }
}
