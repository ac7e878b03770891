import ArgumentParser
import Foundation
import NeuralSDE
import NeuralSDEDistributed

/// Trains a latent SDE on sequences observed at their own times (docs/MODEL.md §7).
struct TrainSequences: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "train-sequences",
    abstract: "Trains a latent SDE on sequences observed at irregular times, then evaluates held-out sequences.",
    discussion: """
      Reads --sequences F (a long CSV sequence,time,<values…>, or TIMES.npy,VALUES.npy) or draws --count \
      sequences of --dataset, holds out --held-out-fraction of them, and trains a time-homogeneous latent SDE whose \
      control sees the next --lookahead observations, each minibatch on its own grids (--steps-per-interval \
      steps between observations, --lead-in-steps before the first; model time = (τ − τ_1) / --time-scale + \
      --lead-in). Writes checkpoint.safetensors, loss.csv, evaluation.json and report.svg to --output-dir and prints the \
      held-out importance-weighted −log p per sequence and per observed value beside a Gaussian process per channel \
      (Matérn-3/2 + noise, fitted on the training sequences) and, for --dataset, the data's own. Also writes report.svg \
      (the loss and forecasts of four held-out sequences) and reports forecasts of each held-out sequence's last 20 % \
      of observations given the rest (−log p and CRPS) beside the same baselines. `forecast` draws forecasts \
      from the checkpoint and `evaluate --sequences` evaluates it on other sequences.
      """)

  @Option(help: "Sequence file: a long CSV, or TIMES.npy,VALUES.npy.") var sequences: String?
  @Option(help: "Built-in sequence set (ou, lorenz) when no --sequences is given.") var dataset: SequenceDataset = .ou
  @Option(help: "Sequences drawn from --dataset (2…1000000).") var count = 256
  @Option(help: "Fraction of the sequences held out (in (0, 1)).") var heldOutFraction = 0.125
  @Option(help: "Latent dimension d (1…4096; default: 2 for D ≤ 2, else D + 1).") var latentDim: Int?
  @Option(help: "Hidden width H (1…8192).") var hidden = 32
  @Option(help: "Observations to come the control reads (1…256).") var lookahead = 4
  @Option(help: "Euler–Maruyama steps between consecutive observations (1…1000).") var stepsPerInterval = 6
  @Option(help: "Steps of the lead-in before each first observation (1…1000).") var leadInSteps = 4
  @Option(help: "Model time from the start to the first observation (> 0).") var leadIn = 1.0
  @Option(help: "File time units per model time unit (> 0).") var timeScale = 1.0
  @Option(help: "Optimiser steps (1…10000000).") var trainSteps = 8000
  @Option(help: "Sequences per minibatch (1…100000).") var batchSize = 16
  @Option(help: "Paths per sequence K in training (1…100000).") var pathsPerPoint = 8
  @Option(help: "Adam learning rate (> 0).") var learningRate = 3e-3
  @Option(help: "Paths per held-out sequence of the final importance-weighted −log p (1…1000000).")
  var evaluationPaths = 1000
  @Option(help: "Seed for data, split, initialisation, minibatches and noise.") var seed: UInt64 = 0
  @Option(help: "Directory for checkpoint.safetensors, loss.csv and evaluation.json.") var outputDir =
    "nsde-sequences"
  @Flag(help: "Print machine-readable JSON (the evaluation) instead of text.") var json = false

  func validate() throws {
    func check(_ ok: Bool, _ message: String) throws { if !ok { throw ValidationError(message) } }
    try check((2...1_000_000).contains(count), "--count must be in 2…1000000, got \(count)")
    try check(
      heldOutFraction > 0 && heldOutFraction < 1, "--held-out-fraction must be in (0, 1), got \(heldOutFraction)")
    if let latentDim { try check((1...4096).contains(latentDim), "--latent-dim must be in 1…4096, got \(latentDim)") }
    try check((1...8192).contains(hidden), "--hidden must be in 1…8192, got \(hidden)")
    try check(
      (1...NeuralSDEConfiguration.maximumLookahead).contains(lookahead),
      "--lookahead must be in 1…\(NeuralSDEConfiguration.maximumLookahead), got \(lookahead)")
    try check((1...1000).contains(stepsPerInterval), "--steps-per-interval must be in 1…1000, got \(stepsPerInterval)")
    try check((1...1000).contains(leadInSteps), "--lead-in-steps must be in 1…1000, got \(leadInSteps)")
    try check(leadIn > 0 && leadIn.isFinite, "--lead-in must be positive, got \(leadIn)")
    try check(timeScale > 0 && timeScale.isFinite, "--time-scale must be positive, got \(timeScale)")
    try check((1...10_000_000).contains(trainSteps), "--train-steps must be in 1…10000000, got \(trainSteps)")
    try check((1...100_000).contains(batchSize), "--batch-size must be in 1…100000, got \(batchSize)")
    try check((1...100_000).contains(pathsPerPoint), "--paths-per-point must be in 1…100000, got \(pathsPerPoint)")
    try check(learningRate > 0 && learningRate.isFinite, "--learning-rate must be positive, got \(learningRate)")
    try check(
      (1...1_000_000).contains(evaluationPaths), "--evaluation-paths must be in 1…1000000, got \(evaluationPaths)")
  }

  func run() throws {
    try runReportingErrors {
      // Under mpirun: each minibatch's sequences sharded over the ranks (docs/DISTRIBUTED.md); rank 0 alone
      // prints, writes and evaluates.
      let mpi = MPICommunicator.isLaunchedByMPI ? try MPICommunicator() : nil
      defer { mpi?.finalize() }
      let isRoot = (mpi?.rank ?? 0) == 0
      func note(_ s: String) { if isRoot { nsdeBenchNote(s) } }
      try prepareOutputDirectory(
        outputDir, files: ["checkpoint.safetensors", "loss.csv", "evaluation.json", "report.svg"],
        inputs: sequenceInputs("--sequences", sequences), mpi: mpi)
      let all = try sequences.map(readSequences) ?? dataset.sample(count: count, seed: seed)
      guard all.count >= 2 else { throw NSDEError.invalidArgument("need at least 2 sequences, got \(all.count)") }
      let order = MinibatchSampler.permutation(count: all.count, seed: seed &+ 5, epoch: 0)
      let heldCount = Swift.min(Swift.max(1, Int((Double(all.count) * heldOutFraction).rounded())), all.count - 1)
      let held = all.selecting(Array(order.prefix(heldCount)))
      let training = all.selecting(Array(order.dropFirst(heldCount)))
      let latentDim = self.latentDim ?? (all.dimension <= 2 ? 2 : all.dimension + 1)
      let config = NeuralSDEConfiguration.sequence(
        latentDimension: latentDim, dataDimension: all.dimension, hidden: hidden, lookahead: lookahead)
      let model = try NeuralSDEModel<Double>(config, seed: seed &+ 3)
      var trainer = SequenceTrainer<Double>()
      trainer.steps = trainSteps
      trainer.batchSize = batchSize
      trainer.pathsPerPoint = pathsPerPoint
      trainer.learningRate = learningRate
      trainer.seed = seed &+ 7
      trainer.layout = .init(
        leadIn: leadIn, leadInSteps: leadInSteps, stepsPerInterval: stepsPerInterval, timeScale: timeScale)
      if let mpi {
        trainer.estimator = DistributedEstimator(inner: BackpropThroughSolver(chunks: 1), communicator: mpi)
      }
      note(
        "training on \(training.count) sequences (\(held.count) held out)\(mpi.map { ", \($0.size) MPI ranks" } ?? ""), d = \(latentDim), H = \(hidden), J = \(lookahead), \(stepsPerInterval) steps per interval, \(trainSteps) steps …"
      )
      let clock = ContinuousClock()
      let start = clock.now
      let every = Swift.max(1, trainSteps / 10)
      let losses = try trainer.train(model, on: training) { step, loss in
        if step % every == 0 || step == trainSteps {
          note("step \(step)/\(trainSteps): loss \(fmt(loss, 3)) (\(Train.duration((clock.now - start).seconds)))")
        }
      }
      let trainSeconds = (clock.now - start).seconds
      guard isRoot else { return }
      try Checkpoint.write(
        model: model, optimizer: nil, step: trainSteps, sequenceLayout: trainer.layout,
        to: outputDir + "/checkpoint.safetensors")
      try AtomicFile.write(
        text: "step,loss\n" + losses.enumerated().map { "\($0 + 1),\($1)" }.joined(separator: "\n") + "\n",
        to: outputDir + "/loss.csv")
      var options = SequenceEvaluation.Options()
      options.paths = evaluationPaths
      options.batchSize = batchSize
      let truth = sequences == nil ? dataset.process : nil
      let evaluation = try SequenceEvaluation.evaluate(
        model, heldOut: held, training: training, layout: trainer.layout, truth: truth, options: options,
        progress: { note($0 + " …") })
      var result = sequenceEvaluationJSON(evaluation)
      result["sequences_trained"] = training.count
      result["train_steps"] = trainSteps
      result["train_seconds"] = trainSeconds
      let data = try JSONSerialization.data(withJSONObject: jsonSafe(result), options: [.prettyPrinted, .sortedKeys])
      try AtomicFile.write(text: String(decoding: data, as: UTF8.self) + "\n", to: outputDir + "/evaluation.json")
      try writeReport(model, held: held, layout: trainer.layout, losses: losses, evaluation: evaluation)
      if json {
        try printJSON(result)
        return
      }
      printSequenceEvaluation(evaluation, truthName: truth == nil ? nil : dataset.rawValue)
      print(
        "trained in \(Train.duration(trainSeconds)); wrote \(outputDir)/checkpoint.safetensors, loss.csv, evaluation.json, report.svg"
      )
    }
  }

  /// report.svg: the training loss, and forecasts of the last 20 % of four held-out sequences given the rest.
  func writeReport(
    _ model: NeuralSDEModel<Double>, held: SequenceData, layout: SequenceLayout, losses: [Double],
    evaluation: SequenceEvaluation
  ) throws {
    let shown = held.selecting(Array(0..<Swift.min(4, held.count)))
    let (past, hidden, queries, _) = shown.forecastSplit(0.2)
    // The band on a fine grid from the last observation kept to the last time.
    let dense = (0..<shown.count).map { s -> [Double] in
      guard let end = queries[s].last,
        let from = past.observations(s).last(where: { r in
          (0..<past.dimension).contains { !past.values[r * past.dimension + $0].isNaN }
        }).map({ past.times[$0] })
      else { return queries[s] }
      return (0...24).map { from + (end - from) * Double($0) / 24 }
    }
    var forecaster = SequenceForecaster<Double>(layout: layout)
    forecaster.pathsPerSequence = evaluationPaths
    forecaster.samples = 400
    let forecasts = try forecaster.forecast(model, observed: past, at: dense)
    let plot = ForecastPlot(
      forecasts: forecasts, observed: past, truth: hidden,
      title:
        "Held-out −log p \(fmt(evaluation.model.negativeLogLikelihoodPerValue, 3)) nats per value (IW, \(evaluation.paths) paths); forecast CRPS \(fmt(evaluation.model.forecastCRPS, 3))\(evaluation.gaussianProcess.map { " (GP \(fmt($0.forecastCRPS, 3)))" } ?? "")"
    )
    var header = "<text x=\"10\" y=\"36\">\(ForecastPlot.legend)</text>\n"
    // The loss curve as a strip above the panels.
    let finite = losses.filter(\.isFinite)
    if finite.count >= 2 {
      let frame = SVGReport.Frame(
        x: 0, top: 40, w: 600, h: 180, pad: 55, xr: (1, Double(losses.count)), yr: SVGReport.robustRange(finite))
      header += frame.axes(xLabel: "training step", yLabel: "minibatch loss (nats)")
      header += SVGReport.lossPolyline(losses, frame: frame)
    }
    try AtomicFile.write(text: plot.render(top: 250, header: header), to: outputDir + "/report.svg")
  }
}
