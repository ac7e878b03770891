import ArgumentParser
import Foundation
import NeuralSDE

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
      --lead-in). Writes checkpoint.safetensors, loss.csv and evaluation.json to --output-dir and prints the \
      held-out importance-weighted −log p per sequence and per observed value beside a Gaussian process per channel \
      (Matérn-3/2 + noise, fitted on the training sequences) and, for --dataset, the data's own. Forecasts and \
      `evaluate` for sequences are not built yet.
      """)

  @Option(help: "Sequence file: a long CSV, or TIMES.npy,VALUES.npy.") var sequences: String?
  @Option(help: "Built-in sequence set (ou) when no --sequences is given.") var dataset: SequenceDataset = .ou
  @Option(help: "Sequences drawn from --dataset (2…1000000).") var count = 256
  @Option(help: "Fraction of the sequences held out (in (0, 1)).") var heldOutFraction = 0.125
  @Option(help: "Latent dimension d (1…4096).") var latentDim = 2
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
    try check((1...4096).contains(latentDim), "--latent-dim must be in 1…4096, got \(latentDim)")
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
      let files = ["checkpoint.safetensors", "loss.csv", "evaluation.json"]
      try AtomicFile.checkDistinct(
        outputs: files.map { ("--output-dir", outputDir + "/" + $0) },
        inputs: (sequences?.split(separator: ",").map { ("--sequences", String($0)) }) ?? [])
      try AtomicFile.prepareDirectory(outputDir)
      let all: SequenceData
      if let sequences {
        let parts = sequences.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        all =
          parts.count == 2
          ? try SequenceFile.read(times: parts[0], values: parts[1]) : try SequenceFile.read(csv: sequences)
      } else {
        all = try dataset.sample(count: count, seed: seed)
      }
      guard all.count >= 2 else { throw NSDEError.invalidArgument("need at least 2 sequences, got \(all.count)") }
      let order = MinibatchSampler.permutation(count: all.count, seed: seed &+ 5, epoch: 0)
      let heldCount = Swift.min(Swift.max(1, Int((Double(all.count) * heldOutFraction).rounded())), all.count - 1)
      let held = all.selecting(Array(order.prefix(heldCount)))
      let training = all.selecting(Array(order.dropFirst(heldCount)))
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
      note(
        "training on \(training.count) sequences (\(held.count) held out), d = \(latentDim), H = \(hidden), J = \(lookahead), \(stepsPerInterval) steps per interval, \(trainSteps) steps …"
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
      try Checkpoint.write(model: model, optimizer: nil, step: trainSteps, to: outputDir + "/checkpoint.safetensors")
      try AtomicFile.write(
        text: "step,loss\n" + losses.enumerated().map { "\($0 + 1),\($1)" }.joined(separator: "\n") + "\n",
        to: outputDir + "/loss.csv")
      note("evaluating \(held.count) held-out sequences with \(evaluationPaths) paths each …")
      let estimates = try trainer.estimates(model, on: held, paths: evaluationPaths)
      let nll = estimates.map(\.paths)
      let values = Double(held.values.filter { !$0.isNaN }.count)
      // The paths' convergence: per sequence, the estimate from a tenth of the paths minus the full one.
      let gaps = estimates.map { $0.tenth - $0.paths }
      let gapMean = gaps.reduce(0, +) / Double(gaps.count)
      let gapSE =
        gaps.count > 1
        ? (gaps.map { ($0 - gapMean) * ($0 - gapMean) }.reduce(0, +) / Double(gaps.count - 1) / Double(gaps.count))
          .squareRoot() : .nan
      var result: [String: Any] = [
        "sequences_held_out": held.count, "sequences_trained": training.count, "train_steps": trainSteps,
        "train_seconds": trainSeconds, "paths_per_sequence": evaluationPaths,
        "negative_log_likelihood_per_sequence": nll.reduce(0, +) / Double(held.count),
        "negative_log_likelihood_per_value": nll.reduce(0, +) / values,
        "paths_convergence_gap_per_sequence": gapMean, "paths_convergence_gap_standard_error": gapSE,
      ]
      // Forecasts: −log p(future | past) = −log p(all) − (−log p(past)), the last 20 % of each
      // sequence's observations hidden (the same grids and noise: common random numbers).
      let (past, futureValues) = held.maskingFuture(0.2)
      let pastNLL = try trainer.negativeLogLikelihood(model, on: past, paths: evaluationPaths)
      func perFutureValue(_ all: [Double], _ past: [Double]) -> Double {
        zip(all, past).map { $0 - $1 }.reduce(0, +) / Double(futureValues)
      }
      result["forecast_negative_log_likelihood_per_value"] = perFutureValue(nll, pastNLL)
      note("fitting the Gaussian-process baseline (per channel, Matérn-3/2 + noise) on the training sequences …")
      let gpFit = try GaussianProcessBaseline(fitting: training)
      let gp = try gpFit.negativeLogLikelihood(held)
      result["gp_negative_log_likelihood_per_sequence"] = gp.reduce(0, +) / Double(held.count)
      result["gp_negative_log_likelihood_per_value"] = gp.reduce(0, +) / values
      result["gp_forecast_negative_log_likelihood_per_value"] = perFutureValue(
        gp, try gpFit.negativeLogLikelihood(past))
      if sequences == nil {
        let truth = try dataset.negativeLogLikelihood(held)
        result["true_negative_log_likelihood_per_sequence"] = truth.reduce(0, +) / Double(held.count)
        result["true_negative_log_likelihood_per_value"] = truth.reduce(0, +) / values
        result["true_forecast_negative_log_likelihood_per_value"] = perFutureValue(
          truth, try dataset.negativeLogLikelihood(past))
      }
      let data = try JSONSerialization.data(withJSONObject: jsonSafe(result), options: [.prettyPrinted, .sortedKeys])
      try AtomicFile.write(text: String(decoding: data, as: UTF8.self) + "\n", to: outputDir + "/evaluation.json")
      if json {
        try printJSON(result)
        return
      }
      print(
        "held-out −log p (importance weighting, \(evaluationPaths) paths): \(fmt(result["negative_log_likelihood_per_sequence"] as! Double, 3)) nats per sequence, \(fmt(result["negative_log_likelihood_per_value"] as! Double, 4)) per observed value"
      )
      print(
        "paths' convergence: the estimate from \(Swift.max(1, evaluationPaths / 10)) paths is \(fmt(gapMean, 3)) ± \(fmt(gapSE, 3)) nats per sequence above it"
      )
      func show(_ key: String) -> String { fmt(result[key] as! Double, 4) }
      print(
        "forecast −log p(last 20 % | the rest): \(show("forecast_negative_log_likelihood_per_value")) per hidden value"
      )
      print(
        "Gaussian-process baseline: \(show("gp_negative_log_likelihood_per_value")) per observed value, forecast \(show("gp_forecast_negative_log_likelihood_per_value"))"
      )
      if result["true_negative_log_likelihood_per_value"] != nil {
        print(
          "\(dataset.rawValue) itself (Kalman filter, exact): \(show("true_negative_log_likelihood_per_value")) per observed value, forecast \(show("true_forecast_negative_log_likelihood_per_value"))"
        )
      }
      print(
        "trained in \(Train.duration(trainSeconds)); wrote \(outputDir)/checkpoint.safetensors, loss.csv, evaluation.json"
      )
    }
  }
}
