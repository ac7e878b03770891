import Foundation

/// Differentiate, then solve: pathwise forward sensitivities (docs/MODEL.md §4).
///
/// Alongside `X` it propagates, with the same increments, the tangents
/// `S = ∂X/∂θ·v` for a block of directions v (as extra GEMM rows), by the
/// scheme's pushforward; for Euler–Maruyama
///
///     S_{i+1} = S_i + h (J_b S_i + ∂_θb·v) + (J_σ S_i + ∂_θσ·v)·ΔW̃_i + σ·h ∂_β b̃·v,   S_0 = ∂x_0·v
///
/// which is exactly forward-mode differentiation of the recursion, so on
/// the same noise it agrees with `BackpropThroughSolver` to round-off. Time
/// grows linearly with the number of directions (each costs about one forward
/// pass of tangent GEMMs); memory is independent of N (no tape). Use it for a
/// few parameters (e.g. only β), for Jacobian–vector products, or to check
/// the backprop gradient.
public struct ForwardPathwise: ObservingGradientEstimator {
  /// Which tangent directions to propagate.
  public enum Directions: Sendable {
    /// Every parameter (one basis direction each).
    case all
    /// The named parameter groups of `NeuralSDEModel.parameterGroups` (e.g. `["posterior"]`).
    case groups([String])
    /// These flat parameter indices.
    case indices([Int])
  }

  /// The parameters whose derivatives are propagated.
  public var directions: Directions
  /// The step scheme differentiated (default: Euler–Maruyama).
  public var scheme: any StepScheme
  /// Directions propagated together (extra GEMM rows); memory grows with it.
  public var blockSize: Int
  /// Row chunks run concurrently (default: one per core).
  public var chunks: Int

  /// An estimator through `scheme` for `directions`, `blockSize` tangents per
  /// pass, `chunks` row chunks (default: one per core).
  public init(
    directions: Directions = .all, scheme: any StepScheme = EulerMaruyama(), blockSize: Int = 16, chunks: Int? = nil
  ) {
    self.directions = directions
    self.scheme = scheme
    self.blockSize = blockSize
    self.chunks = chunks ?? Threading.availableCores
  }

  /// The gradient restricted to the selected directions (entries of other
  /// parameters are 0, not computed), with the likelihood read at every step
  /// of `observations`, each with its own values and mask (`data` conditions
  /// the control), on one grid or one per data point (see `ObservingGradientEstimator`).
  public func gradient<Scalar: SDEScalar, Noise: BrownianIncrements>(
    of model: NeuralSDEModel<Scalar>, data: Matrix<Scalar>, noise: Noise, grid: BatchGrid, pathsPerPoint k: Int,
    objective: TrainingObjective, observations: PathObservations<Scalar>
  ) throws -> GradientResult where Noise.Scalar == Scalar {
    let clock = ContinuousClock()
    let start = clock.now
    let indices = try selectedIndices(model)
    guard blockSize >= 1 else { throw NSDEError.invalidArgument("block size must be ≥ 1, got \(blockSize)") }
    var gradient = [Double](repeating: 0, count: model.parameterCount)
    var loss = 0.0
    var bytes = 0
    var blockStart = 0
    repeat {
      let block = Array(indices[blockStart..<Swift.min(blockStart + blockSize, indices.count)])
      let tangents = Matrix<Scalar>(rows: Swift.max(block.count, 1), cols: model.parameterCount)
      for (tau, j) in block.enumerated() { tangents[tau, j] = 1 }
      let r = try propagate(
        model: model, data: data, noise: noise, grid: grid, k: k, objective: objective, tangents: tangents,
        observations: observations)
      for (tau, j) in block.enumerated() { gradient[j] = r.derivatives[tau] }
      loss = r.loss
      bytes = Swift.max(bytes, r.bytes)
      blockStart += blockSize
    } while blockStart < indices.count
    return GradientResult(
      loss: loss, gradient: gradient,
      diagnostics: GradientDiagnostics(
        seconds: (clock.now - start).seconds, peakWorkspaceBytes: bytes, tangentDirections: indices.count))
  }

  /// The directional derivative `∇L·v` (a Jacobian–vector product of the
  /// objective) for one dense direction `v` of `parameterCount` values.
  public func directionalDerivative<Scalar: SDEScalar, Noise: BrownianIncrements>(
    of model: NeuralSDEModel<Scalar>, data: Matrix<Scalar>, noise: Noise, grid: TimeGrid, pathsPerPoint k: Int,
    objective: TrainingObjective, direction: [Double]
  ) throws -> (loss: Double, derivative: Double) where Noise.Scalar == Scalar {
    guard direction.count == model.parameterCount else {
      throw NSDEError.shapeMismatch(
        "direction has \(direction.count) values but the model has \(model.parameterCount) parameters")
    }
    guard direction.allSatisfy(\.isFinite) else { throw NSDEError.nonFinite("the direction contains NaN/Inf") }
    // DReG treats the control's parameters apart: one row for them, one for the rest.
    let split = objective == .importanceWeightedDReG
    let control = model.posteriorDrift.range
    let tangents = Matrix<Scalar>(rows: split ? 2 : 1, cols: model.parameterCount) { row, j in
      !split || (row == 1) == control.contains(j) ? Scalar(direction[j]) : 0
    }
    let r = try propagate(
      model: model, data: data, noise: noise, grid: BatchGrid(shared: grid), k: k, objective: objective,
      tangents: tangents, observations: .terminal(data, steps: grid.steps))
    return (r.loss, r.derivatives.reduce(0, +))
  }

  func selectedIndices<Scalar>(_ model: NeuralSDEModel<Scalar>) throws -> [Int] {
    switch directions {
    case .all: return Array(0..<model.parameterCount)
    case .groups(let names):
      let groups = model.parameterGroups
      return try names.flatMap { name -> [Int] in
        guard let g = groups.first(where: { $0.name == name }) else {
          throw NSDEError.invalidArgument(
            "no parameter group named \(name); known: \(groups.map(\.name).joined(separator: ", "))")
        }
        return Array(g.range)
      }
    case .indices(let idx):
      for i in idx where i < 0 || i >= model.parameterCount {
        throw NSDEError.invalidArgument("parameter index \(i) is outside 0..<\(model.parameterCount)")
      }
      return idx
    }
  }

  /// Propagates the tangent rows of `tangents` (T × P) over all chunks.
  func propagate<Scalar: SDEScalar, Noise: BrownianIncrements>(
    model: NeuralSDEModel<Scalar>, data: Matrix<Scalar>, noise: Noise, grid: BatchGrid, k: Int,
    objective: TrainingObjective, tangents: Matrix<Scalar>, observations: PathObservations<Scalar>
  ) throws -> (loss: Double, derivatives: [Double], bytes: Int) where Noise.Scalar == Scalar {
    try model.validateForGradient(data: data, noise: noise, grid: grid, pathsPerPoint: k)
    try model.check(scheme: scheme)
    try observations.check(points: data.rows, model: model, gridSteps: grid.steps)
    let fanOut = ChunkFanOut(units: data.rows, chunks: chunks)
    let parts = fanOut.parts
    let t = tangents.rows
    try MemoryLimit.check(
      SizeArithmetic.sum(
        parts.map {
          PathwiseChunk<Scalar>.estimatedBytes(model: model, points: $0.count, pathsPerPoint: k, directions: t)
        }), for: "pathwise sensitivities of \(data.rows * k) paths × \(t) directions")
    let partial = Matrix<Double>(rows: parts.count, cols: t)
    let outcomes = try fanOut.run(
      workspace: {
        PathwiseChunk(
          model: model, scheme: scheme, observations: observations, points: $0, pathsPerPoint: k, directions: t)
      },
      body: { c, _, chunk -> (loss: Double, bytes: Int) in
        let loss = try chunk.run(
          data: data, noise: noise, grid: grid, objective: objective, totalPoints: data.rows, tangents: tangents,
          derivatives: partial.base + c * t)
        return (loss, chunk.bytes)
      })
    let losses = outcomes.map(\.loss)
    let bytes = outcomes.map(\.bytes)
    var derivatives = [Double](repeating: 0, count: t)
    for c in 0..<parts.count { for j in 0..<t { derivatives[j] += partial[c, j] } }
    let bad = derivatives.filter { !$0.isFinite }.count
    guard bad == 0 else {
      throw NSDEError.nonFinite(
        "the pathwise sensitivities overflowed: \(bad) of \(t) directional derivatives are NaN/Inf (parameters or tangents near the floating-point limit; the backprop estimator does not propagate tangents and may still be finite)"
      )
    }
    return (losses.reduce(0, +), derivatives, bytes.reduce(0, +))
  }
}

/// One chunk's state, sensitivities and tangent buffers.
final class PathwiseChunk<Scalar: SDEScalar>: @unchecked Sendable {
  let model: NeuralSDEModel<Scalar>
  let scheme: any StepScheme
  let observations: PathObservations<Scalar>
  let points: Range<Int>
  let k: Int
  let rows: Int
  let t: Int
  let em: SolveWorkspace<Scalar>
  let decoderWS: MLPWorkspace<Scalar>
  /// `S`: `(rows·T) × d`, row `r·T + τ`.
  let sensitivity: Matrix<Scalar>
  let driftTangent: Matrix<Scalar>
  let diffusionTangent: Matrix<Scalar>
  /// `∂u·v` per control row and direction: `(controlRows·T) × m`.
  let controlTangent: Matrix<Scalar>
  /// Feedback control only: the tangent of its input `[S, 0]`, `(rows·T) × (d + D)`.
  let controlInputTangent: Matrix<Scalar>
  let decodedTangent: Matrix<Scalar>
  /// `∂ℓ/∂decoded` of the latest observation (`rows × D`) and, if the
  /// likelihood has learned parameters, `∂ℓ/∂(its parameters)` per path summed
  /// over the observations (`rows × P`, and one more for the observations after the first).
  let decodedCotangent: Matrix<Scalar>
  let likelihoodRows: Matrix<Scalar>
  let likelihoodScratch: Matrix<Scalar>
  let driftTWS: MLPTangentWorkspace<Scalar>
  let diffusionTWS: MLPTangentWorkspace<Scalar>
  let posteriorTWS: MLPTangentWorkspace<Scalar>
  let decoderTWS: MLPTangentWorkspace<Scalar>

  init(
    model: NeuralSDEModel<Scalar>, scheme: any StepScheme, observations: PathObservations<Scalar>, points: Range<Int>,
    pathsPerPoint k: Int, directions t: Int
  ) {
    self.model = model
    self.scheme = scheme
    self.observations = observations
    self.points = points
    self.k = k
    self.t = t
    rows = points.count * k
    let d = model.latentDimension
    let dims = model.dataDimension
    let sigmaRows = model.diffusionTerm.rows(forPaths: rows)
    em = SolveWorkspace(model: model, points: points.count, paths: rows, stages: scheme.stages)
    decoderWS = model.decoder.makeWorkspace(rows: rows)
    sensitivity = Matrix(rows: rows * t, cols: d)
    driftTangent = Matrix(rows: rows * t, cols: d)
    diffusionTangent = Matrix(rows: sigmaRows * t, cols: model.diffusion.outputs)
    controlTangent = Matrix(rows: em.controlRows * t, cols: model.noiseDimension)
    controlInputTangent = Matrix(rows: em.feedback ? rows * t : 0, cols: model.configuration.posteriorInputs)
    decodedTangent = Matrix(rows: rows * t, cols: dims)
    decodedCotangent = Matrix(rows: rows, cols: dims)
    let learned = model.likelihoodParameterOffset != nil
    let likelihoodParameters = max(model.likelihoodParameterCount, 1)
    likelihoodRows = Matrix(rows: learned ? rows : 0, cols: likelihoodParameters)
    likelihoodScratch = Matrix(
      rows: learned && observations.schedule.steps.count > 1 ? rows : 0, cols: likelihoodParameters)
    driftTWS = model.drift.makeTangentWorkspace(rows: rows, directions: t)
    diffusionTWS = model.diffusion.makeTangentWorkspace(rows: sigmaRows, directions: t)
    posteriorTWS = model.posteriorDrift.makeTangentWorkspace(rows: em.controlRows, directions: t)
    decoderTWS = model.decoder.makeTangentWorkspace(rows: rows, directions: t)
  }

  /// The bytes a chunk would allocate, from the shapes alone (nil on overflow).
  static func estimatedBytes(model: NeuralSDEModel<Scalar>, points: Int, pathsPerPoint k: Int, directions t: Int)
    -> Int?
  {
    guard let rows = SizeArithmetic.product(points, k) else { return nil }
    let widths =
      3 * model.latentDimension + model.diffusion.outputs + model.noiseDimension + model.dataDimension
      + model.configuration.posteriorInputs
    let tangentWorkspaces = zip(model.networks, model.networkRows(points: points, paths: rows)).map {
      $0.tangentWorkspaceBytes(rows: $1, directions: t)
    }
    return SizeArithmetic.sum(
      [
        SolveWorkspace<Scalar>.estimatedBytes(model: model, points: points, paths: rows),
        model.decoder.workspaceBytes(rows: rows),
        SizeArithmetic.product(rows, t, widths, MemoryLayout<Scalar>.stride),
        SizeArithmetic.product(
          rows, model.dataDimension + 2 * model.likelihoodParameterCount, MemoryLayout<Scalar>.stride),
        SizeArithmetic.product(rows, t, 4, 8),  // dKL, dLogW, dl and (DReG) score per path and direction
      ] + tangentWorkspaces)
  }

  var bytes: Int {
    let mats = [
      sensitivity, driftTangent, diffusionTangent, controlTangent, controlInputTangent, decodedTangent,
      decodedCotangent, likelihoodRows, likelihoodScratch,
    ]
    var n = mats.map(\.count).reduce(0, +)
    for w in [driftTWS, diffusionTWS, posteriorTWS, decoderTWS] {
      n += w.bufferA.count + w.bufferB.count + w.biasTangents.count
    }
    return em.bytes + n * MemoryLayout<Scalar>.stride + rows * t * 3 * 8
  }

  /// The solve with tangents through the scheme's pushforward, the
  /// likelihood and its tangent at every observation, then the objective's
  /// derivatives `out[τ]` and its value.
  @_specialize(where Scalar == Double, Noise == PhiloxBrownianIncrements<Double>)
  @_specialize(where Scalar == Float, Noise == PhiloxBrownianIncrements<Float>)
  func run<Noise: BrownianIncrements>(
    data: Matrix<Scalar>, noise: Noise, grid: BatchGrid, objective: TrainingObjective, totalPoints: Int,
    tangents: Matrix<Scalar>, derivatives out: UnsafeMutablePointer<Double>
  ) throws -> Double where Noise.Scalar == Scalar {
    let d = model.latentDimension
    let y = data.rows(points)
    let pathRange = (points.lowerBound * k)..<(points.upperBound * k)
    let s = sensitivity.base
    s.setZero(count: rows * t * d)
    if let o = model.initialStateOffset {
      for r in 0..<rows { for tau in 0..<t { for j in 0..<d { s[(r * t + tau) * d + j] = tangents[tau, o + j] } } }
    }
    let feedback = em.feedback
    let controlRows = em.controlRows
    let rows = self.rows
    let t = self.t
    var kl = [Double](repeating: 0, count: controlRows)
    var logW = [Double](repeating: 0, count: rows)
    var dKL = [Double](repeating: 0, count: controlRows * t)
    var dLogW = [Double](repeating: 0, count: rows * t)
    let dreg = objective == .importanceWeightedDReG
    var score = [Double](repeating: 0, count: dreg ? rows * t : 0)
    // Per path and direction: Σ_j ∂ℓ_j/∂decoded · d decoded_j over the observations.
    var dl = [Double](repeating: 0, count: rows * t)
    var nll = [Double](repeating: 0, count: rows)
    var failure: Error?
    let stepTangent = StepTangent(
      directions: t, sensitivity: sensitivity, parameterTangents: tangents, driftTangent: driftTangent,
      diffusionTangent: diffusionTangent, controlTangent: controlTangent.base,
      pathsPerControlRow: em.pathsPerControlRow(k), driftWorkspace: driftTWS, diffusionWorkspace: diffusionTWS)
    try kl.withUnsafeMutableBufferPointer { klp in
      try logW.withUnsafeMutableBufferPointer { lwp in
        try dKL.withUnsafeMutableBufferPointer { dklp in
          try dLogW.withUnsafeMutableBufferPointer { dlwp in
            var control = ControlTangent(
              sensitivity: sensitivity, parameterTangents: tangents, output: controlTangent,
              inputTangent: controlInputTangent, workspace: posteriorTWS, klTangent: dklp.baseAddress!,
              logWeightTangent: dlwp.baseAddress!)
            try score.withUnsafeMutableBufferPointer { sp in
              if dreg { control.scoreTangent = sp.baseAddress }
              try em.simulate(
                model: model, scheme: scheme, noise: noise, grid: grid, pathRange: pathRange,
                posterior: PosteriorDrive(
                  data: y, pathsPerPoint: k, kl: klp.baseAddress!, logWeights: lwp.baseAddress!,
                  firstPoint: points.lowerBound,
                  context: ObservationContext(observations: observations, grid: grid, model: model)),
                tangent: stepTangent, controlTangent: control,
                observe: { step, x in
                  guard failure == nil, let o = self.observations.schedule.observation(at: step) else { return }
                  do {
                    let terms = try self.observe(o, state: x, tangents: tangents, into: &dl)
                    nll = o == 0 ? terms : zip(nll, terms).map(+)
                  } catch { failure = error }
                })
            }
          }
        }
      }
    }
    if let failure { throw failure }
    let (loss, weights) = objectiveWeights(
      objective: objective, nll: nll, klPerPath: em.klPerPath(kl, pathsPerPoint: k), logWeights: logW,
      points: points.count, k: k, totalPoints: totalPoints)
    // ∂(free energy)/∂KL of one control row: 1/B per point, 1/(B·K) per path.
    let klScale = Double(feedback ? totalPoints * k : totalPoints)
    for tau in 0..<t { out[tau] = 0 }
    // Learned likelihood parameters: Σ_r w_r ∂ℓ_r/∂(log σ, …), from the likelihood's per-path gradients.
    if let o = model.likelihoodParameterOffset {
      let p = model.likelihoodParameterCount
      let parameterGradient = Matrix<Scalar>(rows: 1, cols: p)
      addWeightedRows(likelihoodRows.view, weights: weights, into: parameterGradient.base)
      for tau in 0..<t { for j in 0..<p { out[tau] += Double(parameterGradient[0, j] * tangents[tau, o + j]) } }
    }
    // DReG: the control's directions take w̃_r·c_r (w̃_r = B·c_r) times ∂_path,
    // the total derivative with the direct term added back (−score).
    let control = (0..<t).map { tau in dreg && model.posteriorDrift.range.contains { tangents[tau, $0] != 0 } }
    for r in 0..<rows {
      for tau in 0..<t {
        switch objective {
        case .freeEnergy: out[tau] += weights[r] * dl[r * t + tau]
        case .importanceWeighted, .importanceWeightedDReG:
          if control[tau] {
            let tilde = Double(totalPoints) * weights[r]
            out[tau] += tilde * weights[r] * (dl[r * t + tau] - dLogW[r * t + tau] - score[r * t + tau])
          } else {
            out[tau] += weights[r] * (dl[r * t + tau] - dLogW[r * t + tau])
          }
        }
      }
    }
    if objective == .freeEnergy {
      for q in 0..<controlRows { for tau in 0..<t { out[tau] += dKL[q * t + tau] / klScale } }
    }
    return loss
  }

  /// Observation o at state `x` (with `S` its tangent): the decoder, the
  /// likelihood (value and per-path gradients, once) and the decoder's JVP;
  /// adds `∂ℓ/∂decoded · d decoded` per path and direction to `dl` and returns ℓ per path.
  func observe(
    _ o: Int, state x: UnsafePointer<Scalar>, tangents: Matrix<Scalar>, into dl: inout [Double]
  ) throws -> [Double] {
    let d = model.latentDimension
    let dims = model.dataDimension
    let learned = model.likelihoodParameterOffset != nil
    let (values, mask) = observations.rows(o, points)
    let terms = try model.decoderNegativeLogLikelihood(
      states: MatrixView(base: UnsafeMutablePointer(mutating: x), rows: rows, cols: d), data: values,
      pathsPerPoint: k, workspace: decoderWS, gradient: decodedCotangent.view,
      parameterGradient: learned ? (o == 0 ? likelihoodRows.view : likelihoodScratch.view) : nil, mask: mask)
    if learned && o > 0 {
      for i in 0..<(rows * model.likelihoodParameterCount) { likelihoodRows.base[i] += likelihoodScratch.base[i] }
    }
    model.decoder.jvpUnchecked(
      workspace: decoderWS, inputTangent: sensitivity.view, tangents: tangents, output: decodedTangent.view,
      tangentWorkspace: decoderTWS)
    let g = decodedCotangent.base
    for r in 0..<rows {
      for tau in 0..<t {
        let dz = decodedTangent.base + (r * t + tau) * dims
        var sum = 0.0
        for j in 0..<dims { sum += Double(g[r * dims + j] * dz[j]) }
        if o == 0 { dl[r * t + tau] = sum } else { dl[r * t + tau] += sum }
      }
    }
    return terms
  }
}
