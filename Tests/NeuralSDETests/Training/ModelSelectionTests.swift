import Foundation
import XCTest
import _NSDETestSupport

/// Model selection: the trained model ends with the parameters of the
/// evaluation step whose held-out importance-weighted estimate was lowest,
/// early stopping ends the run after `patience` evaluations without
/// improvement, and the kept step is recorded in the checkpoint.
final class ModelSelectionTests: XCTestCase {
  func run(patience: Int?, steps: Int = 60) throws -> (
    history: TrainingHistory, snapshots: [Int: [Double]], nll: [Int: Double], model: NeuralSDEModel<Double>,
    trainer: Trainer<Double>
  ) {
    // A learning rate high enough that the held-out estimate goes up and down.
    let train = ToyDataset.eightGaussians.sample(count: 64, seed: 1, as: Double.self)
    let heldOut = ToyDataset.eightGaussians.sample(count: 16, seed: 2, as: Double.self)
    let model = try NeuralSDEModel<Double>(.reference(latentDimension: 2, hidden: 8, posterior: .feedback), seed: 3)
    var config = TrainingConfiguration(
      steps: steps, batchSize: 16, pathsPerPoint: 2, grid: try TimeGrid(uniformSteps: 4), learningRate: 0.05, seed: 4,
      evaluationInterval: 3, evaluationPathsPerPoint: 8)
    config.selection = ModelSelection(patience: patience)
    let trainer = try Trainer(model: model, configuration: config)
    var snapshots: [Int: [Double]] = [:]
    var nll: [Int: Double] = [:]
    let history = try trainer.train(data: train, heldOut: heldOut) { p in
      if let e = p.evaluation {
        snapshots[p.step] = model.parameters.elements
        nll[p.step] = e.importanceWeighted.mean
      }
    }
    return (history, snapshots, nll, model, trainer)
  }

  func testKeepsTheBestEvaluationStep() throws {
    let r = try run(patience: nil)
    XCTAssertEqual(r.history.losses.count, 60, "no early stopping without patience")
    XCTAssertFalse(r.history.stoppedEarly)
    let best = r.nll.min { $0.value < $1.value }!
    XCTAssertEqual(r.history.selectedStep, best.key)
    XCTAssertEqual(r.history.selectedNegativeLogLikelihood, best.value)
    XCTAssertNotEqual(best.key, 60, "the run must not be monotone for this test to mean anything")
    XCTAssertEqual(r.model.parameters.elements, r.snapshots[best.key]!)
    // The kept parameters give the recorded estimate again (same noise).
    XCTAssertEqual(
      try r.trainer.evaluate(ToyDataset.eightGaussians.sample(count: 16, seed: 2)).importanceWeighted.mean, best.value)
  }

  func testStopsAfterPatienceWithoutImprovement() throws {
    let r = try run(patience: 2, steps: 300)
    XCTAssertTrue(r.history.stoppedEarly)
    let steps = r.nll.keys.sorted()
    let last = steps.last!
    XCTAssertLessThan(last, 300)
    // The last two evaluations did not improve on the best before them, and no earlier pair of evaluations
    // both failed to improve (the run stopped at the first such pair).
    var best = Double.infinity
    var since = 0
    for s in steps {
      if r.nll[s]! < best {
        best = r.nll[s]!
        since = 0
      } else {
        since += 1
      }
      if s < last { XCTAssertLessThan(since, 2, "should have stopped at step \(s)") }
    }
    XCTAssertEqual(since, 2)
    XCTAssertEqual(r.history.losses.count, last)
    XCTAssertEqual(r.history.selectedNegativeLogLikelihood, best)
  }

  func testCheckpointRecordsTheSelection() throws {
    let r = try run(patience: nil, steps: 12)
    let path = NSTemporaryDirectory() + "selection-\(UUID().uuidString).safetensors"
    defer { try? FileManager.default.removeItem(atPath: path) }
    let selection = Checkpoint.Selection(
      step: r.history.selectedStep!, heldOutNegativeLogLikelihood: r.history.selectedNegativeLogLikelihood!,
      pathsPerPoint: 8)
    try Checkpoint.write(model: r.model, optimizer: r.trainer.optimizer, step: 12, selection: selection, to: path)
    XCTAssertEqual(try Checkpoint.info(path).selection, selection)
    // A selection after the file's step is invalid.
    var file = try SafetensorsFile.read(path)
    file.metadata["selection.step"] = "13"
    try file.write(to: path)
    XCTAssertThrowsError(try Checkpoint.info(path)) { XCTAssertTrue("\($0)".contains("field selection.step"), "\($0)") }
  }
}
