import Foundation

/// How well a predictive law fits held-out sequences (docs/MODEL.md §7), in nats and data units.
public struct SequenceScores: Sendable, Codable {
  /// `−log p(y_{1:n})` of each held-out sequence, nats.
  public var perSequence: [Double]
  /// Mean `−log p` per sequence.
  public var negativeLogLikelihoodPerSequence: Double
  /// Its standard error over the sequences.
  public var standardError: Double
  /// `Σ_s −log p(y_s) / (observed values)`: nats per observed value.
  public var negativeLogLikelihoodPerValue: Double
  /// `−log p(future | past)` per hidden value: each sequence's last
  /// observations hidden (`SequenceEvaluation.Options.forecastFraction`),
  /// `(−log p(all) − (−log p(past))) / (hidden values)`.
  public var forecastNegativeLogLikelihoodPerValue: Double
  /// The CRPS of the forecasts of the hidden values, averaged over them (data units).
  public var forecastCRPS: Double
}

/// A sequence model judged on held-out sequences beside the baselines
/// (docs/MODEL.md §7): its importance-weighted `−log p` (with F̂ and the
/// paths' convergence), forecasts of each sequence's last observations
/// (`−log p(future | past)` and the CRPS of draws), a Gaussian process per
/// channel fitted on the training sequences, and the data's own law when known.
public struct SequenceEvaluation: Sendable, Codable {
  /// What the evaluation computes.
  public struct Options: Sendable {
    /// Paths per held-out sequence of the importance-weighted estimates (≥ 1000 to converge).
    public var paths = 1000
    /// The fraction of each sequence's observations hidden for the forecasts (at least one, never all).
    public var forecastFraction = 0.2
    /// Draws per sequence for the forecasts' CRPS.
    public var forecastSamples = 200
    /// Sequences per solve.
    public var batchSize = 16
    /// Seed of the noise (common random numbers between the full and the past estimate).
    public var seed: UInt64 = 0xE7A1

    /// The defaults above.
    public init() {}
  }

  /// Held-out sequences S.
  public var sequences: Int
  /// Observed values in them.
  public var values: Int
  /// Values hidden for the forecasts.
  public var forecastValues: Int
  /// Paths per sequence of the importance-weighted estimates.
  public var paths: Int
  /// The model's scores.
  public var model: SequenceScores
  /// The model's free energy F̂ per sequence (an upper bound on its −log p).
  public var freeEnergyPerSequence: Double
  /// Mean over sequences of (estimate from a tenth of the paths − the full
  /// estimate): near 0 within its standard error when the estimate has converged.
  public var pathsConvergenceGap: Double
  /// The standard error of `pathsConvergenceGap`.
  public var pathsConvergenceGapStandardError: Double
  /// The forecasts' mean effective sample size among the paths (of `paths`).
  public var forecastEffectiveSampleSize: Double
  /// The Gaussian-process baseline's scores (nil without training sequences).
  public var gaussianProcess: SequenceScores?
  /// The data's own scores (nil when the law is not known).
  public var truth: SequenceScores?

  /// Evaluates `model` (laid out by `layout`) on `heldOut`, fitting the GP
  /// baseline on `training` if given and scoring `truth` if given.
  public static func evaluate<Scalar: SDEScalar>(
    _ model: NeuralSDEModel<Scalar>, heldOut: SequenceData, training: SequenceData?, layout: SequenceLayout,
    truth: OrnsteinUhlenbeck? = nil, options: Options = Options(),
    progress: ((String) -> Void)? = nil
  ) throws -> SequenceEvaluation {
    guard options.paths >= 1, options.forecastSamples >= 1, options.batchSize >= 1 else {
      throw NSDEError.invalidArgument("paths, forecast samples and batch size must be ≥ 1")
    }
    guard options.forecastFraction > 0, options.forecastFraction < 1 else {
      throw NSDEError.invalidArgument("the forecast fraction must be in (0, 1), got \(options.forecastFraction)")
    }
    let values = heldOut.values.filter { !$0.isNaN }.count
    let (past, hiddenPart, queries, hidden) = heldOut.forecastSplit(options.forecastFraction)
    guard hidden > 0 else {
      throw NSDEError.invalidArgument(
        "no held-out sequence has two or more observations, so there is nothing to forecast")
    }
    // The hidden entries: (sequence, query index, channel, value).
    var hiddenEntries: [(s: Int, q: Int, c: Int, y: Double)] = []
    for s in 0..<heldOut.count {
      var q = 0
      for r in heldOut.observations(s) {
        let masked = (0..<heldOut.dimension).filter { !hiddenPart.values[r * heldOut.dimension + $0].isNaN }
        guard !masked.isEmpty else { continue }
        for c in masked { hiddenEntries.append((s, q, c, hiddenPart.values[r * heldOut.dimension + c])) }
        q += 1
      }
    }
    func scores(all: [Double], past pastNLL: [Double], crps: Double) -> SequenceScores {
      let mean = all.reduce(0, +) / Double(all.count)
      let se =
        all.count > 1
        ? (all.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(all.count - 1) / Double(all.count)).squareRoot()
        : .nan
      return SequenceScores(
        perSequence: all, negativeLogLikelihoodPerSequence: mean, standardError: se,
        negativeLogLikelihoodPerValue: all.reduce(0, +) / Double(values),
        forecastNegativeLogLikelihoodPerValue: zip(all, pastNLL).map { $0 - $1 }.reduce(0, +) / Double(hidden),
        forecastCRPS: crps)
    }
    func gaussianCRPS(_ predictive: (Int) throws -> GaussianPredictive) throws -> Double {
      var total = 0.0
      var cache: [Int: GaussianPredictive] = [:]
      for e in hiddenEntries {
        if cache[e.s] == nil { cache[e.s] = try predictive(e.s) }
        let p = cache[e.s]!
        let i = e.q * heldOut.dimension + e.c
        total += ContinuousRankedProbabilityScore.gaussian(mean: p.mean[i], std: p.std[i], observation: e.y)
      }
      return total / Double(hiddenEntries.count)
    }
    // The model.
    progress?("importance-weighted −log p of \(heldOut.count) held-out sequences, \(options.paths) paths each")
    let full = try estimates(model, heldOut, layout: layout, paths: options.paths, options: options)
    let pastEstimates = try estimates(model, past, layout: layout, paths: options.paths, options: options)
    progress?("forecast draws (\(options.forecastSamples) per sequence from \(options.paths) paths)")
    var forecaster = SequenceForecaster<Scalar>(layout: layout)
    forecaster.pathsPerSequence = options.paths
    forecaster.samples = options.forecastSamples
    forecaster.batchSize = options.batchSize
    forecaster.seed = options.seed &+ 1
    let forecasts = try forecaster.forecast(model, observed: past, at: queries)
    let modelCRPS =
      hiddenEntries.map {
        ContinuousRankedProbabilityScore.samples(forecasts[$0.s].draws(query: $0.q, channel: $0.c), observation: $0.y)
      }.reduce(0, +) / Double(hiddenEntries.count)
    let gaps = full.map { $0.tenth - $0.iw }
    let gapMean = gaps.reduce(0, +) / Double(gaps.count)
    let gapSE =
      gaps.count > 1
      ? (gaps.map { ($0 - gapMean) * ($0 - gapMean) }.reduce(0, +) / Double(gaps.count - 1) / Double(gaps.count))
        .squareRoot() : .nan
    var result = SequenceEvaluation(
      sequences: heldOut.count, values: values, forecastValues: hidden, paths: options.paths,
      model: scores(all: full.map(\.iw), past: pastEstimates.map(\.iw), crps: modelCRPS),
      freeEnergyPerSequence: full.map(\.freeEnergy).reduce(0, +) / Double(full.count),
      pathsConvergenceGap: gapMean, pathsConvergenceGapStandardError: gapSE,
      forecastEffectiveSampleSize: forecasts.map(\.effectiveSampleSize).reduce(0, +) / Double(forecasts.count),
      gaussianProcess: nil, truth: nil)
    if let training {
      progress?("fitting the Gaussian-process baseline (per channel, Matérn-3/2 + noise) on the training sequences")
      let gp = try GaussianProcessBaseline(fitting: training)
      result.gaussianProcess = scores(
        all: try gp.negativeLogLikelihood(heldOut), past: try gp.negativeLogLikelihood(past),
        crps: try gaussianCRPS { try gp.predictive(past, sequence: $0, at: queries[$0]) })
    }
    if let truth {
      let all = try (0..<heldOut.count).map { try truth.negativeLogLikelihood(heldOut, sequence: $0) }
      let pastNLL = try (0..<past.count).map { try truth.negativeLogLikelihood(past, sequence: $0) }
      result.truth = scores(
        all: all, past: pastNLL, crps: try gaussianCRPS { try truth.predictive(past, sequence: $0, at: queries[$0]) })
    }
    return result
  }

  /// Per sequence: the importance-weighted `−log p̂` with all paths and with a tenth, and F̂.
  static func estimates<Scalar: SDEScalar>(
    _ model: NeuralSDEModel<Scalar>, _ data: SequenceData, layout: SequenceLayout, paths: Int, options: Options
  ) throws -> [(iw: Double, tenth: Double, freeEnergy: Double)] {
    var out: [(iw: Double, tenth: Double, freeEnergy: Double)] = []
    for first in stride(from: 0, to: data.count, by: options.batchSize) {
      let indices = Array(first..<Swift.min(first + options.batchSize, data.count))
      let batch = try SequenceBatch<Scalar>(data, sequences: indices, layout: layout)
      let est = try model.variationalEstimates(
        data: batch.conditioning, observations: batch.observations,
        noise: PhiloxBrownianIncrements(
          seed: SeedHash.mix(options.seed, UInt64(first), 1), dimension: model.noiseDimension),
        grid: batch.grid, pathsPerPoint: paths)
      for i in indices.indices {
        out.append(
          (
            est.importanceWeighted.perDataPoint[i], est.importanceWeighted.perDataPointTenthOfPaths[i],
            est.freeEnergy.perDataPoint[i]
          ))
      }
    }
    return out
  }
}

extension SequenceData {
  /// The forecast split (docs/MODEL.md §7): `past` hides each sequence's last
  /// `fraction` of observations (`maskingFuture`), `hidden` holds only the
  /// hidden values (NaN elsewhere, same rows), `queries` lists per sequence
  /// the times of the rows with a hidden value (the forecasts' query times),
  /// and `hiddenValues` counts the hidden values.
  public func forecastSplit(_ fraction: Double) -> (
    past: SequenceData, hidden: SequenceData, queries: [[Double]], hiddenValues: Int
  ) {
    let (past, count) = maskingFuture(fraction)
    var hidden = self
    hidden.values = zip(past.values, values).map { $0.isNaN ? $1 : .nan }
    let queries = (0..<self.count).map { s in
      observations(s).filter { r in (0..<dimension).contains { !hidden.values[r * dimension + $0].isNaN } }
        .map { times[$0] }
    }
    return (past, hidden, queries, count)
  }
}
