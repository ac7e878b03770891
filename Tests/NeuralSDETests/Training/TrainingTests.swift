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

  /// Toy datasets are reproducible from their seed and have the expected
  /// spread; a fresh draw of the same set is closer (energy distance) to a
  /// sample than any other set is.
  func testToyDatasets() throws {
    for set in ToyDataset.allCases {
      let a = set.sample(count: 1000, seed: 9, as: Double.self)
      let b = set.sample(count: 1000, seed: 9, as: Double.self)
      XCTAssertTrue(a.elements == b.elements)
      XCTAssertTrue(a.elements.allSatisfy { $0.isFinite && abs($0) < 12 }, set.rawValue)
      let same = try energyDistance(a, set.sample(count: 300, seed: 10, as: Double.self))
      for other in ToyDataset.allCases where other != set {
        let different = try energyDistance(a, other.sample(count: 300, seed: 10, as: Double.self))
        XCTAssertLessThan(same, different / 3, "\(set.rawValue) against \(other.rawValue)")
      }
    }
    let moons = ToyDataset.twoMoons.sample(count: 300, seed: 1, as: Double.self)
    let gaussians = ToyDataset.eightGaussians.sample(count: 300, seed: 1, as: Double.self)
    XCTAssertGreaterThan(try energyDistance(moons, gaussians), 0.2)
  }
}

final class FeedbackTrainingTests: XCTestCase {
  /// The train command's default setting, scaled down (d = 8, H = 32, N = 10,
  /// 1500 steps, feedback control, importance-weighted objective, learned
  /// decoder std, Float): the held-out importance-weighted −log p ends below
  /// the one-Gaussian baseline's. A smoke test of quality; the measured
  /// quality of the defaults is in docs/TRAINING.md (`nsde-bench evaluate`).
  func testFeedbackTrainingBeatsOneGaussian() throws {
    let data = ToyDataset.twoMoons.sample(count: 3000, seed: 1, as: Float.self)
    let split = try DataSplit(data, heldOutFraction: 0.1, seed: 2)
    var config = NeuralSDEConfiguration.reference(latentDimension: 8, hidden: 32, posterior: .feedback)
    config.likelihood = .gaussianLearnedStd(initialStd: 0.5)
    let model = try NeuralSDEModel<Float>(config, seed: 3)
    let grid = try TimeGrid(uniformSteps: 10)
    let trainer = try Trainer(
      model: model,
      configuration: TrainingConfiguration(
        steps: 1500, batchSize: 128, pathsPerPoint: 4, grid: grid, objective: .importanceWeighted,
        learningRate: 3e-3, seed: 4, evaluationInterval: 0, evaluationPathsPerPoint: 64))
    let history = try trainer.train(data: split.training, heldOut: split.heldOut)
    let iw = history.evaluations.last!.estimates.importanceWeighted.mean
    let gaussian = try GaussianBaseline(fitting: split.training).negativeLogDensity(split.heldOut)
    let baseline = gaussian.reduce(0, +) / Double(gaussian.count)
    print("feedback training: held-out IW(K=64) \(iw) vs one Gaussian \(baseline), \(history.seconds) s")
    XCTAssertLessThan(iw, baseline, "the trained model must beat one Gaussian on held-out −log p")
  }

  /// `stop()` from the progress callback ends the run after that step; a
  /// resumed call continues to the configured total.
  func testStopFromCallbackAndResume() throws {
    let model = try NeuralSDEModel<Double>(.reference(latentDimension: 2, hidden: 4, posterior: .feedback), seed: 1)
    let trainer = try Trainer(
      model: model, configuration: TrainingConfiguration(steps: 9, batchSize: 4, grid: TimeGrid(uniformSteps: 3)))
    let data = ToyDataset.pinwheel.sample(count: 10, seed: 1, as: Double.self)
    let first = try trainer.train(data: data) { p in if p.step == 5 { trainer.stop() } }
    XCTAssertEqual(first.losses.count, 5)
    XCTAssertEqual(trainer.step, 5)
    let rest = try trainer.train(data: data)
    XCTAssertEqual(rest.losses.count, 4)
    XCTAssertEqual(trainer.step, 9)
    // The same run without interruption draws the same batches and noise: equal parameters.
    let again = try NeuralSDEModel<Double>(.reference(latentDimension: 2, hidden: 4, posterior: .feedback), seed: 1)
    let whole = try Trainer(
      model: again, configuration: TrainingConfiguration(steps: 9, batchSize: 4, grid: TimeGrid(uniformSteps: 3)))
    _ = try whole.train(data: data)
    XCTAssertEqual(again.parameters.elements, model.parameters.elements)
  }

  /// A feedback checkpoint round-trips through `NeuralSDEModel(checkpoint:)`;
  /// loading it into a mean-field model names the differing field.
  func testFeedbackCheckpoint() throws {
    let model = try NeuralSDEModel<Double>(.reference(latentDimension: 3, hidden: 5, posterior: .feedback), seed: 2)
    let path = NSTemporaryDirectory() + "feedback-\(UUID().uuidString).safetensors"
    defer { try? FileManager.default.removeItem(atPath: path) }
    try Checkpoint.write(model: model, optimizer: nil, step: 7, grid: TimeGrid(uniformSteps: 12), to: path)
    let loaded = try NeuralSDEModel<Double>(checkpoint: path)
    XCTAssertEqual(loaded.configuration, model.configuration)
    XCTAssertEqual(loaded.parameters.elements, model.parameters.elements)
    let info = try Checkpoint.info(path)
    XCTAssertEqual(info.step, 7)
    XCTAssertEqual(info.grid?.steps, 12)
    let meanField = try NeuralSDEModel<Double>(.reference(latentDimension: 3, hidden: 5), seed: 2)
    XCTAssertThrowsError(try Checkpoint.read(path, into: meanField)) {
      XCTAssertTrue("\($0)".contains("posteriorControl: file \"feedback\""), "\($0)")
    }
    XCTAssertThrowsError(try NeuralSDEModel<Float>(checkpoint: path)) {
      XCTAssertTrue("\($0)".contains("not Float"), "\($0)")
    }
  }
}
