import Foundation

/// Preallocated buffers of one chunk of paths (one per thread), and the one
/// solve loop (`simulate`) that drives a `StepScheme` over them.
///
/// With a tape (`tapeSteps = N`), every state `X_0…X_N`, every shifted
/// increment `ΔW̃_i` and the networks' activations of every step (and stage)
/// are kept, for backpropagation through the solver.
package final class SolveWorkspace<Scalar: SDEScalar>: @unchecked Sendable {
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
  /// Feedback control or a lookahead: the control network's input per
  /// control row and step — `[x, y]` or `[x, context]` per path, the context
  /// per data point — `(tapeSteps or 1)·controlRows × inputs` (kept per step for the VJPs).
  let controlInputs: Matrix<Scalar>
  /// True if the control reads the state (one control row per path).
  let feedback: Bool
  /// True if the control reads the observations to come (`NeuralSDEConfiguration.lookahead`).
  let contextual: Bool
  /// Vector-field evaluations per step (the scheme's stages; one tape slot each).
  let stages: Int
  /// Per-point grids: the step size of each data point for the current step
  /// (in `Scalar` for the kernels, in Double for the noise).
  let stepSizes: Matrix<Scalar>
  let noiseStepSizes: Matrix<Double>

  package init(model: NeuralSDEModel<Scalar>, points: Int, paths: Int, tapeSteps: Int = 0, stages: Int = 1) {
    precondition(stages >= 1, "a scheme has at least one stage")
    self.stages = stages
    stepSizes = Matrix(rows: 1, cols: Swift.max(points, 1))
    noiseStepSizes = Matrix(rows: 1, cols: Swift.max(points, 1))
    self.paths = paths
    self.points = points
    pathCapacity = paths
    pointCapacity = points
    self.tapeSteps = tapeSteps
    let slots = Swift.max(tapeSteps, 1)
    let networkRows = model.networkRows(points: points, paths: paths)
    // The drift's output is read by the step right away, never by the backward pass.
    driftWS = model.drift.makeWorkspace(
      rows: networkRows[0], slots: tapeSteps > 0 ? slots * stages : 1, tapesOutput: false)
    diffusionWS = model.diffusion.makeWorkspace(rows: networkRows[1], slots: tapeSteps > 0 ? slots * stages : 1)
    posteriorWS = model.posteriorDrift.makeWorkspace(rows: networkRows[2], slots: slots)
    feedback = model.configuration.posteriorControl == .feedback && points > 0
    let d = model.latentDimension
    let m = model.noiseDimension
    let taped = tapeSteps > 0
    contextual = model.configuration.lookahead > 0 && points > 0
    controlInputs = Matrix(
      rows: feedback ? slots * paths : contextual ? slots * points : 0, cols: model.configuration.posteriorInputs)
    stateA = Matrix(rows: taped ? 0 : paths, cols: d)
    stateB = Matrix(rows: taped ? 0 : paths, cols: d)
    increments = Matrix(rows: taped ? 0 : paths, cols: m)
    statesTape = Matrix(rows: taped ? (tapeSteps + 1) * paths : 0, cols: d)
    incrementsTape = Matrix(rows: taped ? tapeSteps * paths : 0, cols: m)
  }

  /// The bytes `init(model:points:paths:tapeSteps:)` would allocate, computed
  /// from the shapes alone (nil on overflow), for memory checks before allocating.
  static func estimatedBytes(
    model: NeuralSDEModel<Scalar>, points: Int, paths: Int, tapeSteps: Int = 0, stages: Int = 1
  ) -> Int? {
    let slots = Swift.max(tapeSteps, 1)
    guard let fieldSlots = SizeArithmetic.product(tapeSteps > 0 ? slots : 1, stages) else { return nil }
    let d = model.latentDimension
    let m = model.noiseDimension
    let networkRows = model.networkRows(points: points, paths: paths)
    let feedback = model.configuration.posteriorControl == .feedback && points > 0
    let contextual = model.configuration.lookahead > 0 && points > 0
    let s = MemoryLayout<Scalar>.stride
    let states =
      tapeSteps > 0
      ? SizeArithmetic.sum([
        SizeArithmetic.product(tapeSteps + 1, paths, d, s), SizeArithmetic.product(tapeSteps, paths, m, s),
      ])
      : SizeArithmetic.product(3, paths, Swift.max(d, m), s)
    return SizeArithmetic.sum([
      model.drift.workspaceBytes(rows: networkRows[0], slots: fieldSlots, tapesOutput: false),
      model.diffusion.workspaceBytes(rows: networkRows[1], slots: fieldSlots),
      model.posteriorDrift.workspaceBytes(rows: networkRows[2], slots: slots),
      states,
      feedback || contextual
        ? SizeArithmetic.product(slots, feedback ? paths : points, model.configuration.posteriorInputs, s) : 0,
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

  /// The control's input of step i (`controlRows × inputs`).
  func controlInput(_ i: Int) -> UnsafeMutablePointer<Scalar> {
    controlInputs.base + (tapeSteps > 0 ? i - tapeStart : 0) * controlRows * controlInputs.cols
  }

  /// Writes the step's control input and returns it as a view: with feedback
  /// `[x_r, y_{⌊r/K⌋}]` (or `[x_r, context_{⌊r/K⌋}(i)]` with a lookahead) for
  /// every path r; without, `context_b(i)` for every data point b.
  func fillControlInput(
    step i: Int, x: UnsafePointer<Scalar>, d: Int, posterior: PosteriorDrive<Scalar>
  ) -> MatrixView<Scalar> {
    let cols = controlInputs.cols
    let k = posterior.pathsPerPoint
    let data = posterior.data
    let base = controlInput(i)
    let stateColumns = feedback ? d : 0
    for r in 0..<controlRows {
      let row = base + r * cols
      let point = feedback ? r / k : r
      if feedback { row.copyElements(from: x + r * d, count: d) }
      if let context = posterior.context {
        context.write(step: i, point: posterior.firstPoint + point, into: row + stateColumns)
      } else {
        (row + stateColumns).copyElements(from: data.base + point * data.ld, count: data.cols)
      }
    }
    return MatrixView(base: base, rows: controlRows, cols: cols)
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

  /// Per-point grids: step i's size `h_{b,i}` of each of the chunk's `points`
  /// data points from `firstPoint` on, written to `stepSizes`; nil on a shared grid.
  func pointStepSizes(step i: Int, grid: BatchGrid, firstPoint: Int, points: Int) -> UnsafePointer<Scalar>? {
    guard grid.shared == nil else { return nil }
    for g in 0..<points {
      let h = grid.stepSize(i, point: firstPoint + g)
      noiseStepSizes.base[g] = h
      stepSizes.base[g] = Scalar(h)
    }
    return UnsafePointer(stepSizes.base)
  }

  /// Selects the control's activation slot of step i.
  func selectControl(step i: Int) {
    posteriorWS.slot = tapeSteps > 0 ? i - tapeStart : 0
  }

  /// Selects the drift's and diffusion's activation slot of stage s of step i
  /// (without a tape every stage shares one slot: a pushforward reads a
  /// stage's activations before it evaluates the next).
  func selectFields(step i: Int, stage s: Int) {
    let slot = tapeSteps > 0 ? (i - tapeStart) * stages + s : 0
    driftWS.slot = slot
    diffusionWS.slot = slot
  }

  /// The one solve loop: runs `scheme` over `steps` (all of the grid, or one
  /// segment from `startState` for checkpointed backprop) for the chunk's
  /// paths `pathRange`, from `x_0` unless a start state is given.
  ///
  /// Per step i: the noise `ΔW_i`; with a `posterior`, the control `u_i` at
  /// the left end-point shifts it to `ΔW̃_i = ΔW_i + h_i u_i` and adds to the
  /// KL and log-weights (and, with `tangent`, their derivatives); then
  /// `scheme.step` — or `scheme.pushforward` with `tangent` — and the
  /// divergence check. `observe(j, X_j)` is called for the start state and
  /// after every step (the caller keeps what its observation schedule or
  /// recording needs); `onStep(i + 1)` reports progress.
  ///
  /// - Throws: `divergence` naming the step, its time and the number of paths with NaN/Inf.
  @_specialize(where Scalar == Double, Noise == PhiloxBrownianIncrements<Double>)
  @_specialize(where Scalar == Float, Noise == PhiloxBrownianIncrements<Float>)
  package func simulate<Noise: BrownianIncrements>(
    model: NeuralSDEModel<Scalar>, scheme: any StepScheme, noise: Noise, grid: BatchGrid, pathRange: Range<Int>,
    posterior: PosteriorDrive<Scalar>?, steps stepRange: Range<Int>? = nil, startState: UnsafePointer<Scalar>? = nil,
    keepActivations: Bool = true, tangent: StepTangent<Scalar>? = nil, controlTangent: ControlTangent<Scalar>? = nil,
    observe: ((_ step: Int, _ state: UnsafePointer<Scalar>) -> Void)? = nil, onStep: ((Int) -> Void)? = nil
  ) throws where Noise.Scalar == Scalar {
    precondition(scheme.gaussiansPerStep == 1, "the solve loop draws one Gaussian per step; \(scheme.name) needs more")
    let rows = pathRange.count
    let d = model.latentDimension
    let m = model.noiseDimension
    let taped = tapeSteps > 0
    let steps = stepRange ?? 0..<grid.steps
    // Per-point grids: each data point's K paths take its own step size (they need a posterior drive).
    precondition(grid.shared != nil || posterior != nil, "per-point grids need the data points of a posterior solve")
    let k = posterior?.pathsPerPoint ?? 1
    let first = posterior?.firstPoint ?? 0
    let own = grid.grid(point: first)
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
    observe?(steps.lowerBound, x)
    // A pass that only needs the states (checkpointing) leaves the tape's
    // activations unwritten: the states and increments are still taped.
    beginSolve(model, keepActivations: keepActivations)
    defer { endSolve(model) }
    for i in steps {
      if taped {
        x = state(i)
        xNext = state(i + 1)
      }
      let dw = taped ? increment(i) : increments.base
      let t = Scalar(own.times[i])
      let h = Scalar(own.stepSize(i))
      let sizes = pointStepSizes(step: i, grid: grid, firstPoint: first, points: rows / k)
      if grid.shared != nil {
        noise.fill(step: i, paths: pathRange, stepSize: own.stepSize(i), into: dw, ld: m)
      } else {
        noise.fill(step: i, paths: pathRange, stepSizes: noiseStepSizes.base, groupRows: k, into: dw, ld: m)
      }
      let rowSizes = RowStepSizes(uniform: h, perGroup: sizes, groupRows: k)
      if let posterior {
        applyControl(
          posterior, model: model, step: i, time: t, sizes: rowSizes, state: x, increments: dw, rows: rows,
          tangent: controlTangent)
      }
      var step = SchemeStep(
        index: i, time: t, sizes: rowSizes, rows: rows, state: x, next: xNext, increments: dw,
        fields: VectorFields(model: model, workspace: self, index: i))
      if let tangent {
        step.tangent = tangent
        scheme.pushforward(step)
      } else {
        scheme.step(step)
      }
      if Scalar.countNonFinite(n: rows * d, x: xNext) > 0 {
        var affected = 0
        for r in 0..<rows where Scalar.countNonFinite(n: d, x: xNext + r * d) > 0 { affected += 1 }
        throw NSDEError.divergence(step: i + 1, time: own.times[i + 1], affectedPaths: affected)
      }
      if !taped { swap(&x, &xNext) } else { x = xNext }
      observe?(i + 1, x)
      onStep?(i + 1)
    }
  }

  /// The posterior control of step i at the left end-point — a given affine
  /// map, the feedback network `b̃(X_i, y, t_i)` or the mean-field network
  /// `b̃(y, t_i)` — applied as the shift `ΔW̃ = ΔW + h·u`, with the KL and
  /// log-weight accumulation (per path, or per data point for mean-field);
  /// with `tangent`, first the control's JVP and the KL and log-weight tangents
  /// (which use the unshifted ΔW).
  func applyControl(
    _ posterior: PosteriorDrive<Scalar>, model: NeuralSDEModel<Scalar>, step i: Int, time t: Scalar,
    sizes: RowStepSizes<Scalar>, state x: UnsafeMutablePointer<Scalar>, increments dw: UnsafeMutablePointer<Scalar>,
    rows: Int, tangent: ControlTangent<Scalar>?
  ) {
    let m = model.noiseDimension
    let k = posterior.pathsPerPoint
    /// `ΔW̃ = ΔW + h u` with the KL and log-weights, for `controls` control rows of `perControl` paths each
    /// (`u` per control row; each row's own h with per-point grids).
    func shift(_ u: UnsafePointer<Scalar>, controls: Int, perControl: Int) {
      Scalar.applyControl(
        points: controls, k: perControl, m: m, u: u, dw: dw, h: sizes, kl: posterior.kl,
        logWeights: posterior.logWeights)
    }
    if let affine = posterior.affine {
      precondition(tangent == nil, "an affine control has no parameters to differentiate")
      let u = affine.evaluate(
        step: i, states: x, rows: rows, pathsPerPoint: k, firstPoint: posterior.firstPoint, as: Scalar.self)
      shift(u.base, controls: rows, perControl: 1)
      return
    }
    selectControl(step: i)
    let input =
      feedback || contextual
      ? fillControlInput(step: i, x: x, d: model.latentDimension, posterior: posterior)
      : posterior.data
    model.posteriorDrift.forwardUnchecked(input, time: t, workspace: posteriorWS)
    let u = posteriorWS.output.base
    let kc = pathsPerControlRow(k)
    if let tangent {
      tangent.accumulate(
        self, model: model, u: u, increments: dw, sizes: sizes, pathsPerControlRow: kc)
    }
    shift(u, controls: controlRows, perControl: kc)
  }
}

/// What drives a posterior solve of one chunk: its data points, K paths each
/// (path r reads point `⌊r/K⌋`), the accumulators of the KL term (per control
/// row: data point, or path with feedback or affine control) and of the log
/// Girsanov weights (per path), and an affine control in place of the network.
package struct PosteriorDrive<Scalar: SDEScalar> {
  let data: MatrixView<Scalar>
  let pathsPerPoint: Int
  let kl: UnsafeMutablePointer<Double>
  let logWeights: UnsafeMutablePointer<Double>
  var affine: AffineFeedbackControl?
  /// The chunk's first data point (the affine control's offsets and the grids are per point).
  var firstPoint: Int
  /// A model with a lookahead: what its control sees of the observations to come (in place of `data`).
  var context: ObservationContext<Scalar>?

  package init(
    data: MatrixView<Scalar>, pathsPerPoint: Int, kl: UnsafeMutablePointer<Double>,
    logWeights: UnsafeMutablePointer<Double>, affine: AffineFeedbackControl? = nil, firstPoint: Int = 0,
    context: ObservationContext<Scalar>? = nil
  ) {
    self.data = data
    self.pathsPerPoint = pathsPerPoint
    self.kl = kl
    self.logWeights = logWeights
    self.affine = affine
    self.firstPoint = firstPoint
    self.context = context
  }
}

/// The control's part of a pushforward: its output tangent `du`
/// (`(controlRows·T) × m`), its input tangent `[S, 0]` (feedback only), and
/// the KL and log-weight tangents it adds to (per control row and per path,
/// T directions each).
package struct ControlTangent<Scalar: SDEScalar> {
  let sensitivity: Matrix<Scalar>
  let parameterTangents: Matrix<Scalar>
  let output: Matrix<Scalar>
  let inputTangent: Matrix<Scalar>
  let workspace: MLPTangentWorkspace<Scalar>
  let klTangent: UnsafeMutablePointer<Double>
  let logWeightTangent: UnsafeMutablePointer<Double>
  /// DReG only (else nil): per path and direction, the control's direct term
  /// in the path density, `Σ_i ΔW_p·(∂u_q/∂β)v` (the parameters' tangent
  /// alone, the state's left out; 0 for directions outside the control).
  var scoreTangent: UnsafeMutablePointer<Double>? = nil

  /// The control's JVP at the step's evaluation, then
  /// `d KL_q += h u_q·du_q` and `d log w_p −= ΔW_p·du_q + h u_q·du_q`;
  /// with `scoreTangent`, `score_p += ΔW_p·du_q` from the JVP without the
  /// state's tangent (a JVP of its own with feedback; the mean-field
  /// control's JVP has no state tangent, so it serves both).
  func accumulate(
    _ ws: SolveWorkspace<Scalar>, model: NeuralSDEModel<Scalar>, u: UnsafePointer<Scalar>,
    increments dw: UnsafePointer<Scalar>, sizes: RowStepSizes<Scalar>, pathsPerControlRow kc: Int
  ) {
    let d = model.latentDimension
    let m = model.noiseDimension
    let t = parameterTangents.rows
    if let score = scoreTangent, ws.feedback {
      model.posteriorDrift.jvpUnchecked(
        workspace: ws.posteriorWS, inputTangent: nil, tangents: parameterTangents, output: output.view,
        tangentWorkspace: workspace)
      let du = output.base
      for q in 0..<ws.controlRows {
        for tau in 0..<t {
          let duq = du + (q * t + tau) * m
          for p in (q * kc)..<((q + 1) * kc) {
            var wdu: Scalar = 0
            for l in 0..<m { wdu += dw[p * m + l] * duq[l] }
            score[p * t + tau] += Double(wdu)
          }
        }
      }
    }
    if ws.feedback {
      let cols = inputTangent.cols
      for row in 0..<(ws.paths * t) {
        (inputTangent.base + row * cols).copyElements(from: sensitivity.base + row * d, count: d)
      }
    }
    model.posteriorDrift.jvpUnchecked(
      workspace: ws.posteriorWS, inputTangent: ws.feedback ? inputTangent.view : nil, tangents: parameterTangents,
      output: output.view, tangentWorkspace: workspace)
    let du = output.base
    for q in 0..<ws.controlRows {
      // Control row q's paths are rows q·kc ..< (q+1)·kc.
      let h = sizes[row: q * kc]
      for tau in 0..<t {
        let duq = du + (q * t + tau) * m
        var udu: Scalar = 0
        for l in 0..<m { udu += u[q * m + l] * duq[l] }
        klTangent[q * t + tau] += Double(h * udu)
        for p in (q * kc)..<((q + 1) * kc) {
          var wdu: Scalar = 0
          for l in 0..<m { wdu += dw[p * m + l] * duq[l] }
          logWeightTangent[p * t + tau] -= Double(wdu + h * udu)
          if !ws.feedback, let score = scoreTangent { score[p * t + tau] += Double(wdu) }
        }
      }
    }
  }
}
