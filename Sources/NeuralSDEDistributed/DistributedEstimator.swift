import Foundation
import NeuralSDE

/// Data-parallel gradients over MPI ranks: rank r takes a contiguous shard of
/// the batch's data points (and their K paths, with their global noise), its
/// estimator computes the shard's objective and gradient, and the shards'
/// contributions (weighted by their share of the points) are summed in rank
/// order. Every rank gets the same loss and gradient, equal to one process's
/// up to round-off; used as a `Trainer`'s estimator, every rank then applies
/// the same Adam update.
public struct DistributedEstimator: GradientEstimator {
  /// The estimator run on each shard.
  public var inner: any GradientEstimator
  /// The ranks.
  public let communicator: MPICommunicator

  /// Shards `inner`'s work over `communicator`'s ranks.
  public init(inner: any GradientEstimator, communicator: MPICommunicator) {
    self.inner = inner
    self.communicator = communicator
  }

  /// Rank r's points: `[⌊rB/R⌋, ⌊(r+1)B/R⌋)` (may be empty when B < R).
  public func shard(points: Int) -> Range<Int> {
    let r = communicator.rank
    let size = communicator.size
    return (r * points / size)..<((r + 1) * points / size)
  }

  /// The batch's loss and gradient (see `GradientEstimator`), identical on every rank.
  /// - Throws: any rank's error, on every rank (no hang): the first failing rank's message locally,
  ///   a named error on the others.
  public func gradient<Scalar: SDEScalar, Noise: BrownianIncrements>(
    of model: NeuralSDEModel<Scalar>, data: Matrix<Scalar>, noise: Noise, grid: TimeGrid, pathsPerPoint k: Int,
    objective: TrainingObjective
  ) throws -> GradientResult where Noise.Scalar == Scalar {
    try reduce(model, points: data.rows) { part in
      try inner.gradient(
        of: model, data: data.rows(part).copy(),
        noise: ShiftedBrownianIncrements(noise, pathOffset: part.lowerBound * k),
        grid: grid, pathsPerPoint: k, objective: objective)
    }
  }

  /// Runs `shardGradient` on this rank's points (if any) and sums the
  /// shards' contributions, weighted by their share of the points.
  func reduce<Scalar: SDEScalar>(
    _ model: NeuralSDEModel<Scalar>, points: Int, _ shardGradient: (Range<Int>) throws -> GradientResult
  ) throws -> GradientResult {
    let part = shard(points: points)
    var local: GradientResult?
    var failure: Error?
    if !part.isEmpty {
      do {
        local = try shardGradient(part)
      } catch {
        failure = error
      }
    }
    // Every rank learns whether any failed before the collective that needs all of them.
    if communicator.maximum(failure == nil ? 0 : 1) != 0 {
      throw failure
        ?? NSDEError.invalidArgument("another MPI rank failed computing its shard of the gradient")
    }
    let p = model.parameterCount
    let weight = Double(part.count) / Double(points)
    var contribution = [Double](repeating: 0, count: p + 1)
    if let local {
      contribution[0] = weight * local.loss
      for j in 0..<p { contribution[j + 1] = weight * local.gradient[j] }
    }
    let total = communicator.orderedSum(contribution)
    return GradientResult(
      loss: total[0], gradient: Array(total[1...]),
      diagnostics: local?.diagnostics ?? GradientDiagnostics(seconds: 0, peakWorkspaceBytes: 0, tangentDirections: 0))
  }
}

extension DistributedEstimator: ObservingGradientEstimator {
  /// A batch observed along the path (sequences, docs/MODEL.md §7), sharded
  /// by data point: rank r takes its sequences' grids, observations, rows of
  /// `data` and global noise, so that it computes what one process computes
  /// for them; the result is identical on every rank and equal to one
  /// process's up to round-off.
  /// - Throws: `invalidArgument` if `inner` cannot observe along the path;
  ///   any rank's error, on every rank (as the static gradient).
  public func gradient<Scalar: SDEScalar, Noise: BrownianIncrements>(
    of model: NeuralSDEModel<Scalar>, data: Matrix<Scalar>, noise: Noise, grid: BatchGrid, pathsPerPoint k: Int,
    objective: TrainingObjective, observations: PathObservations<Scalar>
  ) throws -> GradientResult where Noise.Scalar == Scalar {
    guard let observing = inner as? any ObservingGradientEstimator else {
      throw NSDEError.invalidArgument(
        "the distributed estimator's inner estimator \(type(of: inner)) cannot observe along the path")
    }
    return try reduce(model, points: data.rows) { part in
      try observing.gradient(
        of: model, data: data.rows(part).copy(),
        noise: ShiftedBrownianIncrements(noise, pathOffset: part.lowerBound * k),
        grid: grid.points(part), pathsPerPoint: k, objective: objective, observations: observations.points(part))
    }
  }
}
