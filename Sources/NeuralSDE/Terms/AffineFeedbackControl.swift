/// A posterior control given per step as an affine map of the state
/// (docs/MODEL.md §6):
///
///     u_i(x) = K_i x + k_i,     K_i: m × d,   k_i: one row per data point (or one shared row) of m values
///
/// evaluated at the left end-point of step i. It is a baseline beside the
/// learned controls and the form of the optimal control of the linear-Gaussian
/// model, whose controlled Euler–Maruyama chain then stays Gaussian. Pass it
/// as `SolveOptions.affineControl` (or to `NeuralSDEModel.variationalEstimates`)
/// to replace the model's posterior network in a solve.
public struct AffineFeedbackControl: Sendable {
  /// `K_i` per step, each `m × d` (row-major).
  public var gains: [Matrix<Double>]
  /// `k_i` per step, each `B × m` (row b for data point b) or `1 × m` (shared by all points).
  public var offsets: [Matrix<Double>]

  /// The control with gains `K_i` and offsets `k_i` per step.
  public init(gains: [Matrix<Double>], offsets: [Matrix<Double>]) {
    self.gains = gains
    self.offsets = offsets
  }

  /// Checks the shapes against a solve of `steps` steps over `points` data points.
  /// - Throws: `shapeMismatch` naming the step and the tensor.
  public func validate(steps: Int, points: Int, latentDimension d: Int, noiseDimension m: Int) throws {
    guard gains.count == steps, offsets.count == steps else {
      throw NSDEError.shapeMismatch(
        "the affine control has \(gains.count) gains and \(offsets.count) offsets but the grid has \(steps) steps")
    }
    for i in 0..<steps {
      guard gains[i].rows == m, gains[i].cols == d else {
        throw NSDEError.shapeMismatch("affine control gain K_\(i) is \(gains[i].shapeDescription), expected \(m)×\(d)")
      }
      guard offsets[i].cols == m, offsets[i].rows == 1 || offsets[i].rows == points else {
        throw NSDEError.shapeMismatch(
          "affine control offset k_\(i) is \(offsets[i].shapeDescription), expected 1×\(m) or \(points)×\(m)")
      }
      let bad =
        Double.countNonFinite(n: gains[i].count, x: gains[i].base)
        + Double.countNonFinite(n: offsets[i].count, x: offsets[i].base)
      guard bad == 0 else { throw NSDEError.nonFinite("affine control step \(i) contains \(bad) NaN/Inf value(s)") }
    }
  }

  /// `u = X K_iᵀ + k_i` for `rows` paths (`states`: `rows × d`); path r belongs
  /// to data point `firstPoint + ⌊r/K⌋`. Returns `rows × m`.
  func evaluate<Scalar: SDEScalar>(
    step i: Int, states x: UnsafePointer<Scalar>, rows: Int, pathsPerPoint k: Int, firstPoint: Int,
    as _: Scalar.Type
  ) -> Matrix<Scalar> {
    let g = gains[i]
    let o = offsets[i]
    let m = g.rows
    let d = g.cols
    let u = Matrix<Scalar>(rows: rows, cols: m)
    for r in 0..<rows {
      let orow = o.rows == 1 ? 0 : firstPoint + r / k
      for l in 0..<m {
        var acc = o[orow, l]
        for j in 0..<d { acc += g[l, j] * Double(x[r * d + j]) }
        u[r, l] = Scalar(acc)
      }
    }
    return u
  }
}
