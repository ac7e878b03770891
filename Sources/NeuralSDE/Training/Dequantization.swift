/// Uniform dequantisation of integer-valued columns (e.g. pixel counts): a
/// continuous density fitted to `y + u`, `u ~ U[0, 1)` per entry, bounds the
/// discrete data's `−log P(y)` from above by its `−log p(y + u)` (Theis et al.
/// 2016), so densities of integer data become comparable with the baselines'.
public enum Dequantization {
  /// The columns of `data` in which every value is an integer.
  public static func integerColumns<Scalar: SDEScalar>(_ data: Matrix<Scalar>) -> [Int] {
    (0..<data.cols).filter { c in (0..<data.rows).allSatisfy { data[$0, c] == data[$0, c].rounded() } }
  }

  /// `data` with `u ~ U[0, 1)` added to every entry of `columns`, the noise
  /// drawn from `seed` (reproducible).
  public static func dequantized<Scalar: SDEScalar>(_ data: Matrix<Scalar>, columns: [Int], seed: UInt64) -> Matrix<
    Scalar
  > {
    let out = data.copy()
    var rng = SplitMix64(seed: seed)
    for r in 0..<data.rows { for c in columns { out[r, c] += Scalar(rng.nextUnit()) } }
    return out
  }
}
