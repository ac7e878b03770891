import Foundation

/// The Euler–Maruyama scheme, batched over Monte Carlo paths (docs/MODEL.md §3, §6):
///
///     ΔW̃_i = ΔW_i + h_i·u_i                       (controlled; ΔW̃ = ΔW for the prior)
///     X_{i+1} = X_i + h_i·b(X_i, t_i) + σ(X_i, t_i)·ΔW̃_i
///
/// with the control `u_i = b̃(y, t_i)` (mean-field), `b̃(X_i, y, t_i)`
/// (feedback) or a given affine map `K_i X_i + k_i` (`AffineFeedbackControl`),
/// all evaluated at the left end-point.
///
/// The control is applied literally as a shift of the Brownian increment, so
/// `X = f_θ(W + ∫b̃)` holds exactly and the `σ·b̃` term cannot be dropped.
/// All paths of a chunk advance together: each step is a few GEMMs (the MLPs)
/// plus vectorised elementwise work in preallocated workspaces.
/// Strong order ½, weak order 1 (checked by the tests on GBM).
public struct EulerMaruyama: Sendable {
  /// Strong order of convergence (½).
  public static let strongOrder = 0.5
  /// Weak order of convergence (1).
  public static let weakOrder = 1.0

  /// What to simulate.
  public struct Options: Sendable {
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
  public struct Result<Scalar: SDEScalar>: @unchecked Sendable {
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

  /// The solver (stateless; workspaces are cached on the model).
  public init() {}

  /// Simulates the posterior (controlled) SDE for every data point, `K` paths each.
  ///
  /// - Parameters:
  ///   - data: `B × D`, finite; path `m = b·K + k` is the k-th path of data point b.
  ///   - noise: increments of dimension m for `N` steps and `M = B·K` paths.
  /// - Throws: shape/argument errors naming the problem; `divergence` on NaN/Inf states.
  public func solvePosterior<Scalar: SDEScalar, Noise: BrownianIncrements>(
    _ model: NeuralSDEModel<Scalar>, data: Matrix<Scalar>, noise: Noise, options: Options
  ) throws -> Result<Scalar> where Noise.Scalar == Scalar {
    try validateData(data, model: model)
    guard options.pathsPerPoint >= 1 else {
      throw NSDEError.invalidArgument("paths per data point must be ≥ 1, got \(options.pathsPerPoint)")
    }
    try options.affineControl?.validate(
      steps: options.grid.steps, points: data.rows, latentDimension: model.latentDimension,
      noiseDimension: model.noiseDimension)
    return try run(model, data: data, paths: data.rows * options.pathsPerPoint, noise: noise, options: options)
  }

  /// Simulates the prior (uncontrolled) SDE for `paths` paths.
  public func solvePrior<Scalar: SDEScalar, Noise: BrownianIncrements>(
    _ model: NeuralSDEModel<Scalar>, paths: Int, noise: Noise, options: Options
  ) throws -> Result<Scalar> where Noise.Scalar == Scalar {
    guard paths >= 1 else { throw NSDEError.invalidArgument("number of paths must be ≥ 1, got \(paths)") }
    var o = options
    o.pathsPerPoint = 1
    o.affineControl = nil
    return try run(model, data: nil, paths: paths, noise: noise, options: o)
  }

  func validateData<Scalar: SDEScalar>(_ data: Matrix<Scalar>, model: NeuralSDEModel<Scalar>) throws {
    guard data.rows >= 1 else { throw NSDEError.invalidArgument("the data set is empty") }
    guard data.cols == model.dataDimension else {
      throw NSDEError.shapeMismatch(
        "data is \(data.shapeDescription) but the model's data dimension is \(model.dataDimension)")
    }
    let bad = Scalar.countNonFinite(n: data.count, x: data.base)
    guard bad == 0 else { throw NSDEError.nonFinite("the data contain \(bad) NaN/Inf value(s)") }
    if case .bernoulli = model.configuration.likelihood {
      for i in 0..<data.count where !(data.base[i] >= 0 && data.base[i] <= 1) {
        throw NSDEError.invalidArgument(
          "Bernoulli data must lie in [0, 1], but element \(i / data.cols),\(i % data.cols) is \(data.base[i])")
      }
    }
  }

  func run<Scalar: SDEScalar, Noise: BrownianIncrements>(
    _ model: NeuralSDEModel<Scalar>, data: Matrix<Scalar>?, paths: Int, noise: Noise, options: Options
  ) throws -> Result<Scalar> where Noise.Scalar == Scalar {
    let n = options.grid.steps
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
          EulerMaruyamaWorkspace<Scalar>.estimatedBytes(
            model: model, points: data == nil ? 0 : $0.count, paths: $0.count * k)
        } + [SizeArithmetic.product(options.recordSteps.count + 1, paths, d, MemoryLayout<Scalar>.stride)]),
      for: "an Euler–Maruyama solve of \(paths) paths × \(n) steps (d = \(d))")
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
    // Workspaces are reused between solves (the cache lives on the model; a
    // workspace does not keep its model, so there is no retain cycle).
    try kl.withUnsafeMutableBufferPointer { klp in
      try logW.withUnsafeMutableBufferPointer { lwp in
        nonisolated(unsafe) let klp = klp
        nonisolated(unsafe) let lwp = lwp
        _ = try fanOut.run(
          workspace: { part in
            model.solverCache.checkOut(key(part)) as? EulerMaruyamaWorkspace<Scalar>
              ?? EulerMaruyamaWorkspace(model: model, points: data == nil ? 0 : part.count, paths: part.count * k)
          },
          release: { part, ws in model.solverCache.checkIn(key(part), ws) },
          body: { chunk, part, workspace in
            let pathRange = (part.lowerBound * k)..<(part.upperBound * k)
            try workspace.simulate(
              model: model, data: data?.rows(part), pathRange: pathRange, pathsPerPoint: k, noise: noise,
              grid: options.grid, recordSteps: options.recordSteps, recorded: recorded, final: final,
              kl: data == nil
                ? nil
                : UnsafeMutableBufferPointer(
                  rebasing: klp[(perPath ? pathRange : part.lowerBound..<part.upperBound)]),
              logWeights: data == nil ? nil : UnsafeMutableBufferPointer(rebasing: lwp[pathRange]),
              affine: options.affineControl,
              firstPoint: part.lowerBound, onStep: chunk == 0 ? progress : nil)
          })
      }
    }
    let klPerPath = perPath ? kl : (0..<(data == nil ? 0 : paths)).map { kl[$0 / k] }
    let klPerPoint =
      perPath ? (0..<(kl.count / k)).map { q in (0..<k).map { kl[q * k + $0] }.reduce(0, +) / Double(k) } : kl
    return Result(
      finalStates: final, recorded: recorded, klPerPoint: klPerPoint, klPerPath: klPerPath, logWeights: logW)
  }
}

/// Preallocated buffers of one chunk of paths (one per thread).
///
/// With a tape (`tapeSteps = N`), every state `X_0…X_N`, every shifted
/// increment `ΔW̃_i` and the networks' activations of every step are kept,
/// for backpropagation through the solver.
package final class EulerMaruyamaWorkspace<Scalar: SDEScalar>: @unchecked Sendable {
  /// Paths and data points of the batch being solved (at most the capacities;
  /// `bind` switches to a smaller batch, e.g. the next micro-batch of backprop).
  private(set) var paths: Int
  private(set) var points: Int
  /// The most paths and data points this workspace was allocated for.
  let pathCapacity: Int
  let pointCapacity: Int
  let driftWS: MLPWorkspace<Scalar>
  let diffusionWS: MLPWorkspace<Scalar>
  let posteriorWS: MLPWorkspace<Scalar>
  let stateA: Matrix<Scalar>
  let stateB: Matrix<Scalar>
  /// ΔW, then ΔW̃, `paths × m` (without a tape).
  let increments: Matrix<Scalar>
  /// Number of steps taped (0: no tape).
  let tapeSteps: Int
  /// The first step held on the tape (checkpointed backprop re-runs segments
  /// `tapeStart ..< tapeStart + tapeSteps`).
  var tapeStart = 0
  /// `(N + 1)·paths × d`: `X_i` at rows `i·paths ..< (i+1)·paths`.
  let statesTape: Matrix<Scalar>
  /// `N·paths × m`: `ΔW̃_i` at rows `i·paths ..< (i+1)·paths`.
  let incrementsTape: Matrix<Scalar>
  /// Feedback control only: the control network's input `[x, y]` per path,
  /// `(tapeSteps or 1)·paths × (d + D)` (kept per step for the VJPs).
  let controlInputs: Matrix<Scalar>
  /// True if the control reads the state (one control row per path).
  let feedback: Bool

  package init(model: NeuralSDEModel<Scalar>, points: Int, paths: Int, tapeSteps: Int = 0) {
    self.paths = paths
    self.points = points
    pathCapacity = paths
    pointCapacity = points
    self.tapeSteps = tapeSteps
    let slots = Swift.max(tapeSteps, 1)
    let networkRows = model.networkRows(points: points, paths: paths)
    // The drift's output is read by the step right away, never by the backward pass.
    driftWS = model.drift.makeWorkspace(rows: networkRows[0], slots: slots, tapesOutput: false)
    diffusionWS = model.diffusion.makeWorkspace(rows: networkRows[1], slots: slots)
    posteriorWS = model.posteriorDrift.makeWorkspace(rows: networkRows[2], slots: slots)
    feedback = model.configuration.posteriorControl == .feedback && points > 0
    let d = model.latentDimension
    let m = model.noiseDimension
    let taped = tapeSteps > 0
    controlInputs = Matrix(rows: feedback ? slots * paths : 0, cols: model.configuration.posteriorInputs)
    stateA = Matrix(rows: taped ? 0 : paths, cols: d)
    stateB = Matrix(rows: taped ? 0 : paths, cols: d)
    increments = Matrix(rows: taped ? 0 : paths, cols: m)
    statesTape = Matrix(rows: taped ? (tapeSteps + 1) * paths : 0, cols: d)
    incrementsTape = Matrix(rows: taped ? tapeSteps * paths : 0, cols: m)
  }

  /// The bytes `init(model:points:paths:tapeSteps:)` would allocate, computed
  /// from the shapes alone (nil on overflow), for memory checks before allocating.
  static func estimatedBytes(model: NeuralSDEModel<Scalar>, points: Int, paths: Int, tapeSteps: Int = 0) -> Int? {
    let slots = Swift.max(tapeSteps, 1)
    let d = model.latentDimension
    let m = model.noiseDimension
    let networkRows = model.networkRows(points: points, paths: paths)
    let feedback = model.configuration.posteriorControl == .feedback && points > 0
    let s = MemoryLayout<Scalar>.stride
    let states =
      tapeSteps > 0
      ? SizeArithmetic.sum([
        SizeArithmetic.product(tapeSteps + 1, paths, d, s), SizeArithmetic.product(tapeSteps, paths, m, s),
      ])
      : SizeArithmetic.product(3, paths, Swift.max(d, m), s)
    return SizeArithmetic.sum([
      model.drift.workspaceBytes(rows: networkRows[0], slots: slots, tapesOutput: false),
      model.diffusion.workspaceBytes(rows: networkRows[1], slots: slots),
      model.posteriorDrift.workspaceBytes(rows: networkRows[2], slots: slots),
      states,
      feedback ? SizeArithmetic.product(slots, paths, model.configuration.posteriorInputs, s) : 0,
    ])
  }

  /// Makes the next solves run a batch of `points` data points and `paths`
  /// paths (each at most what the workspace was allocated for); the tapes'
  /// strides follow, so a smaller batch uses the front of every buffer.
  func bind(points: Int, paths: Int) {
    precondition(
      points <= pointCapacity && paths <= pathCapacity && (points > 0) == (pointCapacity > 0),
      "batch of \(points) points / \(paths) paths exceeds the workspace (\(pointCapacity) / \(pathCapacity))")
    self.points = points
    self.paths = paths
  }

  /// Bytes held by this workspace.
  var bytes: Int {
    let elements =
      stateA.count + stateB.count + increments.count + statesTape.count + incrementsTape.count
      + controlInputs.count
    return elements * MemoryLayout<Scalar>.stride + driftWS.bytes + diffusionWS.bytes + posteriorWS.bytes
  }

  /// `X_i` on the tape.
  func state(_ i: Int) -> UnsafeMutablePointer<Scalar> {
    statesTape.base + (i - tapeStart) * paths * statesTape.cols
  }
  /// `ΔW̃_i` on the tape.
  func increment(_ i: Int) -> UnsafeMutablePointer<Scalar> {
    incrementsTape.base + (i - tapeStart) * paths * incrementsTape.cols
  }

  /// Rows of the control (and of its KL accumulator): paths with feedback, else data points.
  package var controlRows: Int { feedback ? paths : points }
  /// Paths sharing one control row: 1 with feedback, else K.
  func pathsPerControlRow(_ k: Int) -> Int { feedback ? 1 : k }
  /// The KL term of every path from the per-control-row accumulator.
  func klPerPath(_ kl: [Double], pathsPerPoint k: Int) -> [Double] {
    feedback ? kl : (0..<paths).map { kl[$0 / k] }
  }

  /// The feedback control's input `[x, y]` of step i (`paths × (d + D)`).
  func controlInput(_ i: Int) -> UnsafeMutablePointer<Scalar> {
    controlInputs.base + (tapeSteps > 0 ? i - tapeStart : 0) * paths * controlInputs.cols
  }

  /// Writes `[x_r, y_{⌊r/K⌋}]` for every path r into the step's control input
  /// and returns it as a view.
  func fillControlInput(
    step i: Int, x: UnsafePointer<Scalar>, d: Int, data: MatrixView<Scalar>, pathsPerPoint k: Int
  ) -> MatrixView<Scalar> {
    let cols = controlInputs.cols
    let dataDim = data.cols
    let base = controlInput(i)
    for r in 0..<paths {
      let row = base + r * cols
      row.copyElements(from: x + r * d, count: d)
      (row + d).copyElements(from: data.base + (r / k) * data.ld, count: dataDim)
    }
    return MatrixView(base: base, rows: paths, cols: cols)
  }

  /// Readies the step networks' workspaces for one solve: packs their weights
  /// for the fused kernels (`MLP.pack`: once per solve, not per step) and, for
  /// a pass that only needs the states (checkpointing), tells them not to
  /// write their activations to the tape. Pair with `endSolve`.
  func beginSolve(_ model: NeuralSDEModel<Scalar>, keepActivations: Bool = true) {
    model.drift.mlp.pack(model.drift.theta, workspace: driftWS)
    model.diffusion.mlp.pack(model.diffusion.theta, workspace: diffusionWS)
    model.posteriorDrift.mlp.pack(model.posteriorDrift.theta, workspace: posteriorWS)
    driftWS.discardsActivations = !keepActivations
    diffusionWS.discardsActivations = !keepActivations
    posteriorWS.discardsActivations = !keepActivations
  }

  /// Forgets the packed weights (the parameters may change after the solve)
  /// and restores taping the activations.
  func endSolve(_ model: NeuralSDEModel<Scalar>) {
    model.drift.mlp.unpack(driftWS)
    model.diffusion.mlp.unpack(diffusionWS)
    model.posteriorDrift.mlp.unpack(posteriorWS)
    driftWS.discardsActivations = false
    diffusionWS.discardsActivations = false
    posteriorWS.discardsActivations = false
  }

  /// Selects the activation slot of step i in every network workspace.
  func selectStep(_ i: Int) {
    let slot = tapeSteps > 0 ? i - tapeStart : 0
    driftWS.slot = slot
    diffusionWS.slot = slot
    posteriorWS.slot = slot
  }

  /// One Euler–Maruyama update `X_{i+1} = X_i + h·b + σ·ΔW̃` (the diffusion
  /// term applies σ for its noise type), then the divergence check.
  /// - Throws: `divergence` naming step `i + 1`, its time and the number of paths with NaN/Inf.
  static func step(
    _ diffusion: DiffusionTerm, rows: Int, x: UnsafePointer<Scalar>, drift b: UnsafePointer<Scalar>,
    sigma: UnsafePointer<Scalar>, increments dw: UnsafePointer<Scalar>, h: Scalar,
    into xNext: UnsafeMutablePointer<Scalar>, step i: Int, grid: TimeGrid
  ) throws {
    let d = diffusion.d
    diffusion.step(rows: rows, x: x, drift: b, sigma: sigma, increments: dw, h: h, into: xNext)
    guard Scalar.countNonFinite(n: rows * d, x: xNext) > 0 else { return }
    var affected = 0
    for r in 0..<rows where Scalar.countNonFinite(n: d, x: xNext + r * d) > 0 { affected += 1 }
    throw NSDEError.divergence(step: i + 1, time: grid.times[i + 1], affectedPaths: affected)
  }

  @_specialize(where Scalar == Double, Noise == PhiloxBrownianIncrements<Double>)
  @_specialize(where Scalar == Float, Noise == PhiloxBrownianIncrements<Float>)
  package func simulate<Noise: BrownianIncrements>(
    model: NeuralSDEModel<Scalar>, data: MatrixView<Scalar>?, pathRange: Range<Int>, pathsPerPoint k: Int,
    noise: Noise, grid: TimeGrid, recordSteps: [Int], recorded: [Matrix<Scalar>], final: Matrix<Scalar>?,
    kl klBuffer: UnsafeMutableBufferPointer<Double>?, logWeights logWeightBuffer: UnsafeMutableBufferPointer<Double>?,
    affine: AffineFeedbackControl? = nil, firstPoint: Int = 0, steps stepRange: Range<Int>? = nil,
    startState: UnsafePointer<Scalar>? = nil, keepActivations: Bool = true, onStep: ((Int) -> Void)? = nil
  ) throws where Noise.Scalar == Scalar {
    // The KL accumulates per control row (per path with feedback or affine control).
    let klRows = affine != nil ? pathRange.count : controlRows
    precondition(klBuffer.map { $0.count >= klRows } ?? true, "KL buffer smaller than \(klRows) control rows")
    precondition(logWeightBuffer.map { $0.count >= pathRange.count } ?? true, "log-weight buffer too small")
    let kl = klBuffer?.baseAddress
    let logWeights = logWeightBuffer?.baseAddress
    let rows = pathRange.count
    let d = model.latentDimension
    let m = model.noiseDimension
    let taped = tapeSteps > 0
    // Steps run: all, or one segment from a given start state (checkpointed backprop).
    let steps = stepRange ?? 0..<grid.steps
    if taped {
      precondition(steps.count <= tapeSteps, "a tape of \(tapeSteps) steps cannot hold steps \(steps)")
      tapeStart = steps.lowerBound
    }
    var x = taped ? state(steps.lowerBound) : stateA.base
    var xNext = taped ? state(steps.lowerBound + 1) : stateB.base
    if let startState {
      x.copyElements(from: startState, count: rows * d)
    } else {
      let x0 = model.initialState()
      for r in 0..<rows { for j in 0..<d { x[r * d + j] = x0[j] } }
    }
    func record(_ step: Int) {
      for (idx, s) in recordSteps.enumerated() where s == step {
        (recorded[idx].base + pathRange.lowerBound * d).copyElements(from: x, count: rows * d)
      }
    }
    record(steps.lowerBound)
    // A pass that only needs the states (checkpointing) leaves the tape's
    // activations unwritten: the states and increments are still taped.
    beginSolve(model, keepActivations: keepActivations)
    defer { endSolve(model) }
    let diffusion = model.diffusionTerm
    for i in steps {
      if taped {
        x = state(i)
        xNext = state(i + 1)
      }
      selectStep(i)
      let dw = taped ? increment(i) : increments.base
      let t = Scalar(grid.times[i])
      let h = Scalar(grid.stepSize(i))
      noise.fill(step: i, paths: pathRange, stepSize: grid.stepSize(i), into: dw, ld: m)
      if let data, let kl, let logWeights {
        if let affine {
          // u_i = K_i X_i + k_i per path, then ΔW̃ = ΔW + h·u (KL per path).
          let u = affine.evaluate(
            step: i, states: x, rows: rows, pathsPerPoint: k, firstPoint: firstPoint, as: Scalar.self)
          Scalar.applyControl(points: rows, k: 1, m: m, u: u.base, dw: dw, h: h, kl: kl, logWeights: logWeights)
        } else if feedback {
          // u_i = b̃(X_i, y, t_i) per path (KL per path).
          let input = fillControlInput(step: i, x: x, d: d, data: data, pathsPerPoint: k)
          model.posteriorDrift.forwardUnchecked(
            input, time: t, workspace: posteriorWS)
          Scalar.applyControl(
            points: rows, k: 1, m: m, u: posteriorWS.output.base, dw: dw, h: h, kl: kl, logWeights: logWeights)
        } else {
          // u_i = b̃(y, t_i) for the chunk's data points (KL per point).
          model.posteriorDrift.forwardUnchecked(
            data, time: t, workspace: posteriorWS)
          Scalar.applyControl(
            points: data.rows, k: k, m: m, u: posteriorWS.output.base, dw: dw, h: h, kl: kl, logWeights: logWeights)
        }
      }
      let xView = MatrixView(base: x, rows: rows, cols: d)
      model.drift.forwardUnchecked(
        xView, time: t, workspace: driftWS)
      model.diffusion.forwardUnchecked(
        diffusion.input(xView), time: t,
        workspace: diffusionWS)
      let b = driftWS.output.base
      let sigma = diffusionWS.output.base
      try Self.step(
        diffusion, rows: rows, x: x, drift: b, sigma: sigma, increments: dw, h: h, into: xNext, step: i, grid: grid)
      if !taped { swap(&x, &xNext) } else { x = xNext }
      record(i + 1)
      onStep?(i + 1)
    }
    if let final { (final.base + pathRange.lowerBound * d).copyElements(from: x, count: rows * d) }
  }
}
