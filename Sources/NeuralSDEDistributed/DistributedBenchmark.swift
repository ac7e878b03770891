import Foundation
import NeuralSDE

/// Per-step time of data-parallel training, split into computation and the
/// gradient reduction (for `nsde-bench report --mpi` and `nsde-mpi-check --bench`).
public struct DistributedStepTiming: Sendable {
  /// Ranks.
  public var ranks: Int
  /// Cores (row chunks) per rank.
  public var chunksPerRank: Int
  /// Mean over the ranks of the wall-clock milliseconds per training step.
  public var stepMilliseconds: Double
  /// Mean over the ranks of the milliseconds per step in the reduction (communication and waiting).
  public var communicationMilliseconds: Double
  /// Bytes each rank contributes to the reduction per step.
  public var bytesPerRankPerStep: Int
  /// Parameters of the model.
  public var parameters: Int

  /// Milliseconds per step outside the reduction.
  public var computeMilliseconds: Double { stepMilliseconds - communicationMilliseconds }
  /// Share of the step in the reduction.
  public var communicationShare: Double { communicationMilliseconds / stepMilliseconds }

  /// Trains `configuration` on toy data with `DistributedEstimator` for
  /// `warmup` then `steps` timed steps (global batch `points`, K paths each,
  /// Adam), on every rank of `communicator` (call on all ranks).
  public static func measure<Scalar: SDEScalar>(
    _: Scalar.Type, configuration: NeuralSDEConfiguration, points: Int, pathsPerPoint k: Int, solverSteps: Int,
    chunksPerRank: Int, communicator: MPICommunicator, warmup: Int = 5, steps: Int = 20
  ) throws -> DistributedStepTiming {
    let model = try NeuralSDEModel<Scalar>(configuration, seed: 1)
    let data = ToyDataset.twoMoons.sample(count: Swift.max(4 * points, 64), seed: 2, as: Scalar.self)
    let training = TrainingConfiguration(
      steps: warmup + steps, batchSize: points, pathsPerPoint: k, grid: try TimeGrid(uniformSteps: solverSteps),
      learningRate: 1e-3, seed: 3, evaluationInterval: 0)
    let estimator = DistributedEstimator(
      inner: BackpropThroughSolver(chunks: chunksPerRank), communicator: communicator)
    let trainer = try Trainer(model: model, configuration: training, estimator: estimator)
    _ = try trainer.train(data: data) { p in if p.step == warmup { trainer.stop() } }
    let before = communicator.communicationSeconds
    let history = try trainer.train(data: data)
    let communication = communicator.communicationSeconds - before
    let n = Double(history.losses.count)
    let mean = communicator.orderedSum([history.seconds / n * 1e3, communication / n * 1e3])
      .map { $0 / Double(communicator.size) }
    return DistributedStepTiming(
      ranks: communicator.size, chunksPerRank: chunksPerRank, stepMilliseconds: mean[0],
      communicationMilliseconds: mean[1], bytesPerRankPerStep: (model.parameterCount + 1) * 8,
      parameters: model.parameterCount)
  }
}
