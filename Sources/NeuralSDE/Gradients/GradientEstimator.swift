import Foundation

/// What a gradient estimator returns.
public struct GradientResult: Sendable {
  /// The objective's value.
  public var loss: Double
  /// `∂loss/∂parameters`, flat, in the model's parameter order.
  public var gradient: [Double]
  /// Time and memory of the evaluation.
  public var diagnostics: GradientDiagnostics

  /// A result (for estimators that combine others, e.g. across processes).
  public init(loss: Double, gradient: [Double], diagnostics: GradientDiagnostics) {
    self.loss = loss
    self.gradient = gradient
    self.diagnostics = diagnostics
  }
}

/// Cost of one gradient evaluation.
public struct GradientDiagnostics: Sendable, Codable {
  /// Wall-clock seconds.
  public var seconds: Double
  /// Bytes of the workspaces allocated for this evaluation (tapes, activations, sensitivities).
  public var peakWorkspaceBytes: Int
  /// Number of tangent directions propagated (forward estimator; 0 for backprop).
  public var tangentDirections: Int

  /// Diagnostics with the given values.
  public init(seconds: Double, peakWorkspaceBytes: Int, tangentDirections: Int) {
    self.seconds = seconds
    self.peakWorkspaceBytes = peakWorkspaceBytes
    self.tangentDirections = tangentDirections
  }
}

/// A way to differentiate the discretised objective with respect to all
/// parameters (θ, β, decoder, x_0, log-std).
///
/// - `BackpropThroughSolver` (solve, then differentiate): reverse mode through
///   the Euler–Maruyama recursion. Cost independent of the number of
///   parameters; memory grows with N (it tapes states and activations).
/// - `ForwardPathwise` (differentiate, then solve): forward sensitivities
///   `∂X/∂θ` propagated with the same increments. Cost linear in the number of
///   tangent directions; memory independent of N. Use it for few parameters
///   or for directional derivatives (JVPs).
///
/// On the same noise both give the exact gradient of the same discrete
/// objective and agree to round-off.
public protocol GradientEstimator: Sendable {
  func gradient<Scalar: SDEScalar, Noise: BrownianIncrements>(
    of model: NeuralSDEModel<Scalar>, data: Matrix<Scalar>, noise: Noise, grid: TimeGrid, pathsPerPoint: Int,
    objective: TrainingObjective
  ) throws -> GradientResult where Noise.Scalar == Scalar
}

/// A gradient estimator for a model observed along its path (docs/MODEL.md
/// §7): the likelihood read at each step of an observation schedule with its
/// own values and mask, on one grid or one per data point. Its static
/// `gradient` — the data observed once, at the last step of one shared grid —
/// is this with `PathObservations.terminal` and `BatchGrid(shared:)`.
public protocol ObservingGradientEstimator: GradientEstimator {
  /// The loss and gradient with `observations` along the path on `grid`
  /// (`data`, `B × D`, conditions the static control).
  func gradient<Scalar: SDEScalar, Noise: BrownianIncrements>(
    of model: NeuralSDEModel<Scalar>, data: Matrix<Scalar>, noise: Noise, grid: BatchGrid, pathsPerPoint k: Int,
    objective: TrainingObjective, observations: PathObservations<Scalar>
  ) throws -> GradientResult where Noise.Scalar == Scalar
}

extension ObservingGradientEstimator {
  /// The static model's loss and gradient: the data observed at the last step of `grid`.
  public func gradient<Scalar: SDEScalar, Noise: BrownianIncrements>(
    of model: NeuralSDEModel<Scalar>, data: Matrix<Scalar>, noise: Noise, grid: TimeGrid, pathsPerPoint k: Int,
    objective: TrainingObjective
  ) throws -> GradientResult where Noise.Scalar == Scalar {
    try gradient(
      of: model, data: data, noise: noise, grid: BatchGrid(shared: grid), pathsPerPoint: k, objective: objective,
      observations: .terminal(data, steps: grid.steps))
  }
}

extension NeuralSDEModel {
  /// Checks data, noise and K for a gradient evaluation.
  func validateForGradient<Noise: BrownianIncrements>(
    data: Matrix<Scalar>, noise: Noise, grid: BatchGrid, pathsPerPoint k: Int
  ) throws where Noise.Scalar == Scalar {
    try validateData(data)
    try check(grid: grid, points: data.rows)
    guard k >= 1 else { throw NSDEError.invalidArgument("paths per data point must be ≥ 1, got \(k)") }
    try noise.validate(steps: grid.steps, paths: data.rows * k, dimension: noiseDimension)
    let bad = Scalar.countNonFinite(n: parameters.count, x: parameters.base)
    guard bad == 0 else { throw NSDEError.nonFinite("the model parameters contain \(bad) NaN/Inf value(s)") }
  }
}

extension Duration {
  /// The duration in seconds (the one conversion used by the library, the benchmarks and the MPI target).
  package var seconds: Double { Double(components.seconds) + Double(components.attoseconds) * 1e-18 }
}

extension NeuralSDEModel {
  /// Checks a batch's grids: one per data point when not shared, and then
  /// networks that do not read the time (each row would need its own).
  func check(grid: BatchGrid, points: Int) throws {
    guard grid.shared == nil else { return }
    guard grid.perPoint.count == points else {
      throw NSDEError.shapeMismatch("\(grid.perPoint.count) grids for \(points) data points")
    }
    let timed = networks.filter { $0.mlp.architecture.timeInput && $0.name != "decoder" }.map(\.name)
    guard timed.isEmpty else {
      throw NSDEError.invalidArgument(
        "per-point grids need networks that do not read the time, but \(timed.joined(separator: ", ")) do")
    }
  }
}
