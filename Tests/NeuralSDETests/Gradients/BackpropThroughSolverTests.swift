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
        let fd = try f.finiteDifferences(objective)
        for (name, range) in f.model.parameterGroups {
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
