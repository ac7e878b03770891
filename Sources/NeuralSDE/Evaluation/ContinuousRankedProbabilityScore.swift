import Foundation

/// The continuous ranked probability score of a predictive distribution F
/// for an observed value y (lower is better; in the data's units):
///
///     CRPS(F, y) = E|X − y| − ½ E|X − X'|,   X, X' ~ F independent,
///
/// the mean absolute error of a point forecast generalised to a distribution
/// (Gneiting & Raftery 2007). It is a proper score: its expectation over
/// y ~ G is smallest at F = G.
public enum ContinuousRankedProbabilityScore {
  /// The score of the empirical law of draws `x` (S ≥ 2), with the unbiased
  /// ("fair") pair term `Σ_{i≠j} |x_i − x_j| / (S(S − 1))`, computed from the
  /// sorted draws in `O(S log S)`: `Σ_{i<j} (x_(j) − x_(i)) = Σ_i (2i − S + 1) x_(i)`
  /// (0-based i). For S = 1 the pair term is 0 (the absolute error).
  public static func samples(_ x: [Double], observation y: Double) -> Double {
    let s = x.count
    precondition(s >= 1, "CRPS needs at least one draw")
    let absolute = x.reduce(0) { $0 + Swift.abs($1 - y) } / Double(s)
    guard s >= 2 else { return absolute }
    let sorted = x.sorted()
    var pairs = 0.0
    for (i, v) in sorted.enumerated() { pairs += Double(2 * i - s + 1) * v }
    // Σ_{i≠j} |x_i − x_j| = 2 Σ_{i<j} (x_(j) − x_(i)).
    return absolute - pairs / (Double(s) * Double(s - 1))
  }

  /// The score of a Gaussian `N(μ, σ²)` in closed form:
  /// `σ [z (2Φ(z) − 1) + 2φ(z) − 1/√π]`, `z = (y − μ)/σ` (σ > 0).
  public static func gaussian(mean mu: Double, std sigma: Double, observation y: Double) -> Double {
    let z = (y - mu) / sigma
    let phi = Double.exp(-0.5 * z * z) / (2 * Double.pi).squareRoot()
    let cdf = 0.5 * Foundation.erfc(-z / 2.0.squareRoot())
    return sigma * (z * (2 * cdf - 1) + 2 * phi - 1 / Double.pi.squareRoot())
  }
}
