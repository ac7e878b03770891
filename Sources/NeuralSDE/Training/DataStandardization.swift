import Foundation

/// The affine map a model is trained behind: `x = (y − μ) / s` per column,
/// fitted on the training rows (`μ` their mean, `s` their standard
/// deviation, 1 for a constant column), optionally followed by a scaling
/// along the principal axes of the standardised rows' covariance
/// `U Λ Uᵀ` (`U` orthonormal, D × D):
///
///     z = U diag(f) Uᵀ x,   x = U diag(1/f) Uᵀ z,
///
/// with one factor `f_k > 0` per axis (`AxisScaling`: `1/√λ_k` whitens;
/// `max(1, √(τ/λ_k))` only raises the variances below `τ`). The model sees
/// `z`; samples return through the inverse map, and densities in the file's
/// own units include the map's log-Jacobian:
///
///     −log p_y(y) = −log p_z(z) + Σ_j log s_j − Σ_k log f_k.
///
/// Recorded in checkpoints (metadata `data_standardization`) so that every
/// later `evaluate` applies the same map. Only Foundation here (the
/// checkpoint reader's fuzz target compiles this file); the matrix methods
/// are in `DataStandardization+Matrix.swift`.
public struct DataStandardization: Sendable, Codable, Equatable {
  /// `μ`, one per column.
  public var mean: [Double]
  /// `s`, one per column (> 0).
  public var scale: [Double]
  /// `U`, the principal axes (D × D, row-major, orthonormal columns), or nil: no axis scaling.
  public var axes: [Double]?
  /// `f`, one factor per axis (column of `U`, > 0); present exactly when `axes` is.
  public var axisScales: [Double]?

  /// The map with the given mean and scale per column and, optionally, axes and their factors.
  public init(mean: [Double], scale: [Double], axes: [Double]? = nil, axisScales: [Double]? = nil) {
    self.mean = mean
    self.scale = scale
    self.axes = axes
    self.axisScales = axisScales
  }

  /// Columns D.
  public var columns: Int { mean.count }

  /// `Σ_j log s_j − Σ_k log f_k`: add it to a −log p of `z` for the −log p of `y` (nats per row).
  public var logJacobian: Double {
    scale.reduce(0) { $0 + log($1) } - (axisScales ?? []).reduce(0) { $0 + log($1) }
  }

  /// A scaling along the principal axes of the standardised training rows
  /// (eigenvalues `λ_k` of their covariance, mean `λ̄`).
  public enum AxisScaling: Sendable, Equatable {
    /// None: the per-column map only.
    case none
    /// `f_k = 1/√λ_k`: the standardised rows get the identity covariance (ZCA whitening).
    case whitening
    /// `f_k = max(1, √(c·λ̄/λ_k))`: variances below the fraction `c` of the mean
    /// are raised to it, the others left as they are.
    case varianceFloor(Double)
  }

  /// What the map does, in words (for progress notes).
  public var summary: String {
    let columns = "each column standardised by the training rows' mean and standard deviation"
    guard let f = axisScales else { return columns }
    let scaled = f.filter { Swift.abs($0 - 1) > 1e-12 }.count
    return columns + ", then scaled along the principal axes of their covariance (\(scaled) of \(f.count) axes)"
  }

  /// The largest deviation from orthonormality of `axes` the checks accept.
  public static let orthonormalityTolerance = 1e-6

  /// What is wrong with the map for a model of `dimension` data columns,
  /// naming the column, or nil: one mean and one scale per column, finite
  /// means, finite positive scales. The one check of the checkpoint's writer
  /// and its reader.
  public func problem(dimension: Int) -> String? {
    guard !mean.isEmpty, mean.count == scale.count else {
      return "has \(mean.count) means and \(scale.count) scales (one each per column, at least one)"
    }
    guard columns == dimension else { return "has \(columns) columns, the model \(dimension) (its data dimension)" }
    if let j = mean.firstIndex(where: { !$0.isFinite }) { return "mean of column \(j) is \(mean[j])" }
    if let j = scale.firstIndex(where: { !($0 > 0 && $0.isFinite) }) {
      return "scale of column \(j) is \(scale[j]); scales are finite and positive"
    }
    switch (axes, axisScales) {
    case (nil, nil): return nil
    case (nil, _?), (_?, nil): return "has axes without axis scales or axis scales without axes (both or neither)"
    case (let u?, let f?):
      let n = columns
      guard f.count == n else { return "has \(f.count) axis scales for \(n) columns (one per axis)" }
      guard u.count == n * n else { return "has \(u.count) axis values for \(n) columns (a \(n) × \(n) matrix)" }
      if let k = f.firstIndex(where: { !($0 > 0 && $0.isFinite) }) {
        return "axis scale \(k) is \(f[k]); axis scales are finite and positive"
      }
      if let i = u.firstIndex(where: { !$0.isFinite }) {
        return "axis value \(i) (row \(i / n), column \(i % n)) is \(u[i])"
      }
      // Orthonormal columns, checked in O(D²): unit column norms, and U Uᵀv = v for
      // two fixed vectors (a non-orthonormal U passes both only on a measure-zero set).
      for k in 0..<n {
        var norm = 0.0
        for i in 0..<n { norm += u[i * n + k] * u[i * n + k] }
        if Swift.abs(norm - 1) > Self.orthonormalityTolerance {
          return "axis \(k) has squared norm \(norm); the axes are orthonormal"
        }
      }
      for v in [[Double](repeating: 1, count: n), (0..<n).map { Double(($0 * 7919) % 13) - 6 }] {
        var uv = [Double](repeating: 0, count: n)
        for i in 0..<n { for k in 0..<n { uv[k] += u[i * n + k] * v[i] } }
        var utuv = [Double](repeating: 0, count: n)
        for i in 0..<n { for k in 0..<n { utuv[i] += u[i * n + k] * uv[k] } }
        var err = 0.0
        var size = 0.0
        for i in 0..<n {
          err += (utuv[i] - v[i]) * (utuv[i] - v[i])
          size += v[i] * v[i]
        }
        if err.squareRoot() > Self.orthonormalityTolerance * Swift.max(size.squareRoot(), 1) {
          return "the axes are not orthonormal (‖UUᵀv − v‖ = \(err.squareRoot()) for ‖v‖ = \(size.squareRoot()))"
        }
      }
      return nil
    }
  }
}
