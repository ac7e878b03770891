/// A latent neural SDE: its networks and all their parameters in one flat
/// `ParameterVector` (docs/MODEL.md §2–3).
///
/// Parameter names follow docs/REFERENCE-PROBLEM.md's interchange conventions:
/// `drift.k.weight/bias`, `diffusion.k.*`, `posterior.k.*`, `decoder.k.*`
/// (PyTorch `nn.Linear` layout `[out, in]`, time as the last input column),
/// plus `x0` (learned initial state) and `decoder.log_std` (learned
/// likelihood scale) when configured.
public final class NeuralSDEModel<Scalar: SDEScalar>: @unchecked Sendable {
  /// The architecture.
  public let configuration: NeuralSDEConfiguration
  /// Drift `b(x, t; θ)`, bound to its parameters (`drift.*`).
  public let drift: BoundNetwork<Scalar>
  /// Diffusion `σ(x, t; θ)` (`diffusion.*`).
  public let diffusion: BoundNetwork<Scalar>
  /// Posterior control `b̃(y, t; β)` or `b̃(x, y, t; β)` (`posterior.*`).
  public let posteriorDrift: BoundNetwork<Scalar>
  /// Decoder of `p_θ(y | x)` (`decoder.*`).
  public let decoder: BoundNetwork<Scalar>
  /// The four networks in storage order: the one list that pairs each network
  /// with its parameter slice (layout, groups, initialisation and passes use it).
  public let networks: [BoundNetwork<Scalar>]
  /// All parameters, one contiguous buffer.
  public let parameters: ParameterVector<Scalar>

  /// Offset of the drift's parameters (`drift.offset`).
  public var driftOffset: Int { drift.offset }
  /// Offset of the diffusion network's parameters (`diffusion.offset`).
  public var diffusionOffset: Int { diffusion.offset }
  /// Offset of the posterior control network's parameters (`posteriorDrift.offset`).
  public var posteriorOffset: Int { posteriorDrift.offset }
  /// Offset of the decoder's parameters (`decoder.offset`).
  public var decoderOffset: Int { decoder.offset }
  /// Offset of `x0` (nil if fixed).
  public let initialStateOffset: Int?
  /// Offset of the likelihood's learned parameters, P contiguous values
  /// starting with `decoder.log_std` (nil if the likelihood has none).
  public let likelihoodParameterOffset: Int?
  /// P, the number of the likelihood's learned parameters (`Likelihood.parameterCount`).
  public var likelihoodParameterCount: Int { configuration.likelihood.parameterCount(dataDimension: dataDimension) }
  /// The diffusion's action for this noise type (the one place it is switched on).
  package let diffusionTerm: DiffusionTerm
  /// Solver workspaces reused between forward solves of this model.
  let solverCache = WorkspaceCache()

  /// Builds the networks and initialises the parameters from `seed`
  /// (PyTorch's default for the networks; `x0` and `log_std` from the configuration).
  /// - Throws: the configuration's validation errors.
  public init(_ configuration: NeuralSDEConfiguration, seed: UInt64 = 0) throws {
    try configuration.validate()
    let layout = configuration.parameterLayout()
    let count = layout.reduce(0) { $0 + $1.count }
    try MemoryLimit.check(
      SizeArithmetic.product(count, MemoryLayout<Scalar>.stride), for: "the model's \(count) parameters")
    self.configuration = configuration
    diffusionTerm = DiffusionTerm(configuration)
    let mlps = try configuration.networkArchitectures.map { (name: $0.name, mlp: try MLP<Scalar>($0.architecture)) }
    let offsets = mlps.map { n in layout.first { $0.name == "\(n.name).0.weight" }!.offset }
    initialStateOffset = layout.first { $0.name == "x0" }?.offset
    likelihoodParameterOffset = layout.first { $0.name == "decoder.log_std" }?.offset
    let parameters = try ParameterVector<Scalar>(layout: layout)
    self.parameters = parameters
    networks = mlps.enumerated().map { i, n in
      BoundNetwork(name: n.name, mlp: n.mlp, offset: offsets[i], parameters: parameters)
    }
    drift = networks[0]
    diffusion = networks[1]
    posteriorDrift = networks[2]
    decoder = networks[3]
    try initialize(seed: seed)
  }

  /// Re-initialises every parameter from `seed`.
  public func initialize(seed: UInt64) throws {
    let p = parameters.base
    for (i, n) in networks.enumerated() {
      try n.mlp.initialize(.init(start: n.theta, count: n.mlp.parameterCount), seed: seed &+ UInt64(i + 1))
    }
    if let o = initialStateOffset {
      for (i, v) in configuration.initialState.value.enumerated() { p[o + i] = Scalar(v) }
    }
    if let o = likelihoodParameterOffset {
      let dims = configuration.dataDimension
      switch configuration.likelihood {
      case .gaussianLearnedStd(let s), .gaussianScaleMixture(let s):
        for i in 0..<dims { p[o + i] = Scalar(Double.log(s)) }
      case .gaussian, .bernoulli: break
      }
      if case .gaussianScaleMixture = configuration.likelihood {
        // c = 0; π_0 = 0.9, the other Q − 1 scales share 0.1.
        for i in 0..<dims { p[o + dims + i] = 0 }
        let q = Likelihood.scaleMixtureScales.count
        let rest = Double.log(0.1 / Double(q - 1) / 0.9)
        for i in 0..<q { p[o + 2 * dims + i] = Scalar(i == 0 ? 0 : rest) }
      }
    }
  }

  /// Latent dimension d.
  public var latentDimension: Int { configuration.latentDimension }
  /// Noise dimension m.
  public var noiseDimension: Int { configuration.noiseDimension }
  /// Data dimension D.
  public var dataDimension: Int { configuration.dataDimension }
  /// Number of parameters (all networks, x_0, log-std).
  public var parameterCount: Int { parameters.count }

  /// Rows each network's pass runs on, in `networks` order, for a solve of
  /// `points` data points and `paths` paths: drift and decoder on every path,
  /// the diffusion on every path (one shared row if additive), the control on
  /// every path with feedback, else once per data point (at least one row).
  package func networkRows(points: Int, paths: Int) -> [Int] {
    let feedback = configuration.posteriorControl == .feedback && points > 0
    return [paths, diffusionTerm.rows(forPaths: paths), feedback ? paths : Swift.max(points, 1), paths]
  }

  /// Whether each network's VJP needs its input gradient, in `networks` order:
  /// not the additive diffusion's (σ does not read x) nor the mean-field control's.
  package var needsInputGradient: [Bool] {
    [true, !diffusionTerm.isAdditive, configuration.posteriorControl == .feedback, true]
  }

  /// The initial state `x_0` (learned or fixed), d values.
  public func initialState() -> [Scalar] {
    if let o = initialStateOffset { return (0..<latentDimension).map { parameters.base[o + $0] } }
    return configuration.initialState.value.map { Scalar($0) }
  }

  /// Slices of `parameters` by network, for optimisers and estimators that
  /// treat groups separately.
  public var parameterGroups: [(name: String, range: Range<Int>)] {
    var g: [(String, Range<Int>)] = networks.map { ($0.name, $0.range) }
    if let o = initialStateOffset { g.append(("x0", o..<(o + latentDimension))) }
    if var o = likelihoodParameterOffset {
      for (name, count) in configuration.likelihood.parameterLayout(dataDimension: dataDimension) {
        g.append((name, o..<(o + count)))
        o += count
      }
    }
    return g
  }
}
