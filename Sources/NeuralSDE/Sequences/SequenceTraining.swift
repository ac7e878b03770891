import Foundation

extension NeuralSDEConfiguration {
  /// A sequence model (docs/MODEL.md §7): time-homogeneous MLP drift and
  /// diagonal diffusion (they do not read the time, so sequences step on
  /// their own grids in one batch), a feedback control reading the state and
  /// the next `lookahead` observations, a linear decoder with a learned
  /// per-dimension noise scale, and a learned `x_0`.
  public static func sequence(
    latentDimension d: Int, dataDimension dataDim: Int, hidden h: Int = 32, lookahead: Int = 4
  ) -> NeuralSDEConfiguration {
    var config = NeuralSDEConfiguration(
      latentDimension: d, dataDimension: dataDim, noise: .diagonal,
      drift: MLPArchitecture(inputs: d, timeInput: false, widths: [h, h, d], hiddenActivation: .tanh),
      diffusion: MLPArchitecture(
        inputs: d, timeInput: false, widths: [h, d], hiddenActivation: .tanh, outputActivation: .softplus),
      posteriorDrift: MLPArchitecture(inputs: 1, timeInput: false, widths: [h, h, d], hiddenActivation: .tanh),
      decoder: MLPArchitecture(inputs: d, timeInput: false, widths: [dataDim]),
      likelihood: .gaussianLearnedStd(initialStd: 0.5), initialState: .learned([Double](repeating: 0, count: d)),
      posteriorControl: .feedback)
    config.lookahead = lookahead
    config.posteriorDrift.inputs = config.posteriorInputs
    return config
  }
}

/// Minibatch training of a sequence model on the importance-weighted bound
/// (docs/MODEL.md §7): each step lays out a minibatch of sequences on their
/// own grids (`SequenceBatch`) and takes one Adam step on the backprop gradient.
public struct SequenceTrainer<Scalar: SDEScalar> {
  /// Optimiser steps.
  public var steps = 500
  /// Sequences per minibatch.
  public var batchSize = 16
  /// Paths per sequence K.
  public var pathsPerPoint = 8
  /// Adam's learning rate (constant; gradients clipped at norm 100).
  public var learningRate = 3e-3
  /// The objective (the importance-weighted bound by default).
  public var objective = TrainingObjective.importanceWeighted
  /// How sequences map to grids.
  public var layout = SequenceLayout()
  /// Seed of the minibatches and the noise.
  public var seed: UInt64 = 0
  /// The gradient estimator (backprop through the solver by default; a
  /// `DistributedEstimator` shards each minibatch's sequences over MPI ranks).
  public var estimator: any ObservingGradientEstimator = BackpropThroughSolver()

  /// A trainer with the defaults above.
  public init() {}

  /// Trains `model` on `data` (its parameters change in place); returns the
  /// loss of every step. `progress` is called after each step with the step (1-based) and its loss.
  public func train(
    _ model: NeuralSDEModel<Scalar>, on data: SequenceData, progress: ((Int, Double) -> Void)? = nil
  ) throws -> [Double] {
    let adam = Adam<Scalar>(learningRate: learningRate, gradientClipNorm: 100)
    var sampler = try MinibatchSampler(count: data.count, batchSize: Swift.min(batchSize, data.count), seed: seed)
    var losses: [Double] = []
    for step in 0..<steps {
      let batch = try SequenceBatch<Scalar>(data, sequences: Array(sampler.rows(ofBatch: step)), layout: layout)
      let noise = PhiloxBrownianIncrements<Scalar>(
        seed: SeedHash.mix(seed, UInt64(step), 0x5E9_7AA1), dimension: model.noiseDimension)
      let r = try estimator.gradient(
        of: model, data: batch.conditioning, noise: noise, grid: batch.grid, pathsPerPoint: pathsPerPoint,
        objective: objective, observations: batch.observations)
      try adam.update(model.parameters, gradient: r.gradient)
      losses.append(r.loss)
      progress?(step + 1, r.loss)
    }
    return losses
  }

  /// Each sequence's importance-weighted `−log p̂(y_{1:n})` with `paths`
  /// paths per sequence (`seed` fixes the noise), in batches of `batchSize`.
  public func negativeLogLikelihood(
    _ model: NeuralSDEModel<Scalar>, on data: SequenceData, paths: Int, seed: UInt64 = 0xE7A1
  ) throws -> [Double] {
    var options = SequenceEvaluation.Options()
    options.batchSize = batchSize
    options.seed = seed
    return try SequenceEvaluation.estimates(model, data, layout: layout, paths: paths, options: options).map(\.iw)
  }
}
