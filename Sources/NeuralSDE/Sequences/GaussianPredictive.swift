import Foundation

/// The predictive law of a Gaussian model at query times given a sequence's
/// observed entries: per query time and channel, the mean and standard
/// deviation of `y(τ_q)_c | y_observed` (the baselines' forecasts, whose CRPS
/// and `−log p` are exact).
public struct GaussianPredictive: Sendable {
  /// Means, `Q × D` row-major.
  public var mean: [Double]
  /// Standard deviations, `Q × D` row-major.
  public var std: [Double]

  /// The marginals of `N(μ_q + Σ_qo Σ_oo⁻¹ (y_o − μ_o), Σ_qq − Σ_qo Σ_oo⁻¹ Σ_oq)`:
  /// `covariance(a, b)` is the joint covariance of two entries (observation
  /// noise included on the diagonal), `meanOf(e)` an entry's prior mean; the
  /// observed entries `observed` have values `y`, the queries are `queries`
  /// (each an entry; the result lists them in order, reshaped to `Q × D` by the caller).
  static func conditional<Entry>(
    observed: [Entry], y: [Double], queries: [Entry], covariance: (Entry, Entry) -> Double,
    meanOf: (Entry) -> Double
  ) throws -> (mean: [Double], variance: [Double]) {
    let prior = queries.map { covariance($0, $0) }
    guard !observed.isEmpty else { return (queries.map(meanOf), prior) }
    let n = observed.count
    let soo = Matrix<Double>(rows: n, cols: n) { i, j in covariance(observed[i], observed[j]) }
    let soq = Matrix<Double>(rows: n, cols: queries.count) { i, j in covariance(observed[i], queries[j]) }
    let resid = Matrix<Double>(rows: n, cols: 1) { i, _ in y[i] - meanOf(observed[i]) }
    let alpha = try LAPACK.choleskySolve(soo, resid)
    let beta = try LAPACK.choleskySolve(soo, soq)
    var mean: [Double] = []
    var variance: [Double] = []
    for (q, entry) in queries.enumerated() {
      var m = meanOf(entry)
      var v = prior[q]
      for i in 0..<n {
        m += soq[i, q] * alpha[i, 0]
        v -= soq[i, q] * beta[i, q]
      }
      mean.append(m)
      variance.append(Swift.max(v, 0))
    }
    return (mean, variance)
  }
}

extension GaussianProcessBaseline {
  /// The predictive law of each channel at `times` given sequence s's
  /// observed entries of that channel (the fitted GP, white noise included).
  public func predictive(_ observed: SequenceData, sequence s: Int, at times: [Double]) throws -> GaussianPredictive {
    let dims = observed.dimension
    var mean = [Double](repeating: 0, count: times.count * dims)
    var std = mean
    for c in 0..<dims {
      let rows = observed.observations(s).filter { !observed.values[$0 * dims + c].isNaN }
      // Entries: (time, is a query); noise on the diagonal only.
      let entries = rows.map { (observed.times[$0], $0) } + times.enumerated().map { ($1, -1 - $0) }
      let obs = Array(entries.prefix(rows.count))
      let qs = Array(entries.dropFirst(rows.count))
      let (s2, l, n2) = (signal[c] * signal[c], lengthScale[c], noise[c] * noise[c])
      let r = try GaussianPredictive.conditional(
        observed: obs, y: rows.map { observed.values[$0 * dims + c] }, queries: qs,
        covariance: { a, b in
          Self.kernel(a.0 - b.0, signalVariance: s2, lengthScale: l) + (a.1 == b.1 ? n2 : 0)
        }, meanOf: { _ in self.mean[c] })
      for q in times.indices {
        mean[q * dims + c] = r.mean[q]
        std[q * dims + c] = r.variance[q].squareRoot()
      }
    }
    return GaussianPredictive(mean: mean, std: std)
  }
}

extension OrnsteinUhlenbeck {
  /// The exact predictive law at `times` given sequence s's observed entries:
  /// the joint Gaussian of the stationary process,
  /// `Cov(X_t, X_s) = e^{A(t−s)} P∞` for `t ≥ s`, plus `r² I` for each observation.
  public func predictive(_ observed: SequenceData, sequence s: Int, at times: [Double]) throws -> GaussianPredictive {
    let d = dimension
    guard observed.dimension == d else {
      throw NSDEError.shapeMismatch("the sequences have \(observed.dimension) columns but the process has \(d)")
    }
    let p = try stationaryCovariance()
    let a = self.a
    var cache: [Double: Matrix<Double>] = [:]
    func phi(_ delta: Double) -> Matrix<Double> {
      if let m = cache[delta] { return m }
      let m =
        (try? LAPACK.exponential(Matrix(rows: d, cols: d) { i, j in a[i, j] * delta }))
        ?? Matrix(rows: d, cols: d) { i, j in .nan }
      cache[delta] = m
      return m
    }
    // Entries: (time, channel, id); id < 0 for queries, distinct per entry for the noise term.
    var obs: [(Double, Int, Int)] = []
    var y: [Double] = []
    for r in observed.observations(s) {
      for c in 0..<d where !observed.values[r * d + c].isNaN {
        obs.append((observed.times[r], c, obs.count))
        y.append(observed.values[r * d + c])
      }
    }
    let qs = times.enumerated().flatMap { q, t in (0..<d).map { (t, $0, -1 - (q * d + $0)) } }
    let r2 = observationStd * observationStd
    let result = try GaussianPredictive.conditional(
      observed: obs, y: y, queries: qs,
      covariance: { e1, e2 in
        // Cov(X_t, X_s)[i, j]: t ≥ s gives (e^{A(t−s)} P)[i, j]; else (P e^{Aᵀ(s−t)})[i, j].
        let (late, early) = e1.0 >= e2.0 ? (e1, e2) : (e2, e1)
        let m = phi(late.0 - early.0)
        var v = 0.0
        for l in 0..<d { v += m[late.1, l] * p[l, early.1] }
        return v + (e1.2 == e2.2 ? r2 : 0)
      }, meanOf: { _ in 0 })
    return GaussianPredictive(mean: result.mean, std: result.variance.map { $0.squareRoot() })
  }
}
