import Foundation

/// One Gaussian fitted to data: the baseline a generative model has to beat.
///
/// Mean `μ` and maximum-likelihood covariance `Σ = (1/n) Σ_r (x_r − μ)(x_r − μ)ᵀ`.
public struct GaussianBaseline: Sendable {
  /// `D` values.
  public let mean: [Double]
  /// `D × D`.
  public let covariance: Matrix<Double>
  let cholesky: Matrix<Double>
  let logDeterminant: Double

  /// Fits the baseline to `data` (`n × D`, n ≥ 2, finite); `jitter` adds
  /// `jitter · tr(Σ)/D` to the covariance's diagonal (0: the exact MLE).
  /// - Throws: `invalidArgument` for fewer than 2 rows, and for a singular
  ///   covariance, naming a constant column or the covariance's rank.
  public init<T: SDEScalar>(fitting data: Matrix<T>, jitter: Double = 0) throws {
    guard data.rows >= 2 else {
      throw NSDEError.invalidArgument("a Gaussian baseline needs at least 2 data points, got \(data.rows)")
    }
    let n = data.rows
    let dims = data.cols
    var mu = [Double](repeating: 0, count: dims)
    for r in 0..<n { for c in 0..<dims { mu[c] += Double(data[r, c]) } }
    mu = mu.map { $0 / Double(n) }
    let cov = Matrix<Double>(rows: dims, cols: dims)
    for r in 0..<n {
      for i in 0..<dims {
        let di = Double(data[r, i]) - mu[i]
        for j in 0..<dims { cov[i, j] += di * (Double(data[r, j]) - mu[j]) }
      }
    }
    for i in 0..<cov.count { cov.base[i] /= Double(n) }
    if jitter > 0 {
      let trace = (0..<dims).map { cov[$0, $0] }.reduce(0, +)
      for i in 0..<dims { cov[i, i] += jitter * Swift.max(trace / Double(dims), 1e-300) }
    }
    mean = mu
    covariance = cov
    do { cholesky = try LAPACK.cholesky(cov) } catch { throw Self.singular(cov, columns: dims) }
    var logDet = 0.0
    for i in 0..<dims { logDet += 2 * Double.log(cholesky[i, i]) }
    logDeterminant = logDet
  }

  /// The error for a covariance without a Cholesky factor: the first
  /// constant column, else its numerical rank (the data lie in a subspace).
  static func singular(_ cov: Matrix<Double>, columns dims: Int) -> NSDEError {
    let scale = (0..<dims).map { cov[$0, $0] }.max() ?? 0
    if let j = (0..<dims).first(where: { cov[$0, $0] <= 1e-300 || cov[$0, $0] <= 1e-14 * scale }) {
      return .invalidArgument(
        "the data's covariance is singular: column \(j) is constant (its density is degenerate; drop the column, or add noise to it, e.g. --dequantize for integer values)"
      )
    }
    let rank = (try? LAPACK.symmetricEigen(cov)).map { e in
      e.values.filter { $0 > 1e-12 * Swift.max(e.values.last ?? 0, 1e-300) }.count
    }
    return .invalidArgument(
      "the data's covariance is singular\(rank.map { ": rank \($0) of \(dims)" } ?? ""): the columns are linearly dependent (the data lie in a subspace; drop a dependent column)"
    )
  }

  /// `−log N(x_r; μ, Σ)` for each row of `x` (`n × D`), in nats.
  public func negativeLogDensity<T: SDEScalar>(_ x: Matrix<T>) throws -> [Double] {
    let dims = mean.count
    guard x.cols == dims else {
      throw NSDEError.shapeMismatch("points are \(x.shapeDescription) but the baseline has dimension \(dims)")
    }
    let constant = 0.5 * (Double(dims) * Double.log(2 * Double.pi) + logDeterminant)
    return (0..<x.rows).map { r in
      // Solve L z = x − μ (L lower-triangular), then ½‖z‖².
      var z = [Double](repeating: 0, count: dims)
      var q = 0.0
      for i in 0..<dims {
        var v = Double(x[r, i]) - mean[i]
        for j in 0..<i { v -= cholesky[i, j] * z[j] }
        z[i] = v / cholesky[i, i]
        q += z[i] * z[i]
      }
      return 0.5 * q + constant
    }
  }

  /// `count` samples `μ + L ε`, `ε ~ N(0, I)` from `seed`.
  public func sample<T: SDEScalar>(count: Int, seed: UInt64, as _: T.Type = T.self) -> Matrix<T> {
    var rng = SplitMix64(seed: seed)
    let dims = mean.count
    let out = Matrix<T>(rows: count, cols: dims)
    for r in 0..<count {
      let e = (0..<dims).map { _ in rng.nextNormal() }
      for i in 0..<dims {
        var v = mean[i]
        for j in 0...i { v += cholesky[i, j] * e[j] }
        out[r, i] = T(v)
      }
    }
    return out
  }
}
