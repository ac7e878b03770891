import Foundation
import XCTest
import _NSDETestSupport

/// Polyak averaging: the trainer keeps `θ̄ ← β_t θ̄ + (1 − β_t) θ` with
/// `β_t = min(β, (1 + t)/(10 + t))`, evaluates and selects θ̄, steps θ, and
/// returns θ̄ (or the selected θ̄).
final class ParameterAveragingTests: XCTestCase {
  let train = ToyDataset.eightGaussians.sample(count: 64, seed: 1, as: Double.self)
  let heldOut = ToyDataset.eightGaussians.sample(count: 16, seed: 2, as: Double.self)

  func trainer(decay: Double?, steps: Int = 30, selection: ModelSelection? = nil) throws -> Trainer<Double> {
    let model = try NeuralSDEModel<Double>(.reference(latentDimension: 2, hidden: 8, posterior: .feedback), seed: 3)
    var config = TrainingConfiguration(
      steps: steps, batchSize: 16, pathsPerPoint: 2, grid: try TimeGrid(uniformSteps: 4), learningRate: 0.05, seed: 4,
      evaluationInterval: 5, evaluationPathsPerPoint: 8)
    config.averagingDecay = decay
    config.selection = selection
    return try Trainer(model: model, configuration: config)
  }

  /// The parameters after every step (the optimiser's θ, as the progress callback sees them).
  func iterates(_ t: Trainer<Double>, heldOut: Matrix<Double>? = nil) throws -> (
    initial: [Double], steps: [[Double]], evaluations: [Int: Double], history: TrainingHistory
  ) {
    let initial = t.model.parameters.elements
    var steps: [[Double]] = []
    var evaluations: [Int: Double] = [:]
    let history = try t.train(data: train, heldOut: heldOut) { p in
      steps.append(t.model.parameters.elements)
      if let e = p.evaluation { evaluations[p.step] = e.importanceWeighted.mean }
    }
    return (initial, steps, evaluations, history)
  }

  /// θ̄ after each step, from the recorded θ.
  func averages(initial: [Double], steps: [[Double]], decay: Double) -> [[Double]] {
    var a = initial
    return steps.enumerated().map { i, theta in
      let t = Double(i + 1)
      let b = min(decay, (1 + t) / (10 + t))
      for j in a.indices { a[j] = b * a[j] + (1 - b) * theta[j] }
      return a
    }
  }

  func maxDifference(_ a: [Double], _ b: [Double]) -> Double {
    zip(a, b).map { abs($0 - $1) }.max() ?? 0
  }

  func testTheModelEndsAtTheAverageOfTheIterates() throws {
    let t = try trainer(decay: 0.9)
    let r = try iterates(t)
    let expected = averages(initial: r.initial, steps: r.steps, decay: 0.9).last!
    XCTAssertLessThan(maxDifference(t.model.parameters.elements, expected), 1e-12)
    // …and not at the last iterate (else the test would not see a missing average).
    XCTAssertGreaterThan(maxDifference(t.model.parameters.elements, r.steps.last!), 1e-3)
  }

  func testTheIteratesAreThoseOfTrainingWithoutAveraging() throws {
    // Averaging does not change what the optimiser does, only what is evaluated and kept.
    let a = try iterates(try trainer(decay: 0.9), heldOut: heldOut)
    let b = try iterates(try trainer(decay: nil), heldOut: heldOut)
    XCTAssertEqual(a.steps.count, b.steps.count)
    for (x, y) in zip(a.steps, b.steps) { XCTAssertEqual(x, y) }
  }

  func testEvaluationsAndSelectionUseTheAverage() throws {
    let t = try trainer(decay: 0.9, steps: 40, selection: ModelSelection())
    let r = try iterates(t, heldOut: heldOut)
    let averaged = averages(initial: r.initial, steps: r.steps, decay: 0.9)
    // Each held-out evaluation is that of θ̄ at its step (the same noise: re-evaluate θ̄ in a copy).
    let probe = try trainer(decay: nil)
    for (step, nll) in r.evaluations {
      probe.model.parameters.base.update(from: averaged[step - 1], count: averaged[step - 1].count)
      XCTAssertEqual(try probe.evaluate(heldOut).importanceWeighted.mean, nll, accuracy: 1e-9, "step \(step)")
    }
    let best = r.evaluations.min { $0.value < $1.value }!
    XCTAssertEqual(r.history.selectedStep, best.key)
    XCTAssertLessThan(maxDifference(t.model.parameters.elements, averaged[best.key - 1]), 1e-12)
  }

  func testDecayOutsideTheUnitIntervalIsNamed() throws {
    for bad in [-0.1, 1, .nan] {
      XCTAssertThrowsError(try trainer(decay: bad)) { XCTAssertTrue("\($0)".contains("averaging decay"), "\($0)") }
    }
  }
}
