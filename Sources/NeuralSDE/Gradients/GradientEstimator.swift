import Foundation

/// The objective a gradient is taken of, averaged over the batch of B data points.
public enum TrainingObjective: String, Sendable, Codable, CaseIterable {
  /// The free energy `F̂` (docs/MODEL.md §3): `mean_paths[½ Σ_i h‖u_i‖² − log p(y | X_N)]`.
  case freeEnergy = "free-energy"
  /// The importance-weighted estimate `mean_b[−log (1/K) Σ_k w_k p(y_b | X_N^k)]`.
  case importanceWeighted = "importance-weighted"
}

/// What a gradient estimator returns.
public struct GradientResult: Sendable {
  /// The objective's value.
  public var loss: Double
  /// `∂loss/∂parameters`, flat, in the model's parameter order.
  public var gradient: [Double]
  public var diagnostics: GradientDiagnostics
}

/// Cost of one gradient evaluation.
public struct GradientDiagnostics: Sendable, Codable {
  /// Wall-clock seconds.
  public var seconds: Double
  /// Bytes of the workspaces allocated for this evaluation (tapes, activations, sensitivities).
  public var peakWorkspaceBytes: Int
  /// Number of tangent directions propagated (forward estimator; 0 for backprop).
  public var tangentDirections: Int
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
  func gradient<Scalar: BLASScalar, Noise: BrownianIncrements>(
    of model: NeuralSDEModel<Scalar>, data: Matrix<Scalar>, noise: Noise, grid: TimeGrid, pathsPerPoint: Int,
    objective: TrainingObjective
  ) throws -> GradientResult where Noise.Scalar == Scalar
}

extension NeuralSDEModel {
  /// Checks data, noise and K for a gradient evaluation.
  func validateForGradient<Noise: BrownianIncrements>(
    data: Matrix<Scalar>, noise: Noise, grid: TimeGrid, pathsPerPoint k: Int
  ) throws where Noise.Scalar == Scalar {
    try EulerMaruyama().validateData(data, model: self)
    guard k >= 1 else { throw NSDEError.invalidArgument("paths per data point must be ≥ 1, got \(k)") }
    try noise.validate(steps: grid.steps, paths: data.rows * k, dimension: noiseDimension)
    let bad = Scalar.countNonFinite(n: parameters.count, x: parameters.base)
    guard bad == 0 else { throw NSDEError.nonFinite("the model parameters contain \(bad) NaN/Inf value(s)") }
  }
}

/// Per-path weights `∂loss/∂ℓ_p` and the loss contribution of one chunk.
///
/// Free energy: weight `1/M`, loss `Σ_p (KL_p + ℓ_p)/M` (`KL_p` the path's
/// KL term: the point's, for mean-field control). Importance weighted:
/// `a_p = log w_p − ℓ_p`, weight `s_p/B` with `s` the softmax of `a` within
/// each point, loss `−Σ_q (logsumexp_q(a) − log K)/B`.
func objectiveWeights(
  objective: TrainingObjective, nll: [Double], klPerPath: [Double], logWeights: [Double], points: Int, k: Int,
  totalPoints: Int
) -> (loss: Double, pathWeights: [Double]) {
  let bTotal = Double(totalPoints)
  let mTotal = bTotal * Double(k)
  switch objective {
  case .freeEnergy:
    var loss = 0.0
    for p in 0..<nll.count { loss += klPerPath[p] + nll[p] }
    return (loss / mTotal, [Double](repeating: 1 / mTotal, count: nll.count))
  case .importanceWeighted:
    var loss = 0.0
    var weights = [Double](repeating: 0, count: nll.count)
    for q in 0..<points {
      let a = (0..<k).map { logWeights[q * k + $0] - nll[q * k + $0] }
      let (lse, softmax) = logSumExp(a)
      loss -= (lse - Double.log(Double(k))) / bTotal
      for j in 0..<k { weights[q * k + j] = softmax[j] / bTotal }
    }
    return (loss, weights)
  }
}

/// `log Σ_j exp(a_j)` computed without overflow, and the softmax `exp(a_j − lse)`.
func logSumExp(_ a: [Double]) -> (value: Double, softmax: [Double]) {
  let amax = a.max()!
  let e = a.map { Double.exp($0 - amax) }
  let sum = e.reduce(0, +)
  return (amax + Double.log(sum), e.map { $0 / sum })
}

extension Duration {
  /// The duration in seconds.
  var seconds: Double { Double(components.seconds) + Double(components.attoseconds) * 1e-18 }
}
