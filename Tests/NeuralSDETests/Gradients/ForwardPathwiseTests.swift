import Foundation
import XCTest
import _NSDETestSupport

final class ForwardPathwiseTests: XCTestCase {
  let noiseTypes: [NoiseType] = [.diagonal, .additive, .general(noiseDimension: 2), .general(noiseDimension: 4)]

  /// Both estimators agree to round-off on the same noise, for every noise type
  /// (including general noise with m ≠ d), learned x_0 and learned likelihood
  /// scale, and both objectives.
  func testAgreesWithBackprop() throws {
    for type in noiseTypes {
      for objective in TrainingObjective.allCases {
        let f = try GradientFixture(noise: type)
        let a = try BackpropThroughSolver().gradient(
          of: f.model, data: f.data, noise: f.noise, grid: f.grid, pathsPerPoint: f.k, objective: objective)
        let b = try ForwardPathwise(blockSize: 7).gradient(
          of: f.model, data: f.data, noise: f.noise, grid: f.grid, pathsPerPoint: f.k, objective: objective)
        XCTAssertEqual(b.diagnostics.tangentDirections, f.model.parameterCount)
        XCTAssertLessThan(relativeError(a.loss, b.loss), 1e-13)
        XCTAssertLessThanOrEqual(relativeError(a.gradient, b.gradient), 1e-10, "\(type), \(objective)")
        for (name, range) in f.model.parameterGroups {
          XCTAssertLessThanOrEqual(
            relativeError(Array(a.gradient[range]), Array(b.gradient[range])), 1e-10, "\(type), \(objective), \(name)")
        }
      }
    }
  }

  /// The estimators agree to round-off with the Gaussian scale-mixture
  /// likelihood (2D + Q learned likelihood parameters; several observations:
  /// ObservationScheduleTests).
  func testAgreesWithBackpropOnScaleMixture() throws {
    for objective in TrainingObjective.allCases {
      let f = try GradientFixture(
        noise: .general(noiseDimension: 2), likelihood: .gaussianScaleMixture(initialStd: 0.4),
        posterior: .feedback)
      let a = try BackpropThroughSolver().gradient(
        of: f.model, data: f.data, noise: f.noise, grid: f.grid, pathsPerPoint: f.k, objective: objective)
      let b = try ForwardPathwise(blockSize: 9).gradient(
        of: f.model, data: f.data, noise: f.noise, grid: f.grid, pathsPerPoint: f.k, objective: objective)
      XCTAssertLessThan(relativeError(a.loss, b.loss), 1e-13)
      for (name, range) in f.model.parameterGroups {
        XCTAssertLessThanOrEqual(
          relativeError(Array(a.gradient[range]), Array(b.gradient[range])), 1e-10, "\(objective), \(name)")
      }
    }
  }

  /// B agrees with central finite differences too.
  func testMatchesFiniteDifferences() throws {
    let f = try GradientFixture(noise: .general(noiseDimension: 2), likelihood: .bernoulli)
    let b = try ForwardPathwise().gradient(
      of: f.model, data: f.data, noise: f.noise, grid: f.grid, pathsPerPoint: f.k, objective: .freeEnergy)
    XCTAssertLessThan(relativeError(b.gradient, try f.finiteDifferences(.freeEnergy)), 1e-6)
  }

  /// The directional derivative from B equals A's gradient dotted with the direction.
  func testDirectionalDerivativeEqualsGradientDotDirection() throws {
    for type in [NoiseType.diagonal, .general(noiseDimension: 4)] {
      let f = try GradientFixture(noise: type)
      let a = try BackpropThroughSolver().gradient(
        of: f.model, data: f.data, noise: f.noise, grid: f.grid, pathsPerPoint: f.k, objective: .freeEnergy)
      let v: [Double] = randomVector(f.model.parameterCount, seed: 12)
      let jvp = try ForwardPathwise().directionalDerivative(
        of: f.model, data: f.data, noise: f.noise, grid: f.grid, pathsPerPoint: f.k, objective: .freeEnergy,
        direction: v)
      let dot = zip(a.gradient, v).map { $0 * $1 }.reduce(0, +)
      XCTAssertLessThan(relativeError(jvp.derivative, dot), 1e-10, "\(type)")
    }
  }

  /// A chosen subset (only β) gives those entries of the full gradient and zeros elsewhere.
  func testSubsetOfParameters() throws {
    let f = try GradientFixture(noise: .diagonal)
    let a = try BackpropThroughSolver().gradient(
      of: f.model, data: f.data, noise: f.noise, grid: f.grid, pathsPerPoint: f.k, objective: .freeEnergy)
    let b = try ForwardPathwise(directions: .groups(["posterior"])).gradient(
      of: f.model, data: f.data, noise: f.noise, grid: f.grid, pathsPerPoint: f.k, objective: .freeEnergy)
    let range = f.model.parameterGroups.first { $0.name == "posterior" }!.range
    XCTAssertEqual(b.diagnostics.tangentDirections, range.count)
    XCTAssertLessThan(relativeError(Array(a.gradient[range]), Array(b.gradient[range])), 1e-10)
    XCTAssertTrue(b.gradient.enumerated().allSatisfy { range.contains($0.offset) || $0.element == 0 })
    XCTAssertNil(
      expectError(containing: ["no parameter group named encoder"]) {
        _ = try ForwardPathwise(directions: .groups(["encoder"])).gradient(
          of: f.model, data: f.data, noise: f.noise, grid: f.grid, pathsPerPoint: f.k, objective: .freeEnergy)
      })
    XCTAssertNil(
      expectError(containing: ["direction has 3 values"]) {
        _ = try ForwardPathwise().directionalDerivative(
          of: f.model, data: f.data, noise: f.noise, grid: f.grid, pathsPerPoint: f.k, objective: .freeEnergy,
          direction: [1, 2, 3])
      })
  }
}
