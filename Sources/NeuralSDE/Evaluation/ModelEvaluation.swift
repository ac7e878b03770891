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
  public var noiseFloorMethod: NoiseFloorMethod
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

  /// Where the energy distance's null comes from.
  public enum NoiseFloorMethod: String, Sendable, Codable, CustomStringConvertible {
    /// Pairs of independent fresh draws of `samples` points from the built-in data set.
    case freshDraws = "fresh-draws"
    /// One random half of the held-out data against the other, over `noiseFloorReplicates` splits.
    case heldOutHalves = "held-out-halves"

    /// The method in words.
    public var description: String {
      switch self {
      case .freshDraws: return "pairs of independent fresh draws from the data set"
      case .heldOutHalves: return "random halves of the held-out data, one against the other"
      }
    }
  }

  /// How an evaluation is run (`evaluate`).
  public struct Options {
    /// K for the importance-weighted estimate (≥ 1000 recommended).
    public var pathsPerPoint = 1000
    /// Model samples for the energy distance (built-in sets; user data use half the held-out rows).
    public var samples = 1000
    /// Seed of the noise, the samples and the null draws.
    public var seed: UInt64 = 0
    /// Points are evaluated in chunks of at most this many paths (memory bound).
    public var maxPathsPerSolve = 65536
    /// Pairs of null draws averaged for the noise floor (≥ 2).
    public var noiseFloorReplicates = 20
    /// Row chunks of each solve run concurrently (default: one per core).
    public var chunks: Int?
    /// Splits the solves over processes (nil: this process does all).
    public var partition: Partition?
    /// Called with the fraction of the importance-weighted solves done, after
    /// every step of each solve's first chunk (from its thread).
    public var progress: (@Sendable (Double) -> Void)?

    /// Options with the defaults above, overridden where given.
    public init(
      pathsPerPoint: Int = 1000, samples: Int = 1000, seed: UInt64 = 0, maxPathsPerSolve: Int = 65536,
      noiseFloorReplicates: Int = 20, chunks: Int? = nil, partition: Partition? = nil,
      progress: (@Sendable (Double) -> Void)? = nil
    ) {
      self.pathsPerPoint = pathsPerPoint
      self.samples = samples
      self.seed = seed
      self.maxPathsPerSolve = maxPathsPerSolve
      self.noiseFloorReplicates = noiseFloorReplicates
      self.chunks = chunks
      self.partition = partition
      self.progress = progress
    }

    /// - Throws: `invalidArgument` naming the first option out of range.
    func validate() throws {
      guard pathsPerPoint >= 1 else {
        throw NSDEError.invalidArgument("paths per point must be ≥ 1, got \(pathsPerPoint)")
      }
      guard samples >= 2 else { throw NSDEError.invalidArgument("samples must be ≥ 2, got \(samples)") }
      guard noiseFloorReplicates >= 2 else {
        throw NSDEError.invalidArgument("noise-floor replicates must be ≥ 2, got \(noiseFloorReplicates)")
      }
      guard maxPathsPerSolve >= 1 else {
        throw NSDEError.invalidArgument("paths per solve must be ≥ 1, got \(maxPathsPerSolve)")
      }
    }
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
  public enum Reference: Sendable {
    /// A built-in dataset: the noise floor compares pairs of fresh independent
    /// draws of the evaluation sizes; the true density is known (except pinwheel).
    case dataset(ToyDataset)
    /// User data only: the noise floor compares random disjoint halves of the held-out data.
    case data
  }

  /// Evaluates `model` on `heldOut` (`B × D`): the importance-weighted
  /// `−log p̂` and `F̂` per point, then the energy distances and baselines.
  ///
  /// - Parameters:
  ///   - model: the trained model.
  ///   - heldOut: the evaluation data, `B × D` (B ≥ 2).
  ///   - training: the data the Gaussian baseline is fitted to (the training set).
  ///   - reference: a built-in data set (fresh draws for the null, the true density) or user data.
  ///   - grid: the solver grid the model was trained with.
  ///   - options: paths, samples, seed, memory bound, null replicates, chunks, processes, progress.
  public static func evaluate<Scalar: SDEScalar>(
    _ model: NeuralSDEModel<Scalar>, heldOut: Matrix<Scalar>, training: Matrix<Scalar>, reference: Reference,
    grid: TimeGrid, options: Options = Options()
  ) throws -> ModelEvaluation {
    let clock = ContinuousClock()
    let start = clock.now
    guard heldOut.rows >= 2 else {
      throw NSDEError.invalidArgument("evaluation needs at least 2 held-out points, got \(heldOut.rows)")
    }
    try options.validate()
    let b = heldOut.rows
    let perPoint = try importanceWeighted(model, heldOut: heldOut, grid: grid, options: options)
    func meanAndSE(_ v: [Double]) -> (Double, Double) {
      let mu = v.reduce(0, +) / Double(v.count)
      let s2 = v.map { ($0 - mu) * ($0 - mu) }.reduce(0, +) / Double(v.count - 1)
      return (mu, (s2 / Double(v.count)).squareRoot())
    }
    var e = ModelEvaluation()
    e.points = b
    e.pathsPerPoint = options.pathsPerPoint
    (e.negativeLogLikelihood, e.negativeLogLikelihoodStandardError) = meanAndSE(perPoint.iw)
    e.freeEnergy = perPoint.fe.reduce(0, +) / Double(b)
    e.freeEnergyStandardError = perPoint.feVariance.squareRoot() / Double(b)
    e.dataDimension = heldOut.cols
    e.negativeLogLikelihoodTenthOfPaths = perPoint.iwTenth.reduce(0, +) / Double(b)
    (e.pathsConvergenceGap, e.pathsConvergenceGapStandardError) = meanAndSE(
      zip(perPoint.iwTenth, perPoint.iw).map { $0 - $1 })
    e.perPointNegativeLogLikelihood = perPoint.iw
    try e.measureEnergyDistances(
      model, heldOut: heldOut, training: training, reference: reference, grid: grid, options: options)
    e.seconds = (clock.now - start).seconds
    return e
  }

  /// An evaluation with nothing measured yet (`evaluate` fills it in).
  init() {
    points = 0
    pathsPerPoint = 0
    negativeLogLikelihood = .nan
    negativeLogLikelihoodStandardError = .nan
    freeEnergy = .nan
    freeEnergyStandardError = .nan
    samples = 0
    energyDistance = .nan
    energyDistanceNoiseFloor = .nan
    energyDistanceNoiseFloorSpread = .nan
    noiseFloorReplicates = 0
    noiseFloorMethod = .freshDraws
    gaussianNegativeLogLikelihood = .nan
    gaussianEnergyDistance = .nan
    seconds = 0
  }

  /// Each held-out point's importance-weighted `−log p̂` at K and K/10 paths
  /// and its `F̂`, with `F̂`'s summed variance, in chunks of at most
  /// `maxPathsPerSolve` paths (solve s seeded by s), split over processes.
  static func importanceWeighted<Scalar: SDEScalar>(
    _ model: NeuralSDEModel<Scalar>, heldOut: Matrix<Scalar>, grid: TimeGrid, options: Options
  ) throws -> (iw: [Double], iwTenth: [Double], fe: [Double], feVariance: Double) {
    let b = heldOut.rows
    let k = options.pathsPerPoint
    let pointsPerSolve = Swift.max(1, options.maxPathsPerSolve / k)
    var iw = [Double](repeating: 0, count: b)
    var iwTenth = [Double](repeating: 0, count: b)
    var fe = [Double](repeating: 0, count: b)
    var feVariance = 0.0
    let solves = (b + pointsPerSolve - 1) / pointsPerSolve
    let partition = options.partition
    let progress = options.progress
    let rank = partition?.rank ?? 0
    let size = Swift.max(partition?.size ?? 1, 1)
    var failure: Error?
    do {
      for solve in stride(from: rank, to: solves, by: size) {
        let first = solve * pointsPerSolve
        let last = Swift.min(first + pointsPerSolve, b)
        let chunk = heldOut.rows(first..<last).copy()
        let noise = PhiloxBrownianIncrements<Scalar>(
          seed: SeedHash.mix(options.seed, UInt64(solve), 0xE7A1), dimension: model.noiseDimension)
        let steps = Double(grid.steps)
        let est = try model.variationalEstimates(
          data: chunk, noise: noise, grid: grid, pathsPerPoint: k, chunks: options.chunks,
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
    return (iw, iwTenth, fe, feVariance)
  }

  /// The energy distances of the model and the Gaussian baseline, their null
  /// and z-score, each side of every statistic at the same size n, the null
  /// from the same sizes: built-in sets compare with fresh draws of
  /// `samples` points (and the null is pairs of such draws); user data
  /// compare with one random half of the held-out rows (n = half; the null
  /// is the other half against it, averaged over the replicates' splits).
  /// Also the Gaussian's and (built-in sets) the data's own held-out `−log p`.
  mutating func measureEnergyDistances<Scalar: SDEScalar>(
    _ model: NeuralSDEModel<Scalar>, heldOut: Matrix<Scalar>, training: Matrix<Scalar>, reference: Reference,
    grid: TimeGrid, options: Options
  ) throws {
    let b = heldOut.rows
    let seed = options.seed
    let replicates = options.noiseFloorReplicates
    let gaussian = try GaussianBaseline(fitting: training)
    gaussianNegativeLogLikelihood = try gaussian.negativeLogDensity(heldOut).reduce(0, +) / Double(b)
    var nulls: [Double] = []
    var modelStatistics: [Double] = []
    var gaussianStatistics: [Double] = []
    switch reference {
    case .dataset: samples = options.samples
    case .data: samples = b / 2
    }
    let n = samples
    let drawn = try model.sample(
      count: n, noise: PhiloxBrownianIncrements<Scalar>(seed: seed &+ 101, dimension: model.noiseDimension),
      grid: grid, seed: seed &+ 102, chunks: options.chunks)
    let gaussianDrawn = gaussian.sample(count: n, seed: seed &+ 103, as: Scalar.self)
    switch reference {
    case .dataset(let set):
      let fresh = set.sample(count: n, seed: SeedHash.mix(seed, 0, 0xF103), as: Scalar.self)
      modelStatistics.append(try NeuralSDE.energyDistance(drawn.observations, fresh))
      gaussianStatistics.append(try NeuralSDE.energyDistance(gaussianDrawn, fresh))
      for r in 0..<replicates {
        let a = set.sample(count: n, seed: SeedHash.mix(seed, UInt64(r), 0xF100), as: Scalar.self)
        let c = set.sample(count: n, seed: SeedHash.mix(seed, UInt64(r), 0xF101), as: Scalar.self)
        nulls.append(try NeuralSDE.energyDistance(a, c))
      }
      noiseFloorMethod = .freshDraws
      trueNegativeLogLikelihood = set.negativeLogDensity(heldOut).map { $0.reduce(0, +) / Double(b) }
    case .data:
      for r in 0..<replicates {
        let split = try DataSplit(heldOut, heldOutFraction: 0.5, seed: SeedHash.mix(seed, UInt64(r), 0xF102))
        // The half of size ⌊b/2⌋ is the reference; the other (one more row when b is odd) trimmed to its size.
        let (ref, other) = split.heldOut.rows == n ? (split.heldOut, split.training) : (split.training, split.heldOut)
        nulls.append(try NeuralSDE.energyDistance(other.rows(0..<n).copy(), ref))
        modelStatistics.append(try NeuralSDE.energyDistance(drawn.observations, ref))
        gaussianStatistics.append(try NeuralSDE.energyDistance(gaussianDrawn, ref))
      }
      noiseFloorMethod = .heldOutHalves
    }
    noiseFloorReplicates = replicates
    energyDistance = modelStatistics.reduce(0, +) / Double(modelStatistics.count)
    gaussianEnergyDistance = gaussianStatistics.reduce(0, +) / Double(gaussianStatistics.count)
    let floor = nulls.reduce(0, +) / Double(nulls.count)
    energyDistanceNoiseFloor = floor
    energyDistanceNoiseFloorSpread =
      (nulls.map { ($0 - floor) * ($0 - floor) }.reduce(0, +) / Double(Swift.max(nulls.count - 1, 1))).squareRoot()
    energyDistanceZScore =
      energyDistanceNoiseFloorSpread > 0 ? (energyDistance - floor) / energyDistanceNoiseFloorSpread : .nan
  }
}
