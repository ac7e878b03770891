import ArgumentParser
import Foundation
import NeuralSDE

/// Training on a toy dataset or user data.
struct Train: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract:
      "Trains a latent SDE on a built-in toy dataset or user data (.npy/.csv) and writes checkpoint, samples, loss curve and an SVG."
  )

  @OptionGroup var problem: ProblemOptions
  @Flag(help: "Print machine-readable JSON (the summary) instead of text.") var json = false
  @Option(help: "Built-in dataset (\(ToyDataset.allCases.map(\.rawValue).joined(separator: ", "))).")
  var dataset: ToyDataset = .twoMoons
  @Option(help: "User data (.npy [count, D] or .csv); overrides --dataset.") var dataFile: String?
  @Option(help: "Training steps (1…10000000).") var trainSteps = 1000
  @Option(help: "Data points per minibatch B (1…1000000).") var batchSize = 64
  @Option(help: "Learning rate (> 0).") var learningRate = 1e-2
  @Option(help: "Objective (freeEnergy, importanceWeighted).") var objective: TrainingObjective = .freeEnergy
  @Option(
    help:
      "Gradient estimator (backprop, pathwise). Pathwise costs about one forward pass per parameter: only for small models."
  )
  var estimator: EstimatorChoice = .backprop
  @Option(help: "Seed for data, initialisation, minibatches and noise.") var seed: UInt64 = 0
  @Option(help: "Held-out evaluation every this many steps (0: only at the end).") var evaluateEvery = 100
  @Option(help: "Samples drawn from the trained model.") var samples = 1000
  @Option(help: "Directory for checkpoint.safetensors, samples.npy/.csv, loss.csv and report.svg.")
  var outputDir = "nsde-train-output"
  @Option(help: "Resume from this checkpoint.") var resume: String?

  func validate() throws {
    guard trainSteps >= 1 && trainSteps <= 10_000_000 else {
      throw ValidationError("--train-steps must be in 1…10000000, got \(trainSteps)")
    }
    guard batchSize >= 1 && batchSize <= 1_000_000 else {
      throw ValidationError("--batch-size must be in 1…1000000, got \(batchSize)")
    }
    guard learningRate > 0 && learningRate.isFinite else {
      throw ValidationError("--learning-rate must be positive, got \(learningRate)")
    }
    guard samples >= 1 && samples <= 10_000_000 else {
      throw ValidationError("--samples must be in 1…10000000, got \(samples)")
    }
    guard evaluateEvery >= 0 else { throw ValidationError("--evaluate-every must be ≥ 0, got \(evaluateEvery)") }
  }

  func run() throws {
    try runReportingErrors {
      if problem.dtype == .float { try train(Float.self) } else { try train(Double.self) }
    }
  }

  func train<T: BLASScalar>(_: T.Type) throws {
    let all: Matrix<T>
    if let path = dataFile {
      all =
        path.lowercased().hasSuffix(".csv")
        ? try CSV.readMatrix(path, as: T.self) : try NPY.readMatrix(path, as: T.self)
    } else {
      all = dataset.sample(count: 5000, seed: seed, as: T.self)
    }
    guard all.rows >= 10 else { throw NSDEError.invalidArgument("need at least 10 data points, got \(all.rows)") }
    var config = problem.configuration
    config.dataDimension = all.cols
    config.posteriorDrift.inputs = all.cols
    config.posteriorDrift = MLPArchitecture(
      inputs: all.cols, timeInput: true, widths: config.posteriorDrift.widths, hiddenActivation: problem.activation)
    config.decoder = MLPArchitecture(inputs: problem.latentDim, timeInput: false, widths: [all.cols])
    let heldCount = max(all.rows / 10, 1)
    let heldOut = all.rows(0..<heldCount).copy()
    let trainSet = all.rows(heldCount..<all.rows).copy()
    let model = try NeuralSDEModel<T>(config, seed: seed &+ 1)
    let grid = try TimeGrid(uniformSteps: problem.steps)
    let training = TrainingConfiguration(
      steps: trainSteps, batchSize: batchSize, pathsPerPoint: problem.pathsPerPoint, grid: grid, objective: objective,
      learningRate: learningRate, seed: seed &+ 2, evaluationInterval: evaluateEvery)
    let est: any GradientEstimator =
      estimator == .backprop ? BackpropThroughSolver(chunks: problem.chunks) : ForwardPathwise(chunks: problem.chunks)
    let trainer = try Trainer(model: model, configuration: training, estimator: est)
    if let r = resume { trainer.step = try Checkpoint.read(r, into: model, optimizer: trainer.optimizer) }
    try FileManager.default.createDirectory(atPath: outputDir, withIntermediateDirectories: true)
    note(
      "training on \(trainSet.rows) points (\(heldOut.rows) held out), d = \(problem.latentDim), H = \(problem.hidden), N = \(problem.steps), B = \(batchSize), K = \(problem.pathsPerPoint), \(T.dtypeName), \(estimator.rawValue)"
    )
    let erase = isatty(2) != 0 ? "\u{1B}[K" : ""
    let history = try trainer.train(data: trainSet, heldOut: heldOut) { p in
      var line = String(
        format: "\r\(erase)step %d/%d  loss %.4f  |g| %.3g  %.1f steps/s  ETA %@", p.step, p.totalSteps, p.loss,
        p.gradientNorm,
        p.stepsPerSecond, Train.duration(p.secondsRemaining))
      if let e = p.evaluation {
        line += String(
          format: "  held-out F̂ %.4f ± %.4f, IW %.4f", e.freeEnergy.mean, e.freeEnergy.standardError,
          e.importanceWeighted.mean)
        line += "\n"
      }
      FileHandle.standardError.write(Data(line.utf8))
    }
    FileHandle.standardError.write(Data("\n".utf8))
    // Outputs.
    let checkpoint = outputDir + "/checkpoint.safetensors"
    try Checkpoint.write(model: model, optimizer: trainer.optimizer, step: trainer.step, to: checkpoint)
    let drawn = try model.sample(
      count: samples, noise: PhiloxBrownianIncrements<T>(seed: seed &+ 3, dimension: model.noiseDimension), grid: grid,
      seed: seed &+ 4)
    try NPY.write(drawn.observations, to: outputDir + "/samples.npy")
    try CSV.write(drawn.observations, header: (0..<all.cols).map { "y\($0)" }, to: outputDir + "/samples.csv")
    var curve = "step,loss,gradient_norm\n"
    for (i, l) in history.losses.enumerated() { curve += "\(i + 1),\(l),\(history.gradientNorms[i])\n" }
    try AtomicFile.write(text: curve, to: outputDir + "/loss.csv")
    let ed = try energyDistance(
      drawn.observations.rows(0..<min(samples, 500)).copy(), heldOut.rows(0..<min(heldOut.rows, 500)).copy())
    let svg = SVGReport(
      data: (0..<min(heldOut.rows, 1000)).map { (Double(heldOut[$0, 0]), Double(heldOut[$0, min(1, all.cols - 1)])) },
      samples: (0..<min(samples, 1000)).map {
        (Double(drawn.observations[$0, 0]), Double(drawn.observations[$0, min(1, all.cols - 1)]))
      },
      losses: history.losses,
      title:
        "\(dataFile ?? dataset.rawValue): held-out data vs \(samples) samples after \(trainer.step) steps (energy distance \(String(format: "%.3f", ed)))"
    )
    try AtomicFile.write(text: svg.render(), to: outputDir + "/report.svg")
    let last = history.evaluations.last?.estimates
    if json {
      printJSON([
        "steps": trainer.step, "seconds": history.seconds, "final_loss": history.losses.last ?? .nan,
        "held_out_free_energy": (last?.freeEnergy.mean).map { $0 as Any } ?? NSNull(),
        "held_out_iw": (last?.importanceWeighted.mean).map { $0 as Any } ?? NSNull(),
        "energy_distance": ed, "output_dir": outputDir,
        "files": ["checkpoint.safetensors", "samples.npy", "samples.csv", "loss.csv", "report.svg"],
      ])
    } else {
      print(
        "trained \(trainer.step) steps in \(Train.duration(history.seconds)); held-out F̂ \(last.map { fmt($0.freeEnergy.mean, 4) } ?? "–"), IW \(last.map { fmt($0.importanceWeighted.mean, 4) } ?? "–"); samples vs held-out energy distance \(fmt(ed, 4))"
      )
      print("wrote \(outputDir)/{checkpoint.safetensors, samples.npy, samples.csv, loss.csv, report.svg}")
    }
  }

  static func duration(_ s: Double) -> String {
    guard s.isFinite else { return "–" }
    let t = Int(s.rounded())
    return t >= 3600 ? "\(t / 3600)h\(t % 3600 / 60)m" : t >= 60 ? "\(t / 60)m\(t % 60)s" : "\(t)s"
  }
}
