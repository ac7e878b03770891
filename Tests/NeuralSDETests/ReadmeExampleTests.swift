import NeuralSDE
import XCTest

/// The README's library example, with small sizes, so that it keeps compiling and running.
final class ReadmeExampleTests: XCTestCase {
  func testReadmeExample() throws {
    let model = try NeuralSDEModel<Double>(.reference(latentDimension: 4, hidden: 8), seed: 0)
    let data = ToyDataset.twoMoons.sample(count: 16, seed: 1, as: Double.self)
    let grid = try TimeGrid(uniformSteps: 5)
    let noise = PhiloxBrownianIncrements<Double>(seed: 2, dimension: model.noiseDimension)

    let estimates = try model.variationalEstimates(data: data, noise: noise, grid: grid, pathsPerPoint: 4)
    XCTAssertTrue(estimates.freeEnergy.mean.isFinite)

    let g = try BackpropThroughSolver().gradient(
      of: model, data: data, noise: noise, grid: grid, pathsPerPoint: 4, objective: .freeEnergy)
    XCTAssertEqual(g.gradient.count, model.parameterCount)

    let trainer = try Trainer(model: model, configuration: TrainingConfiguration(steps: 3, batchSize: 8, grid: grid))
    let history = try trainer.train(data: data) { _ in }
    XCTAssertEqual(history.losses.count, 3)
    let path = NSTemporaryDirectory() + "readme-\(UUID().uuidString).safetensors"
    defer { try? FileManager.default.removeItem(atPath: path) }
    try Checkpoint.write(model: model, optimizer: trainer.optimizer, step: trainer.step, to: path)
    XCTAssertEqual(try Checkpoint.read(path, into: model), 3)
  }
}
