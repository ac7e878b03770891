import Foundation
import XCTest
import _NSDETestSupport

final class TrainingTests: XCTestCase {
  /// The reference architecture (d = 16, H = 64) trained on two moons for
  /// 1200 steps (N = 10, B = 64, K = 4) lowers the held-out free energy by a
  /// large margin, and its samples move much closer to the data (energy
  /// distance). About a minute in a release build on 2 cores.
  func testTrainingOnTwoMoonsImprovesFreeEnergyAndSamples() throws {
    let train = ToyDataset.twoMoons.sample(count: 4000, seed: 1, as: Double.self)
    let heldOut = ToyDataset.twoMoons.sample(count: 256, seed: 2, as: Double.self)
    let model = try NeuralSDEModel<Double>(.reference(), seed: 3)
    let grid = try TimeGrid(uniformSteps: 10)
    let config = TrainingConfiguration(
      steps: 1200, batchSize: 64, pathsPerPoint: 4, grid: grid, learningRate: 1e-2, seed: 4, evaluationInterval: 0)
    let trainer = try Trainer(model: model, configuration: config)
    let before = try trainer.evaluate(heldOut)
    let sampleNoise = PhiloxBrownianIncrements<Double>(seed: 5, dimension: 16)
    let samplesBefore = try model.sample(count: 400, noise: sampleNoise, grid: grid, seed: 6).observations
    var reports = 0
    let history = try trainer.train(data: train, heldOut: heldOut) { _ in reports += 1 }
    XCTAssertEqual(reports, 1200)
    XCTAssertEqual(history.losses.count, 1200)
    let after = history.evaluations.last!.estimates
    let samplesAfter = try model.sample(count: 400, noise: sampleNoise, grid: grid, seed: 6).observations
    let reference = ToyDataset.twoMoons.sample(count: 400, seed: 7, as: Double.self)
    let edBefore = try energyDistance(samplesBefore, reference)
    let edAfter = try energyDistance(samplesAfter, reference)
    print(
      "held-out F̂ \(before.freeEnergy.mean) → \(after.freeEnergy.mean); IW \(after.importanceWeighted.mean); energy distance \(edBefore) → \(edAfter)"
    )
    XCTAssertLessThan(after.freeEnergy.mean, before.freeEnergy.mean - 100, "F̂ must drop by more than 100 nats")
    XCTAssertLessThan(after.importanceWeighted.mean, after.freeEnergy.mean + 4 * after.freeEnergy.standardError)
    XCTAssertLessThan(edAfter, 0.75 * edBefore, "samples must be much closer to the data after training")
  }

  func testNonFiniteParametersStopTrainingWithClearError() throws {
    let model = try NeuralSDEModel<Double>(.reference(latentDimension: 2, hidden: 4), seed: 1)
    model.parameters.base[3] = .nan
    let trainer = try Trainer(
      model: model, configuration: TrainingConfiguration(steps: 5, batchSize: 4, grid: TimeGrid(uniformSteps: 3)))
    XCTAssertNil(
      expectError(containing: ["step 1", "NaN"]) {
        _ = try trainer.train(data: ToyDataset.pinwheel.sample(count: 10, seed: 1))
      })
    XCTAssertNil(
      expectError(containing: ["batch size"]) {
        _ = try Trainer(model: model, configuration: TrainingConfiguration(steps: 5, batchSize: 0))
      })
  }

  /// Toy datasets are reproducible from their seed and have the expected spread.
  func testToyDatasets() throws {
    for set in ToyDataset.allCases {
      let a = set.sample(count: 1000, seed: 9, as: Double.self)
      let b = set.sample(count: 1000, seed: 9, as: Double.self)
      XCTAssertTrue(a.elements == b.elements)
      XCTAssertTrue(a.elements.allSatisfy { $0.isFinite && abs($0) < 12 }, set.rawValue)
      XCTAssertGreaterThan(try energyDistance(a, set.sample(count: 300, seed: 10, as: Double.self)), -1e-12)
    }
    let moons = ToyDataset.twoMoons.sample(count: 300, seed: 1, as: Double.self)
    let gaussians = ToyDataset.eightGaussians.sample(count: 300, seed: 1, as: Double.self)
    XCTAssertGreaterThan(try energyDistance(moons, gaussians), 0.2)
  }
}
