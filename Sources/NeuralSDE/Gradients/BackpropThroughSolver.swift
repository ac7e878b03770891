import Foundation

/// Solve, then differentiate: the exact gradient of the discretised objective
/// by reverse mode through the Euler–Maruyama recursion (the discrete adjoint),
/// using the MLPs' analytic vector–Jacobian products.
///
/// With `λ_{i+1} = ∂L/∂X_{i+1}` and `X_{i+1} = X_i + h b(X_i) + σ(X_i)·ΔW̃_i`,
/// `ΔW̃_i = ΔW_i + h b̃(y, t_i)`:
///
///     ∂L/∂b_i = h λ,   ∂L/∂σ_i = λ ⊗ ΔW̃_i,   ∂L/∂b̃_i = h Σ_paths σ_iᵀ λ  (+ KL / weight terms)
///     λ_i = λ_{i+1} + J_b(X_i)ᵀ (h λ) + J_σ(X_i)ᵀ (λ ⊗ ΔW̃_i)
///
/// Memory strategy: the forward pass tapes every state, shifted increment and
/// network activation (`O(N·M·(d + widths))`), so the backward pass does no
/// recomputation: its cost is two products per layer (input and weight
/// gradients). `diagnostics.peakWorkspaceBytes` reports the tape size. With a
/// `memoryBudget` that the full tape exceeds, a `BackpropPlan` fits it: each
/// core's data points run in sequential micro-batches (gradient accumulation:
/// the tape holds one micro-batch) and/or the states are checkpointed
/// (`CheckpointSchedule`: segments re-run, bit for bit the same activations),
/// whichever the cost model says is cheaper. Chunks of whole data points run
/// concurrently (one per core); their gradients are summed in order.
public struct BackpropThroughSolver: GradientEstimator {
  /// Row chunks run concurrently (default: one per core).
  public var chunks: Int
  /// If set, the most bytes the workspaces may take (`plan` shows how it is
  /// met). nil: a full tape (`estimatedWorkspaceBytes` predicts it).
  public var memoryBudget: Int?
  /// Whether a budget may be met by micro-batches. They sum the gradient over
  /// a chunk's paths in a different order, so it equals the full tape's to
  /// round-off (like any other chunk count), not bit for bit; false keeps to
  /// checkpointing, whose gradient is the full tape's bit for bit.
  public var allowsMicroBatches: Bool
  /// Tapes kept between calls with the same model and shapes (training loops
  /// reuse them instead of allocating and zero-filling fresh memory each step).
  /// Copies of the estimator share it; it holds at most 8 chunk tapes.
  let cache = WorkspaceCache()

  /// An estimator running `chunks` row chunks concurrently (default: one per
  /// core), within `memoryBudget` bytes if given.
  public init(chunks: Int? = nil, memoryBudget: Int? = nil, allowsMicroBatches: Bool = true) {
    self.chunks = chunks ?? Threading.availableCores
    self.memoryBudget = memoryBudget
    self.allowsMicroBatches = allowsMicroBatches
  }

  /// How a gradient over `points` data points (K paths each) and N steps runs
  /// within `memoryBudget`: the full tape if it fits (or there is no budget);
  /// else, over every checkpoint schedule (`CheckpointSchedule.candidates`,
  /// the full tape first) with the fewest micro-batches that make it fit, the
  /// plan of least `BackpropPlan.relativeCost`.
  /// - Throws: `invalidArgument` naming the least memory any plan needs if none fits.
  public func plan<Scalar: SDEScalar>(
    model: NeuralSDEModel<Scalar>, points: Int, pathsPerPoint k: Int, steps: Int
  ) throws -> BackpropPlan {
    let full = CheckpointSchedule.fullTape(steps: steps)
    let largestPart = ChunkFanOut(units: points, chunks: chunks).parts.map(\.count).max() ?? 0
    func bytes(_ schedule: CheckpointSchedule, _ batches: Int) -> Int {
      estimatedWorkspaceBytes(
        model: model, points: points, pathsPerPoint: k, steps: steps, schedule: schedule, microBatches: batches)
        ?? .max
    }
    func make(_ schedule: CheckpointSchedule, recomputed: Int, _ batches: Int) -> BackpropPlan {
      BackpropPlan(
        schedule: schedule, microBatches: batches, estimatedBytes: bytes(schedule, batches),
        relativeCost: BackpropPlan.relativeCost(
          recomputedSteps: recomputed, steps: steps, pathsPerBatch: (largestPart + batches - 1) / batches * k,
          pathsFull: largestPart * k, scalarBytes: MemoryLayout<Scalar>.stride))
    }
    guard let budget = memoryBudget, bytes(full, 1) > budget else { return make(full, recomputed: 0, 1) }
    let maxBatches = allowsMicroBatches ? Swift.max(largestPart, 1) : 1
    var best: BackpropPlan?
    var least = (bytes: Int.max, schedule: full, batches: maxBatches)
    // Fewest re-run steps first: a schedule's cost is at least its re-run
    // cost, so the search stops once that exceeds the best plan's.
    // (Each schedule's re-run count is computed once: it walks its plan.)
    let ranked = ([full] + CheckpointSchedule.candidates(steps: steps)).map { ($0, $0.recomputedSteps) }
      .sorted { $0.1 < $1.1 }
    for (schedule, recomputed) in ranked {
      let floor = BackpropPlan.relativeCost(
        recomputedSteps: recomputed, steps: steps, pathsPerBatch: 1 << 40, pathsFull: 1 << 40)
      if let best, floor >= best.relativeCost { break }
      let most = bytes(schedule, maxBatches)
      if most < least.bytes { least = (most, schedule, maxBatches) }
      guard most <= budget else { continue }
      // The fewest micro-batches that fit (the bytes fall as batches grow).
      var lo = 1
      var hi = maxBatches
      while lo < hi {
        let mid = (lo + hi) / 2
        if bytes(schedule, mid) <= budget { hi = mid } else { lo = mid + 1 }
      }
      let candidate = make(schedule, recomputed: recomputed, lo)
      // On a tie, the longer tape (fewer, longer passes).
      if best == nil || candidate.relativeCost < best!.relativeCost
        || (candidate.relativeCost == best!.relativeCost
          && candidate.schedule.tapeLength > best!.schedule.tapeLength)
      {
        best = candidate
      }
    }
    guard let best else {
      throw NSDEError.invalidArgument(
        "backprop of \(points * k) paths × \(steps) steps needs at least \(least.bytes == .max ? "more than can be addressed" : MemoryLimit.describe(least.bytes)) (\(least.schedule)\(least.batches > 1 ? ", \(least.batches) micro-batches per core" : "")), over the memory budget of \(MemoryLimit.describe(budget))"
      )
    }
    return best
  }

  /// The checkpoint schedule of `plan` (the full tape without a budget).
  public func checkpointSchedule<Scalar: SDEScalar>(
    model: NeuralSDEModel<Scalar>, points: Int, pathsPerPoint k: Int, steps: Int
  ) throws -> CheckpointSchedule {
    try plan(model: model, points: points, pathsPerPoint: k, steps: steps).schedule
  }

  /// The workspace (tape and buffers) a gradient over `points` data points
  /// with K paths each and N steps allocates, predicted from the shapes
  /// before solving (nil if it overflows); `diagnostics.peakWorkspaceBytes`
  /// reports the actual value afterwards. Each core's chunk allocates for its
  /// largest micro-batch.
  public func estimatedWorkspaceBytes<Scalar: SDEScalar>(
    model: NeuralSDEModel<Scalar>, points: Int, pathsPerPoint k: Int, steps: Int,
    schedule: CheckpointSchedule? = nil, microBatches: Int = 1
  ) -> Int? {
    let batches = Swift.max(microBatches, 1)
    return SizeArithmetic.sum(
      ChunkFanOut(units: points, chunks: chunks).parts.map {
        BackpropChunk<Scalar>.estimatedBytes(
          model: model, points: ($0.count + batches - 1) / batches, pathsPerPoint: k, steps: steps,
          schedule: schedule)
      } + [SizeArithmetic.product(chunks, model.parameterCount, 8)])
  }

  /// Frees the tapes kept from earlier calls (they are otherwise kept until
  /// the estimator is released).
  public func releaseCachedWorkspaces() { cache.removeAll() }

  /// The loss and its exact gradient in every parameter (see `GradientEstimator`).
  public func gradient<Scalar: SDEScalar, Noise: BrownianIncrements>(
    of model: NeuralSDEModel<Scalar>, data: Matrix<Scalar>, noise: Noise, grid: TimeGrid, pathsPerPoint k: Int,
    objective: TrainingObjective
  ) throws -> GradientResult where Noise.Scalar == Scalar {
    let clock = ContinuousClock()
    let start = clock.now
    try model.validateForGradient(data: data, noise: noise, grid: grid, pathsPerPoint: k)
    let fanOut = ChunkFanOut(units: data.rows, chunks: chunks)
    let parts = fanOut.parts
    let p = model.parameterCount
    let plan = try plan(model: model, points: data.rows, pathsPerPoint: k, steps: grid.steps)
    let schedule = plan.schedule
    // The plan's prediction (`.max` when the shapes overflow) against the memory limit.
    try MemoryLimit.check(
      plan.estimatedBytes == .max ? nil : plan.estimatedBytes,
      for: "backprop through \(grid.steps) steps of \(data.rows * k) paths (its tape)")
    let partial = Matrix<Double>(rows: parts.count, cols: p)
    func key(_ part: Range<Int>) -> WorkspaceCache.Key {
      WorkspaceCache.Key(
        model: ObjectIdentifier(model), points: part, k: k, steps: grid.steps, checkpointLevels: schedule.levels,
        microBatches: plan.microBatches)
    }
    func batches(_ part: Range<Int>) -> [Range<Int>] {
      Threading.partition(part.count, into: plan.microBatches).map {
        (part.lowerBound + $0.lowerBound)..<(part.lowerBound + $0.upperBound)
      }
    }
    let outcomes = try fanOut.run(
      workspace: { part -> BackpropChunk<Scalar> in
        if let cached = cache.checkOut(key(part)) as? BackpropChunk<Scalar>, cached.model === model { return cached }
        return BackpropChunk(
          model: model, points: batches(part).map(\.count).max() ?? 0, pathsPerPoint: k, schedule: schedule)
      },
      release: { part, chunk in cache.checkIn(key(part), chunk) },
      body: { c, part, chunk in
        // Micro-batches one after another through the same tape; their
        // gradients accumulate in order.
        var loss = 0.0
        for batch in batches(part) {
          chunk.bind(batch)
          loss += try chunk.run(
            data: data, noise: noise, grid: grid, objective: objective, totalPoints: data.rows,
            gradient: partial.base + c * p)
        }
        return (loss: loss, bytes: chunk.bytes)
      })
    let losses = outcomes.map(\.loss)
    let bytes = outcomes.map(\.bytes)
    var g = [Double](repeating: 0, count: p)
    for c in 0..<parts.count { for j in 0..<p { g[j] += partial[c, j] } }
    return GradientResult(
      loss: losses.reduce(0, +), gradient: g,
      diagnostics: GradientDiagnostics(
        seconds: (clock.now - start).seconds, peakWorkspaceBytes: bytes.reduce(0, +) + partial.count * 8,
        tangentDirections: 0))
  }
}

/// How backprop through the solver fits a memory budget
/// (`BackpropThroughSolver.plan`): each core's data points in `microBatches`
/// sequential batches, each solved with `schedule`.
public struct BackpropPlan: Sendable, Equatable, CustomStringConvertible {
  /// What each micro-batch tapes and re-runs.
  public let schedule: CheckpointSchedule
  /// Sequential micro-batches per core (1: all its points at once).
  public let microBatches: Int
  /// Predicted workspace (tapes and buffers, all cores), bytes (`Int.max` if the shapes overflow).
  public let estimatedBytes: Int
  /// Predicted time over the full tape's: `(1 + α·R/N)·(1 + r₀/M_b)/(1 + r₀/M_c)`
  /// with R re-run steps, M_b paths per micro-batch and M_c per core
  /// (`rerunCost`, `passOverheadPaths`).
  public let relativeCost: Double

  /// α: a re-run step's cost over a gradient step's. Measured with
  /// `nsde-bench gradient --memory-budget` (reference problem, M = 4096,
  /// Double, 2-core AMD EPYC): 48 re-run steps of N = 50 cost 1.42–1.46×.
  public static let rerunCost = 0.45
  /// r₀: a pass's fixed cost in Double paths (per-step calls, tile edges).
  /// Measured on the reference problem by running chunks of 512, 256, 128
  /// paths: 1.01×, 1.08×, 1.20× the 2048-path time. A Float path is half the
  /// work, so r₀ counts twice as many Float paths.
  public static let passOverheadPaths = 24.0

  static func relativeCost(
    recomputedSteps: Int, steps: Int, pathsPerBatch: Int, pathsFull: Int, scalarBytes: Int = 8
  ) -> Double {
    let rerun = 1 + rerunCost * Double(recomputedSteps) / Double(Swift.max(steps, 1))
    let r0 = passOverheadPaths * 8 / Double(Swift.max(scalarBytes, 1))
    let overhead = (1 + r0 / Double(Swift.max(pathsPerBatch, 1))) / (1 + r0 / Double(Swift.max(pathsFull, 1)))
    return rerun * overhead
  }

  public var description: String {
    (microBatches > 1 ? "\(microBatches) micro-batches per core, " : "") + schedule.description
  }
}

/// One chunk's tape and backward buffers, allocated for `pointCapacity`
/// data points; `bind` selects the (micro-)batch the next `run` differentiates.
final class BackpropChunk<Scalar: SDEScalar>: @unchecked Sendable {
  let model: NeuralSDEModel<Scalar>
  /// The data points of the batch `run` differentiates, and its paths.
  private(set) var points: Range<Int>
  private(set) var rows: Int
  let pointCapacity: Int
  let k: Int
  let em: EulerMaruyamaWorkspace<Scalar>
  let decoderWS: MLPWorkspace<Scalar>
  /// λ = ∂L/∂X_i and h·λ: `rows × d` each.
  let lambda: Matrix<Scalar>
  let driftOutputGradient: Matrix<Scalar>
  /// `∂L/∂σ`: `rows × (d or d·m)`.
  let diffusionOutputGradient: Matrix<Scalar>
  /// `σᵀλ` per path (`rows × m`) and `∂L/∂b̃` per control row (`points × m`,
  /// or `rows × m` with feedback control).
  let controlPerPath: Matrix<Scalar>
  let controlGradient: Matrix<Scalar>
  /// Feedback control only: `∂L/∂[x, y]` of the control's input, `rows × (d + D)`.
  let controlInputGradient: Matrix<Scalar>
  /// `∂L/∂decoded`, `rows × D`; the chunk's gradient in Scalar, `P`.
  let decodedGradient: Matrix<Scalar>
  let gradient: Matrix<Scalar>

  /// What is taped and what is recomputed.
  let schedule: CheckpointSchedule
  /// The kept states, per schedule level: `slots[ℓ]·rows × d`.
  let checkpoints: [Matrix<Scalar>]

  /// Buffers for batches of up to `capacity` data points (K paths each); bound to the first `capacity`.
  init(model: NeuralSDEModel<Scalar>, points capacity: Int, pathsPerPoint k: Int, schedule: CheckpointSchedule) {
    self.model = model
    points = 0..<capacity
    pointCapacity = capacity
    self.k = k
    rows = capacity * k
    let d = model.latentDimension
    let m = model.noiseDimension
    self.schedule = schedule
    em = EulerMaruyamaWorkspace(model: model, points: capacity, paths: rows, tapeSteps: schedule.tapeLength)
    let pathCount = rows
    checkpoints = schedule.slots.map { Matrix(rows: $0 * pathCount, cols: d) }
    decoderWS = model.decoder.makeWorkspace(rows: rows)
    lambda = Matrix(rows: rows, cols: d)
    driftOutputGradient = Matrix(rows: rows, cols: d)
    diffusionOutputGradient = Matrix(rows: rows, cols: model.diffusion.outputs)
    controlPerPath = Matrix(rows: rows, cols: m)
    controlGradient = Matrix(rows: em.controlRows, cols: m)
    controlInputGradient = Matrix(rows: em.feedback ? rows : 0, cols: model.configuration.posteriorInputs)
    decodedGradient = Matrix(rows: rows, cols: model.dataDimension)
    gradient = Matrix(rows: 1, cols: model.parameterCount)
  }

  /// Makes `run` differentiate the data points `batch` (at most `pointCapacity`).
  func bind(_ batch: Range<Int>) {
    precondition(batch.count <= pointCapacity, "batch of \(batch.count) points exceeds the chunk's \(pointCapacity)")
    points = batch
    rows = batch.count * k
    em.bind(points: batch.count, paths: rows)
  }

  /// The bytes a chunk would allocate (tape and buffers), from the shapes alone (nil on overflow).
  static func estimatedBytes(
    model: NeuralSDEModel<Scalar>, points: Int, pathsPerPoint k: Int, steps: Int,
    schedule: CheckpointSchedule? = nil
  ) -> Int? {
    guard let rows = SizeArithmetic.product(points, k) else { return nil }
    let schedule = schedule ?? .fullTape(steps: steps)
    let widths =
      3 * model.latentDimension + model.diffusion.outputs + 2 * model.noiseDimension + model.dataDimension
      + model.configuration.posteriorInputs
    return SizeArithmetic.sum([
      EulerMaruyamaWorkspace<Scalar>.estimatedBytes(
        model: model, points: points, paths: rows, tapeSteps: schedule.tapeLength),
      SizeArithmetic.product(
        schedule.slots.reduce(0, +), rows, model.latentDimension, MemoryLayout<Scalar>.stride),
      model.decoder.workspaceBytes(rows: rows),
      SizeArithmetic.product(rows, widths, MemoryLayout<Scalar>.stride),
      SizeArithmetic.product(2, model.parameterCount, 8),
    ])
  }

  var bytes: Int {
    let own = [
      lambda, driftOutputGradient, diffusionOutputGradient,
      controlPerPath, controlGradient, controlInputGradient, decodedGradient, gradient,
    ].map(\.count).reduce(0, +)
    let kept = checkpoints.map(\.count).reduce(0, +)
    return em.bytes + (own + kept) * MemoryLayout<Scalar>.stride + decoderWS.bytes
  }

  /// Forward with tape, then backward; adds the batch's gradient (Double)
  /// to `out` and returns its loss contribution.
  @_specialize(where Scalar == Double, Noise == PhiloxBrownianIncrements<Double>)
  @_specialize(where Scalar == Float, Noise == PhiloxBrownianIncrements<Float>)
  func run<Noise: BrownianIncrements>(
    data: Matrix<Scalar>, noise: Noise, grid: TimeGrid, objective: TrainingObjective, totalPoints: Int,
    gradient out: UnsafeMutablePointer<Double>
  ) throws -> Double where Noise.Scalar == Scalar {
    let n = grid.steps
    let d = model.latentDimension
    let m = model.noiseDimension
    let grad = gradient.base
    grad.setZero(count: model.parameterCount)
    let y = data.rows(points)
    let pathRange = (points.lowerBound * k)..<(points.upperBound * k)
    var kl = [Double](repeating: 0, count: em.controlRows)
    var logW = [Double](repeating: 0, count: rows)
    let rows = self.rows
    let levels = schedule.levels
    let tau = schedule.tapeLength
    func slot(_ c: CheckpointSchedule.Slot) -> UnsafeMutablePointer<Scalar> {
      checkpoints[c.level].base + c.index * rows * d
    }
    var scratchKL = [Double](repeating: 0, count: em.controlRows)
    var scratchLogW = [Double](repeating: 0, count: rows)
    /// Simulates `range` (its start state from `start`, or `x_0`) in pieces of
    /// τ steps through the tape, with KL and log-weights into the given
    /// buffers, and keeps the state at every multiple of `levels[store]`.
    func simulate(
      _ range: Range<Int>, from start: UnsafePointer<Scalar>?, store: Int?,
      kl klp: UnsafeMutableBufferPointer<Double>, logWeights lwp: UnsafeMutableBufferPointer<Double>
    ) throws {
      var pieceStart = range.lowerBound
      var x = start
      while pieceStart < range.upperBound {
        let piece = pieceStart..<Swift.min(pieceStart + tau, range.upperBound)
        // Only the last piece's activations are differentiated from this
        // pass (the backward sweep re-runs the others): the rest keep states only.
        try em.simulate(
          model: model, data: y, pathRange: pathRange, pathsPerPoint: k, noise: noise, grid: grid,
          recordSteps: [], recorded: [], final: nil, kl: klp, logWeights: lwp, steps: piece, startState: x,
          keepActivations: piece.upperBound == range.upperBound)
        if let level = store, (pieceStart - range.lowerBound) % levels[level] == 0 {
          let index = (pieceStart - range.lowerBound) / levels[level]
          slot(.init(level: level, index: index)).copyElements(from: em.state(pieceStart), count: rows * d)
        }
        // The next piece starts from this one's last state (read before the tape is rewound).
        x = UnsafePointer(em.state(piece.upperBound))
        pieceStart = piece.upperBound
      }
    }
    /// A re-run for the backward sweep: its KL and weights are discarded.
    func rerun(_ range: Range<Int>, from start: UnsafePointer<Scalar>?, store: Int?) throws {
      try scratchKL.withUnsafeMutableBufferPointer { klp in
        try scratchLogW.withUnsafeMutableBufferPointer { lwp in
          try simulate(range, from: start, store: store, kl: klp, logWeights: lwp)
        }
      }
    }
    let plan = schedule.plan
    // The forward pass (the plan's first operation), keeping the outermost checkpoints.
    guard case .forward(let all, let store, _) = plan[0] else {
      preconditionFailure("a plan starts with the forward pass")
    }
    try kl.withUnsafeMutableBufferPointer { klp in
      try logW.withUnsafeMutableBufferPointer { lwp in
        try simulate(all, from: nil, store: store, kl: klp, logWeights: lwp)
      }
    }
    // Decoder and likelihood at X_N (the last segment is still on the tape).
    let xN = MatrixView(base: em.state(n), rows: rows, cols: d)
    let nll = try model.decoderNegativeLogLikelihood(states: xN, data: y, pathsPerPoint: k, workspace: decoderWS)
    let logStd = model.logStdOffset.map { UnsafePointer(model.parameters.base + $0) }
    let (loss, weights) = objectiveWeights(
      objective: objective, nll: nll, klPerPath: em.klPerPath(kl, pathsPerPoint: k), logWeights: logW,
      points: points.count, k: k, totalPoints: totalPoints)
    // ∂L/∂decoded (weighted per path) and ∂L/∂log_std.
    var scratchNLL = [Scalar](repeating: 0, count: rows)
    weights.withUnsafeBufferPointer { w in
      scratchNLL.withUnsafeMutableBufferPointer { o in
        model.configuration.likelihood.negativeLogLikelihood(
          decoded: decoderWS.output, data: y, pathsPerPoint: k, logStd: logStd, into: o.baseAddress!,
          gradient: decodedGradient.rows(0..<rows), logStdGradient: model.logStdOffset.map { grad + $0 },
          rowWeights: w.baseAddress!)
      }
    }
    model.decoder.vjpUnchecked(
      workspace: decoderWS, outputGradient: decodedGradient.rows(0..<rows),
      inputGradient: lambda.rows(0..<rows), gradient: grad)

    let lam = lambda.base
    let gb = driftOutputGradient.base
    let diffusion = model.diffusionTerm
    let feedback = em.feedback
    let controlRows = em.controlRows
    let kc = em.pathsPerControlRow(k)
    // ∂(free energy)/∂KL of one control row: 1/B per point, 1/(B·K) per path.
    let klWeight = 1 / Scalar(feedback ? totalPoints * k : totalPoints)
    /// The backward pass through the steps of `range` (on the tape), in reverse.
    func differentiate(_ steps: Range<Int>) {
      for i in steps.reversed() {
        em.selectStep(i)
        let h = Scalar(grid.stepSize(i))
        let dwt = em.increment(i)
        let sigma = em.diffusionWS.output.base
        // Control: ∂L/∂u_q = h Σ_{p∈q} σ_pᵀ λ_p + objective term; uses λ = ∂L/∂X_{i+1}.
        let u = em.posteriorWS.output.base
        let v = controlPerPath.base
        diffusion.transposeApply(rows: rows, sigma: sigma, cotangent: lam, into: v)
        let gu = controlGradient.base
        switch objective {
        case .freeEnergy:
          Scalar.controlGradient(
            points: controlRows, k: kc, m: m, a: h * klWeight, u: u, h: h, v: v, c: nil, w: dwt, out: gu)
        case .importanceWeighted:
          weights.withUnsafeBufferPointer { w in
            Scalar.controlGradient(
              points: controlRows, k: kc, m: m, a: 0, u: u, h: h, v: v, c: w.baseAddress!, w: dwt, out: gu)
          }
        }
        model.posteriorDrift.vjpUnchecked(
          workspace: em.posteriorWS, outputGradient: controlGradient.rows(0..<controlRows),
          inputGradient: feedback ? controlInputGradient.rows(0..<rows) : nil, gradient: grad)
        // Drift and diffusion output gradients from λ = ∂L/∂X_{i+1}: ∂L/∂b = h λ, ∂L/∂σ = λ ⊗ ΔW̃.
        gb.copyElements(from: lam, count: rows * d)
        Scalar.scal(n: rows * d, alpha: h, x: gb, incx: 1)
        // σ's output gradient (summed over paths for a shared additive σ; reuses σᵀλ's buffer, d ≤ rows·m).
        let gs = diffusion.outerProduct(
          rows: rows, cotangent: lam, increments: dwt, into: diffusionOutputGradient.base, ones: em.driftWS.ones.base,
          scratch: controlPerPath.base)
        // λ_i = λ_{i+1} + J_bᵀ(hλ) + J_σᵀ(λ ⊗ ΔW̃): the VJPs accumulate into λ (β = 1).
        model.drift.vjpUnchecked(
          workspace: em.driftWS, outputGradient: driftOutputGradient.rows(0..<rows),
          inputGradient: lambda.rows(0..<rows), gradient: grad, accumulateInputGradient: true)
        model.diffusion.vjpUnchecked(
          workspace: em.diffusionWS, outputGradient: gs,
          inputGradient: diffusion.isAdditive ? nil : lambda.rows(0..<rows), gradient: grad,
          accumulateInputGradient: true)
        if feedback {
          // The control read X_i: λ_i += (∂u_i/∂x)ᵀ ∂L/∂u_i (the state columns of its input gradient).
          let cols = controlInputGradient.cols
          let gin = controlInputGradient.base
          for r in 0..<rows { Scalar.axpy(n: d, alpha: 1, x: gin + r * cols, incx: 1, y: lam + r * d, incy: 1) }
        }
      }
    }
    for operation in plan.dropFirst() {
      switch operation {
      case .forward(let range, let store, let start):
        try rerun(range, from: start.map { UnsafePointer(slot($0)) }, store: store)
      case .backward(let range, let rerunFrom):
        // Same noise, same kernels: the same activations as a full tape, bit for bit.
        if let from = rerunFrom { try rerun(range, from: UnsafePointer(slot(from)), store: nil) }
        differentiate(range)
      }
    }
    if let o = model.initialStateOffset {
      for r in 0..<rows { Scalar.axpy(n: d, alpha: 1, x: lam + r * d, incx: 1, y: grad + o, incy: 1) }
    }
    for j in 0..<model.parameterCount { out[j] += Double(grad[j]) }
    return loss
  }
}
