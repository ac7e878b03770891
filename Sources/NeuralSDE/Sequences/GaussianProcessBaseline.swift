import Foundation

/// The baseline a statistician fits first to sequences (docs/MODEL.md §7): an
/// independent Gaussian process per channel c with a constant mean and a
/// Matérn-3/2 kernel plus white noise,
///
///     y_c(τ) ~ GP(μ_c, k_c),   k_c(τ, τ') = s_c² (1 + √3 r/ℓ_c) e^{−√3 r/ℓ_c} + n_c² δ,   r = |τ − τ'|,
///
/// the hyper-parameters `(μ_c, log s_c, log ℓ_c, log n_c)` shared by all
/// sequences and fitted on the training sequences by maximising the marginal
/// likelihood (Nelder–Mead on the exact log-likelihood; Cholesky). Its
/// `−log p` of a sequence is exact: the sum over channels of the Gaussian
/// log-density of the channel's observed entries.
public struct GaussianProcessBaseline: Sendable {
  /// Per channel: the mean μ_c.
  public var mean: [Double]
  /// Per channel: the signal standard deviation s_c.
  public var signal: [Double]
  /// Per channel: the length scale ℓ_c (file time units).
  public var lengthScale: [Double]
  /// Per channel: the white-noise standard deviation n_c.
  public var noise: [Double]

  /// Fits one GP per channel of `data` by maximum marginal likelihood.
  /// - Throws: `invalidArgument` if a channel has no observed value.
  public init(fitting data: SequenceData, iterations: Int = 400) throws {
    mean = []
    signal = []
    lengthScale = []
    noise = []
    for c in 0..<data.dimension {
      let observed = data.values.enumerated().filter { $0.offset % data.dimension == c && !$0.element.isNaN }
      guard !observed.isEmpty else { throw NSDEError.invalidArgument("channel \(c) has no observed value") }
      let mu = observed.map(\.element).reduce(0, +) / Double(observed.count)
      let variance = observed.map { ($0.element - mu) * ($0.element - mu) }.reduce(0, +) / Double(observed.count)
      let span = (data.times.max()! - data.times.min()!) / 4
      let sd = Swift.max(variance, 1e-12).squareRoot()
      let start = [mu, log(0.9 * sd), log(Swift.max(span, 1e-6)), log(0.3 * sd)]
      let best = try Self.minimise(start: start, iterations: iterations) { p in
        (try? Self.negativeLogLikelihood(data, channel: c, parameters: p).reduce(0, +)) ?? .infinity
      }
      mean.append(best[0])
      signal.append(exp(best[1]))
      lengthScale.append(exp(best[2]))
      noise.append(exp(best[3]))
    }
  }

  /// Each sequence's `−log p(y_{1:n})`, nats (the sum over channels).
  public func negativeLogLikelihood(_ data: SequenceData) throws -> [Double] {
    var total = [Double](repeating: 0, count: data.count)
    for c in 0..<data.dimension {
      let p = [mean[c], log(signal[c]), log(lengthScale[c]), log(noise[c])]
      for (s, v) in try Self.negativeLogLikelihood(data, channel: c, parameters: p).enumerated() { total[s] += v }
    }
    return total
  }

  /// `−log N(y_c; μ, K + n²I)` of channel c's observed entries in every sequence.
  static func negativeLogLikelihood(_ data: SequenceData, channel c: Int, parameters p: [Double]) throws -> [Double] {
    let (mu, s2, l, n2) = (p[0], exp(2 * p[1]), exp(p[2]), exp(2 * p[3]))
    return try (0..<data.count).map { s in
      let rows = data.observations(s).filter { !data.values[$0 * data.dimension + c].isNaN }
      guard !rows.isEmpty else { return 0 }
      let k = Matrix<Double>(rows: rows.count, cols: rows.count) { i, j in
        kernel(data.times[rows[i]] - data.times[rows[j]], signalVariance: s2, lengthScale: l) + (i == j ? n2 : 0)
      }
      let resid = Matrix<Double>(rows: rows.count, cols: 1) { i, _ in data.values[rows[i] * data.dimension + c] - mu }
      let solved = try LAPACK.choleskySolve(k, resid)
      let quad = (0..<rows.count).map { resid[$0, 0] * solved[$0, 0] }.reduce(0, +)
      return 0.5 * quad + 0.5 * (try LAPACK.logDeterminantSPD(k)) + 0.5 * Double(rows.count) * log(2 * Double.pi)
    }
  }

  /// The Matérn-3/2 kernel `s² (1 + √3 r/ℓ) e^{−√3 r/ℓ}` at lag `r` (without the white noise).
  static func kernel(_ lag: Double, signalVariance s2: Double, lengthScale l: Double) -> Double {
    let z = Swift.abs(lag) * 3.0.squareRoot() / l
    return s2 * (1 + z) * Double.exp(-z)
  }

  /// Nelder–Mead minimisation of `f` from `start` (standard coefficients).
  static func minimise(start: [Double], iterations: Int, _ f: ([Double]) -> Double) throws -> [Double] {
    let n = start.count
    var simplex =
      [start] + (0..<n).map { i in start.enumerated().map { $0.offset == i ? $0.element + 0.5 : $0.element } }
    var values = simplex.map(f)
    for _ in 0..<iterations {
      let order = values.indices.sorted { values[$0] < values[$1] }
      simplex = order.map { simplex[$0] }
      values = order.map { values[$0] }
      let centroid = (0..<n).map { j in simplex.dropLast().map { $0[j] }.reduce(0, +) / Double(n) }
      func point(_ t: Double) -> [Double] { (0..<n).map { centroid[$0] + t * (simplex[n][$0] - centroid[$0]) } }
      let reflected = point(-1)
      let fr = f(reflected)
      if fr < values[0] {
        let expanded = point(-2)
        let fe = f(expanded)
        (simplex[n], values[n]) = fe < fr ? (expanded, fe) : (reflected, fr)
      } else if fr < values[n - 1] {
        (simplex[n], values[n]) = (reflected, fr)
      } else {
        let contracted = point(fr < values[n] ? -0.5 : 0.5)
        let fc = f(contracted)
        if fc < Swift.min(fr, values[n]) {
          (simplex[n], values[n]) = (contracted, fc)
        } else {
          for i in 1...n {
            simplex[i] = (0..<n).map { simplex[0][$0] + 0.5 * (simplex[i][$0] - simplex[0][$0]) }
            values[i] = f(simplex[i])
          }
        }
      }
    }
    let best = values.indices.min { values[$0] < values[$1] }!
    guard values[best].isFinite else {
      throw NSDEError.invalidArgument("the Gaussian-process fit found no finite marginal likelihood")
    }
    return simplex[best]
  }
}
