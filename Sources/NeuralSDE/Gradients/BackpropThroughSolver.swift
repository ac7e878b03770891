import Foundation

/// Solve, then differentiate: the exact gradient of the discretised objective
/// by reverse mode through the scheme's recursion (the discrete adjoint),
/// using the MLPs' analytic vector–Jacobian products.
///
/// With `λ_{i+1} = ∂L/∂X_{i+1}` the scheme's pullback gives `∂L/∂ΔW̃_i` and
/// `λ_i`; for Euler–Maruyama, `X_{i+1} = X_i + h b(X_i) + σ(X_i)·ΔW̃_i` with
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
public struct BackpropThroughSolver: ObservingGradientEstimator {
  /// The step scheme differentiated (default: Euler–Maruyama).
  public var scheme: any StepScheme
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

  /// An estimator through `scheme`, running `chunks` row chunks concurrently
  /// (default: one per core), within `memoryBudget` bytes if given.
  public init(
    scheme: any StepScheme = EulerMaruyama(), chunks: Int? = nil, memoryBudget: Int? = nil,
    allowsMicroBatches: Bool = true
  ) {
    self.scheme = scheme
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
    try plan(model: model, points: points, pathsPerPoint: k, steps: steps, observations: 1)
  }

  func plan<Scalar: SDEScalar>(
    model: NeuralSDEModel<Scalar>, points: Int, pathsPerPoint k: Int, steps: Int, observations: Int
  ) throws -> BackpropPlan {
    let full = CheckpointSchedule.fullTape(steps: steps)
    let largestPart = ChunkFanOut(units: points, chunks: chunks).parts.map(\.count).max() ?? 0
    func bytes(_ schedule: CheckpointSchedule, _ batches: Int) -> Int {
      workspaceBytes(
        model: model, points: points, pathsPerPoint: k, steps: steps, schedule: schedule, microBatches: batches,
        observations: observations) ?? .max
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
    workspaceBytes(
      model: model, points: points, pathsPerPoint: k, steps: steps, schedule: schedule, microBatches: microBatches,
      observations: 1)
  }

  func workspaceBytes<Scalar: SDEScalar>(
    model: NeuralSDEModel<Scalar>, points: Int, pathsPerPoint k: Int, steps: Int, schedule: CheckpointSchedule?,
    microBatches: Int, observations: Int
  ) -> Int? {
    let batches = Swift.max(microBatches, 1)
    return SizeArithmetic.sum(
      ChunkFanOut(units: points, chunks: chunks).parts.map {
        BackpropChunk<Scalar>.estimatedBytes(
          model: model, points: ($0.count + batches - 1) / batches, pathsPerPoint: k, steps: steps,
          schedule: schedule, observations: observations, stages: scheme.stages)
      } + [SizeArithmetic.product(chunks, model.parameterCount, 8)])
  }

  /// Frees the tapes kept from earlier calls (they are otherwise kept until
  /// the estimator is released).
  public func releaseCachedWorkspaces() { cache.removeAll() }

  /// The loss and its exact gradient in every parameter with the likelihood
  /// read at every step of `observations`, each with its own values and mask
  /// (`data` conditions the control), on one grid or one per data point
  /// (see `ObservingGradientEstimator`).
  public func gradient<Scalar: SDEScalar, Noise: BrownianIncrements>(
    of model: NeuralSDEModel<Scalar>, data: Matrix<Scalar>, noise: Noise, grid: BatchGrid, pathsPerPoint k: Int,
    objective: TrainingObjective, observations: PathObservations<Scalar>
  ) throws -> GradientResult where Noise.Scalar == Scalar {
    let clock = ContinuousClock()
    let start = clock.now
    try model.validateForGradient(data: data, noise: noise, grid: grid, pathsPerPoint: k)
    try model.check(scheme: scheme)
    try observations.check(points: data.rows, model: model, gridSteps: grid.steps)
    let fanOut = ChunkFanOut(units: data.rows, chunks: chunks)
    let parts = fanOut.parts
    let p = model.parameterCount
    let plan = try plan(
      model: model, points: data.rows, pathsPerPoint: k, steps: grid.steps,
      observations: observations.schedule.steps.count)
    let schedule = plan.schedule
    // The plan's prediction (`.max` when the shapes overflow) against the memory limit.
    try MemoryLimit.check(
      plan.estimatedBytes == .max ? nil : plan.estimatedBytes,
      for: "backprop through \(grid.steps) steps of \(data.rows * k) paths (its tape)")
    let partial = Matrix<Double>(rows: parts.count, cols: p)
    func key(_ part: Range<Int>) -> WorkspaceCache.Key {
      WorkspaceCache.Key(
        model: ObjectIdentifier(model), points: part, k: k, steps: grid.steps, checkpointLevels: schedule.levels,
        microBatches: plan.microBatches, observations: observations.schedule.steps, stages: scheme.stages)
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
          model: model, scheme: scheme, observations: observations.schedule,
          points: batches(part).map(\.count).max() ?? 0,
          pathsPerPoint: k, schedule: schedule)
      },
      release: { part, chunk in cache.checkIn(key(part), chunk) },
      body: { c, part, chunk in
        // Micro-batches one after another through the same tape; their
        // gradients accumulate in order.
        var loss = 0.0
        for batch in batches(part) {
          chunk.bind(batch)
          loss += try chunk.run(
            data: data, observations: observations, noise: noise, grid: grid, objective: objective,
            totalPoints: data.rows, gradient: partial.base + c * p)
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
  let scheme: any StepScheme
  let observations: ObservationSchedule
  /// The data points of the batch `run` differentiates, and its paths.
  private(set) var points: Range<Int>
  private(set) var rows: Int
  let pointCapacity: Int
  let k: Int
  let em: SolveWorkspace<Scalar>
  /// The decoder's activations, one slot per observation.
  let decoderWS: MLPWorkspace<Scalar>
  /// `X_j` at each observation step j: `observations·rows × d`.
  let observedStates: Matrix<Scalar>
  /// λ = ∂L/∂X_i and the drift's output cotangent h·λ: `rows × d` each.
  let lambda: Matrix<Scalar>
  let driftCotangent: Matrix<Scalar>
  /// `∂L/∂σ`: `rows × (d or d·m)`; a row of d for the additive sum over paths.
  let diffusionCotangent: Matrix<Scalar>
  let additiveScratch: Matrix<Scalar>
  /// `∂L/∂ΔW̃ = σᵀλ` per path (`rows × m`) and `∂L/∂u` per control row
  /// (`points × m`, or `rows × m` with feedback control).
  let incrementCotangent: Matrix<Scalar>
  let controlCotangent: Matrix<Scalar>
  /// DReG only: the control's output cotangent for its parameters (`∂_path`,
  /// weighted by `w̃`), `controlRows × m`; `controlCotangent` then drives its input gradient.
  let controlParameterCotangent: Matrix<Scalar>
  /// Feedback control only: `∂L/∂[x, y]` of the control's input, `rows × (d + D)`.
  let controlInputCotangent: Matrix<Scalar>
  /// `∂ℓ/∂decoded` and, if the likelihood has learned parameters, `∂ℓ/∂(its
  /// parameters)` per observation and path (`observations·rows × D` and `× P`).
  let decodedCotangent: Matrix<Scalar>
  let likelihoodRows: Matrix<Scalar>
  /// The chunk's gradient in Scalar, `P`.
  let gradient: Matrix<Scalar>

  /// What is taped and what is recomputed.
  let schedule: CheckpointSchedule
  /// The kept states, per schedule level: `slots[ℓ]·rows × d`.
  let checkpoints: [Matrix<Scalar>]

  /// Buffers for batches of up to `capacity` data points (K paths each); bound to the first `capacity`.
  init(
    model: NeuralSDEModel<Scalar>, scheme: any StepScheme, observations: ObservationSchedule, points capacity: Int,
    pathsPerPoint k: Int, schedule: CheckpointSchedule
  ) {
    self.model = model
    self.scheme = scheme
    self.observations = observations
    points = 0..<capacity
    pointCapacity = capacity
    self.k = k
    rows = capacity * k
    let d = model.latentDimension
    let m = model.noiseDimension
    let n = observations.steps.count
    self.schedule = schedule
    em = SolveWorkspace(
      model: model, points: capacity, paths: rows, tapeSteps: schedule.tapeLength, stages: scheme.stages)
    let pathCount = rows
    checkpoints = schedule.slots.map { Matrix(rows: $0 * pathCount, cols: d) }
    decoderWS = model.decoder.makeWorkspace(rows: rows, slots: n)
    observedStates = Matrix(rows: n * rows, cols: d)
    lambda = Matrix(rows: rows, cols: d)
    driftCotangent = Matrix(rows: rows, cols: d)
    diffusionCotangent = Matrix(rows: rows, cols: model.diffusion.outputs)
    additiveScratch = Matrix(rows: 1, cols: d)
    incrementCotangent = Matrix(rows: rows, cols: m)
    controlCotangent = Matrix(rows: em.controlRows, cols: m)
    controlParameterCotangent = Matrix(rows: em.controlRows, cols: m)
    controlInputCotangent = Matrix(rows: em.feedback ? rows : 0, cols: model.configuration.posteriorInputs)
    decodedCotangent = Matrix(rows: n * rows, cols: model.dataDimension)
    likelihoodRows = Matrix(
      rows: model.likelihoodParameterOffset == nil ? 0 : n * rows, cols: max(model.likelihoodParameterCount, 1))
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
    schedule: CheckpointSchedule? = nil, observations: Int = 1, stages: Int = 1
  ) -> Int? {
    guard let rows = SizeArithmetic.product(points, k) else { return nil }
    let schedule = schedule ?? .fullTape(steps: steps)
    let d = model.latentDimension
    let dims = model.dataDimension
    let widths =
      2 * d + model.diffusion.outputs + 3 * model.noiseDimension + model.configuration.posteriorInputs
    return SizeArithmetic.sum([
      SolveWorkspace<Scalar>.estimatedBytes(
        model: model, points: points, paths: rows, tapeSteps: schedule.tapeLength, stages: stages),
      SizeArithmetic.product(schedule.slots.reduce(0, +), rows, d, MemoryLayout<Scalar>.stride),
      model.decoder.workspaceBytes(rows: rows, slots: observations),
      SizeArithmetic.product(
        observations, rows, d + dims + model.likelihoodParameterCount, MemoryLayout<Scalar>.stride),
      SizeArithmetic.product(rows, widths, MemoryLayout<Scalar>.stride),
      SizeArithmetic.product(d, MemoryLayout<Scalar>.stride),
      SizeArithmetic.product(2, model.parameterCount, 8),
    ])
  }

  var bytes: Int {
    let own = [
      observedStates, lambda, driftCotangent, diffusionCotangent, additiveScratch, incrementCotangent,
      controlCotangent, controlParameterCotangent, controlInputCotangent, decodedCotangent, likelihoodRows, gradient,
    ].map(\.count).reduce(0, +)
    let kept = checkpoints.map(\.count).reduce(0, +)
    return em.bytes + (own + kept) * MemoryLayout<Scalar>.stride + decoderWS.bytes
  }

  /// `X_j` of observation o, `rows × d`.
  func observedState(_ o: Int) -> UnsafeMutablePointer<Scalar> {
    observedStates.base + o * rows * model.latentDimension
  }
  /// `∂ℓ/∂decoded` of observation o, `rows × D`.
  func decoded(_ o: Int) -> MatrixView<Scalar> {
    MatrixView(base: decodedCotangent.base + o * rows * model.dataDimension, rows: rows, cols: model.dataDimension)
  }
  /// `∂ℓ/∂(likelihood parameters)` of observation o, `rows × P` (nil if the likelihood has none).
  func likelihoodGradient(_ o: Int) -> MatrixView<Scalar>? {
    let p = model.likelihoodParameterCount
    return model.likelihoodParameterOffset == nil
      ? nil : MatrixView(base: likelihoodRows.base + o * rows * p, rows: rows, cols: p)
  }

  /// Forward with tape, then backward; adds the batch's gradient (Double)
  /// to `out` and returns its loss contribution.
  @_specialize(where Scalar == Double, Noise == PhiloxBrownianIncrements<Double>)
  @_specialize(where Scalar == Float, Noise == PhiloxBrownianIncrements<Float>)
  func run<Noise: BrownianIncrements>(
    data: Matrix<Scalar>, observations observed: PathObservations<Scalar>, noise: Noise, grid: BatchGrid,
    objective: TrainingObjective, totalPoints: Int, gradient out: UnsafeMutablePointer<Double>
  ) throws -> Double where Noise.Scalar == Scalar {
    let d = model.latentDimension
    let grad = gradient.base
    grad.setZero(count: model.parameterCount)
    let y = data.rows(points)
    let pathRange = (points.lowerBound * k)..<(points.upperBound * k)
    let rows = self.rows
    var kl = [Double](repeating: 0, count: em.controlRows)
    var logW = [Double](repeating: 0, count: rows)
    var scratchKL = [Double](repeating: 0, count: em.controlRows)
    var scratchLogW = [Double](repeating: 0, count: rows)
    let levels = schedule.levels
    let tau = schedule.tapeLength
    let context = ObservationContext(observations: observed, grid: grid, model: model)
    func slot(_ c: CheckpointSchedule.Slot) -> UnsafeMutablePointer<Scalar> {
      checkpoints[c.level].base + c.index * rows * d
    }
    /// Simulates `range` (its start state from `start`, or `x_0`) in pieces of
    /// τ steps through the tape, with KL and log-weights into the given
    /// buffers, keeps the state at every multiple of `levels[store]`, and
    /// (first pass only) the observed states.
    func simulate(
      _ range: Range<Int>, from start: UnsafePointer<Scalar>?, store: Int?, kl klp: UnsafeMutablePointer<Double>,
      logWeights lwp: UnsafeMutablePointer<Double>, observing: Bool
    ) throws {
      var pieceStart = range.lowerBound
      var x = start
      while pieceStart < range.upperBound {
        let piece = pieceStart..<Swift.min(pieceStart + tau, range.upperBound)
        // Only the last piece's activations are differentiated from this
        // pass (the backward sweep re-runs the others): the rest keep states only.
        try em.simulate(
          model: model, scheme: scheme, noise: noise, grid: grid, pathRange: pathRange,
          posterior: PosteriorDrive(
            data: y, pathsPerPoint: k, kl: klp, logWeights: lwp, firstPoint: points.lowerBound, context: context),
          steps: piece,
          startState: x, keepActivations: piece.upperBound == range.upperBound,
          observe: observing
            ? { step, state in
              if let o = self.observations.observation(at: step) {
                self.observedState(o).copyElements(from: state, count: rows * d)
              }
            } : nil)
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
      try simulate(range, from: start, store: store, kl: &scratchKL, logWeights: &scratchLogW, observing: false)
    }
    let plan = schedule.plan
    // The forward pass (the plan's first operation), keeping the outermost checkpoints.
    guard case .forward(let all, let store, _) = plan[0] else {
      preconditionFailure("a plan starts with the forward pass")
    }
    try simulate(all, from: nil, store: store, kl: &kl, logWeights: &logW, observing: true)
    // The likelihood at each observation, once: values and per-path gradients.
    var nll = [Double](repeating: 0, count: rows)
    for o in observations.steps.indices {
      decoderWS.slot = o
      let (values, mask) = observed.rows(o, points)
      let terms = try model.decoderNegativeLogLikelihood(
        states: MatrixView(base: observedState(o), rows: rows, cols: d), data: values, pathsPerPoint: k,
        workspace: decoderWS, gradient: decoded(o), parameterGradient: likelihoodGradient(o), mask: mask)
      nll = o == 0 ? terms : zip(nll, terms).map(+)
    }
    let (loss, weights) = objectiveWeights(
      objective: objective, nll: nll, klPerPath: em.klPerPath(kl, pathsPerPoint: k), logWeights: logW,
      points: points.count, k: k, totalPoints: totalPoints)
    for o in observations.steps.indices {
      scaleRows(decoded(o), by: weights)
      if let rows = likelihoodGradient(o), let offset = model.likelihoodParameterOffset {
        addWeightedRows(rows, weights: weights, into: grad + offset)
      }
    }
    var lambdaHolds = false
    /// λ += ∂L/∂X_j of the observation at step j, if any (the decoder's VJP).
    func inject(step j: Int) {
      guard let o = observations.observation(at: j) else { return }
      decoderWS.slot = o
      model.decoder.vjpUnchecked(
        workspace: decoderWS, outputGradient: decoded(o), inputGradient: lambda.rows(0..<rows), gradient: grad,
        accumulateInputGradient: lambdaHolds)
      lambdaHolds = true
    }
    if observations.steps.last! < grid.steps { lambda.base.setZero(count: rows * d) }
    lambdaHolds = observations.steps.last! < grid.steps
    for operation in plan.dropFirst() {
      switch operation {
      case .forward(let range, let store, let start):
        try rerun(range, from: start.map { UnsafePointer(slot($0)) }, store: store)
      case .backward(let range, let rerunFrom):
        // Same noise, same kernels: the same activations as a full tape, bit for bit.
        if let from = rerunFrom { try rerun(range, from: UnsafePointer(slot(from)), store: nil) }
        backward(range, grid: grid, objective: objective, weights: weights, totalPoints: totalPoints, inject: inject)
      }
    }
    inject(step: 0)
    if let o = model.initialStateOffset {
      for r in 0..<rows { Scalar.axpy(n: d, alpha: 1, x: lambda.base + r * d, incx: 1, y: grad + o, incy: 1) }
    }
    for j in 0..<model.parameterCount { out[j] += Double(grad[j]) }
    return loss
  }

  /// The one backward loop: the steps of `range` (on the tape) in reverse.
  /// Per step i, with `λ = ∂L/∂X_{i+1}` (after the observation at i + 1 is
  /// injected): the scheme's pullback (`∂L/∂ΔW̃`, `λ ← ∂L/∂X_i` through
  /// the drift and diffusion), then the control's:
  /// `∂L/∂u_q = h Σ_{p∈q} (∂L/∂ΔW̃_p)` plus the objective's KL or
  /// log-weight term, through the control network (and, with feedback, its
  /// state input into λ).
  func backward(
    _ range: Range<Int>, grid: BatchGrid, objective: TrainingObjective, weights: [Double], totalPoints: Int,
    inject: (_ step: Int) -> Void
  ) {
    let m = model.noiseDimension
    let d = model.latentDimension
    let feedback = em.feedback
    let controlRows = em.controlRows
    let pathsPerControlRow = em.pathsPerControlRow(k)
    // ∂(free energy)/∂KL of one control row: 1/B per point, 1/(B·K) per path.
    let klWeight = 1 / Scalar(feedback ? totalPoints * k : totalPoints)
    let adjoint = StepAdjoint(
      lambda: lambda.base, driftCotangent: driftCotangent.base, diffusionCotangent: diffusionCotangent.base,
      incrementCotangent: incrementCotangent.base, scratch: additiveScratch.base, gradient: gradient.base)
    let own = grid.grid(point: points.lowerBound)
    for i in range.reversed() {
      inject(i + 1)
      let h = Scalar(own.stepSize(i))
      let increments = em.increment(i)
      let sizes = RowStepSizes(
        uniform: h,
        perGroup: em.pointStepSizes(step: i, grid: grid, firstPoint: points.lowerBound, points: points.count),
        groupRows: k)
      var step = SchemeStep(
        index: i, time: Scalar(own.times[i]), sizes: sizes, rows: rows, state: em.state(i),
        next: em.state(i + 1), increments: increments, fields: VectorFields(model: model, workspace: em, index: i))
      step.adjoint = adjoint
      scheme.pullback(step)
      // The control of step i: ∂L/∂u_q from ∂L/∂ΔW̃ = σᵀλ and the objective
      // (a's KL term h·u/B), each control row with its step size.
      em.selectControl(step: i)
      let u = em.posteriorWS.output.base
      let dreg = objective == .importanceWeightedDReG
      // ∂L/∂u; DReG needs it only for the feedback control's input gradient.
      if !dreg || feedback {
        weights.withUnsafeBufferPointer { w in
          Scalar.controlGradient(
            points: controlRows, k: pathsPerControlRow, m: m, a: objective == .freeEnergy ? klWeight : 0, u: u,
            h: sizes, v: incrementCotangent.base, c: objective.isImportanceWeighted ? w.baseAddress! : nil,
            w: increments, out: controlCotangent.base)
        }
      }
      if dreg {
        // DReG: the parameters see ∂_path (the direct term c_p·ΔW_p of the
        // log-weight dropped) weighted once more by w̃_p = B·c_p:
        // P_q = h_q Σ_{p∈q} w̃_p (v_p + c_p u_q). The input gradient keeps ∂L/∂u.
        doublyReparameterizedCotangent(
          controlRows: controlRows, pathsPerControlRow: pathsPerControlRow, sizes: sizes, u: u, weights: weights,
          totalPoints: totalPoints)
        model.posteriorDrift.vjpUnchecked(
          workspace: em.posteriorWS, outputGradient: controlParameterCotangent.rows(0..<controlRows),
          inputGradient: nil, gradient: gradient.base)
        if feedback {
          model.posteriorDrift.vjpUnchecked(
            workspace: em.posteriorWS, outputGradient: controlCotangent.rows(0..<controlRows),
            inputGradient: controlInputCotangent.rows(0..<rows), gradient: nil)
        }
      } else {
        model.posteriorDrift.vjpUnchecked(
          workspace: em.posteriorWS, outputGradient: controlCotangent.rows(0..<controlRows),
          inputGradient: feedback ? controlInputCotangent.rows(0..<rows) : nil, gradient: gradient.base)
      }
      if feedback {
        // The control read X_i: λ_i += (∂u_i/∂x)ᵀ ∂L/∂u_i (the state columns of its input gradient).
        let cols = controlInputCotangent.cols
        let gin = controlInputCotangent.base
        for r in 0..<rows {
          Scalar.axpy(n: d, alpha: 1, x: gin + r * cols, incx: 1, y: lambda.base + r * d, incy: 1)
        }
      }
    }
  }

  /// `controlParameterCotangent` for DReG at one step: per control row q
  /// (its paths p), `h_q Σ_p w̃_p (v_p + c_p u_q)` with `v = σᵀλ`
  /// (`incrementCotangent`), `c_p` the path's weight `∂loss/∂ℓ_p = w̃_p/B`.
  func doublyReparameterizedCotangent(
    controlRows: Int, pathsPerControlRow kc: Int, sizes: RowStepSizes<Scalar>, u: UnsafePointer<Scalar>,
    weights: [Double], totalPoints: Int
  ) {
    let m = model.noiseDimension
    let v = incrementCotangent.base
    let out = controlParameterCotangent.base
    let b = Double(totalPoints)
    for q in 0..<controlRows {
      let h = sizes[row: q * kc]
      let o = out + q * m
      o.setZero(count: m)
      for p in (q * kc)..<((q + 1) * kc) {
        let c = weights[p]
        let tilde = Scalar(b * c)
        let cs = Scalar(c)
        for l in 0..<m { o[l] += tilde * (v[p * m + l] + cs * u[q * m + l]) }
      }
      for l in 0..<m { o[l] *= h }
    }
  }
}
