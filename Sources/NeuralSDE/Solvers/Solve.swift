import Foundation

/// What a solve simulates (`StepScheme.solvePosterior`, `solvePrior`).
public struct SolveOptions: Sendable {
  /// The time grid (N steps).
  public var grid: TimeGrid
  /// Paths per data point `K` (controlled solves; `M = B·K`).
  public var pathsPerPoint: Int
  /// Step indices `0…N` whose states are returned (`0` is `x_0`).
  public var recordSteps: [Int]
  /// Row chunks run concurrently (default: one per core).
  public var chunks: Int
  /// If set, posterior solves use this control instead of the model's posterior network.
  public var affineControl: AffineFeedbackControl?
  /// If set, called by the first chunk's thread after each of its steps
  /// with the number of steps done (`1…N`), for progress reports of long solves.
  public var progress: (@Sendable (_ stepsDone: Int) -> Void)?

  /// Options for a solve; `chunks` defaults to one per core.
  public init(
    grid: TimeGrid, pathsPerPoint: Int = 1, recordSteps: [Int] = [], chunks: Int? = nil,
    affineControl: AffineFeedbackControl? = nil, progress: (@Sendable (_ stepsDone: Int) -> Void)? = nil
  ) {
    self.grid = grid
    self.pathsPerPoint = pathsPerPoint
    self.recordSteps = recordSteps
    self.chunks = chunks ?? Threading.availableCores
    self.affineControl = affineControl
    self.progress = progress
  }
}

/// What a solve returns.
public struct SolveResult<Scalar: SDEScalar>: @unchecked Sendable {
  /// `X_N`, `M × d`.
  public var finalStates: Matrix<Scalar>
  /// States at `Options.recordSteps`, each `M × d`.
  public var recorded: [Matrix<Scalar>]
  /// KL term `½ Σ_i h_i ‖u_i‖²` per data point, averaged over its K paths
  /// (controlled solves; else empty). With mean-field control every path of
  /// a point has the same value.
  public var klPerPoint: [Double]
  /// KL term `½ Σ_i h_i ‖u_i‖²` of every path (controlled solves; else empty).
  public var klPerPath: [Double]
  /// Log Girsanov weight `−Σ_i u_i·ΔW_i − ½ Σ_i h_i ‖u_i‖²` per path (controlled; else empty).
  public var logWeights: [Double]
}

/// Solving with a scheme: the posterior (controlled) SDE for every data
/// point, or the prior, over all paths at once in row chunks (one per core).
extension StepScheme {
  /// Simulates the posterior (controlled) SDE for every data point, `K` paths each.
  ///
  /// - Parameters:
  ///   - model: the model whose drift, diffusion and control are solved.
  ///   - data: `B × D`, finite; path `m = b·K + k` is the k-th path of data point b.
  ///   - noise: increments of dimension m for `N` steps and `M = B·K` paths.
  ///   - options: grid, K, recorded steps, chunks, an affine control, progress.
  /// - Throws: shape/argument errors naming the problem; `divergence` on NaN/Inf states.
  public func solvePosterior<Scalar: SDEScalar, Noise: BrownianIncrements>(
    _ model: NeuralSDEModel<Scalar>, data: Matrix<Scalar>, noise: Noise, options: SolveOptions
  ) throws -> SolveResult<Scalar> where Noise.Scalar == Scalar {
    try model.validateData(data)
    guard options.pathsPerPoint >= 1 else {
      throw NSDEError.invalidArgument("paths per data point must be ≥ 1, got \(options.pathsPerPoint)")
    }
    try options.affineControl?.validate(
      steps: options.grid.steps, points: data.rows, latentDimension: model.latentDimension,
      noiseDimension: model.noiseDimension)
    return try run(model, data: data, paths: data.rows * options.pathsPerPoint, noise: noise, options: options)
  }

  /// The posterior solve on one grid per data point (`grid`; `options.grid`
  /// is then ignored) with the control of a model with a lookahead seeing
  /// `observations` (default: the data at the last step).
  public func solvePosterior<Scalar: SDEScalar, Noise: BrownianIncrements>(
    _ model: NeuralSDEModel<Scalar>, data: Matrix<Scalar>, noise: Noise, options: SolveOptions, grid: BatchGrid,
    observations: PathObservations<Scalar>?
  ) throws -> SolveResult<Scalar> where Noise.Scalar == Scalar {
    try model.validateData(data)
    try model.check(grid: grid, points: data.rows)
    guard options.pathsPerPoint >= 1 else {
      throw NSDEError.invalidArgument("paths per data point must be ≥ 1, got \(options.pathsPerPoint)")
    }
    try options.affineControl?.validate(
      steps: grid.steps, points: data.rows, latentDimension: model.latentDimension,
      noiseDimension: model.noiseDimension)
    var o = options
    o.grid = grid.grid(point: 0)
    return try run(
      model, data: data, paths: data.rows * options.pathsPerPoint, noise: noise, options: o, batchGrid: grid,
      observations: observations)
  }

  /// Simulates the prior (uncontrolled) SDE for `paths` paths.
  ///
  /// - Parameters:
  ///   - model: the model whose drift and diffusion are solved.
  ///   - paths: the number of paths (≥ 1).
  ///   - noise: increments of dimension m for `N` steps and `paths` paths.
  ///   - options: grid, recorded steps, chunks, progress (K and the control are ignored).
  public func solvePrior<Scalar: SDEScalar, Noise: BrownianIncrements>(
    _ model: NeuralSDEModel<Scalar>, paths: Int, noise: Noise, options: SolveOptions
  ) throws -> SolveResult<Scalar> where Noise.Scalar == Scalar {
    guard paths >= 1 else { throw NSDEError.invalidArgument("number of paths must be ≥ 1, got \(paths)") }
    var o = options
    o.pathsPerPoint = 1
    o.affineControl = nil
    return try run(model, data: nil, paths: paths, noise: noise, options: o)
  }

  /// Simulates the prior (uncontrolled) SDE from given states: path p starts
  /// at row p of `initialStates` (`paths × d`, finite) at the grid's first time
  /// — the continuation of paths, e.g. forecasts past a sequence's last
  /// observation (the prior is the posterior where nothing is observed).
  public func solvePrior<Scalar: SDEScalar, Noise: BrownianIncrements>(
    _ model: NeuralSDEModel<Scalar>, from initialStates: Matrix<Scalar>, noise: Noise, options: SolveOptions
  ) throws -> SolveResult<Scalar> where Noise.Scalar == Scalar {
    guard initialStates.rows >= 1, initialStates.cols == model.latentDimension else {
      throw NSDEError.shapeMismatch(
        "the initial states are \(initialStates.shapeDescription) but the model's latent dimension is \(model.latentDimension)"
      )
    }
    guard (0..<initialStates.count).allSatisfy({ initialStates.base[$0].isFinite }) else {
      throw NSDEError.nonFinite("the initial states contain NaN/Inf")
    }
    var o = options
    o.pathsPerPoint = 1
    o.affineControl = nil
    return try run(model, data: nil, paths: initialStates.rows, noise: noise, options: o, initialStates: initialStates)
  }

  func run<Scalar: SDEScalar, Noise: BrownianIncrements>(
    _ model: NeuralSDEModel<Scalar>, data: Matrix<Scalar>?, paths: Int, noise: Noise, options: SolveOptions,
    batchGrid: BatchGrid? = nil, observations: PathObservations<Scalar>? = nil, initialStates: Matrix<Scalar>? = nil
  ) throws -> SolveResult<Scalar> where Noise.Scalar == Scalar {
    let grid = batchGrid ?? BatchGrid(shared: options.grid)
    let n = options.grid.steps
    try model.check(scheme: self)
    try noise.validate(steps: n, paths: paths, dimension: model.noiseDimension)
    for s in options.recordSteps where s < 0 || s > n {
      throw NSDEError.invalidArgument("record step \(s) is outside 0…\(n)")
    }
    let k = options.pathsPerPoint
    let d = model.latentDimension
    // Chunks hold whole data points, so each chunk's control is self-contained.
    let fanOut = ChunkFanOut(units: data?.rows ?? paths, chunks: options.chunks)
    let unitParts = fanOut.parts
    try MemoryLimit.check(
      SizeArithmetic.sum(
        unitParts.map {
          SolveWorkspace<Scalar>.estimatedBytes(
            model: model, points: data == nil ? 0 : $0.count, paths: $0.count * k)
        } + [SizeArithmetic.product(options.recordSteps.count + 1, paths, d, MemoryLayout<Scalar>.stride)]),
      for: "an \(name) solve of \(paths) paths × \(n) steps (d = \(d))")
    let final = Matrix<Scalar>(rows: paths, cols: d)
    let recorded = options.recordSteps.map { _ in Matrix<Scalar>(rows: paths, cols: d) }
    // The KL accumulates per control row: per data point for mean-field
    // control, per path when the control reads the state.
    let perPath = data != nil && (options.affineControl != nil || model.configuration.posteriorControl == .feedback)
    var kl = [Double](repeating: 0, count: data == nil ? 0 : perPath ? paths : data!.rows)
    var logW = [Double](repeating: 0, count: data == nil ? 0 : paths)
    func key(_ part: Range<Int>) -> WorkspaceCache.Key {
      WorkspaceCache.Key(
        model: ObjectIdentifier(model), points: data == nil ? 0..<0 : part, k: part.count * k, steps: 0)
    }
    let progress: ((Int) -> Void)? = options.progress.map { report in { report($0) } }
    // A model with a lookahead: its control sees the observations to come.
    let context = data.flatMap { data in
      ObservationContext(
        observations: observations ?? .terminal(data, steps: options.grid.steps), grid: grid, model: model)
    }
    // Workspaces are reused between solves (the cache lives on the model; a
    // workspace does not keep its model, so there is no retain cycle).
    try kl.withUnsafeMutableBufferPointer { klp in
      try logW.withUnsafeMutableBufferPointer { lwp in
        nonisolated(unsafe) let klp = klp
        nonisolated(unsafe) let lwp = lwp
        _ = try fanOut.run(
          workspace: { part in
            model.solverCache.checkOut(key(part)) as? SolveWorkspace<Scalar>
              ?? SolveWorkspace(model: model, points: data == nil ? 0 : part.count, paths: part.count * k)
          },
          release: { part, ws in model.solverCache.checkIn(key(part), ws) },
          body: { chunk, part, workspace in
            let pathRange = (part.lowerBound * k)..<(part.upperBound * k)
            let posterior = data.map { data in
              PosteriorDrive(
                data: data.rows(part), pathsPerPoint: k,
                kl: klp.baseAddress! + (perPath ? pathRange.lowerBound : part.lowerBound),
                logWeights: lwp.baseAddress! + pathRange.lowerBound, affine: options.affineControl,
                firstPoint: part.lowerBound, context: context)
            }
            try workspace.simulate(
              model: model, scheme: self, noise: noise, grid: grid, pathRange: pathRange,
              posterior: posterior, startState: initialStates.map { UnsafePointer($0.base + pathRange.lowerBound * d) },
              observe: { step, x in
                for (index, s) in options.recordSteps.enumerated() where s == step {
                  (recorded[index].base + pathRange.lowerBound * d).copyElements(from: x, count: pathRange.count * d)
                }
                if step == n {
                  (final.base + pathRange.lowerBound * d).copyElements(from: x, count: pathRange.count * d)
                }
              }, onStep: chunk == 0 ? progress : nil)
          })
      }
    }
    let klPerPath = perPath ? kl : (0..<(data == nil ? 0 : paths)).map { kl[$0 / k] }
    let klPerPoint =
      perPath ? (0..<(kl.count / k)).map { q in (0..<k).map { kl[q * k + $0] }.reduce(0, +) / Double(k) } : kl
    return SolveResult(
      finalStates: final, recorded: recorded, klPerPoint: klPerPoint, klPerPath: klPerPath, logWeights: logW)
  }
}

extension NeuralSDEModel {
  /// Checks a data set against the model: non-empty, D columns, finite, in [0, 1] for Bernoulli.
  func validateData(_ data: Matrix<Scalar>) throws {
    guard data.rows >= 1 else { throw NSDEError.invalidArgument("the data set is empty") }
    guard data.cols == dataDimension else {
      throw NSDEError.shapeMismatch(
        "data is \(data.shapeDescription) but the model's data dimension is \(dataDimension)")
    }
    let bad = Scalar.countNonFinite(n: data.count, x: data.base)
    guard bad == 0 else { throw NSDEError.nonFinite("the data contain \(bad) NaN/Inf value(s)") }
    if case .bernoulli = configuration.likelihood {
      for i in 0..<data.count where !(data.base[i] >= 0 && data.base[i] <= 1) {
        throw NSDEError.invalidArgument(
          "Bernoulli data must lie in [0, 1], but element \(i / data.cols),\(i % data.cols) is \(data.base[i])")
      }
    }
  }

  /// Checks that `scheme` supports the model's noise type.
  func check(scheme: any StepScheme) throws {
    guard scheme.supports(configuration.noise) else {
      throw NSDEError.invalidArgument("the \(scheme.name) scheme does not support \(configuration.noise) noise")
    }
  }
}
