/// How the diffusion `σ(x, t; θ)` enters the SDE (docs/MODEL.md §2).
public enum NoiseType: Sendable, Equatable, Codable, CustomStringConvertible {
  /// `σ` returns d values (one per coordinate, `m = d`); the diffusion MLP maps `[x, t] → d`.
  case diagonal
  /// `σ(t)` is independent of x (`m = d`, diagonal); the diffusion MLP maps `[t] → d`.
  case additive
  /// `σ` is a `d × m` matrix (row-major in the MLP output); the MLP maps `[x, t] → d·m`.
  case general(noiseDimension: Int)

  /// A short name of the noise type.
  public var description: String {
    switch self {
    case .diagonal: return "diagonal"
    case .additive: return "additive"
    case .general(let m): return "general(m = \(m))"
    }
  }
}

/// The likelihood `p_θ(y | x)` applied to the decoder output.
public enum Likelihood: Sendable, Equatable, Codable {
  /// `N(y; decoder(x), std² I)` with a fixed standard deviation.
  case gaussian(std: Double)
  /// `N(y; decoder(x), diag(exp(2·s)))` with a learned per-dimension log-std
  /// `s` (parameter `decoder.log_std`), initialised to `log(initialStd)`.
  case gaussianLearnedStd(initialStd: Double)
  /// `Bernoulli(y; sigmoid(decoder(x)))`, `y ∈ {0, 1}` (the decoder outputs logits).
  case bernoulli
  /// A Gaussian scale mixture about a learned centre `c` (heavy tails; docs/MODEL.md §8):
  ///
  ///     y = c + u·(decoder(x) − c + σ ⊙ ε),   ε ~ N(0, I),   P(u = u_q) = softmax(ω)_q,
  ///
  /// `u_q = 2^{q/3}` (`q = 0 … Q−1`, `Q = scaleMixtureScales.count`): one
  /// scale shared by the whole vector, marginalised exactly, so
  /// `p(y | x) = Σ_q π_q N(y; c + u_q (decoder(x) − c), u_q² diag σ²)`.
  /// Parameters `decoder.log_std` (`log σ`, D, initialised to `log(initialStd)`),
  /// `decoder.center` (`c`, D, initialised to 0) and `decoder.scale_logits`
  /// (`ω`, Q, initialised so that `π_0 = 0.9`, the rest equal): the model starts
  /// close to the Gaussian likelihood, and a softmax concentrated on `u_0 = 1` is it.
  case gaussianScaleMixture(initialStd: Double)

  /// A short name: "Gaussian (std 0.1)", "Gaussian (learned std)", "Bernoulli", "Gaussian scale-mixture".
  public var summary: String {
    switch self {
    case .gaussian(let s): return "Gaussian (std \(s))"
    case .gaussianLearnedStd: return "Gaussian (learned std)"
    case .bernoulli: return "Bernoulli"
    case .gaussianScaleMixture: return "Gaussian scale-mixture"
    }
  }

  /// The scales `u_q = 2^{q/3}`, `q = 0 … 15` (1 to 32) of `.gaussianScaleMixture`.
  public static let scaleMixtureScales: [Double] = (0..<16).map { q in
    [1, 1.2599210498948732, 1.5874010519681994][q % 3] * Double(1 << (q / 3))  // 2^{q/3}
  }

  /// The learned likelihood parameters for data dimension D, in storage order
  /// (one contiguous block after the networks and `x0`).
  public func parameterLayout(dataDimension dims: Int) -> [(name: String, count: Int)] {
    switch self {
    case .gaussian, .bernoulli: return []
    case .gaussianLearnedStd: return [("decoder.log_std", dims)]
    case .gaussianScaleMixture:
      return [
        ("decoder.log_std", dims), ("decoder.center", dims), ("decoder.scale_logits", Self.scaleMixtureScales.count),
      ]
    }
  }

  /// The number of learned likelihood parameters P for data dimension D (0, D, or 2D + Q).
  public func parameterCount(dataDimension dims: Int) -> Int {
    parameterLayout(dataDimension: dims).reduce(0) { $0 + $1.count }
  }
}

/// The initial state `x_0`.
public enum InitialState: Sendable, Equatable, Codable {
  /// A fixed `x_0` (length d).
  case fixed([Double])
  /// A learned `x_0` (parameter `x0`), initialised to the given value.
  case learned([Double])

  /// The initial (or initialisation) value of x_0.
  public var value: [Double] {
    switch self {
    case .fixed(let v), .learned(let v): return v
    }
  }
}

/// What the posterior control `b̃` (the encoder) sees (docs/MODEL.md §3, §6).
public enum PosteriorControl: String, Sendable, Equatable, Codable, CaseIterable, CustomStringConvertible {
  /// The paper's mean-field control `b̃(y, t; β)`: deterministic given the data
  /// point, so the posterior path law is the prior's shifted in mean only.
  /// Network input columns `[y, t]` (D + 1).
  case meanField = "mean-field"
  /// The feedback (Markov) control `b̃(X_t, y, t; β)`: it also reads the current
  /// state, which can represent the optimal control `u*(t, x)` and makes the
  /// bound tight as N grows. Network input columns `[x, y, t]` (d + D + 1).
  case feedback

  /// The command-line name.
  public var description: String { rawValue }

  /// Decodes a control by name; an unknown name is an error listing the known ones.
  public init(from decoder: any Decoder) throws {
    self = try StrictDecoding.namedCase(PosteriorControl.self, from: decoder, what: "a posterior control")
  }
}

/// The architecture of a latent neural SDE (docs/MODEL.md §2–3, §6):
///
///     dX = [b(X,t;θ) + σ(X,t;θ)·b̃(·,t;β)] dt + σ(X,t;θ) dW,   X_0 = x_0,   y ~ p_θ(y | X_1)
///
/// with latent dimension `d`, noise dimension `m`, data dimension `D`; the
/// control `b̃` reads `(y, t)` (mean-field) or `(X_t, y, t)` (feedback).
public struct NeuralSDEConfiguration: Sendable, Equatable, Codable {
  /// Latent dimension d.
  public var latentDimension: Int
  /// Data dimension D.
  public var dataDimension: Int
  /// How the diffusion enters (diagonal, additive, general).
  public var noise: NoiseType
  /// Drift `b`: `[x, t]` (d + 1) → d.
  public var drift: MLPArchitecture
  /// Diffusion `σ`: see `NoiseType` for its input and output widths.
  public var diffusion: MLPArchitecture
  /// What the posterior control reads; decides `posteriorDrift.inputs`.
  public var posteriorControl: PosteriorControl
  /// Posterior drift (control) `b̃`: `[y, t]` (D + 1) → m for mean-field
  /// control, `[x, y, t]` (d + D + 1) → m for feedback control.
  public var posteriorDrift: MLPArchitecture
  /// Decoder: x (d) → D (Gaussian mean or Bernoulli logits).
  public var decoder: MLPArchitecture
  /// The likelihood `p_θ(y | x)` on the decoder output.
  public var likelihood: Likelihood
  /// The initial state x_0 (fixed or learned).
  public var initialState: InitialState
  /// J, the observations still to come that the control reads, for a
  /// model observed along its path (docs/MODEL.md §7, option (a)): at step i
  /// the control's input holds, for each of the next J observations of its
  /// sequence, the values (0 where not observed), the mask and the time to it
  /// (`J·(2D + 1)` columns in place of y; zeros past the last observation).
  /// 0 (the default): the static model's control, reading y.
  public var lookahead = 0
  /// The largest `lookahead`.
  public static let maximumLookahead = 256

  /// A configuration from its parts (call `validate()` or build a model to check it).
  public init(
    latentDimension: Int, dataDimension: Int, noise: NoiseType, drift: MLPArchitecture,
    diffusion: MLPArchitecture, posteriorDrift: MLPArchitecture, decoder: MLPArchitecture,
    likelihood: Likelihood, initialState: InitialState, posteriorControl: PosteriorControl = .meanField
  ) {
    self.latentDimension = latentDimension
    self.dataDimension = dataDimension
    self.noise = noise
    self.drift = drift
    self.diffusion = diffusion
    self.posteriorControl = posteriorControl
    self.posteriorDrift = posteriorDrift
    self.decoder = decoder
    self.likelihood = likelihood
    self.initialState = initialState
  }

  enum CodingKeys: String, CodingKey {
    case latentDimension, dataDimension, noise, drift, diffusion, posteriorControl, posteriorDrift, decoder
    case likelihood, initialState, lookahead
  }

  /// Encodes every field; `lookahead` only when it is not 0 (so static models' files are as before).
  public func encode(to encoder: any Encoder) throws {
    var c = encoder.container(keyedBy: CodingKeys.self)
    try c.encode(latentDimension, forKey: .latentDimension)
    try c.encode(dataDimension, forKey: .dataDimension)
    try c.encode(noise, forKey: .noise)
    try c.encode(drift, forKey: .drift)
    try c.encode(diffusion, forKey: .diffusion)
    try c.encode(posteriorControl, forKey: .posteriorControl)
    try c.encode(posteriorDrift, forKey: .posteriorDrift)
    try c.encode(decoder, forKey: .decoder)
    try c.encode(likelihood, forKey: .likelihood)
    try c.encode(initialState, forKey: .initialState)
    if lookahead != 0 { try c.encode(lookahead, forKey: .lookahead) }
  }

  /// Decodes a configuration and validates it (`validate()`), so that a
  /// decoded configuration is always one a model can be built from; an error
  /// names the field. Files written before feedback control existed have no
  /// `posteriorControl` and decode as mean-field.
  public init(from decoder: any Decoder) throws {
    let c = try decoder.container(keyedBy: CodingKeys.self)
    let w = MLPArchitecture.maximumWidth
    latentDimension = try StrictDecoding.integer(c, .latentDimension, in: 1...w)
    dataDimension = try StrictDecoding.integer(c, .dataDimension, in: 1...w)
    noise = try c.decode(NoiseType.self, forKey: .noise)
    drift = try c.decode(MLPArchitecture.self, forKey: .drift)
    diffusion = try c.decode(MLPArchitecture.self, forKey: .diffusion)
    posteriorControl = try c.decodeIfPresent(PosteriorControl.self, forKey: .posteriorControl) ?? .meanField
    posteriorDrift = try c.decode(MLPArchitecture.self, forKey: .posteriorDrift)
    self.decoder = try c.decode(MLPArchitecture.self, forKey: .decoder)
    likelihood = try c.decode(Likelihood.self, forKey: .likelihood)
    initialState = try c.decode(InitialState.self, forKey: .initialState)
    lookahead =
      c.contains(.lookahead) ? try StrictDecoding.integer(c, .lookahead, in: 0...Self.maximumLookahead) : 0
    do { try validate() } catch let e as NSDEError { throw StrictDecoding.invalid(decoder.codingPath, e.message) }
  }

  /// The four networks in storage order with their parameter-name prefixes.
  public var networkArchitectures: [(name: String, architecture: MLPArchitecture)] {
    [("drift", drift), ("diffusion", diffusion), ("posterior", posteriorDrift), ("decoder", decoder)]
  }

  /// Every parameter's name, shape and offset in the model's flat vector:
  /// the networks in storage order, then `x0` (if learned) and
  /// the likelihood's learned parameters (`Likelihood.parameterLayout`). Call on a validated
  /// configuration (then no size can overflow: widths ≤ 2²⁰, ≤ 64 layers).
  public func parameterLayout() -> [ParameterSlice] {
    var layout: [ParameterSlice] = []
    var offset = 0
    for (name, arch) in networkArchitectures {
      layout += arch.parameterLayout(prefix: name).map { $0.shifted(by: offset) }
      offset = layout.last.map { $0.offset + $0.count } ?? offset
    }
    if case .learned = initialState {
      layout.append(ParameterSlice(name: "x0", offset: offset, shape: [latentDimension]))
      offset += latentDimension
    }
    for (name, count) in likelihood.parameterLayout(dataDimension: dataDimension) {
      layout.append(ParameterSlice(name: name, offset: offset, shape: [count]))
      offset += count
    }
    return layout
  }

  /// Number of parameters of the model (all networks, x_0, log-std): the
  /// layout's total (on a validated configuration, like `parameterLayout()`).
  public var parameterCount: Int { parameterLayout().reduce(0) { $0 + $1.count } }

  /// Input columns of the posterior control network (without time): D, or
  /// d + D with feedback; with a `lookahead` J, `J·(2D + 1)` in place of D.
  public var posteriorInputs: Int {
    (posteriorControl == .feedback ? latentDimension : 0)
      + (lookahead > 0 ? lookahead * (2 * dataDimension + 1) : dataDimension)
  }

  /// Noise dimension `m`.
  public var noiseDimension: Int {
    switch noise {
    case .diagonal, .additive: return latentDimension
    case .general(let m): return m
    }
  }

  /// The reference problem of docs/REFERENCE-PROBLEM.md: tanh MLPs of width `hidden`,
  /// drift `[x,t] → H → H → d`, diagonal diffusion `[x,t] → H → d` with
  /// softplus, posterior drift `[y,t] → H → H → d`, linear decoder `d → D`,
  /// Gaussian likelihood with std 0.1, `x_0 = 0`. With `posterior: .feedback`
  /// the posterior drift reads `[x, y, t]` instead (not the reference problem,
  /// which stays mean-field so that benchmarks remain comparable).
  public static func reference(
    latentDimension d: Int = 16, dataDimension dataDim: Int = 2, hidden h: Int = 64,
    noise: NoiseType = .diagonal, activation: Activation = .tanh, posterior: PosteriorControl = .meanField
  ) -> NeuralSDEConfiguration {
    let m: Int
    let diffusion: MLPArchitecture
    switch noise {
    case .diagonal:
      m = d
      diffusion = MLPArchitecture(
        inputs: d, timeInput: true, widths: [h, d], hiddenActivation: activation, outputActivation: .softplus)
    case .additive:
      m = d
      diffusion = MLPArchitecture(
        inputs: 0, timeInput: true, widths: [h, d], hiddenActivation: activation, outputActivation: .softplus)
    case .general(let mm):
      m = mm
      diffusion = MLPArchitecture(
        inputs: d, timeInput: true, widths: [h, d * mm], hiddenActivation: activation, outputActivation: .identity)
    }
    return NeuralSDEConfiguration(
      latentDimension: d, dataDimension: dataDim, noise: noise,
      drift: MLPArchitecture(inputs: d, timeInput: true, widths: [h, h, d], hiddenActivation: activation),
      diffusion: diffusion,
      posteriorDrift: MLPArchitecture(
        inputs: posterior == .feedback ? d + dataDim : dataDim, timeInput: true, widths: [h, h, m],
        hiddenActivation: activation),
      decoder: MLPArchitecture(inputs: d, timeInput: false, widths: [dataDim]),
      likelihood: .gaussian(std: 0.1), initialState: .fixed([Double](repeating: 0, count: d)),
      posteriorControl: posterior)
  }

  /// Checks that the networks' widths fit together; names the first mismatch.
  public func validate() throws {
    let d = latentDimension
    let m = noiseDimension
    let w = MLPArchitecture.maximumWidth
    guard (0...Self.maximumLookahead).contains(lookahead) else {
      throw NSDEError.invalidArgument("lookahead must be in 0…\(Self.maximumLookahead), got \(lookahead)")
    }
    guard (1...w).contains(d), (1...w).contains(dataDimension), (1...w).contains(m) else {
      throw NSDEError.invalidArgument(
        "dimensions must be in 1…\(w): latent d = \(d), data D = \(dataDimension), noise m = \(m)")
    }
    for (name, arch) in [
      ("drift", drift), ("diffusion", diffusion), ("posterior drift", posteriorDrift), ("decoder", decoder),
    ] {
      do { try arch.validate() } catch let e as NSDEError { throw NSDEError.invalidArgument("\(name): \(e.message)") }
    }
    func expect(_ name: String, _ arch: MLPArchitecture, inputs: Int, time: Bool?, outputs: Int) throws {
      guard arch.inputs == inputs else {
        throw NSDEError.shapeMismatch("the \(name) takes \(arch.inputs) inputs but needs \(inputs)")
      }
      if let time, arch.timeInput != time {
        throw NSDEError.shapeMismatch("the \(name) must \(time ? "" : "not ")take the time as an input")
      }
      guard arch.outputs == outputs else {
        throw NSDEError.shapeMismatch("the \(name) has \(arch.outputs) outputs but needs \(outputs)")
      }
    }
    // The networks may or may not read the time (time-homogeneous models step on per-point grids).
    try expect("drift", drift, inputs: d, time: nil, outputs: d)
    switch noise {
    case .diagonal: try expect("diagonal diffusion", diffusion, inputs: d, time: nil, outputs: d)
    case .additive: try expect("additive diffusion", diffusion, inputs: 0, time: nil, outputs: d)
    case .general(let mm): try expect("general diffusion", diffusion, inputs: d, time: nil, outputs: d * mm)
    }
    try expect(
      "\(posteriorControl) posterior drift", posteriorDrift, inputs: posteriorInputs, time: nil, outputs: m)
    try expect("decoder", decoder, inputs: d, time: nil, outputs: dataDimension)
    guard initialState.value.count == d else {
      throw NSDEError.shapeMismatch("x_0 has \(initialState.value.count) values but the latent dimension is \(d)")
    }
    guard initialState.value.allSatisfy(\.isFinite) else { throw NSDEError.nonFinite("x_0 contains NaN/Inf") }
    switch likelihood {
    case .gaussian(let s), .gaussianLearnedStd(let s), .gaussianScaleMixture(let s):
      guard s > 0, s.isFinite else {
        throw NSDEError.invalidArgument("the likelihood's standard deviation must be positive and finite, got \(s)")
      }
    case .bernoulli: break
    }
  }
}
