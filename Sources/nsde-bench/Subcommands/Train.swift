import ArgumentParser
import Foundation
import NeuralSDE
import NeuralSDEDistributed

extension PosteriorControl: ExpressibleByArgument {}

/// The model and solver options of `train` (defaults chosen by the sweep in
/// docs/TRAINING.md, not the reference problem of the benchmarks).
struct TrainModelOptions: ParsableArguments {
  @Option(parsing: .unconditional, help: "Latent dimension d (1…4096; default: max(8, D) for data of dimension D).")
  var latentDim: Int?
  @Option(parsing: .unconditional, help: "Hidden width H of every network (1…8192; default: max(64, 2d)).")
  var hidden: Int?
  @Option(parsing: .unconditional, help: "Euler–Maruyama steps N of the solver on [0, 1] (1…100000).") var solverSteps =
    20
  @Option(parsing: .unconditional, help: "Monte Carlo paths per data point K (1…1000000).") var pathsPerPoint = 4
  @OptionGroup var network: NetworkOptions
  @Option(help: "Posterior control: feedback reads [x, y, t]; mean-field (the paper's) reads [y, t].")
  var posterior: PosteriorControl = .feedback
  @Option(help: "Decoder standard deviation: 'learned' (per dimension, from 0.5) or a fixed positive number.")
  var decoderStd = "learned"
  @Option(
    help:
      "Decoder tails: 'gaussian', 'scale-mixture' (y = c + u·(decoder(x) − c + σε) with u on 16 scales 1…32 of learned weights: heavy tails, a learned std only), or 'auto': scale-mixture for data of more than 2 dimensions with a learned std, gaussian otherwise (measured: docs/TRAINING.md §5.3)."
  )
  var decoderTails: DecoderTails = .auto
  @Option(help: "Precision (float, double).") var dtype: PrecisionChoice = .float
  @Option(
    help:
      "Decoder initialisation: 'gaussian' (the model starts at the training data's mean and covariance; PPCA when d < D), 'random' (PyTorch's default), or 'auto': gaussian for data of more than 2 dimensions, random otherwise (measured: docs/TRAINING.md §5)."
  )
  var decoderInit: DecoderInitialization = .auto

  func validate() throws {
    if let d = latentDim { try checkRange("latent-dim", d, 1, 4096) }
    if let h = hidden { try checkRange("hidden", h, 1, 8192) }
    try checkRange("solver-steps", solverSteps, 1, 100_000)
    try checkRange("paths-per-point", pathsPerPoint, 1, 1_000_000)
    _ = try likelihood(dataDimension: 3)
  }

  var chunks: Int? { network.chunks }

  /// The likelihood for data of dimension D from `--decoder-std` and `--decoder-tails`.
  func likelihood(dataDimension: Int) throws -> Likelihood {
    if decoderStd == "learned" {
      let mixture =
        decoderTails == .scaleMixture || (decoderTails == .auto && dataDimension > 2)
      return mixture ? .gaussianScaleMixture(initialStd: 0.5) : .gaussianLearnedStd(initialStd: 0.5)
    }
    guard let s = Double(decoderStd), s > 0, s.isFinite else {
      throw ValidationError("--decoder-std must be 'learned' or a positive number, got '\(decoderStd)'")
    }
    guard decoderTails != .scaleMixture else {
      throw ValidationError("--decoder-tails scale-mixture needs --decoder-std learned, got '\(decoderStd)'")
    }
    return .gaussian(std: s)
  }

  /// The latent dimension for data of dimension D: `--latent-dim`, else max(8, D)
  /// (a linear decoder from fewer latent dimensions than D cannot give the data a
  /// full covariance; docs/TRAINING.md §5 has the sweep on real tables).
  func latentDimension(dataDimension: Int) -> Int { latentDim ?? min(max(8, dataDimension), 4096) }

  /// The hidden width for data of dimension D: `--hidden`, else max(64, 2d).
  func hiddenWidth(dataDimension: Int) -> Int {
    hidden ?? min(max(64, 2 * latentDimension(dataDimension: dataDimension)), 8192)
  }

  /// The model for data of dimension `dataDimension`.
  func configuration(dataDimension: Int) throws -> NeuralSDEConfiguration {
    let d = latentDimension(dataDimension: dataDimension)
    var config = NeuralSDEConfiguration.reference(
      latentDimension: d, dataDimension: dataDimension, hidden: hiddenWidth(dataDimension: dataDimension),
      noise: network.noiseType(latentDimension: d), activation: network.activation, posterior: posterior)
    config.likelihood = try likelihood(dataDimension: dataDimension)
    return config
  }
}

/// `--decoder-tails` choices.
enum DecoderTails: String, ExpressibleByArgument, CaseIterable {
  case auto, gaussian
  case scaleMixture = "scale-mixture"
}

/// `--decoder-init` choices.
enum DecoderInitialization: String, ExpressibleByArgument, CaseIterable {
  case auto, gaussian, random

  /// Whether the decoder starts at the data's Gaussian for data of dimension D.
  func startsAtGaussian(dataDimension: Int) -> Bool {
    switch self {
    case .gaussian: return true
    case .random: return false
    case .auto: return dataDimension > 2
    }
  }
}

/// `--objective`: a `TrainingObjective` by its name, or `auto`.
struct ObjectiveChoice: ExpressibleByArgument {
  /// The objective named, nil for `auto`.
  let named: TrainingObjective?

  static let auto = ObjectiveChoice(named: nil)

  init(named: TrainingObjective?) { self.named = named }

  init?(argument: String) {
    if argument == "auto" {
      named = nil
    } else if let o = TrainingObjective(rawValue: argument) {
      named = o
    } else {
      return nil
    }
  }

  static var allValueStrings: [String] { ["auto"] + TrainingObjective.allCases.map(\.rawValue) }
  var defaultValueDescription: String { named?.rawValue ?? "auto" }

  /// The objective for data of dimension D (`auto`: DReG above 2 dimensions).
  func objective(dataDimension: Int) -> TrainingObjective {
    named ?? (dataDimension > 2 ? .importanceWeightedDReG : .importanceWeighted)
  }
}

/// `--on-divergence` choices.
enum DivergenceChoice: String, ExpressibleByArgument, CaseIterable {
  case stop, warn, ignore
  var policy: DivergencePolicy {
    switch self {
    case .stop: return .stop(factor: 1000)
    case .warn: return .warn(factor: 1000)
    case .ignore: return .ignore
    }
  }
}

/// One precision (train and evaluate run in one).
enum PrecisionChoice: String, ExpressibleByArgument, CaseIterable {
  case float, double
}

/// Whether `train` fits the model behind a standardisation of the data (`DataStandardization`).
enum StandardizeChoice: String, ExpressibleByArgument, CaseIterable {
  /// `condition` for --data-file, off for the built-in datasets (already on a unit scale).
  case auto
  case on, off
  /// Per column, then whitened along the principal axes (`AxisScaling.whitening`).
  case whiten
  /// Per column, then the principal variances below a quarter of their mean raised to it (`AxisScaling.varianceFloor(0.25)`).
  case condition

  /// The axis scaling after the per-column map.
  var axisScaling: DataStandardization.AxisScaling {
    switch self {
    case .whiten: return .whitening
    case .condition, .auto: return .varianceFloor(0.25)
    case .on, .off: return .none
    }
  }
}

/// Training on a toy dataset or user data.
struct Train: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract:
      "Trains a latent SDE on a built-in toy dataset or user data (.npy/.csv), evaluates it on held-out data, and writes checkpoint, samples, loss curve and an SVG report.",
    discussion: """
      --train-steps is the total number of optimiser steps; with --resume the run continues from the \
      checkpoint's step up to that total. The held-out split (--held-out-fraction, shuffled with --seed) is \
      evaluated every --evaluate-every steps with --evaluation-paths-per-point paths (cheap estimates for \
      the curve) and at the end with the full evaluation of `nsde-bench evaluate`.
      """)

  @OptionGroup var model: TrainModelOptions
  @Flag(help: "Print machine-readable JSON (the summary) instead of text.") var json = false
  @Option(help: "Built-in dataset (\(ToyDataset.allCases.map(\.rawValue).joined(separator: ", "))).")
  var dataset: ToyDataset = .twoMoons
  @Option(parsing: .unconditional, help: "Points drawn from the built-in dataset (10…10000000).") var datasetPoints =
    5000
  @Option(help: "User data (.npy [count, D] or .csv); overrides --dataset.") var dataFile: String?
  @Flag(
    help:
      "Add noise uniform over one grid cell to every column of --data-file (and --validation-file) recorded on a grid: integer-valued columns (step 1), and columns that repeat values on a decimal grid of step 10^-k (k ≤ 6, e.g. measurements to 0.1 cm). The dequantised data's −log p, plus Σ log(1/step), bounds the grid data's −log P from above."
  )
  var dequantize = false
  @Option(
    help:
      "Fit the model behind a standardisation of each column (training rows' mean and standard deviation, kept in the checkpoint; samples and −log p stay in the file's units): on (per column), whiten (then along the principal axes to the identity covariance), condition (per column, then the principal variances below a quarter of their mean raised to it, so that the Gaussian decoder start is exact), off, or auto: condition for --data-file, off for the built-in datasets (measured: docs/TRAINING.md §5)."
  )
  var standardize: StandardizeChoice = .auto
  @Option(
    parsing: .unconditional,
    help: "Fraction of the data held out for validation (model selection) and evaluation, in (0, 1).")
  var heldOutFraction = 0.1
  @Option(
    help:
      "Validation data (.npy or .csv) for model selection and the final evaluation; the training data is then used whole (no split)."
  )
  var validationFile: String?
  @Flag(
    help:
      "Keep the last parameters instead of those of the evaluation step with the lowest held-out −log p̂ (model selection, the default unless --evaluate-every is 0)."
  )
  var keepLast = false
  /// Model selection runs on the held-out evaluations: not with --keep-last or --evaluate-every 0.
  var selectBest: Bool { !keepLast && evaluateEvery > 0 }
  @Option(
    parsing: .unconditional,
    help: "Stop after this many held-out evaluations without improvement (0: never stop early; not with --keep-last).")
  var patience = 8
  @Option(
    parsing: .unconditional,
    help: "Paths per held-out point of the evaluations during training (model selection and the curve; 1…100000).")
  var selectionPathsPerPoint = 64
  @Option(parsing: .unconditional, help: "Total optimiser steps (1…10000000).") var trainSteps = 3000
  @Option(parsing: .unconditional, help: "Data points per minibatch B (1…1000000).") var batchSize = 128
  @Option(parsing: .unconditional, help: "Adam learning rate (> 0); cosine decay to 0.1× after a warm-up.")
  var learningRate = 1e-2
  @Option(
    parsing: .unconditional,
    help: "Decoupled (AdamW) weight decay per step, relative to the learning rate (≥ 0; 0: none).")
  var weightDecay = 0.0
  @Option(
    parsing: .unconditional,
    help:
      "Polyak averaging: evaluate, select and keep an exponential moving average of the parameters with this decay β (in [0, 1); 0: none). The final checkpoint holds the average, periodic ones the optimiser's parameters; not with --resume (checkpoints do not keep the average)."
  )
  var averageDecay = 0.0
  @Option(
    help:
      "Objective: free-energy, importance-weighted, importance-weighted-dreg (the same bound, doubly reparameterised control gradients), or auto: importance-weighted-dreg for data of more than 2 dimensions, importance-weighted otherwise (measured: docs/TRAINING.md §5)."
  )
  var objective: ObjectiveChoice = .auto
  @Option(
    help:
      "Gradient estimator (backprop, pathwise). Pathwise costs about one forward pass per parameter: only for small models."
  )
  var estimator: EstimatorChoice = .backprop
  @Option(
    help:
      "Memory budget of each backprop gradient, e.g. 256MiB: the minibatch then runs in sequential micro-batches and/or with checkpointed states (see nsde-bench gradient --memory-budget); default: the full tape."
  )
  var memoryBudget: String?
  @Option(parsing: .unconditional, help: "Seed for data, split, initialisation, minibatches and noise.") var seed:
    UInt64 = 0
  @Option(parsing: .unconditional, help: "Held-out estimates every this many steps (0: only at the end).")
  var evaluateEvery = 100
  @Option(parsing: .unconditional, help: "Paths per held-out point of the final importance-weighted −log p (1…100000).")
  var evaluationPathsPerPoint = 1000
  @Option(parsing: .unconditional, help: "Samples drawn from the trained model (2…10000000).") var samples = 1000
  @Option(help: "Directory for checkpoint.safetensors, samples.npy/.csv, loss.csv, evaluation.json and report.svg.")
  var outputDir = "nsde-train-output"
  @Option(help: "Resume from this checkpoint (same model options); continues up to --train-steps in total.")
  var resume: String?
  @Option(
    parsing: .unconditional,
    help: "Stop after this step (the learning-rate schedule still spans --train-steps; continue later with --resume).")
  var stopAt: Int?
  @Option(
    parsing: .unconditional, help: "Write the checkpoint every this many steps during training (0: only at the end).")
  var checkpointEvery = 500
  @Option(
    help:
      "When the loss exceeds 1000× the run's first loss (in magnitude, at least 1): stop (with an error naming the step), warn, or ignore."
  )
  var onDivergence: DivergenceChoice = .stop

  func validate() throws {
    _ = try parseSize(memoryBudget, option: "memory-budget")
    guard trainSteps >= 1 && trainSteps <= 10_000_000 else {
      throw ValidationError("--train-steps must be in 1…10000000, got \(trainSteps)")
    }
    guard batchSize >= 1 && batchSize <= 1_000_000 else {
      throw ValidationError("--batch-size must be in 1…1000000, got \(batchSize)")
    }
    guard learningRate > 0 && learningRate.isFinite else {
      throw ValidationError("--learning-rate must be positive, got \(learningRate)")
    }
    guard samples >= 2 && samples <= 10_000_000 else {
      throw ValidationError("--samples must be in 2…10000000, got \(samples)")
    }
    guard datasetPoints >= 10 && datasetPoints <= 10_000_000 else {
      throw ValidationError("--dataset-points must be in 10…10000000, got \(datasetPoints)")
    }
    guard heldOutFraction > 0 && heldOutFraction < 1 else {
      throw ValidationError("--held-out-fraction must lie in (0, 1), got \(heldOutFraction)")
    }
    guard evaluateEvery >= 0 else { throw ValidationError("--evaluate-every must be ≥ 0, got \(evaluateEvery)") }
    guard checkpointEvery >= 0 else { throw ValidationError("--checkpoint-every must be ≥ 0, got \(checkpointEvery)") }
    if let s = stopAt {
      guard s >= 1 && s <= trainSteps else { throw ValidationError("--stop-at must be in 1…\(trainSteps), got \(s)") }
    }
    guard evaluationPathsPerPoint >= 1 && evaluationPathsPerPoint <= 100_000 else {
      throw ValidationError("--evaluation-paths-per-point must be in 1…100000, got \(evaluationPathsPerPoint)")
    }
    try checkRange("selection-paths-per-point", selectionPathsPerPoint, 1, 100_000)
    guard weightDecay >= 0 && weightDecay.isFinite else {
      throw ValidationError("--weight-decay must be ≥ 0 and finite, got \(weightDecay)")
    }
    guard averageDecay >= 0 && averageDecay < 1 else {
      throw ValidationError("--average-decay must be in [0, 1), got \(averageDecay)")
    }
    if averageDecay > 0 && resume != nil {
      // A resumed run would restart θ̄ from the checkpoint and end elsewhere than an uninterrupted one.
      throw ValidationError(
        "--average-decay cannot be resumed: checkpoints do not keep the average (drop --resume or the average)")
    }
    try checkRange("patience", patience, 0, 1_000_000)
    if validationFile != nil && dataFile == nil {
      throw ValidationError("--validation-file only applies with --data-file")
    }
  }

  func run() throws {
    try runReportingErrors {
      if model.dtype == .float { try train(Float.self) } else { try train(Double.self) }
    }
  }

  /// The files `train` writes into --output-dir.
  static let outputFiles = [
    "checkpoint.safetensors", "samples.npy", "samples.csv", "loss.csv", "evaluation.json", "report.svg",
  ]

  func train<T: SDEScalar>(_: T.Type) throws {
    // Under mpirun: data-parallel over the ranks (docs/DISTRIBUTED.md); rank 0 alone prints and writes.
    let mpi = MPICommunicator.isLaunchedByMPI ? try MPICommunicator() : nil
    defer { mpi?.finalize() }
    let isRoot = (mpi?.rank ?? 0) == 0
    func note(_ s: String) { if isRoot { nsdeBenchNote(s) } }
    // Outputs first: never overwrite an input, and fail now, not after training, if the directory is unusable.
    try prepareOutputDirectory(
      outputDir, files: Train.outputFiles, inputs: dataFile.map { [("--data-file", $0)] } ?? [], mpi: mpi)
    var all: Matrix<T> =
      try dataFile.map { try DataFile.readMatrix($0, as: T.self) }
      ?? dataset.sample(count: datasetPoints, seed: seed, as: T.self)
    let gridColumns = dequantize ? Dequantization.gridColumns(all) : []
    if dequantize {
      note(
        gridColumns.isEmpty
          ? "--dequantize: no column recorded on a grid"
          : "--dequantize: noise U[0, h) on the \(gridColumns.count) column(s) recorded on a grid of step h: \(Dequantization.describe(gridColumns))"
      )
      all = Dequantization.dequantized(all, columns: gridColumns, seed: seed &+ 11)
    } else if dataFile != nil, case let found = Dequantization.gridColumns(all), !found.isEmpty {
      note(
        "\(found.count) column(s) of --data-file are recorded on a grid (\(Dequantization.describe(found))): a density can pile up on their repeated values; --dequantize spreads each over its grid cell (docs/TRAINING.md §5.4)"
      )
    }
    guard all.rows >= 10 else { throw NSDEError.invalidArgument("need at least 10 data points, got \(all.rows)") }
    let split: DataSplit<T>
    if let v = validationFile {
      let file = try DataFile.readMatrix(v, as: T.self)
      guard file.cols == all.cols else {
        throw NSDEError.shapeMismatch(
          "--validation-file \(v) has \(file.cols) column(s) but --data-file has \(all.cols)")
      }
      let validation = Dequantization.dequantized(file, columns: gridColumns, seed: seed &+ 12)
      guard validation.rows >= 2 else {
        throw NSDEError.invalidArgument("--validation-file \(v) needs at least 2 rows, got \(validation.rows)")
      }
      split = DataSplit(training: all, heldOut: validation)
    } else {
      split = try DataSplit(all, heldOutFraction: heldOutFraction, seed: seed &+ 5)
    }
    // The model's own units: standardised by the training rows (or by the resumed checkpoint's map).
    let resumedMap = try resume.map { try Checkpoint.info($0).dataStandardization }
    let map: DataStandardization?
    switch (standardize, resumedMap) {
    case (_, .some(let m?)) where standardize != .off: map = m
    case (.on, .some(nil)), (.whiten, .some(nil)), (.condition, .some(nil)):
      throw NSDEError.invalidArgument(
        "--standardize \(standardize), but --resume \(resume!) was trained without a standardisation")
    case (.off, .some(_?)):
      throw NSDEError.invalidArgument("--standardize off, but --resume \(resume!) was trained behind a standardisation")
    case (_, .some(nil)): map = nil
    default:
      map =
        standardize == .off || (standardize == .auto && dataFile == nil)
        ? nil : try DataStandardization(fitting: split.training, axisScaling: standardize.axisScaling)
    }
    let modelSplit =
      map.map { DataSplit(training: $0.standardized(split.training), heldOut: $0.standardized(split.heldOut)) }
      ?? split
    /// Nats per point in the file's units (`Σ log s_j` added; 0 without a standardisation).
    let logJacobian = map?.logJacobian ?? 0
    if let map {
      note("the model sees \(map.summary) (kept in the checkpoint); −log p and samples are in the file's units")
    }
    let config = try model.configuration(dataDimension: all.cols)
    let trainingObjective = objective.objective(dataDimension: all.cols)
    let sde = try NeuralSDEModel<T>(config, seed: seed &+ 1)
    let grid = try TimeGrid(uniformSteps: model.solverSteps)
    var training = TrainingConfiguration(
      steps: trainSteps, batchSize: batchSize, pathsPerPoint: model.pathsPerPoint, grid: grid,
      objective: trainingObjective,
      learningRate: learningRate, weightDecay: weightDecay, seed: seed &+ 2, evaluationInterval: evaluateEvery,
      evaluationPathsPerPoint: selectionPathsPerPoint)
    training.divergence = onDivergence.policy
    if averageDecay > 0 { training.averagingDecay = averageDecay }
    if selectBest { training.selection = ModelSelection(patience: patience == 0 ? nil : patience) }
    // One process per core under MPI: one chunk per rank unless --chunks says otherwise.
    let chunks = model.chunks ?? (mpi == nil ? nil : 1)
    let local: any GradientEstimator =
      estimator == .backprop
      ? BackpropThroughSolver(chunks: chunks, memoryBudget: memoryBudget.flatMap(MemoryLimit.parse))
      : ForwardPathwise(chunks: chunks)
    let est: any GradientEstimator = mpi.map { DistributedEstimator(inner: local, communicator: $0) } ?? local
    if model.decoderInit.startsAtGaussian(dataDimension: all.cols) && resume == nil {
      try sde.initializeDecoder(matching: modelSplit.training, grid: grid, seed: seed &+ 7)
    }
    let trainer = try Trainer(model: sde, configuration: training, estimator: est)
    if let r = resume {
      trainer.step = try Checkpoint.read(r, into: sde, optimizer: trainer.optimizer)
      if trainer.step >= trainSteps {
        note("\(r) is at step \(trainer.step) ≥ --train-steps \(trainSteps): no training steps to run")
      }
    }
    let source = dataFile ?? dataset.rawValue
    note(
      "training on \(source): \(split.training.rows) points of dimension \(all.cols) (\(split.heldOut.rows) held out)\(mpi.map { ", \($0.size) MPI ranks" } ?? ""); d = \(config.latentDimension), H = \(model.hiddenWidth(dataDimension: all.cols)), N = \(model.solverSteps), B = \(batchSize), K = \(model.pathsPerPoint), \(model.posterior) control, \(trainingObjective.rawValue), \(config.likelihood.summary) decoder, \(T.dtypeName), \(estimator.rawValue), \(sde.parameterCount) parameters\(model.decoderInit.startsAtGaussian(dataDimension: all.cols) && resume == nil ? ", decoder started at the data's Gaussian" : "")"
    )
    if let backprop = local as? BackpropThroughSolver, backprop.memoryBudget != nil {
      // Under MPI each rank differentiates its share of the minibatch.
      let points = mpi.map { (batchSize + $0.size - 1) / $0.size } ?? batchSize
      let plan = try backprop.plan(model: sde, points: points, pathsPerPoint: model.pathsPerPoint, steps: grid.steps)
      note(
        "backprop within \(memoryBudget!): \(plan) (predicted workspace \(MemoryLimit.describe(plan.estimatedBytes)), \(fmt(plan.relativeCost))× the full tape's time)"
      )
    }
    let checkpoint = outputDir + "/checkpoint.safetensors"
    /// The model at `step` with its optimizer, grid and standardisation (and, at the end, the kept step's record).
    func writeCheckpoint(step: Int, selection: Checkpoint.Selection? = nil) throws {
      try Checkpoint.write(
        model: sde, optimizer: trainer.optimizer, step: step, grid: grid, selection: selection,
        standardization: map, to: checkpoint)
    }
    if isRoot && checkpointEvery > 0 && trainer.step < trainSteps {
      // A checkpoint from the start: a run killed at any moment leaves one that loads and resumes.
      try writeCheckpoint(step: trainer.step)
    }
    let progress = ProgressPrinter(total: trainSteps)
    var checkpointError: Error?
    let history = try trainer.train(data: modelSplit.training, heldOut: modelSplit.heldOut) { p in
      var line = String(
        format: "step %d/%d  loss %.4f  |g| %.3g  %.1f steps/s  ETA %@", p.step, p.totalSteps, p.loss + logJacobian,
        p.gradientNorm,
        p.stepsPerSecond, Train.duration(p.secondsRemaining))
      if let e = p.evaluation {
        line += String(
          format: "  held-out F̂ %.4f ± %.4f, IW(K=%d) %.4f", e.freeEnergy.mean + logJacobian,
          e.freeEnergy.standardError, training.evaluationPathsPerPoint, e.importanceWeighted.mean + logJacobian)
      }
      if let s = stopAt, p.step >= s { trainer.stop() }
      if isRoot {
        progress.update(step: p.step, line: line, keep: p.evaluation != nil)
        if let w = p.warning { note("warning: \(w)") }
      }
      // Periodic checkpoints (rank 0): a killed run keeps its progress (atomic writes).
      if checkpointEvery > 0, p.step % checkpointEvery == 0, p.step < p.totalSteps {
        var failed: Int32 = 0
        if isRoot {
          do {
            try writeCheckpoint(step: p.step)
          } catch {
            checkpointError = error
            failed = 1
          }
        }
        // Every rank stops at the same step if rank 0 could not write.
        if (mpi?.maximum(failed) ?? failed) != 0 {
          if checkpointError == nil {
            checkpointError = NSDEError.invalidArgument("rank 0 could not write its checkpoint at step \(p.step)")
          }
          trainer.stop()
        }
      }
    }
    if let e = checkpointError { throw e }
    guard isRoot else { return }  // rank 0 writes the outputs and evaluates
    progress.finish()
    // Outputs.
    if let selected = history.selectedStep, let nll = history.selectedNegativeLogLikelihood {
      note(
        "kept the parameters of step \(selected) (held-out −log p̂ \(fmt(nll + logJacobian, 3)) with \(selectionPathsPerPoint) paths per point)\(history.stoppedEarly ? "; stopped early at step \(trainer.step) after \(patience) evaluations without improvement" : "")"
      )
    }
    try writeCheckpoint(
      step: trainer.step,
      selection: history.selectedStep.map {
        Checkpoint.Selection(
          step: $0, heldOutNegativeLogLikelihood: history.selectedNegativeLogLikelihood! + logJacobian,
          pathsPerPoint: selectionPathsPerPoint)
      })
    let drawn = try sde.sample(
      count: samples, noise: PhiloxBrownianIncrements<T>(seed: seed &+ 3, dimension: sde.noiseDimension), grid: grid,
      seed: seed &+ 4)
    // Samples in the file's units.
    let sampled = map.map { $0.original(drawn.observations) } ?? drawn.observations
    try NPY.write(sampled, to: outputDir + "/samples.npy")
    try CSV.write(sampled, header: (0..<all.cols).map { "y\($0)" }, to: outputDir + "/samples.csv")
    var curve = "step,loss,gradient_norm,held_out_free_energy,held_out_iw\n"
    let evaluations = Dictionary(uniqueKeysWithValues: history.evaluations.map { ($0.step, $0.estimates) })
    let firstStep = trainer.step - history.losses.count
    for (i, l) in history.losses.enumerated() {
      let step = firstStep + i + 1
      let e = evaluations[step]
      curve +=
        "\(step),\(l + logJacobian),\(history.gradientNorms[i]),\(e.map { "\($0.freeEnergy.mean + logJacobian)" } ?? ""),\(e.map { "\($0.importanceWeighted.mean + logJacobian)" } ?? "")\n"
    }
    try AtomicFile.write(text: curve, to: outputDir + "/loss.csv")
    note("evaluating on \(split.heldOut.rows) held-out points with \(evaluationPathsPerPoint) paths each …")
    let evaluationProgress = isRoot ? FractionProgress("importance-weighted −log p") : nil
    // Behind a standardisation the data's own density is not the standardised data's: no reference then.
    let evaluated = try ModelEvaluation.evaluate(
      sde, heldOut: modelSplit.heldOut, training: modelSplit.training,
      reference: dataFile == nil && map == nil ? .dataset(dataset) : .data, grid: grid,
      options: .init(
        pathsPerPoint: evaluationPathsPerPoint, samples: samples, seed: seed &+ 6, chunks: model.chunks,
        progress: evaluationProgress.map { p in { p.update($0) } }))
    let evaluation = map.map { evaluated.inOriginalUnits(of: $0) } ?? evaluated
    evaluationProgress?.finish()
    try AtomicFile.write(text: try evaluationJSON(evaluation), to: outputDir + "/evaluation.json")
    // D > 2: the scatter shows the held-out data's two leading principal directions.
    let view = try ScatterProjection(split.heldOut)
    let name = URL(fileURLWithPath: source).lastPathComponent
    var svg = SVGReport(
      data: view.project(split.heldOut, limit: 1000), samples: view.project(sampled, limit: 1000),
      losses: history.losses.map { $0 + logJacobian },
      heldOut: history.evaluations.map { ($0.step - firstStep, $0.estimates.importanceWeighted.mean + logJacobian) },
      title:
        "\(name): held-out −log p \(fmt(evaluation.negativeLogLikelihood, 3)) nats (IW, K = \(evaluationPathsPerPoint)), one Gaussian \(fmt(evaluation.gaussianNegativeLogLikelihood, 3)); \(trainer.step) steps"
    )
    svg.axisLabels = view.labels
    svg.heldOutPathsPerPoint = training.evaluationPathsPerPoint
    svg.selectedStep = history.selectedStep.map { $0 - firstStep }
    svg.marginals = SVGReport.marginals(data: split.heldOut, samples: sampled)
    if all.cols > svg.marginals.count { svg.marginalNote = " of the \(svg.marginals.count) most variable columns" }
    try AtomicFile.write(text: svg.render(), to: outputDir + "/report.svg")
    let files = Train.outputFiles
    if json {
      try printJSON([
        "steps": trainer.step, "seconds": history.seconds,
        "final_loss": history.losses.last.map { $0 as Any } ?? NSNull(),
        "evaluation": try evaluationObject(evaluation), "output_dir": outputDir, "files": files,
      ])
    } else {
      print("trained \(trainer.step) steps in \(Train.duration(history.seconds))")
      print(evaluationTable(evaluation).render())
      print("wrote \(outputDir)/{\(files.joined(separator: ", "))}")
    }
  }

  static func duration(_ s: Double) -> String {
    guard s.isFinite else { return "–" }
    let t = Int(s.rounded())
    return t >= 3600 ? "\(t / 3600)h\(t % 3600 / 60)m" : t >= 60 ? "\(t / 60)m\(t % 60)s" : "\(t)s"
  }
}

/// The progress of a long run on standard error: one line rewritten in place
/// on a terminal; otherwise a plain line every 5 % of the run (and every kept line).
final class ProgressPrinter {
  let total: Int
  let terminal = isatty(2) != 0
  var lastPrinted = 0

  init(total: Int) { self.total = total }

  func update(step: Int, line: String, keep: Bool) {
    if terminal {
      FileHandle.standardError.write(Data(("\r\u{1B}[K" + line + (keep ? "\n" : "")).utf8))
    } else if keep || step - lastPrinted >= max(1, total / 20) || step == total {
      FileHandle.standardError.write(Data((line + "\n").utf8))
      lastPrinted = step
    }
  }

  func finish() { if terminal { FileHandle.standardError.write(Data("\n".utf8)) } }
}

/// Progress of long work known by its fraction done (e.g. the importance-
/// weighted solves of an evaluation, reported after every solver step): once a
/// second has passed, a run predicted to take more than 5 s says so (the
/// prediction is the elapsed time over the fraction done), then the percentage
/// and the time left are shown as `ProgressPrinter` does.
final class FractionProgress: @unchecked Sendable {
  let what: String
  let printer = ProgressPrinter(total: 100)
  let clock = ContinuousClock()
  let start: ContinuousClock.Instant
  let lock = NSLock()
  var lastPermille = -1
  var announced = false
  var long = false

  init(_ what: String) {
    self.what = what
    start = clock.now
  }

  func update(_ fraction: Double) {
    lock.withLock {
      let elapsed = (clock.now - start).seconds
      if !announced, elapsed >= 1, fraction > 0 {
        announced = true
        let predicted = elapsed / fraction
        long = predicted > 5
        if long {
          nsdeBenchNote(
            "\(what): predicted ≈ \(Train.duration(predicted)) in all (\(fmt(100 * fraction, 1)) % done in \(Train.duration(elapsed)))"
          )
        }
      }
      // Short work stays quiet off a terminal (one line per 5 % otherwise).
      guard printer.terminal || long else { return }
      let permille = Int(fraction * 1000)
      guard permille != lastPermille else { return }
      lastPermille = permille
      let left = fraction > 0 && announced ? " (≈ \(Train.duration(elapsed / fraction - elapsed)) left)" : ""
      printer.update(step: permille / 10, line: "\(what): \(fmt(100 * fraction, 1)) %\(left)", keep: false)
    }
  }

  func finish() { printer.finish() }
}

/// The evaluation as rows: metric, model, one Gaussian, the data itself.
func evaluationTable(_ e: ModelEvaluation) -> Table {
  var t = Table(header: ["held-out metric", "model", "one Gaussian", "data itself"])
  t.rows.append([
    "−log p (nats; IW, K = \(e.pathsPerPoint))",
    "\(fmt(e.negativeLogLikelihood, 3)) ± \(fmt(e.negativeLogLikelihoodStandardError, 3))",
    fmt(e.gaussianNegativeLogLikelihood, 3), e.trueNegativeLogLikelihood.map { fmt($0, 3) } ?? "unknown",
  ])
  if e.dataDimension > 1 {
    t.rows.append([
      "−log p per dimension (nats; D = \(e.dataDimension))", fmt(e.negativeLogLikelihood / Double(e.dataDimension), 3),
      fmt(e.gaussianNegativeLogLikelihood / Double(e.dataDimension), 3),
      e.trueNegativeLogLikelihood.map { fmt($0 / Double(e.dataDimension), 3) } ?? "unknown",
    ])
  }
  t.rows.append([
    "−log p with K/10 paths (gap to K)",
    "\(fmt(e.negativeLogLikelihoodTenthOfPaths, 3)) (\(fmt(e.pathsConvergenceGap, 3)) ± \(fmt(e.pathsConvergenceGapStandardError, 3)))",
    "", "",
  ])
  t.rows.append(["free energy F̂ (nats)", "\(fmt(e.freeEnergy, 3)) ± \(fmt(e.freeEnergyStandardError, 3))", "", ""])
  t.rows.append([
    "energy distance (\(e.samples) vs \(e.samples); z vs null)",
    "\(fmt(e.energyDistance, 4)) (z = \(fmt(e.energyDistanceZScore, 1)))", fmt(e.gaussianEnergyDistance, 4),
    "\(fmt(e.energyDistanceNoiseFloor, 4)) ± \(fmt(e.energyDistanceNoiseFloorSpread, 4)) (null)",
  ])
  return t
}

/// The evaluation as a JSON object (snake_case keys; unknown values null).
func evaluationObject(_ e: ModelEvaluation) throws -> Any {
  let encoder = JSONEncoder()
  encoder.keyEncodingStrategy = .convertToSnakeCase
  encoder.nonConformingFloatEncodingStrategy = .convertToString(
    positiveInfinity: "Infinity", negativeInfinity: "-Infinity", nan: "NaN")
  var object = try JSONSerialization.jsonObject(with: try encoder.encode(e)) as! [String: Any]
  if e.trueNegativeLogLikelihood == nil { object["true_negative_log_likelihood"] = NSNull() }
  return object
}

func evaluationJSON(_ e: ModelEvaluation) throws -> String {
  let data = try JSONSerialization.data(
    withJSONObject: try evaluationObject(e), options: [.prettyPrinted, .sortedKeys])
  return String(decoding: data, as: UTF8.self) + "\n"
}
