/// The stochastic calculus a scheme's limit is taken in.
public enum Calculus: String, Sendable, Codable, CaseIterable {
  /// Itô: the integrand at the left end-point (Euler–Maruyama, Milstein).
  case ito = "Itô"
  /// Stratonovich: the midpoint rule (Heun, the midpoint method).
  case stratonovich = "Stratonovich"
}

/// A one-step scheme for `dX = b(X, t) dt + σ(X, t) dW̃` over all paths of a
/// chunk at once (docs/MODEL.md §3, §8) — the seam new solvers plug into.
///
/// A scheme declares what it is (name, calculus, orders, the noise types it
/// supports and the Gaussians it draws per step) and provides three
/// operations on one step `X_i → X_{i+1}` of step size `h_i` and shifted
/// increment `ΔW̃_i = ΔW_i + h_i u_i`:
///
/// - `step`: the forward map, evaluating the vector fields at its stages
///   (`SchemeStep.fields`) and combining them with the diffusion's products;
/// - `pullback`: its vector–Jacobian product — given `λ = ∂L/∂X_{i+1}` it
///   writes `∂L/∂ΔW̃_i` and replaces `λ` by `∂L/∂X_i`, accumulating the
///   parameter gradient;
/// - `pushforward`: its Jacobian–vector product — it advances the tangents
///   `S_i → S_{i+1}` alongside the state.
///
/// One solve loop (the forward pass, with or without tangents) and one
/// backward loop drive any conformer; the posterior control, the noise, the
/// observation schedule and the checkpoints are theirs, not the scheme's.
/// `EulerMaruyama` is the first conformer; `SchemeStep` is opened only to
/// conformers inside the package.
public protocol StepScheme: Sendable {
  /// The scheme's name, e.g. "Euler–Maruyama".
  var name: String { get }
  /// The calculus whose solution the scheme converges to.
  var calculus: Calculus { get }
  /// Strong order of convergence (paths).
  var strongOrder: Double { get }
  /// Weak order of convergence (expectations).
  var weakOrder: Double { get }
  /// Vector-field evaluations (stages) per step; each has its own tape slot.
  var stages: Int { get }
  /// Standard Gaussian vectors of dimension m drawn per step and path.
  var gaussiansPerStep: Int { get }
  /// Whether the scheme keeps its order for this noise type.
  func supports(_ noise: NoiseType) -> Bool

  /// `X_{i+1}` from `X_i` for every path of the step.
  func step<Scalar: SDEScalar>(_ step: SchemeStep<Scalar>)
  /// `∂L/∂ΔW̃_i` and `λ ← ∂L/∂X_i` from `λ = ∂L/∂X_{i+1}` (after the step's forward pass, taped).
  func pullback<Scalar: SDEScalar>(_ step: SchemeStep<Scalar>)
  /// `S_{i+1}` from `S_i` and `X_{i+1}` from `X_i` (the tangents' buffers in `step.tangent`).
  func pushforward<Scalar: SDEScalar>(_ step: SchemeStep<Scalar>)
}

/// One step of one chunk's `rows` paths, as a scheme sees it: the states, the
/// increments, the vector fields, and the buffers of a pullback or
/// pushforward. Built by the solve and backward loops.
public struct SchemeStep<Scalar: SDEScalar> {
  /// Step index i and left time `t_i` (with per-point grids: the first point's).
  package let index: Int
  package let time: Scalar
  /// Every row's step size: one `h_i`, or with per-point grids each data
  /// point's `h_{b,i}` for its K consecutive rows.
  package var sizes: RowStepSizes<Scalar>
  /// Paths in the chunk.
  package let rows: Int
  /// `X_i` and `X_{i+1}`, `rows × d`.
  package let state: UnsafePointer<Scalar>
  package let next: UnsafeMutablePointer<Scalar>
  /// `ΔW̃_i`, `rows × m` (the control's shift included).
  package let increments: UnsafePointer<Scalar>
  /// The drift and diffusion of this step.
  package let fields: VectorFields<Scalar>
  /// The reverse-mode buffers (pullback only).
  package var adjoint: StepAdjoint<Scalar>?
  /// The forward-mode buffers (pushforward only).
  package var tangent: StepTangent<Scalar>?
}

/// The buffers of a pullback: `λ` (`rows × d`; in: `∂L/∂X_{i+1}`, out:
/// `∂L/∂X_i`), the cotangents of the drift (`rows × d`) and diffusion
/// (`rows ×` σ's width) outputs, `∂L/∂ΔW̃` (`rows × m`), a scratch row of d
/// values and the chunk's parameter gradient (accumulated).
package struct StepAdjoint<Scalar: SDEScalar> {
  let lambda: UnsafeMutablePointer<Scalar>
  let driftCotangent: UnsafeMutablePointer<Scalar>
  let diffusionCotangent: UnsafeMutablePointer<Scalar>
  let incrementCotangent: UnsafeMutablePointer<Scalar>
  let scratch: UnsafeMutablePointer<Scalar>
  let gradient: UnsafeMutablePointer<Scalar>
}

/// The buffers of a pushforward for `directions` tangent directions per path:
/// the sensitivities `S` (`(rows·T) × d`, row `r·T + τ`, updated in place),
/// the parameter tangents (`T × P`), the drift and diffusion output tangents,
/// and the control's tangent `du` (`(controlRows·T) × m`; path r reads row
/// `⌊r / pathsPerControlRow⌋`).
package struct StepTangent<Scalar: SDEScalar> {
  let directions: Int
  let sensitivity: Matrix<Scalar>
  let parameterTangents: Matrix<Scalar>
  let driftTangent: Matrix<Scalar>
  let diffusionTangent: Matrix<Scalar>
  let controlTangent: UnsafePointer<Scalar>
  let pathsPerControlRow: Int
  let driftWorkspace: MLPTangentWorkspace<Scalar>
  let diffusionWorkspace: MLPTangentWorkspace<Scalar>
}

/// The drift `b(x, t)` and diffusion `σ(x, t)` networks of one step of a
/// chunk, with the diffusion's products (`term`): evaluated at a stage's state
/// into that stage's tape slot, pulled back and pushed forward from it.
package struct VectorFields<Scalar: SDEScalar> {
  let model: NeuralSDEModel<Scalar>
  let workspace: SolveWorkspace<Scalar>
  /// The step whose stages are addressed.
  let index: Int
  /// The diffusion's products for the model's noise type.
  var term: DiffusionTerm { model.diffusionTerm }

  /// Selects stage `s`'s activation slot in the drift and diffusion workspaces.
  func select(stage s: Int) { workspace.selectFields(step: index, stage: s) }

  /// Evaluates `b(x, t)` and `σ(x, t)` for `rows` paths at stage `s`;
  /// returns the outputs (`rows × d`, and σ in the term's layout).
  func evaluate(
    stage s: Int, state x: UnsafePointer<Scalar>, rows: Int, time t: Scalar
  ) -> (drift: UnsafePointer<Scalar>, diffusion: UnsafePointer<Scalar>) {
    select(stage: s)
    let xView = MatrixView(base: UnsafeMutablePointer(mutating: x), rows: rows, cols: model.latentDimension)
    model.drift.forwardUnchecked(xView, time: t, workspace: workspace.driftWS)
    model.diffusion.forwardUnchecked(term.input(xView), time: t, workspace: workspace.diffusionWS)
    return (UnsafePointer(workspace.driftWS.output.base), UnsafePointer(workspace.diffusionWS.output.base))
  }

  /// The outputs taped at stage `s` by `evaluate` (selects the stage).
  func outputs(stage s: Int) -> (drift: UnsafePointer<Scalar>, diffusion: UnsafePointer<Scalar>) {
    select(stage: s)
    return (UnsafePointer(workspace.driftWS.output.base), UnsafePointer(workspace.diffusionWS.output.base))
  }

  /// Accumulates `J_bᵀ ḃ + J_σᵀ σ̄` into the state cotangent `lambda`
  /// (`rows × d`) and both networks' parameter gradients, for the taped
  /// evaluation of stage `s`.
  func pullback(
    stage s: Int, rows: Int, driftCotangent: UnsafeMutablePointer<Scalar>, diffusionCotangent: MatrixView<Scalar>,
    into lambda: UnsafeMutablePointer<Scalar>, gradient: UnsafeMutablePointer<Scalar>
  ) {
    select(stage: s)
    let d = model.latentDimension
    let stateCotangent = MatrixView(base: lambda, rows: rows, cols: d)
    model.drift.vjpUnchecked(
      workspace: workspace.driftWS, outputGradient: MatrixView(base: driftCotangent, rows: rows, cols: d),
      inputGradient: stateCotangent, gradient: gradient, accumulateInputGradient: true)
    model.diffusion.vjpUnchecked(
      workspace: workspace.diffusionWS, outputGradient: diffusionCotangent,
      inputGradient: term.isAdditive ? nil : stateCotangent, gradient: gradient, accumulateInputGradient: true)
  }

  /// The output tangents `db = J_b S + ∂_θ b·v` and `dσ` of stage `s`'s last
  /// evaluation, into `tangent`'s buffers.
  func pushforward(stage s: Int, _ tangent: StepTangent<Scalar>) {
    select(stage: s)
    model.drift.jvpUnchecked(
      workspace: workspace.driftWS, inputTangent: tangent.sensitivity.view, tangents: tangent.parameterTangents,
      output: tangent.driftTangent.view, tangentWorkspace: tangent.driftWorkspace)
    model.diffusion.jvpUnchecked(
      workspace: workspace.diffusionWS, inputTangent: term.isAdditive ? nil : tangent.sensitivity.view,
      tangents: tangent.parameterTangents, output: tangent.diffusionTangent.view,
      tangentWorkspace: tangent.diffusionWorkspace)
  }
}
