/// The Euler–Maruyama scheme (docs/MODEL.md §3, §6), batched over Monte Carlo paths:
///
///     X_{i+1} = X_i + h_i·b(X_i, t_i) + σ(X_i, t_i)·ΔW̃_i,     ΔW̃_i = ΔW_i + h_i·u_i
///
/// with the posterior control `u_i` at the left end-point (`ΔW̃ = ΔW` for the
/// prior). One stage per step: one drift and one diffusion evaluation, a few
/// GEMMs over all paths, then the diffusion term's elementwise product.
/// Itô; strong order ½, weak order 1 (checked by the tests on GBM); every
/// noise type. Its pullback and pushforward are the exact reverse- and
/// forward-mode derivatives of this recursion:
///
///     ∂L/∂ΔW̃ = σᵀλ,   λ ← λ + J_bᵀ(h λ) + J_σᵀ(λ ⊗ ΔW̃)
///     S ← S + h dB + dσ·ΔW̃ + σ·(h du)
public struct EulerMaruyama: StepScheme {
  /// Strong order of convergence (½).
  public static let strongOrder = 0.5
  /// Weak order of convergence (1).
  public static let weakOrder = 1.0

  /// The scheme (stateless; workspaces are cached on the model).
  public init() {}

  /// "Euler–Maruyama".
  public var name: String { "Euler–Maruyama" }
  /// Itô.
  public var calculus: Calculus { .ito }
  /// ½.
  public var strongOrder: Double { Self.strongOrder }
  /// 1.
  public var weakOrder: Double { Self.weakOrder }
  /// One drift and diffusion evaluation per step.
  public var stages: Int { 1 }
  /// One Gaussian increment per step.
  public var gaussiansPerStep: Int { 1 }
  /// Every noise type (for general noise the strong order stays ½).
  public func supports(_ noise: NoiseType) -> Bool { true }

  /// `X_{i+1} = X_i + h b(X_i, t_i) + σ(X_i, t_i) ΔW̃_i`.
  @_specialize(where Scalar == Double)
  @_specialize(where Scalar == Float)
  public func step<Scalar: SDEScalar>(_ step: SchemeStep<Scalar>) {
    let f = step.fields.evaluate(stage: 0, state: step.state, rows: step.rows, time: step.time)
    addProducts(step, drift: f.drift, diffusion: f.diffusion)
  }

  /// `X_{i+1} = X_i + h_r b + σ ΔW̃` over all rows (each with its step size).
  @inline(__always)
  func addProducts<Scalar: SDEScalar>(
    _ step: SchemeStep<Scalar>, drift: UnsafePointer<Scalar>, diffusion: UnsafePointer<Scalar>
  ) {
    step.fields.term.addProducts(
      rows: step.rows, x: step.state, drift: drift, sigma: diffusion, increments: step.increments, h: step.sizes,
      into: step.next)
  }

  /// `∂L/∂ΔW̃ = σᵀλ`, then `∂L/∂b = hλ`, `∂L/∂σ = λ ⊗ ΔW̃` pulled back through
  /// the networks into `λ` (which then holds `∂L/∂X_i`) and the parameter gradient.
  @_specialize(where Scalar == Double)
  @_specialize(where Scalar == Float)
  public func pullback<Scalar: SDEScalar>(_ step: SchemeStep<Scalar>) {
    let a = step.adjoint!
    let rows = step.rows
    let term = step.fields.term
    let sigma = step.fields.outputs(stage: 0).diffusion
    term.transposeApply(rows: rows, sigma: sigma, cotangent: a.lambda, into: a.incrementCotangent)
    Scalar.scaledRows(rows: rows, cols: term.d, h: step.sizes, x: a.lambda, out: a.driftCotangent)
    let diffusionCotangent = term.outerProduct(
      rows: rows, cotangent: a.lambda, increments: step.increments, into: a.diffusionCotangent,
      ones: step.fields.workspace.driftWS.ones.base, scratch: a.scratch)
    step.fields.pullback(
      stage: 0, rows: rows, driftCotangent: a.driftCotangent, diffusionCotangent: diffusionCotangent,
      into: a.lambda, gradient: a.gradient)
  }

  /// The step with its tangents: `db`, `dσ` by the networks' JVPs, then
  /// `S ← S + h dB + dσ·ΔW̃ + σ·(h du)` and the step itself.
  @_specialize(where Scalar == Double)
  @_specialize(where Scalar == Float)
  public func pushforward<Scalar: SDEScalar>(_ step: SchemeStep<Scalar>) {
    let t = step.tangent!
    let term = step.fields.term
    let f = step.fields.evaluate(stage: 0, state: step.state, rows: step.rows, time: step.time)
    step.fields.pushforward(stage: 0, t)
    term.addProductTangents(
      rows: step.rows, directions: t.directions, sensitivity: t.sensitivity.base, driftTangent: t.driftTangent.base,
      diffusionTangent: t.diffusionTangent.base, sigma: f.diffusion, increments: step.increments,
      controlTangent: t.controlTangent, pathsPerControlRow: t.pathsPerControlRow, h: step.sizes)
    addProducts(step, drift: f.drift, diffusion: f.diffusion)
  }
}
