import Foundation

/// Uniform dequantisation of columns recorded on a grid (pixel counts,
/// measurements to 0.1 cm, rates to 0.01 points): a continuous density fitted
/// to `y + h·u`, `u ~ U[0, 1)` per entry, with `h` the column's grid step,
/// bounds the discrete data's probability of its grid cell from above in
/// nats: `−log P(y) ≤ E_u[−log p(y + h·u)] − Σ_j log h_j` (Theis et al.
/// 2016; the sum over the dequantised columns, 0 when every step is 1).
/// Without it a density can put a near-point mass on a repeated value, and
/// −log p is not comparable between models.
public enum Dequantization {
  /// A column recorded on a grid of step `step` (1 for integers, else `10^-k`).
  public struct GridColumn: Equatable, Sendable {
    /// The column's index (0-based).
    public let column: Int
    /// The grid step `h > 0`, in the column's units.
    public let step: Double

    /// A column `column` on a grid of step `step`.
    public init(column: Int, step: Double) {
      self.column = column
      self.step = step
    }
  }

  /// The largest `k` of a decimal step `10^-k` that `gridColumns` looks for.
  public static let maximumDecimals = 6

  /// The columns of `data` recorded on a grid: every column whose values are
  /// all integers (step 1), and every column that repeats a value and whose
  /// values are all multiples of `10^-k` for some `k` in 1…`maximumDecimals`
  /// (the smallest such `k`; `|10^k·y − round(10^k·y)| ≤ 10⁻³ + 10⁻⁷·|10^k·y|`
  /// admits the binary rounding of decimals, in `Float` too). Columns of distinct values off the integers are
  /// left alone: there a density cannot concentrate on a repeated value.
  public static func gridColumns<Scalar: SDEScalar>(_ data: Matrix<Scalar>) -> [GridColumn] {
    (0..<data.cols).compactMap { c in
      let values = (0..<data.rows).map { Double(data[$0, c]) }
      if let step = gridStep(values) { return GridColumn(column: c, step: step) }
      return nil
    }
  }

  /// The grid step of one column's values (see `gridColumns`): 1, `10^-k`, or nil if none.
  public static func gridStep(_ values: [Double]) -> Double? {
    func onGrid(_ k: Int) -> Bool {
      let scale = pow(10, Double(k))
      return values.allSatisfy {
        let s = $0 * scale
        return s.isFinite && abs(s - s.rounded()) <= 1e-3 + 1e-7 * abs(s)
      }
    }
    if values.allSatisfy({ $0 == $0.rounded() }) { return 1 }
    let sorted = values.sorted()
    guard zip(sorted, sorted.dropFirst()).contains(where: { $0 == $1 }) else { return nil }
    for k in 1...maximumDecimals where onGrid(k) { return pow(10, -Double(k)) }
    return nil
  }

  /// `−Σ_j log h_j` over `columns`: what the bound of a dequantised point's
  /// `−log P` adds to its `−log p` (nats; 0 when every step is 1).
  public static func cellLogVolumePenalty(_ columns: [GridColumn]) -> Double {
    columns.reduce(0) { $0 - log($1.step) }
  }

  /// A one-line description of `columns` for a note, e.g. `1 (h = 1), 3 (h = 0.1)` (1-based).
  public static func describe(_ columns: [GridColumn]) -> String {
    columns.map { "\($0.column + 1) (h = \(String(format: "%g", $0.step)))" }.joined(separator: ", ")
  }

  /// `data` with `h·u`, `u ~ U[0, 1)`, added to every entry of each grid
  /// column (h its step), the noise drawn from `seed` (reproducible).
  public static func dequantized<Scalar: SDEScalar>(
    _ data: Matrix<Scalar>, columns: [GridColumn], seed: UInt64
  ) -> Matrix<Scalar> {
    let out = data.copy()
    var rng = SplitMix64(seed: seed)
    for r in 0..<data.rows {
      for g in columns { out[r, g.column] += Scalar(g.step * rng.nextUnit()) }
    }
    return out
  }
}
