import Foundation

/// The affine map a model is trained behind: `z = (y − μ) / s` per column,
/// fitted on the training rows (`μ` their mean, `s` their standard
/// deviation, 1 for a constant column). The model sees `z`; samples return
/// as `y = μ + s·z`, and densities in the file's own units include the
/// map's log-Jacobian:
///
///     −log p_y(y) = −log p_z((y − μ)/s) + Σ_j log s_j.
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

  /// The map with the given mean and scale per column.
  public init(mean: [Double], scale: [Double]) {
    self.mean = mean
    self.scale = scale
  }

  /// Columns D.
  public var columns: Int { mean.count }

  /// `Σ_j log s_j`: add it to a −log p of `z` for the −log p of `y` (nats per row).
  public var logJacobian: Double { scale.reduce(0) { $0 + log($1) } }

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
    return nil
  }
}
