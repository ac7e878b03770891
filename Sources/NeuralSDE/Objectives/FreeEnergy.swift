/// The Monte Carlo free energy `F̂` (docs/MODEL.md §3, §6) over a batch of data points:
///
///     F̂(y_b) = (1/K) Σ_k [ ½ Σ_i h_i ‖u_i^{(b,k)}‖²  −  log p_θ(y_b | X_N^{(b,k)}) ]
///
/// with `u_i = b̃(y_b, t_i)` (mean-field: the KL term is the same on every path)
/// or `u_i = b̃(X_i, y_b, t_i)` (feedback);
/// an upper bound on `−log p_θ(y_b)` of the N-layer DLGM, in nats.
public struct FreeEnergyEstimate: Sendable, Codable {
  /// Mean of `F̂` over the batch.
  public var mean: Double
  /// `F̂(y_b)` per data point.
  public var perDataPoint: [Double]
  /// Monte Carlo standard error of `mean`: `√(Σ_b s_b²/K)/B` with `s_b²` the
  /// sample variance of the K reconstruction terms of point b (for K = 1, the
  /// variance across all paths is used instead).
  public var standardError: Double
  /// KL term per data point (averaged over its paths).
  public var kl: [Double]
  /// Mean reconstruction term `(1/K) Σ_k ℓ` per data point.
  public var reconstruction: [Double]
}

/// The importance-weighted estimate of `−log p_θ(y)` with K paths per point
/// (the Girsanov weight of the deterministic control as the proposal ratio):
///
///     −log p̂(y_b) = −log (1/K) Σ_k exp(log w_k − ℓ_k),   log w_k = −Σ_i b̃_i·ΔW_i − ½ Σ_i h_i ‖b̃_i‖²
///
/// In expectation it lies between `−log p(y)` and `F̂`, and tends to `−log p(y)` as K grows.
public struct ImportanceWeightedEstimate: Sendable, Codable {
  /// Mean over the batch.
  public var mean: Double
  /// The estimate per data point.
  public var perDataPoint: [Double]
  /// The same estimate from each point's first `max(1, K/10)` paths: how far
  /// the estimate still moves with the number of paths (converged when the
  /// two agree within their paired standard error).
  public var perDataPointTenthOfPaths: [Double]
}

/// Both variational estimates from one solve.
public struct VariationalEstimates: Sendable, Codable {
  /// The free energy `F̂`.
  public var freeEnergy: FreeEnergyEstimate
  /// The importance-weighted estimate of `−log p(y)`.
  public var importanceWeighted: ImportanceWeightedEstimate
}

/// Samples of the generative model: latent `X_N` and observations `y ~ p_θ(y | X_N)`.
public struct GenerativeSamples<Scalar: SDEScalar>: @unchecked Sendable {
  /// `count × d`.
  public var latent: Matrix<Scalar>
  /// Decoder outputs (Gaussian means or Bernoulli logits), `count × D`.
  public var decoded: Matrix<Scalar>
  /// `count × D`.
  public var observations: Matrix<Scalar>
  /// Latent states at the requested steps (`recordSteps`), each `count × d`.
  public var trajectory: [Matrix<Scalar>] = []
}

extension NeuralSDEModel {
  /// `F̂` and the importance-weighted estimate on the same paths.
  ///
  /// - Parameters:
  ///   - data: `B × D`.
  ///   - noise: increments for `grid.steps` steps and `M = B·K` paths.
  ///   - grid: the solver's time grid (N steps).
  ///   - k: K, paths per data point.
  ///   - chunks: row chunks run concurrently (default: one per core).
  ///   - affineControl: a control to use in place of the model's posterior network.
  ///   - scheme: the step scheme (default: Euler–Maruyama).
  ///   - progress: called after each step of the first chunk with the steps done (`SolveOptions.progress`).
  public func variationalEstimates<Noise: BrownianIncrements>(
    data: Matrix<Scalar>, noise: Noise, grid: TimeGrid, pathsPerPoint k: Int, chunks: Int? = nil,
    affineControl: AffineFeedbackControl? = nil, scheme: any StepScheme = EulerMaruyama(),
    progress: (@Sendable (_ stepsDone: Int) -> Void)? = nil
  ) throws -> VariationalEstimates where Noise.Scalar == Scalar {
    let solve = try scheme.solvePosterior(
      self, data: data, noise: noise,
      options: .init(grid: grid, pathsPerPoint: k, chunks: chunks, affineControl: affineControl, progress: progress))
    let nll = try reconstructionTerms(finalStates: solve.finalStates, data: data, pathsPerPoint: k)
    return Self.estimates(
      klPerPath: solve.klPerPath, klPerPoint: solve.klPerPoint, reconstruction: nll, logWeights: solve.logWeights,
      points: data.rows, pathsPerPoint: k)
  }

  /// `F̂` and the importance-weighted estimate on the same paths with the
  /// likelihood read along the path (`observations`, docs/MODEL.md §7):
  /// `ℓ_p = Σ_j −log p_θ(y_j | X_{i(j)})` over the observed entries; `data`
  /// conditions the control (`B × D`, as for the static model).
  public func variationalEstimates<Noise: BrownianIncrements>(
    data: Matrix<Scalar>, observations: PathObservations<Scalar>, noise: Noise, grid: BatchGrid,
    pathsPerPoint k: Int, chunks: Int? = nil, affineControl: AffineFeedbackControl? = nil,
    scheme: any StepScheme = EulerMaruyama()
  ) throws -> VariationalEstimates where Noise.Scalar == Scalar {
    try observations.check(points: data.rows, model: self, gridSteps: grid.steps)
    let steps = observations.schedule.steps
    let solve = try scheme.solvePosterior(
      self, data: data, noise: noise,
      options: .init(
        grid: grid.grid(point: 0), pathsPerPoint: k, recordSteps: steps, chunks: chunks,
        affineControl: affineControl),
      grid: grid, observations: observations)
    let nll = try observationTerms(recorded: solve.recorded, observations: observations, pathsPerPoint: k)
    return Self.estimates(
      klPerPath: solve.klPerPath, klPerPoint: solve.klPerPoint, reconstruction: nll, logWeights: solve.logWeights,
      points: data.rows, pathsPerPoint: k)
  }

  /// `F̂`, its standard error and the importance-weighted estimate from the
  /// per-path terms `KL_p`, `ℓ_p` and `log w_p` of `points·K` paths (and the
  /// solve's KL per point, reported as is).
  static func estimates(
    klPerPath kl: [Double], klPerPoint: [Double], reconstruction nll: [Double], logWeights: [Double], points b: Int,
    pathsPerPoint k: Int
  ) -> VariationalEstimates {
    var perPoint = [Double](repeating: 0, count: b)
    var recon = [Double](repeating: 0, count: b)
    var iw = [Double](repeating: 0, count: b)
    var iwTenth = [Double](repeating: 0, count: b)
    let tenth = Swift.max(1, k / 10)
    var varianceSum = 0.0
    for q in 0..<b {
      let paths = (q * k)..<((q + 1) * k)
      let terms = paths.map { kl[$0] + nll[$0] }
      let mean = terms.reduce(0, +) / Double(k)
      recon[q] = paths.map { nll[$0] }.reduce(0, +) / Double(k)
      perPoint[q] = mean
      if k > 1 { varianceSum += terms.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(k - 1) / Double(k) }
      let logTerms = paths.map { logWeights[$0] - nll[$0] }
      iw[q] = -(logSumExp(logTerms).value - Double.log(Double(k)))
      iwTenth[q] = -(logSumExp(Array(logTerms.prefix(tenth))).value - Double.log(Double(tenth)))
    }
    let mean = perPoint.reduce(0, +) / Double(b)
    var se: Double
    if k > 1 {
      se = varianceSum.squareRoot() / Double(b)
    } else {
      let all = (0..<(b * k)).map { kl[$0] + nll[$0] }
      let mu = all.reduce(0, +) / Double(all.count)
      let v = all.count > 1 ? all.map { ($0 - mu) * ($0 - mu) }.reduce(0, +) / Double(all.count - 1) : 0
      se = (v / Double(all.count)).squareRoot()
    }
    return VariationalEstimates(
      freeEnergy: FreeEnergyEstimate(
        mean: mean, perDataPoint: perPoint, standardError: se, kl: klPerPoint, reconstruction: recon),
      importanceWeighted: ImportanceWeightedEstimate(
        mean: iw.reduce(0, +) / Double(b), perDataPoint: iw, perDataPointTenthOfPaths: iwTenth))
  }

  /// The free energy `F̂` (see `FreeEnergyEstimate`).
  public func freeEnergy<Noise: BrownianIncrements>(
    data: Matrix<Scalar>, noise: Noise, grid: TimeGrid, pathsPerPoint k: Int, chunks: Int? = nil
  ) throws -> FreeEnergyEstimate where Noise.Scalar == Scalar {
    try variationalEstimates(data: data, noise: noise, grid: grid, pathsPerPoint: k, chunks: chunks).freeEnergy
  }

  /// The importance-weighted estimate of `−log p(y)` (see `ImportanceWeightedEstimate`).
  public func importanceWeightedNegativeLogLikelihood<Noise: BrownianIncrements>(
    data: Matrix<Scalar>, noise: Noise, grid: TimeGrid, pathsPerPoint k: Int, chunks: Int? = nil
  ) throws -> ImportanceWeightedEstimate where Noise.Scalar == Scalar {
    try variationalEstimates(data: data, noise: noise, grid: grid, pathsPerPoint: k, chunks: chunks)
      .importanceWeighted
  }

  /// `ℓ_p = Σ_j −log p_θ(y_j | X_{i(j)}^{(p)})` over the observed entries for
  /// every path p, from the states `recorded` at the schedule's steps
  /// (`points·K` rows each, the observations' points in order).
  func observationTerms(
    recorded: [Matrix<Scalar>], observations: PathObservations<Scalar>, pathsPerPoint k: Int
  ) throws -> [Double] {
    let points = observations.values[0].rows
    var nll = [Double](repeating: 0, count: points * k)
    let ws = decoder.makeWorkspace(rows: points * k)
    for o in observations.schedule.steps.indices {
      let (values, mask) = observations.rows(o, 0..<points)
      let terms = try decoderNegativeLogLikelihood(
        states: recorded[o].view, data: values, pathsPerPoint: k, workspace: ws, mask: mask)
      for p in nll.indices { nll[p] += terms[p] }
    }
    return nll
  }

  /// `ℓ = −log p_θ(y_{⌊r/K⌋} | X_N^{(r)})` for every path r.
  func reconstructionTerms(finalStates: Matrix<Scalar>, data: Matrix<Scalar>, pathsPerPoint k: Int) throws -> [Double] {
    try decoderNegativeLogLikelihood(
      states: finalStates.view, data: data.view, pathsPerPoint: k,
      workspace: decoder.makeWorkspace(rows: finalStates.rows))
  }

  /// Runs the decoder on `states` (`rows × d`, kept in `workspace` for its
  /// VJP/JVP) and returns `ℓ_r = −log p_θ(y_{⌊r/K⌋} | X^{(r)})` per row;
  /// `gradient` (`rows × D`) and `parameterGradient` (`rows × P`), if given, receive
  /// `∂ℓ_r/∂decoded_r` and `∂ℓ_r/∂(likelihood parameters)` (one evaluation gives value and gradients).
  /// - Throws: `nonFinite` with the number of paths whose loss is NaN/Inf.
  func decoderNegativeLogLikelihood(
    states: MatrixView<Scalar>, data: MatrixView<Scalar>, pathsPerPoint k: Int, workspace: MLPWorkspace<Scalar>,
    gradient: MatrixView<Scalar>? = nil, parameterGradient: MatrixView<Scalar>? = nil, mask: MatrixView<Scalar>? = nil
  ) throws -> [Double] {
    decoder.forwardUnchecked(states, time: 0, workspace: workspace)
    var out = [Scalar](repeating: 0, count: states.rows)
    let learned = likelihoodParameterOffset.map { UnsafePointer(parameters.base + $0) }
    out.withUnsafeMutableBufferPointer { o in
      configuration.likelihood.negativeLogLikelihood(
        decoded: workspace.output, data: data, pathsPerPoint: k, parameters: learned, into: o.baseAddress!,
        gradient: gradient, parameterGradient: parameterGradient, mask: mask)
    }
    let bad = out.filter { !$0.isFinite }.count
    guard bad == 0 else { throw NSDEError.nonFinite("the reconstruction loss is NaN/Inf for \(bad) path(s)") }
    return out.map(Double.init)
  }

  /// Draws `count` samples from the generative model: the prior SDE from
  /// `x_0`, the decoder, then `y ~ p_θ(y | X_N)` with likelihood noise from `seed`.
  /// `recordSteps` (indices `0…N`) selects latent states to return as
  /// trajectories; `scheme` is the step scheme (default: Euler–Maruyama).
  public func sample<Noise: BrownianIncrements>(
    count: Int, noise: Noise, grid: TimeGrid, seed: UInt64, recordSteps: [Int] = [], chunks: Int? = nil,
    scheme: any StepScheme = EulerMaruyama()
  ) throws -> GenerativeSamples<Scalar> where Noise.Scalar == Scalar {
    let solve = try scheme.solvePrior(
      self, paths: count, noise: noise, options: .init(grid: grid, recordSteps: recordSteps, chunks: chunks))
    var rng = SplitMix64(seed: seed)
    let (decoded, y) = observationDraws(states: solve.finalStates.view, rng: &rng)
    return GenerativeSamples(latent: solve.finalStates, decoded: decoded, observations: y, trajectory: solve.recorded)
  }

  /// The decoder's outputs at `states` (`rows × d`) and one draw `y ~ p_θ(y | X)` per row.
  func observationDraws(states: MatrixView<Scalar>, rng: inout SplitMix64) -> (
    decoded: Matrix<Scalar>, observations: Matrix<Scalar>
  ) {
    let ws = decoder.makeWorkspace(rows: states.rows)
    decoder.forwardUnchecked(states, time: 0, workspace: ws)
    let decoded = ws.output.copy()
    let learned = likelihoodParameterOffset.map { o in (0..<likelihoodParameterCount).map { parameters.base[o + $0] } }
    return (decoded, configuration.likelihood.sample(decoded: decoded.view, parameters: learned, rng: &rng))
  }

  /// Self-normalised importance weights `w_p ∝ exp(log w_p − ℓ_p)` over the paths `paths`, summing to 1.
  static func normalisedWeights(logWeights: [Double], reconstruction nll: [Double], paths: Range<Int>) -> [Double] {
    logSumExp(paths.map { logWeights[$0] - nll[$0] }).softmax
  }

  /// Paths of the posterior (controlled) SDE, K per data point: the model's
  /// posterior control (mean-field or feedback) or a given affine control
  /// drives `X`, and every path carries its self-normalised importance weight,
  /// so that `Σ_k w_k f(X_N^{(b,k)})` estimates `E[f(X_1) | y_b]` (consistent as K grows).
  ///
  /// - Parameters:
  ///   - data: `B × D`; path `b·K + k` belongs to point b.
  ///   - k: K, paths per data point.
  ///   - noise: increments for `grid.steps` steps and `M = B·K` paths.
  ///   - grid: the solver's time grid (N steps).
  ///   - recordSteps: latent states (indices `0…N`) to return as trajectories.
  ///   - affineControl: a control to use in place of the model's posterior network.
  ///   - chunks: row chunks run concurrently (default: one per core).
  ///   - scheme: the step scheme (default: Euler–Maruyama).
  public func samplePosterior<Noise: BrownianIncrements>(
    data: Matrix<Scalar>, pathsPerPoint k: Int, noise: Noise, grid: TimeGrid, recordSteps: [Int] = [],
    affineControl: AffineFeedbackControl? = nil, chunks: Int? = nil, scheme: any StepScheme = EulerMaruyama()
  ) throws -> PosteriorSamples<Scalar> where Noise.Scalar == Scalar {
    let solve = try scheme.solvePosterior(
      self, data: data, noise: noise,
      options: .init(
        grid: grid, pathsPerPoint: k, recordSteps: recordSteps, chunks: chunks, affineControl: affineControl))
    let nll = try reconstructionTerms(finalStates: solve.finalStates, data: data, pathsPerPoint: k)
    var weights = [Double](repeating: 0, count: nll.count)
    for q in 0..<data.rows {
      let paths = (q * k)..<((q + 1) * k)
      let softmax = Self.normalisedWeights(logWeights: solve.logWeights, reconstruction: nll, paths: paths)
      for (j, p) in paths.enumerated() { weights[p] = softmax[j] }
    }
    return PosteriorSamples(
      latent: solve.finalStates, trajectory: solve.recorded, weights: weights, klPerPath: solve.klPerPath)
  }
}

/// Paths of the posterior SDE (see `NeuralSDEModel.samplePosterior`).
public struct PosteriorSamples<Scalar: SDEScalar>: @unchecked Sendable {
  /// `X_N`, `(B·K) × d`.
  public var latent: Matrix<Scalar>
  /// The recorded states, each `(B·K) × d`, in the order of `recordSteps`.
  public var trajectory: [Matrix<Scalar>]
  /// Self-normalised importance weights `w_p ∝ exp(log w_p − ℓ_p)`, summing to 1 over each point's K paths.
  public var weights: [Double]
  /// The KL term `½ Σ_i h_i ‖u_i‖²` of each path.
  public var klPerPath: [Double]
}
