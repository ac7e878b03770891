import Foundation

/// The objective a gradient is taken of, averaged over the batch of B data points.
public enum TrainingObjective: String, Sendable, Codable, CaseIterable {
  /// The free energy `F̂` (docs/MODEL.md §3): `mean_paths[½ Σ_i h‖u_i‖² − log p(y | X_N)]`.
  case freeEnergy = "free-energy"
  /// The importance-weighted estimate `mean_b[−log (1/K) Σ_k w_k p(y_b | X_N^k)]`.
  case importanceWeighted = "importance-weighted"
  /// The same importance-weighted loss, its control gradient doubly
  /// reparameterised (Tucker et al. 2019, DReG; docs/MODEL.md §6): with
  /// `w̃_k` the normalised weights of a point's K paths and `∂_path` the
  /// derivative through the paths only (the control's direct term in the
  /// path density dropped, `Σ_i (∂u_i/∂β)·ΔW_i`),
  ///
  ///     ∂loss/∂β = −(1/B) Σ_b Σ_k w̃_k² ∂_path log w_k,
  ///
  /// which has the importance-weighted gradient's expectation and a variance
  /// that does not grow with K; the generative parameters' gradient is the
  /// importance-weighted one.
  case importanceWeightedDReG = "importance-weighted-dreg"

  /// Whether the loss is the importance-weighted estimate (either gradient).
  public var isImportanceWeighted: Bool { self != .freeEnergy }
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
  case .importanceWeighted, .importanceWeightedDReG:
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

/// Applies the objective's path weights `w_r = ∂loss/∂ℓ_r` to the
/// likelihood's per-row gradient: row r of `∂ℓ/∂decoded` is scaled by `w_r` in place.
func scaleRows<Scalar: SDEScalar>(_ g: MatrixView<Scalar>, by weights: [Double]) {
  for r in 0..<g.rows {
    let w = Scalar(weights[r])
    let row = g.base + r * g.ld
    for j in 0..<g.cols { row[j] = row[j] * w }
  }
}

/// Adds `Σ_r w_r ∂ℓ_r/∂(likelihood parameters)` (summed in row order) to
/// `gradient` (P values), from the likelihood's per-row gradients `rows` (`rows × P`).
func addWeightedRows<Scalar: SDEScalar>(
  _ rows: MatrixView<Scalar>, weights: [Double], into gradient: UnsafeMutablePointer<Scalar>
) {
  for r in 0..<rows.rows {
    let w = Scalar(weights[r])
    for j in 0..<rows.cols { gradient[j] += rows.base[r * rows.ld + j] * w }
  }
}
