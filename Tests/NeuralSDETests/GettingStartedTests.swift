import Foundation
import NeuralSDE
import XCTest
import _NSDETestSupport

/// The getting-started article (Sources/NeuralSDE/NeuralSDE.docc/GettingStarted.md)
/// compiled and run, with smaller sizes; `testArticleMatchesThisCode` keeps
/// the two in step.
final class GettingStartedTests: XCTestCase {
  func testGettingStartedCode() throws {
    let dir = NSTemporaryDirectory() + "getting-started-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let path = dir + "/model.safetensors"

    var configuration = NeuralSDEConfiguration.reference(latentDimension: 8, dataDimension: 2, posterior: .feedback)
    configuration.likelihood = .gaussianLearnedStd(initialStd: 0.5)
    let model = try NeuralSDEModel<Float>(configuration, seed: 1)

    let data = ToyDataset.twoMoons.sample(count: 500, seed: 2, as: Float.self)
    let split = try DataSplit(data, heldOutFraction: 0.1, seed: 3)

    let grid = try TimeGrid(uniformSteps: 20)
    let trainer = try Trainer(
      model: model,
      configuration: TrainingConfiguration(
        steps: 30, batchSize: 128, pathsPerPoint: 4, grid: grid, objective: .importanceWeighted,
        learningRate: 1e-2, seed: 4))
    let history = try trainer.train(data: split.training, heldOut: split.heldOut) { progress in
      if progress.step % 500 == 0 { print("step \(progress.step): loss \(progress.loss)") }
    }
    print("trained in \(history.seconds) s")

    let samples = try model.sample(
      count: 1000, noise: PhiloxBrownianIncrements<Float>(seed: 5, dimension: model.noiseDimension), grid: grid, seed: 6
    )
    print(samples.observations.rows)

    let evaluation = try ModelEvaluation.evaluate(
      model, heldOut: split.heldOut, training: split.training, reference: .dataset(.twoMoons), grid: grid,
      options: .init(pathsPerPoint: 50))
    print(evaluation.negativeLogLikelihood, evaluation.gaussianNegativeLogLikelihood)
    print(evaluation.energyDistance, evaluation.energyDistanceNoiseFloor)

    try Checkpoint.write(model: model, optimizer: trainer.optimizer, step: trainer.step, grid: grid, to: path)
    let restored = try NeuralSDEModel<Float>(checkpoint: path)
    print(restored.parameterCount)

    let noise = PhiloxBrownianIncrements<Float>(seed: 7, dimension: model.noiseDimension)
    let batch = split.training.rows(0..<64).copy()
    let backprop = try BackpropThroughSolver().gradient(
      of: model, data: batch, noise: noise, grid: grid, pathsPerPoint: 4, objective: .freeEnergy)
    let pathwise = try ForwardPathwise(directions: .groups(["decoder"])).gradient(
      of: model, data: batch, noise: noise, grid: grid, pathsPerPoint: 4, objective: .freeEnergy)

    let budgeted = BackpropThroughSolver(memoryBudget: 64 << 20)
    let plan = try budgeted.plan(model: model, points: batch.rows, pathsPerPoint: 4, steps: grid.steps)
    print(plan)
    let g = try budgeted.gradient(
      of: model, data: batch, noise: noise, grid: grid, pathsPerPoint: 4, objective: .freeEnergy)

    XCTAssertLessThanOrEqual(g.diagnostics.peakWorkspaceBytes, 64 << 20)
    XCTAssertLessThanOrEqual(plan.estimatedBytes, 64 << 20)
    XCTAssertEqual(g.gradient, backprop.gradient)  // the full tape fits: the same gradient
    XCTAssertEqual(samples.observations.rows, 1000)
    XCTAssertTrue(evaluation.negativeLogLikelihood.isFinite)
    XCTAssertEqual(restored.parameters.elements, model.parameters.elements)
    let decoder = model.parameterGroups.first { $0.name == "decoder" }!.range
    XCTAssertLessThan(relativeError(Array(backprop.gradient[decoder]), Array(pathwise.gradient[decoder])), 1e-4)
  }

  /// Every code line of the article's Swift blocks appears in this test (up
  /// to the sizes shrunk for speed and the file path), so the article compiles.
  func testArticleMatchesThisCode() throws {
    let here = URL(fileURLWithPath: #filePath)
    let root = here.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    let article = try String(
      contentsOf: root.appendingPathComponent("Sources/NeuralSDE/NeuralSDE.docc/GettingStarted.md"), encoding: .utf8)
    let test = try String(contentsOf: here, encoding: .utf8)
    // Compare without whitespace, so that line wrapping does not matter.
    let normalise: (String) -> String = {
      $0.filter { !$0.isWhitespace }
        .replacingOccurrences(of: "count:5000", with: "count:500")
        .replacingOccurrences(of: "steps:3000", with: "steps:30")
        .replacingOccurrences(of: "\"model.safetensors\"", with: "path")
        .replacingOccurrences(of: "grid:grid)", with: "grid:grid,")
    }
    let testCode = normalise(test)
    var inSwift = false
    var checked = 0
    for line in article.split(separator: "\n", omittingEmptySubsequences: false) {
      if line.hasPrefix("```") {
        inSwift = line == "```swift" && !inSwift
        continue
      }
      guard inSwift else { continue }
      let l = normalise(String(line))
      if l.isEmpty || l.hasPrefix("//") || l.hasPrefix(".package") || l.hasPrefix("dependencies")
        || l.hasPrefix("targets") || l.hasPrefix(".executableTarget") || l == "]," || l == "]"
        || l == "importNeuralSDE"
      {
        continue
      }
      XCTAssertTrue(testCode.contains(l), "article line not compiled by the test: \(line)")
      checked += 1
    }
    XCTAssertGreaterThan(checked, 30)
  }

  /// The outputs the article quotes (`// e.g. "…"` after a `print`) are what
  /// the code prints with the article's sizes.
  func testArticleQuotesWhatTheCodePrints() throws {
    // The article's model, batch and grid, on the 2 cores the article assumes.
    var configuration = NeuralSDEConfiguration.reference(latentDimension: 8, dataDimension: 2, posterior: .feedback)
    configuration.likelihood = .gaussianLearnedStd(initialStd: 0.5)
    let model = try NeuralSDEModel<Float>(configuration, seed: 1)
    let plan = try BackpropThroughSolver(chunks: 2, memoryBudget: 64 << 20).plan(
      model: model, points: 64, pathsPerPoint: 4, steps: 20)
    let here = URL(fileURLWithPath: #filePath)
    let root = here.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    let article = try String(
      contentsOf: root.appendingPathComponent("Sources/NeuralSDE/NeuralSDE.docc/GettingStarted.md"), encoding: .utf8)
    let quotes = article.split(separator: "\n").compactMap { line -> String? in
      guard let r = line.range(of: "// e.g. \"") else { return nil }
      return String(line[r.upperBound...].dropLast())
    }
    XCTAssertEqual(quotes, [plan.description], "the article's quoted plan")
  }
}
