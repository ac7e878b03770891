import Foundation

/// What training does when the loss explodes (docs/RELIABILITY.md).
///
/// The loss scale is the first minibatch loss of the run (computed before any
/// update of this run; at least 1 in magnitude); the run has diverged at the
/// first step whose loss exceeds `scale + factor·|scale|`. A NaN/Inf loss or
/// gradient always stops training.
public enum DivergencePolicy: Sendable, Codable, Equatable {
  /// Stop with an error naming the step (the default, factor 1000).
  case stop(factor: Double)
  /// Keep going; report it in `TrainingProgress.warning` once.
  case warn(factor: Double)
  /// No check beyond non-finite values.
  case ignore

  var factor: Double? {
    switch self {
    case .stop(let f), .warn(let f): return f
    case .ignore: return nil
    }
  }
}

/// Model selection on held-out (validation) data: keep the parameters of the
/// evaluation step with the lowest held-out importance-weighted `−log p̂`
/// (`evaluationPathsPerPoint` paths per point, the same noise at every
/// evaluation so that the steps are compared on common random numbers), and
/// stop once `patience` evaluations in a row have not improved it by more
/// than `minimumImprovement`.
public struct ModelSelection: Sendable, Codable, Equatable {
  /// Evaluations without improvement before training stops (nil: never stop early).
  public var patience: Int?
  /// The improvement (nats per point) an evaluation must make to count as better.
  public var minimumImprovement: Double

  /// Keep the best parameters; stop after `patience` evaluations without improvement.
  public init(patience: Int? = nil, minimumImprovement: Double = 0) {
    self.patience = patience
    self.minimumImprovement = minimumImprovement
  }
}

/// How to train.
public struct TrainingConfiguration: Sendable, Codable {
  /// Total number of optimiser steps (a resumed run continues up to this total).
  public var steps: Int
  /// Data points per minibatch `B` (capped at the training-set size).
  public var batchSize: Int
  /// Paths per data point `K`.
  public var pathsPerPoint: Int
  /// The solver's time grid (N steps).
  public var grid: TimeGrid
  /// The objective minimised.
  public var objective: TrainingObjective
  /// Adam's base learning rate (multiplied by the schedule).
  public var learningRate: Double
  /// Decoupled (AdamW) weight decay per step, relative to the learning rate.
  public var weightDecay: Double
  /// Global gradient-norm clipping threshold (nil: no clipping).
  public var gradientClipNorm: Double?
  /// The learning-rate schedule; nil: cosine decay over `steps` to 0.1× with a
  /// linear warm-up of `min(50, steps/10)` steps, derived from `steps` when used.
  public var schedule: LearningRateSchedule?
  /// Seeds minibatches (one permutation per epoch) and noise (fresh,
  /// reproducible noise every step).
  public var seed: UInt64
  /// Evaluate on held-out data every this many steps (0: only at the end).
  public var evaluationInterval: Int
  /// Paths per held-out point for evaluation.
  public var evaluationPathsPerPoint: Int
  /// What to do when the loss explodes.
  public var divergence: DivergencePolicy = .stop(factor: 1000)
  /// Model selection on the held-out data given to `train` (nil: keep the last parameters).
  public var selection: ModelSelection?
  /// Exponential moving average of the parameters (Polyak averaging) with
  /// this decay β ∈ [0, 1) (nil: none): after step t,
  /// `θ̄ ← β_t θ̄ + (1 − β_t) θ` with `β_t = min(β, (1 + t)/(10 + t))` (t counted
  /// from 1 at the run's first step, θ̄ starting at the parameters before it).
  /// Held-out evaluations, model selection and the model `train` returns use
  /// θ̄; the optimiser steps θ. θ̄ lives only within one `train` call: a
  /// resumed run starts it afresh (so it does not end where an uninterrupted one would).
  public var averagingDecay: Double?

  /// The schedule in force: `schedule`, or the default derived from `steps`.
  public var effectiveSchedule: LearningRateSchedule {
    schedule ?? .cosine(totalSteps: steps, warmupSteps: Swift.min(50, steps / 10), minimumFactor: 0.1)
  }

  /// A configuration; the schedule defaults to cosine decay over `steps`.
  public init(
    steps: Int = 1000, batchSize: Int = 256, pathsPerPoint: Int = 4, grid: TimeGrid? = nil,
    objective: TrainingObjective = .freeEnergy, learningRate: Double = 3e-3, weightDecay: Double = 0,
    gradientClipNorm: Double? = 100, schedule: LearningRateSchedule? = nil, seed: UInt64 = 0,
    evaluationInterval: Int = 100, evaluationPathsPerPoint: Int = 16
  ) {
    self.steps = steps
    self.batchSize = batchSize
    self.pathsPerPoint = pathsPerPoint
    self.grid = grid ?? (try! TimeGrid(uniformSteps: 50))
    self.objective = objective
    self.learningRate = learningRate
    self.weightDecay = weightDecay
    self.gradientClipNorm = gradientClipNorm
    self.schedule = schedule
    self.seed = seed
    self.evaluationInterval = evaluationInterval
    self.evaluationPathsPerPoint = evaluationPathsPerPoint
  }

  /// Checks the ranges; names the first bad field.
  public func validate() throws {
    guard steps >= 1 else { throw NSDEError.invalidArgument("steps must be ≥ 1, got \(steps)") }
    guard batchSize >= 1 else { throw NSDEError.invalidArgument("batch size must be ≥ 1, got \(batchSize)") }
    guard pathsPerPoint >= 1 else {
      throw NSDEError.invalidArgument("paths per point must be ≥ 1, got \(pathsPerPoint)")
    }
    guard learningRate > 0, learningRate.isFinite else {
      throw NSDEError.invalidArgument("learning rate must be positive, got \(learningRate)")
    }
    if let f = divergence.factor, !(f > 0 && f.isFinite) {
      throw NSDEError.invalidArgument("the divergence factor must be positive, got \(f)")
    }
    guard evaluationPathsPerPoint >= 1 else {
      throw NSDEError.invalidArgument("evaluation paths per point must be ≥ 1, got \(evaluationPathsPerPoint)")
    }
    if let b = averagingDecay, !(b >= 0 && b < 1) {
      throw NSDEError.invalidArgument("the averaging decay must be in [0, 1), got \(b)")
    }
    if let s = selection {
      if let p = s.patience, p < 1 { throw NSDEError.invalidArgument("patience must be ≥ 1, got \(p)") }
      guard s.minimumImprovement >= 0, s.minimumImprovement.isFinite else {
        throw NSDEError.invalidArgument("the minimum improvement must be ≥ 0 and finite, got \(s.minimumImprovement)")
      }
      guard evaluationInterval > 0 else {
        throw NSDEError.invalidArgument("model selection needs held-out evaluations: the evaluation interval is 0")
      }
    }
  }
}

/// One progress report of the training loop.
public struct TrainingProgress: Sendable {
  /// The step just done (1-based, counting resumed steps).
  public var step: Int
  /// The configured total.
  public var totalSteps: Int
  /// The minibatch objective at this step.
  public var loss: Double
  /// The gradient norm before clipping.
  public var gradientNorm: Double
  /// Steps per second in this run so far.
  public var stepsPerSecond: Double
  /// Estimated seconds left.
  public var secondsRemaining: Double
  /// Held-out estimates, on evaluation steps.
  public var evaluation: VariationalEstimates?
  /// Set once, at the step where the loss first exploded under `DivergencePolicy.warn`.
  public var warning: String?
}

/// The record of a training run.
public struct TrainingHistory: Sendable {
  /// The minibatch loss of every step of this run.
  public var losses: [Double] = []
  /// The gradient norm of every step of this run.
  public var gradientNorms: [Double] = []
  /// (step, held-out estimates).
  public var evaluations: [(step: Int, estimates: VariationalEstimates)] = []
  /// Wall-clock seconds of the run.
  public var seconds: Double = 0
  /// With model selection: the step whose parameters the model holds after
  /// the run, and its held-out importance-weighted `−log p̂` (nats per point).
  public var selectedStep: Int?
  /// The selected step's held-out `−log p̂`.
  public var selectedNegativeLogLikelihood: Double?
  /// True if model selection ended the run before `steps` (patience exhausted).
  public var stoppedEarly = false
}

/// Minibatch training of a latent neural SDE with an optimiser (Adam by
/// default) and either gradient estimator.
public final class Trainer<Scalar: SDEScalar> {
  /// The model trained (updated in place).
  public let model: NeuralSDEModel<Scalar>
  /// How it is trained.
  public let configuration: TrainingConfiguration
  /// The optimiser (an `Adam`'s moments are saved in checkpoints).
  public let optimizer: any Optimizer<Scalar>
  /// The gradient estimator (backprop by default).
  public var estimator: any GradientEstimator
  /// Steps done so far (restored from checkpoints).
  public var step = 0
  private var stopRequested = false

  /// Ends a running `train` after the current step (call it from the progress callback).
  public func stop() { stopRequested = true }

  /// A trainer for `model`; checks the configuration. Without an
  /// `optimizer`, Adam with the configuration's learning rate, weight decay,
  /// schedule and clipping.
  public init(
    model: NeuralSDEModel<Scalar>, configuration: TrainingConfiguration,
    estimator: any GradientEstimator = BackpropThroughSolver(), optimizer: (any Optimizer<Scalar>)? = nil
  ) throws {
    try configuration.validate()
    self.model = model
    self.configuration = configuration
    self.estimator = estimator
    self.optimizer =
      optimizer
      ?? Adam(
        learningRate: configuration.learningRate, weightDecay: configuration.weightDecay,
        schedule: configuration.effectiveSchedule, gradientClipNorm: configuration.gradientClipNorm)
  }

  /// The held-out estimates with fixed noise (common random numbers across evaluations).
  public func evaluate(_ data: Matrix<Scalar>) throws -> VariationalEstimates {
    try model.variationalEstimates(
      data: data, noise: PhiloxBrownianIncrements(seed: configuration.seed ^ 0xE7A1, dimension: model.noiseDimension),
      grid: configuration.grid, pathsPerPoint: configuration.evaluationPathsPerPoint)
  }

  /// Runs the remaining steps (from `step` up to `configuration.steps`).
  ///
  /// Step s (1-based) uses batch `s − 1` of a `MinibatchSampler` over the
  /// training rows and fresh Philox noise seeded from `(seed, s)`, so a resumed
  /// run draws the same batches and noise as an uninterrupted one.
  /// - Parameters:
  ///   - data: training data, `count × D`, finite.
  ///   - heldOut: evaluation data (optional), finite; with `configuration.selection`, the validation
  ///     data: the model ends holding the parameters of its best evaluation step.
  ///   - progress: called after every step; call `stop()` from it to end the
  ///     run after that step (the history then ends there).
  /// - Throws: errors naming the file-free position (row, column) of bad data
  ///   before any step runs; errors naming the step if the loss or gradient
  ///   becomes non-finite or the solve diverges.
  public func train(
    data: Matrix<Scalar>, heldOut: Matrix<Scalar>? = nil, progress: ((TrainingProgress) -> Void)? = nil
  ) throws -> TrainingHistory {
    for (name, set) in [("training data", data), ("held-out data", heldOut)] {
      guard let set else { continue }
      guard set.rows >= 1 else { throw NSDEError.invalidArgument("the \(name) set is empty") }
      guard set.cols == model.dataDimension else {
        throw NSDEError.shapeMismatch(
          "\(name) is \(set.shapeDescription) but the model's data dimension is \(model.dataDimension)")
      }
      if let (r, c) = DataFile.firstNonFinite(set) {
        throw NSDEError.nonFinite("\(name) row \(r), column \(c) is \(set[r, c])")
      }
    }
    var history = TrainingHistory()
    let clock = ContinuousClock()
    let start = clock.now
    func seconds() -> Double { (clock.now - start).seconds }
    var sampler = try MinibatchSampler(count: data.rows, batchSize: configuration.batchSize, seed: configuration.seed)
    let first = step
    stopRequested = false
    var lossScale: Double?
    var divergenceReported = false
    // Model selection: the best held-out estimate so far and its parameters.
    let selection = heldOut == nil ? nil : configuration.selection
    var best: (step: Int, nll: Double, parameters: [Scalar])?
    var sinceImprovement = 0
    // Polyak averaging: θ̄ (nil without it).
    var average = configuration.averagingDecay.map { _ in model.parameters.elements }
    while step < configuration.steps {
      step += 1
      let rows = sampler.rows(ofBatch: step - 1)
      let batch = Matrix<Scalar>(rows: rows.count, cols: data.cols)
      for (r, src) in rows.enumerated() {
        (batch.base + r * data.cols).copyElements(from: data.base + src * data.cols, count: data.cols)
      }
      let noise = PhiloxBrownianIncrements<Scalar>(
        seed: SeedHash.mix(configuration.seed, UInt64(step), 0x0015_E5EE), dimension: model.noiseDimension)
      let result: GradientResult
      do {
        result = try estimator.gradient(
          of: model, data: batch, noise: noise, grid: configuration.grid, pathsPerPoint: configuration.pathsPerPoint,
          objective: configuration.objective)
        guard result.loss.isFinite else { throw NSDEError.nonFinite("the loss is \(result.loss)") }
        try optimizer.update(model.parameters, gradient: result.gradient)
        if let beta = configuration.averagingDecay {
          let t = Double(step - first)
          let b = Scalar(Swift.min(beta, (1 + t) / (10 + t)))
          let theta = model.parameters.base
          average!.withUnsafeMutableBufferPointer { a in
            for i in a.indices { a[i] += (1 - b) * (theta[i] - a[i]) }
          }
        }
      } catch let e as NSDEError {
        throw NSDEError.invalidArgument("training stopped at step \(step): \(e)")
      }
      history.losses.append(result.loss)
      history.gradientNorms.append(optimizer.lastGradientNorm)
      var warning: String?
      if let factor = configuration.divergence.factor {
        if history.losses.count == 1 {
          let l = history.losses[0]
          lossScale = Swift.max(Swift.abs(l), 1) * (l < 0 ? -1 : 1)
        }
        if let scale = lossScale, result.loss > scale + factor * Swift.abs(scale), !divergenceReported {
          let message =
            "the loss \(result.loss) at step \(step) exceeds \(factor)× the loss scale \(scale) of the run's first step: training diverged (lower the learning rate)"
          if case .stop = configuration.divergence {
            throw NSDEError.invalidArgument("training stopped at step \(step): \(message)")
          }
          warning = message
          divergenceReported = true
        }
      }
      var evaluation: VariationalEstimates?
      let interval = configuration.evaluationInterval
      if let heldOut, (interval > 0 && step % interval == 0) || step == configuration.steps {
        let e: VariationalEstimates
        if let average {
          // Evaluate θ̄, then restore the optimiser's θ.
          let live = model.parameters.elements
          model.parameters.base.update(from: average, count: average.count)
          defer { model.parameters.base.update(from: live, count: live.count) }
          e = try evaluate(heldOut)
        } else {
          e = try evaluate(heldOut)
        }
        evaluation = e
        history.evaluations.append((step, e))
        if let selection {
          let nll = e.importanceWeighted.mean
          if nll.isFinite, best.map({ nll < $0.nll - selection.minimumImprovement }) ?? true {
            best = (step, nll, average ?? model.parameters.elements)
            sinceImprovement = 0
          } else {
            sinceImprovement += 1
            if let p = selection.patience, sinceImprovement >= p, step < configuration.steps {
              history.stoppedEarly = true
              stopRequested = true
            }
          }
        }
      }
      let elapsed = seconds()
      let rate = Double(step - first) / Swift.max(elapsed, 1e-9)
      progress?(
        TrainingProgress(
          step: step, totalSteps: configuration.steps, loss: result.loss, gradientNorm: optimizer.lastGradientNorm,
          stepsPerSecond: rate, secondsRemaining: Double(configuration.steps - step) / Swift.max(rate, 1e-9),
          evaluation: evaluation, warning: warning))
      if stopRequested { break }
    }
    if let best {
      // The selected parameters (Adam's moments stay those of the last step).
      model.parameters.base.update(from: best.parameters, count: best.parameters.count)
      history.selectedStep = best.step
      history.selectedNegativeLogLikelihood = best.nll
    } else if let average {
      model.parameters.base.update(from: average, count: average.count)
    }
    history.seconds = seconds()
    return history
  }
}
