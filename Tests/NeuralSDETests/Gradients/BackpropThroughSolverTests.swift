import Foundation
import XCTest
import _NSDETestSupport

final class BackpropThroughSolverTests: XCTestCase {
  let noiseTypes: [NoiseType] = [.diagonal, .additive, .general(noiseDimension: 2), .general(noiseDimension: 4)]

  /// The backprop gradient equals central finite differences of F̂ (and of the
  /// importance-weighted bound) under common random numbers, for every
  /// parameter group and noise type.
  func testMatchesFiniteDifferences() throws {
    for type in noiseTypes {
      for objective in TrainingObjective.allCases {
        let f = try GradientFixture(noise: type)
        let result = try BackpropThroughSolver(chunks: 2).gradient(
          of: f.model, data: f.data, noise: f.noise, grid: f.grid, pathsPerPoint: f.k, objective: objective)
        XCTAssertEqual(result.loss, try f.loss(objective), accuracy: 1e-12 * abs(result.loss))
        let fd = try f.finiteDifferences(objective.differentiatedLoss)
        for (name, range) in f.model.parameterGroups
        where objective.differencedIndices(f.model).contains(range.lowerBound) {
          let err = relativeError(Array(result.gradient[range]), Array(fd[range]))
          XCTAssertLessThan(err, 1e-6, "\(type), \(objective), group \(name)")
        }
      }
    }
  }

  func testBernoulliLikelihood() throws {
    let f = try GradientFixture(noise: .diagonal, likelihood: .bernoulli)
    let result = try BackpropThroughSolver().gradient(
      of: f.model, data: f.data, noise: f.noise, grid: f.grid, pathsPerPoint: f.k, objective: .freeEnergy)
    XCTAssertLessThan(relativeError(result.gradient, try f.finiteDifferences(.freeEnergy)), 1e-6)
  }

  /// With the Gaussian scale-mixture likelihood (its log-std, centre and scale
  /// logits learned), the gradient equals central finite differences for every
  /// objective and parameter group.
  func testScaleMixtureLikelihood() throws {
    for objective in TrainingObjective.allCases {
      let f = try GradientFixture(noise: .diagonal, likelihood: .gaussianScaleMixture(initialStd: 0.4))
      let result = try BackpropThroughSolver(chunks: 2).gradient(
        of: f.model, data: f.data, noise: f.noise, grid: f.grid, pathsPerPoint: f.k, objective: objective)
      XCTAssertEqual(result.loss, try f.loss(objective), accuracy: 1e-12 * abs(result.loss))
      let fd = try f.finiteDifferences(objective.differentiatedLoss)
      let groups = f.model.parameterGroups.map(\.name)
      XCTAssertTrue(["decoder.log_std", "decoder.center", "decoder.scale_logits"].allSatisfy(groups.contains))
      for (name, range) in f.model.parameterGroups
      where objective.differencedIndices(f.model).contains(range.lowerBound) {
        let err = relativeError(Array(result.gradient[range]), Array(fd[range]))
        XCTAssertLessThan(err, 1e-6, "\(objective), group \(name)")
      }
    }
  }

  /// The chunking (threads) does not change the gradient beyond round-off.
  func testChunkingAgreesToRoundOff() throws {
    let f = try GradientFixture(noise: .diagonal)
    let one = try BackpropThroughSolver(chunks: 1).gradient(
      of: f.model, data: f.data, noise: f.noise, grid: f.grid, pathsPerPoint: f.k, objective: .freeEnergy)
    let three = try BackpropThroughSolver(chunks: 3).gradient(
      of: f.model, data: f.data, noise: f.noise, grid: f.grid, pathsPerPoint: f.k, objective: .freeEnergy)
    XCTAssertLessThan(relativeError(one.gradient, three.gradient), 1e-12)
    XCTAssertLessThan(relativeError(one.loss, three.loss), 1e-12)
  }
}

final class FloatGradientTests: XCTestCase {
  /// Float gradients (both estimators) agree with Double ones within Float tolerance
  /// on the same parameters, data and noise (Float noise is the rounded Double noise).
  func testFloatAgreesWithDouble() throws {
    let f = try GradientFixture(noise: .general(noiseDimension: 2))
    let modelF = try NeuralSDEModel<Float>(f.model.configuration, seed: 0)
    try modelF.parameters.assign(f.model.parameters.elements.map(Float.init))
    let dataF = try Matrix<Float>(rows: f.data.rows, cols: f.data.cols, elements: f.data.elements.map(Float.init))
    let noiseF = PhiloxBrownianIncrements<Float>(seed: f.noise.seed, dimension: f.noise.dimension)
    let d = try BackpropThroughSolver().gradient(
      of: f.model, data: f.data, noise: f.noise, grid: f.grid, pathsPerPoint: f.k, objective: .freeEnergy)
    let a = try BackpropThroughSolver().gradient(
      of: modelF, data: dataF, noise: noiseF, grid: f.grid, pathsPerPoint: f.k, objective: .freeEnergy)
    let b = try ForwardPathwise().gradient(
      of: modelF, data: dataF, noise: noiseF, grid: f.grid, pathsPerPoint: f.k, objective: .freeEnergy)
    XCTAssertLessThan(relativeError(a.loss, d.loss), 1e-5)
    XCTAssertLessThan(relativeError(a.gradient, d.gradient), 1e-4)
    XCTAssertLessThan(relativeError(b.gradient, d.gradient), 1e-4)
  }
}
