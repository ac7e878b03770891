/// A latent neural SDE: its networks and all their parameters in one flat
/// `ParameterVector` (docs/MODEL.md §2–3).
///
/// Parameter names follow docs/BENCHMARK.md's interchange conventions:
/// `drift.k.weight/bias`, `diffusion.k.*`, `posterior.k.*`, `decoder.k.*`
/// (PyTorch `nn.Linear` layout `[out, in]`, time as the last input column),
/// plus `x0` (learned initial state) and `decoder.log_std` (learned
/// likelihood scale) when configured.
public final class NeuralSDEModel<Scalar: BLASScalar>: @unchecked Sendable {
  /// The architecture.
  public let configuration: NeuralSDEConfiguration
  /// Drift `b(x, t; θ)`.
  public let drift: MLP<Scalar>
  /// Diffusion `σ(x, t; θ)`.
  public let diffusion: MLP<Scalar>
  /// Posterior drift `b̃(y, t; β)`.
  public let posteriorDrift: MLP<Scalar>
  /// Decoder of `p_θ(y | x)`.
  public let decoder: MLP<Scalar>
  /// All parameters, one contiguous buffer.
  public let parameters: ParameterVector<Scalar>

  /// Offsets of each part inside `parameters`.
  public let driftOffset: Int
  /// Offset of the diffusion network's parameters.
  public let diffusionOffset: Int
  /// Offset of the posterior control network's parameters.
  public let posteriorOffset: Int
  /// Offset of the decoder's parameters.
  public let decoderOffset: Int
  /// Offset of `x0` (nil if fixed) and of `decoder.log_std` (nil unless learned).
  public let initialStateOffset: Int?
  /// Offset of `decoder.log_std` (nil unless the std is learned).
  public let logStdOffset: Int?
  /// The diffusion's action for this noise type (the one place it is switched on).
  let diffusionTerm: DiffusionTerm
  /// Solver workspaces reused between forward solves of this model.
  let solverCache = WorkspaceCache()

  /// Builds the networks and initialises the parameters from `seed`
  /// (PyTorch's default for the networks; `x0` and `log_std` from the configuration).
  /// - Throws: the configuration's validation errors.
  public init(_ configuration: NeuralSDEConfiguration, seed: UInt64 = 0) throws {
    try configuration.validate()
    self.configuration = configuration
    diffusionTerm = DiffusionTerm(configuration)
    drift = try MLP(configuration.drift)
    diffusion = try MLP(configuration.diffusion)
    posteriorDrift = try MLP(configuration.posteriorDrift)
    decoder = try MLP(configuration.decoder)
    var layout: [ParameterSlice] = []
    var offset = 0
    func add(_ mlp: MLP<Scalar>, _ prefix: String) -> Int {
      let start = offset
      layout += mlp.parameterLayout(prefix: prefix).map { $0.shifted(by: start) }
      offset += mlp.parameterCount
      return start
    }
    driftOffset = add(drift, "drift")
    diffusionOffset = add(diffusion, "diffusion")
    posteriorOffset = add(posteriorDrift, "posterior")
    decoderOffset = add(decoder, "decoder")
    if case .learned = configuration.initialState {
      initialStateOffset = offset
      layout.append(ParameterSlice(name: "x0", offset: offset, shape: [configuration.latentDimension]))
      offset += configuration.latentDimension
    } else {
      initialStateOffset = nil
    }
    if case .gaussianLearnedStd = configuration.likelihood {
      logStdOffset = offset
      layout.append(ParameterSlice(name: "decoder.log_std", offset: offset, shape: [configuration.dataDimension]))
      offset += configuration.dataDimension
    } else {
      logStdOffset = nil
    }
    parameters = try ParameterVector(layout: layout)
    try initialize(seed: seed)
  }

  /// Re-initialises every parameter from `seed`.
  public func initialize(seed: UInt64) throws {
    let p = parameters.base
    try drift.initialize(.init(start: p + driftOffset, count: drift.parameterCount), seed: seed &+ 1)
    try diffusion.initialize(.init(start: p + diffusionOffset, count: diffusion.parameterCount), seed: seed &+ 2)
    try posteriorDrift.initialize(
      .init(start: p + posteriorOffset, count: posteriorDrift.parameterCount), seed: seed &+ 3)
    try decoder.initialize(.init(start: p + decoderOffset, count: decoder.parameterCount), seed: seed &+ 4)
    if let o = initialStateOffset {
      for (i, v) in configuration.initialState.value.enumerated() { p[o + i] = Scalar(v) }
    }
    if let o = logStdOffset, case .gaussianLearnedStd(let s) = configuration.likelihood {
      for i in 0..<configuration.dataDimension { p[o + i] = Scalar(Double.log(s)) }
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

  /// The initial state `x_0` (learned or fixed), d values.
  public func initialState() -> [Scalar] {
    if let o = initialStateOffset { return (0..<latentDimension).map { parameters.base[o + $0] } }
    return configuration.initialState.value.map { Scalar($0) }
  }

  /// Slices of `parameters` by network, for optimisers and estimators that
  /// treat groups separately.
  public var parameterGroups: [(name: String, range: Range<Int>)] {
    var g: [(String, Range<Int>)] = [
      ("drift", driftOffset..<(driftOffset + drift.parameterCount)),
      ("diffusion", diffusionOffset..<(diffusionOffset + diffusion.parameterCount)),
      ("posterior", posteriorOffset..<(posteriorOffset + posteriorDrift.parameterCount)),
      ("decoder", decoderOffset..<(decoderOffset + decoder.parameterCount)),
    ]
    if let o = initialStateOffset { g.append(("x0", o..<(o + latentDimension))) }
    if let o = logStdOffset { g.append(("decoder.log_std", o..<(o + dataDimension))) }
    return g
  }
}
