import Foundation

/// What a trained model is worth on held-out data, measured
/// (the quantities in docs/MODEL.md; the protocol and measurements in docs/TRAINING.md):
///
/// - held-out `−log p(y)` by importance weighting with many paths per point
///   (chunked, memory bounded), with its standard error over points;
/// - the free energy `F̂` on the same paths;
/// - the energy distance between model samples and data of the same size,
///   beside its noise floor (the same statistic between two independent draws
///   of that size from the data distribution, or between the two halves of the
///   held-out data) and the z-score against it;
/// - a one-Gaussian baseline fitted to the training data, on both metrics;
/// - the data's own density where known (built-in datasets): the limit.
public struct ModelEvaluation: Sendable, Codable {
  /// Held-out points evaluated.
  public var points: Int
  /// Paths per point of the importance-weighted estimate.
  public var pathsPerPoint: Int
  /// Mean over points of the importance-weighted `−log p̂(y)`, nats.
  public var negativeLogLikelihood: Double
  /// Its standard error over points.
  public var negativeLogLikelihoodStandardError: Double
  /// Mean `F̂` over the same paths, and its standard error.
  public var freeEnergy: Double
  /// The Monte Carlo standard error of `freeEnergy`.
  public var freeEnergyStandardError: Double
  /// Model samples drawn for the energy distance, and the size of the data
  /// sample each is compared with (`samples` for built-in sets, half the
  /// held-out rows for user data).
  public var samples: Int
  /// Energy distance between the model samples and data of the same size
  /// (fresh draws for built-in sets; for user data a random half of the
  /// held-out rows, averaged over the noise floor's splits).
  public var energyDistance: Double
  /// The energy distance between two independent samples of the same sizes
  /// from the data itself (mean over `noiseFloorReplicates` pairs): values
  /// near it cannot be told apart from the data.
  public var energyDistanceNoiseFloor: Double
  /// The standard deviation of that statistic over the replicates.
  public var energyDistanceNoiseFloorSpread: Double
  /// Pairs of null draws averaged for the noise floor.
  public var noiseFloorReplicates: Int
  /// How the noise floor was obtained.
  public var noiseFloorMethod: String
  /// The one-Gaussian baseline's held-out `−log p` and energy distance.
  public var gaussianNegativeLogLikelihood: Double
  /// Energy distance between samples of the Gaussian baseline and the held-out data.
  public var gaussianEnergyDistance: Double
  /// The data density's own held-out `−log p` (nil when unknown).
  public var trueNegativeLogLikelihood: Double?
  /// Wall-clock seconds.
  public var seconds: Double
  /// Data dimension D (for nats per dimension: `negativeLogLikelihood / D`).
  public var dataDimension = 0
  /// The importance-weighted `−log p̂` from each point's first `max(1, K/10)` paths (mean over points).
  public var negativeLogLikelihoodTenthOfPaths = Double.nan
  /// Mean over points of (estimate at K/10 paths − estimate at K paths) and its
  /// standard error: the estimate has converged in the number of paths when
  /// this gap is within a few standard errors of 0.
  public var pathsConvergenceGap = Double.nan
  /// The gap's standard error over points.
  public var pathsConvergenceGapStandardError = Double.nan
  /// `(energyDistance − energyDistanceNoiseFloor) / energyDistanceNoiseFloorSpread`: how many
  /// standard deviations of the null the model's statistic lies above it (≲ 2: not told apart).
  public var energyDistanceZScore = Double.nan
  /// Each held-out point's importance-weighted `−log p̂` (not part of the JSON
  /// encoding; `nsde-bench evaluate --per-point-out` writes it).
  public var perPointNegativeLogLikelihood: [Double] = []

  enum CodingKeys: String, CodingKey {
    case points, pathsPerPoint, negativeLogLikelihood, negativeLogLikelihoodStandardError, freeEnergy
    case freeEnergyStandardError, samples, energyDistance, energyDistanceNoiseFloor, energyDistanceNoiseFloorSpread
    case noiseFloorReplicates, noiseFloorMethod, gaussianNegativeLogLikelihood, gaussianEnergyDistance
    case trueNegativeLogLikelihood, seconds, dataDimension, negativeLogLikelihoodTenthOfPaths, pathsConvergenceGap
    case pathsConvergenceGapStandardError, energyDistanceZScore
  }

  /// An evaluation with the given fields (see `evaluate` to measure one).
  public init(
    points: Int, pathsPerPoint: Int, negativeLogLikelihood: Double, negativeLogLikelihoodStandardError: Double,
    freeEnergy: Double, freeEnergyStandardError: Double, samples: Int, energyDistance: Double,
    energyDistanceNoiseFloor: Double, energyDistanceNoiseFloorSpread: Double, noiseFloorReplicates: Int,
    noiseFloorMethod: String, gaussianNegativeLogLikelihood: Double,
    gaussianEnergyDistance: Double, trueNegativeLogLikelihood: Double?, seconds: Double
  ) {
    self.points = points
    self.pathsPerPoint = pathsPerPoint
    self.negativeLogLikelihood = negativeLogLikelihood
    self.negativeLogLikelihoodStandardError = negativeLogLikelihoodStandardError
    self.freeEnergy = freeEnergy
    self.freeEnergyStandardError = freeEnergyStandardError
    self.samples = samples
    self.energyDistance = energyDistance
    self.energyDistanceNoiseFloor = energyDistanceNoiseFloor
    self.energyDistanceNoiseFloorSpread = energyDistanceNoiseFloorSpread
    self.noiseFloorReplicates = noiseFloorReplicates
    self.noiseFloorMethod = noiseFloorMethod
    self.gaussianNegativeLogLikelihood = gaussianNegativeLogLikelihood
    self.gaussianEnergyDistance = gaussianEnergyDistance
    self.trueNegativeLogLikelihood = trueNegativeLogLikelihood
    self.seconds = seconds
  }

  /// Splits the importance-weighted solves over processes: process `rank` of
  /// `size` runs every `size`-th solve (each solve's noise is seeded by its
  /// index), and `sum` adds equal-length vectors over the processes (e.g. an
  /// MPI ordered sum). Every process gets the same evaluation, whatever `size`.
  public struct Partition {
    /// This process, `0 ..< size`.
    public var rank: Int
    /// Number of processes.
    public var size: Int
    /// Element-wise sum of a vector over all processes, returned to each.
    public var sum: ([Double]) -> [Double]

    /// A partition for process `rank` of `size`.
    public init(rank: Int, size: Int, sum: @escaping ([Double]) -> [Double]) {
      self.rank = rank
      self.size = size
      self.sum = sum
    }
  }

  /// Where the data for an evaluation come from.
  public enum Reference<Scalar: SDEScalar> {
    /// A built-in dataset: the noise floor compares pairs of fresh independent
    /// draws of the evaluation sizes; the true density is known (except pinwheel).
    case dataset(ToyDataset)
    /// User data only: the noise floor compares random disjoint halves of the held-out data.
    case data
  }

  /// Evaluates `model` on `heldOut` (`B × D`).
  ///
  /// - Parameters:
  ///   - training: the data the Gaussian baseline is fitted to (the training set).
  ///   - grid: the solver grid the model was trained with.
  ///   - pathsPerPoint: K for the importance-weighted estimate (≥ 1000 recommended).
  ///   - samples: model samples for the energy distance.
  ///   - maxPathsPerSolve: points are evaluated in chunks of at most this many paths (memory bound).
  ///   - noiseFloorReplicates: pairs of null draws averaged for the noise floor.
  ///   - partition: splits the solves over processes (nil: this process does all).
  ///   - progress: called with the fraction of the importance-weighted solves done, after every step
  ///     of each solve's first chunk (from its thread).
  public static func evaluate<Scalar: SDEScalar>(
    _ model: NeuralSDEModel<Scalar>, heldOut: Matrix<Scalar>, training: Matrix<Scalar>,
    reference: Reference<Scalar>, grid: TimeGrid, pathsPerPoint k: Int = 1000, samples: Int = 1000,
    seed: UInt64 = 0, maxPathsPerSolve: Int = 65536, noiseFloorReplicates: Int = 20, chunks: Int? = nil,
    partition: Partition? = nil, progress: (@Sendable (Double) -> Void)? = nil
  ) throws -> ModelEvaluation {
    let clock = ContinuousClock()
    let start = clock.now
    guard heldOut.rows >= 2 else {
      throw NSDEError.invalidArgument("evaluation needs at least 2 held-out points, got \(heldOut.rows)")
    }
    guard k >= 1 else { throw NSDEError.invalidArgument("paths per point must be ≥ 1, got \(k)") }
    guard samples >= 2 else { throw NSDEError.invalidArgument("samples must be ≥ 2, got \(samples)") }
    guard noiseFloorReplicates >= 2 else {
      throw NSDEError.invalidArgument("noise-floor replicates must be ≥ 2, got \(noiseFloorReplicates)")
    }
    guard maxPathsPerSolve >= 1 else {
      throw NSDEError.invalidArgument("paths per solve must be ≥ 1, got \(maxPathsPerSolve)")
    }
    let b = heldOut.rows
    let pointsPerSolve = Swift.max(1, maxPathsPerSolve / k)
    var iw = [Double](repeating: 0, count: b)
    var iwTenth = [Double](repeating: 0, count: b)
    var fe = [Double](repeating: 0, count: b)
    var feVariance = 0.0
    let solves = (b + pointsPerSolve - 1) / pointsPerSolve
    let rank = partition?.rank ?? 0
    let size = Swift.max(partition?.size ?? 1, 1)
    var failure: Error?
    do {
      for solve in stride(from: rank, to: solves, by: size) {
        let first = solve * pointsPerSolve
        let last = Swift.min(first + pointsPerSolve, b)
        let chunk = heldOut.rows(first..<last).copy()
        let noise = PhiloxBrownianIncrements<Scalar>(
          seed: MinibatchSampler.mix(seed, UInt64(solve), 0xE7A1), dimension: model.noiseDimension)
        let steps = Double(grid.steps)
        let est = try model.variationalEstimates(
          data: chunk, noise: noise, grid: grid, pathsPerPoint: k, chunks: chunks,
          progress: progress.map { report in
            { @Sendable done in report((Double(solve) + Double(done) / steps) / Double(solves)) }
          })
        for (i, v) in est.importanceWeighted.perDataPoint.enumerated() { iw[first + i] = v }
        for (i, v) in est.importanceWeighted.perDataPointTenthOfPaths.enumerated() { iwTenth[first + i] = v }
        for (i, v) in est.freeEnergy.perDataPoint.enumerated() { fe[first + i] = v }
        let se = est.freeEnergy.standardError * Double(chunk.rows)
        feVariance += se * se
        progress?(Double(solve + 1) / Double(solves))
      }
    } catch {
      failure = error
    }
    if let partition {
      // Every process learns of a failure in the same collective (no process waits forever).
      let total = partition.sum(iw + fe + iwTenth + [feVariance, failure == nil ? 0 : 1])
      if total[3 * b + 1] > 0 {
        throw failure ?? NSDEError.invalidArgument("another process failed its share of the evaluation")
      }
      iw = Array(total[0..<b])
      fe = Array(total[b..<(2 * b)])
      iwTenth = Array(total[(2 * b)..<(3 * b)])
      feVariance = total[3 * b]
    } else if let failure {
      throw failure
    }
    func meanAndSE(_ v: [Double]) -> (Double, Double) {
      let mu = v.reduce(0, +) / Double(v.count)
      let s2 = v.map { ($0 - mu) * ($0 - mu) }.reduce(0, +) / Double(v.count - 1)
      return (mu, (s2 / Double(v.count)).squareRoot())
    }
    let (nll, nllSE) = meanAndSE(iw)
    let feMean = fe.reduce(0, +) / Double(b)
    // Energy distances, each side of every statistic at the same size n, the
    // null from the same sizes: built-in sets compare with fresh draws of
    // `samples` points (and the null is pairs of such draws); user data
    // compare with one random half of the held-out rows (n = half; the null
    // is the other half against it, averaged over the replicates' splits).
    let gaussian = try GaussianBaseline(fitting: training)
    let gaussianNLL = try gaussian.negativeLogDensity(heldOut).reduce(0, +) / Double(b)
    var nulls: [Double] = []
    var modelStatistics: [Double] = []
    var gaussianStatistics: [Double] = []
    let method: String
    var trueNLL: Double?
    let sampleCount: Int
    switch reference {
    case .dataset: sampleCount = samples
    case .data: sampleCount = b / 2
    }
    let drawn = try model.sample(
      count: sampleCount,
      noise: PhiloxBrownianIncrements<Scalar>(seed: seed &+ 101, dimension: model.noiseDimension), grid: grid,
      seed: seed &+ 102, chunks: chunks)
    let gaussianDrawn = gaussian.sample(count: sampleCount, seed: seed &+ 103, as: Scalar.self)
    switch reference {
    case .dataset(let set):
      let fresh = set.sample(count: sampleCount, seed: MinibatchSampler.mix(seed, 0, 0xF103), as: Scalar.self)
      modelStatistics.append(try NeuralSDE.energyDistance(drawn.observations, fresh))
      gaussianStatistics.append(try NeuralSDE.energyDistance(gaussianDrawn, fresh))
      for r in 0..<noiseFloorReplicates {
        let a = set.sample(count: sampleCount, seed: MinibatchSampler.mix(seed, UInt64(r), 0xF100), as: Scalar.self)
        let c = set.sample(count: sampleCount, seed: MinibatchSampler.mix(seed, UInt64(r), 0xF101), as: Scalar.self)
        nulls.append(try NeuralSDE.energyDistance(a, c))
      }
      method = "pairs of independent draws of \(sampleCount) points from \(set.rawValue)"
      trueNLL = set.negativeLogDensity(heldOut).map { $0.reduce(0, +) / Double(b) }
    case .data:
      for r in 0..<noiseFloorReplicates {
        let split = try DataSplit(heldOut, heldOutFraction: 0.5, seed: MinibatchSampler.mix(seed, UInt64(r), 0xF102))
        // The half of size ⌊b/2⌋ is the reference; the other (one more row when b is odd) trimmed to its size.
        let (ref, other) =
          split.heldOut.rows == sampleCount ? (split.heldOut, split.training) : (split.training, split.heldOut)
        let otherHalf = other.rows(0..<sampleCount).copy()
        nulls.append(try NeuralSDE.energyDistance(otherHalf, ref))
        modelStatistics.append(try NeuralSDE.energyDistance(drawn.observations, ref))
        gaussianStatistics.append(try NeuralSDE.energyDistance(gaussianDrawn, ref))
      }
      method =
        "one random half of the held-out data against the other (\(sampleCount) points each, \(noiseFloorReplicates) splits)"
    }
    let ed = modelStatistics.reduce(0, +) / Double(modelStatistics.count)
    let gaussianED = gaussianStatistics.reduce(0, +) / Double(gaussianStatistics.count)
    let floor = nulls.reduce(0, +) / Double(nulls.count)
    let spread = (nulls.map { ($0 - floor) * ($0 - floor) }.reduce(0, +) / Double(Swift.max(nulls.count - 1, 1)))
      .squareRoot()
    let elapsed = clock.now - start
    let (gap, gapSE) = meanAndSE(zip(iwTenth, iw).map { $0 - $1 })
    var evaluation = ModelEvaluation(
      points: b, pathsPerPoint: k, negativeLogLikelihood: nll, negativeLogLikelihoodStandardError: nllSE,
      freeEnergy: feMean, freeEnergyStandardError: feVariance.squareRoot() / Double(b), samples: sampleCount,
      energyDistance: ed, energyDistanceNoiseFloor: floor, energyDistanceNoiseFloorSpread: spread,
      noiseFloorReplicates: noiseFloorReplicates, noiseFloorMethod: method,
      gaussianNegativeLogLikelihood: gaussianNLL, gaussianEnergyDistance: gaussianED,
      trueNegativeLogLikelihood: trueNLL,
      seconds: elapsed.seconds)
    evaluation.dataDimension = heldOut.cols
    evaluation.negativeLogLikelihoodTenthOfPaths = iwTenth.reduce(0, +) / Double(b)
    evaluation.pathsConvergenceGap = gap
    evaluation.pathsConvergenceGapStandardError = gapSE
    evaluation.perPointNegativeLogLikelihood = iw
    evaluation.energyDistanceZScore = spread > 0 ? (ed - floor) / spread : .nan
    return evaluation
  }
}
