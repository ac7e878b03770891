import Foundation

/// Built-in sequence data sets, generated in-process (docs/MODEL.md §7), with
/// the data's own density where it is known.
public enum SequenceDataset: String, CaseIterable, Sendable, Codable {
  /// A 2-D latent Ornstein–Uhlenbeck process (`OrnsteinUhlenbeck.builtIn`, a
  /// damped rotation) started in its stationary law and observed in 2-D with
  /// Gaussian noise at 10–40 uniformly random times on [0, 5] per sequence.
  case ou
  /// The stochastic Lorenz system of torchsde's latent-SDE example
  /// (`StochasticLorenz`: σ, ρ, β = 10, 28, 8/3, multiplicative noise
  /// `0.1 x₁, 0.28 x₂, 0.3 x₃`, `x(0) ~ N(0, I)`) on [0, 1], normalised per
  /// coordinate as the example does (by the mean and standard deviation of a
  /// fixed reference draw) and observed with `N(0, 0.01²)` noise at 10–40
  /// uniformly random times per sequence. Its density is not known in closed form.
  case lorenz

  /// `count` sequences drawn with `seed` (reproducible: sequence s depends only on `(seed, s)`).
  public func sample(count: Int, seed: UInt64) throws -> SequenceData {
    guard count >= 1 else { throw NSDEError.invalidArgument("sequence count must be ≥ 1, got \(count)") }
    let columns = self == .ou ? ["y0", "y1"] : ["y0", "y1", "y2"]
    var data = SequenceData(ids: [], columns: columns, offsets: [0], times: [], values: [])
    for s in 0..<count {
      var rng = SplitMix64(seed: SeedHash.mix(seed, UInt64(s), self == .ou ? 0x5E9_0001 : 0x5E9_0002))
      let n = 10 + Int(rng.next() % 31)
      let times = (0..<n).map { _ in (self == .ou ? 5 : 1) * rng.nextUnit() }.sorted()
      let values =
        self == .ou
        ? try OrnsteinUhlenbeck.builtIn.sample(at: times, rng: &rng)
        : StochasticLorenz.builtIn.sampleObserved(at: times, rng: &rng)
      data.ids.append(String(s))
      data.times += times
      data.values += values
      data.offsets.append(data.times.count)
    }
    return data
  }

  /// The linear-Gaussian process the set is drawn from, when it is one (`ou`), for exact scores.
  public var process: OrnsteinUhlenbeck? { self == .ou ? .builtIn : nil }

  /// The data's own `−log p(y_{1:n})` of each sequence (exact: a Kalman filter
  /// on the process's exact transitions), nats.
  /// - Throws: `invalidArgument` for a set whose density is not known (`lorenz`).
  public func negativeLogLikelihood(_ data: SequenceData) throws -> [Double] {
    guard let process else {
      throw NSDEError.invalidArgument("the density of the \(rawValue) set is not known in closed form")
    }
    return try (0..<data.count).map { try process.negativeLogLikelihood(data, sequence: $0) }
  }
}

/// The stochastic Lorenz attractor of torchsde's latent-SDE example (Li et al. 2020, §7.2), Itô:
///
///     dx₁ = σ (x₂ − x₁) dt + b₁ x₁ dW₁
///     dx₂ = (ρ x₁ − x₂ − x₁ x₃) dt + b₂ x₂ dW₂
///     dx₃ = (x₁ x₂ − β x₃) dt + b₃ x₃ dW₃,   x(0) ~ N(0, I),
///
/// simulated by Euler–Maruyama with step `dt` (landing on every observation
/// time), normalised per coordinate by `(x − mean) / std` and observed with
/// `N(0, observationStd²)` noise.
public struct StochasticLorenz: Sendable {
  /// σ, ρ, β.
  public var a: (Double, Double, Double)
  /// The multiplicative noise scales b₁, b₂, b₃.
  public var b: (Double, Double, Double)
  /// The observation noise's standard deviation (normalised units).
  public var observationStd: Double
  /// The Euler–Maruyama step.
  public var dt: Double

  /// torchsde's example: `a = (10, 28, 8/3)`, `b = (0.1, 0.28, 0.3)`, noise 0.01, step 10⁻⁴.
  public static let builtIn = StochasticLorenz(
    a: (10, 28, 8.0 / 3), b: (0.1, 0.28, 0.3), observationStd: 0.01, dt: 1e-4)

  /// The system with the given coefficients.
  public init(a: (Double, Double, Double), b: (Double, Double, Double), observationStd: Double, dt: Double) {
    self.a = a
    self.b = b
    self.observationStd = observationStd
    self.dt = dt
  }

  /// The state `x(t)` (unnormalised) at increasing `times` (≥ 0), `times.count × 3` row-major.
  public func simulate(at times: [Double], rng: inout SplitMix64) -> [Double] {
    var x = (rng.nextNormal(), rng.nextNormal(), rng.nextNormal())
    var t = 0.0
    var out: [Double] = []
    out.reserveCapacity(3 * times.count)
    for target in times {
      while t < target {
        let h = Swift.min(dt, target - t)
        let s = h.squareRoot()
        let (w1, w2, w3) = (rng.nextNormal() * s, rng.nextNormal() * s, rng.nextNormal() * s)
        x = (
          x.0 + a.0 * (x.1 - x.0) * h + b.0 * x.0 * w1,
          x.1 + (a.1 * x.0 - x.1 - x.0 * x.2) * h + b.1 * x.1 * w2,
          x.2 + (x.0 * x.1 - a.2 * x.2) * h + b.2 * x.2 * w3
        )
        t = h < dt ? target : t + h
      }
      out += [x.0, x.1, x.2]
    }
    return out
  }

  /// The normalisation: per coordinate mean and standard deviation over a
  /// fixed reference draw of 512 paths at 50 equally spaced times on [0, 1]
  /// (as the example normalises its data set by its own statistics).
  public var normalisation: (mean: [Double], std: [Double]) {
    var rng = SplitMix64(seed: 0x10E_E7A1)
    let times = (0..<50).map { Double($0) / 49 }
    var sum = [0.0, 0.0, 0.0]
    var sum2 = [0.0, 0.0, 0.0]
    var n = 0.0
    for _ in 0..<512 {
      let x = simulate(at: times, rng: &rng)
      for r in 0..<times.count {
        for c in 0..<3 {
          sum[c] += x[3 * r + c]
          sum2[c] += x[3 * r + c] * x[3 * r + c]
        }
      }
      n += Double(times.count)
    }
    let mean = sum.map { $0 / n }
    return (mean, (0..<3).map { ((sum2[$0] / n - mean[$0] * mean[$0]) * n / (n - 1)).squareRoot() })
  }

  /// Noisy normalised observations at increasing `times`, `times.count × 3` row-major.
  public func sampleObserved(at times: [Double], rng: inout SplitMix64) -> [Double] {
    let (mean, std) = Self.cachedNormalisation(self)
    let x = simulate(at: times, rng: &rng)
    return x.enumerated().map { i, v in (v - mean[i % 3]) / std[i % 3] + observationStd * rng.nextNormal() }
  }

  nonisolated(unsafe) private static var cache: (key: [Double], value: (mean: [Double], std: [Double]))?
  private static let lock = NSLock()
  static func cachedNormalisation(_ l: StochasticLorenz) -> (mean: [Double], std: [Double]) {
    let key = [l.a.0, l.a.1, l.a.2, l.b.0, l.b.1, l.b.2, l.dt]
    lock.lock()
    defer { lock.unlock() }
    if let c = cache, c.key == key { return c.value }
    let v = l.normalisation
    cache = (key, v)
    return v
  }
}

/// A linear-Gaussian state-space model in continuous time, observed at
/// arbitrary times:
///
///     dX = A X dt + B dW,   X_{t_1} ~ N(0, P∞) (stationary: A P∞ + P∞ Aᵀ + B Bᵀ = 0),
///     y_j = X_{t_j} + N(0, r² I)   (missing entries, NaN, are not observed)
///
/// with exact transitions `X_{t+Δ} | X_t ~ N(e^{AΔ} X_t, Q(Δ))`,
/// `Q(Δ) = ∫_0^Δ e^{As} B Bᵀ e^{Aᵀs} ds`.
public struct OrnsteinUhlenbeck: Sendable {
  /// The drift matrix A (d × d, stable), row-major.
  public var drift: [Double]
  /// The diffusion B (d × d), row-major.
  public var diffusion: [Double]
  /// The observation noise's standard deviation r.
  public var observationStd: Double
  /// The state dimension d.
  public var dimension: Int

  /// The process of `SequenceDataset.ou`: `A = [[−0.5, −1], [1, −0.5]]`, `B = 0.5 I`, `r = 0.1`.
  public static let builtIn = OrnsteinUhlenbeck(
    drift: [-0.5, -1, 1, -0.5], diffusion: [0.5, 0, 0, 0.5], observationStd: 0.1, dimension: 2)

  /// The model with the given coefficients.
  public init(drift: [Double], diffusion: [Double], observationStd: Double, dimension: Int) {
    self.drift = drift
    self.diffusion = diffusion
    self.observationStd = observationStd
    self.dimension = dimension
  }

  var a: Matrix<Double> { Matrix(rows: dimension, cols: dimension) { r, c in drift[r * dimension + c] } }

  /// The stationary covariance P∞, solving `A P + P Aᵀ + B Bᵀ = 0` (Kronecker form, LAPACK).
  public func stationaryCovariance() throws -> Matrix<Double> {
    let d = dimension
    let a = self.a
    let b = Matrix<Double>(rows: d, cols: d) { r, c in diffusion[r * d + c] }
    let bbT = try BLAS.matmul(b, b, transposeB: true)
    // (I ⊗ A + A ⊗ I) vec(P) = −vec(BBᵀ), vec row-major: P[i, j] at i·d + j.
    let k = Matrix<Double>(rows: d * d, cols: d * d)
    for i in 0..<d {
      for j in 0..<d {
        for l in 0..<d {
          k[i * d + j, l * d + j] += a[i, l]  // (A P)[i, j]
          k[i * d + j, i * d + l] += a[j, l]  // (P Aᵀ)[i, j]
        }
      }
    }
    let rhs = Matrix<Double>(rows: d * d, cols: 1) { i, _ in -bbT.base[i] }
    let p = try LAPACK.solve(k, rhs)
    return Matrix(rows: d, cols: d) { r, c in (p[r * d + c, 0] + p[c * d + r, 0]) / 2 }
  }

  /// `e^{AΔ}` and `Q(Δ) = ∫_0^Δ e^{As} B Bᵀ e^{Aᵀs} ds` (Van Loan's block
  /// exponential: accurate for small Δ, where `P∞ − e^{AΔ}P∞e^{AᵀΔ}` cancels).
  func transition(_ delta: Double) throws -> (Matrix<Double>, Matrix<Double>) {
    let d = dimension
    let b = Matrix<Double>(rows: d, cols: d) { r, c in diffusion[r * d + c] }
    let (phi, q) = try LAPACK.integratedCovariance(
      drift: a, noiseCovariance: try BLAS.matmul(b, b, transposeB: true), over: delta)
    return (phi, Matrix(rows: d, cols: d) { r, c in (q[r, c] + q[c, r]) / 2 })
  }

  /// Observations at increasing `times` (row-major `times.count × d`), exactly simulated.
  public func sample(at times: [Double], rng: inout SplitMix64) throws -> [Double] {
    let d = dimension
    let p = try stationaryCovariance()
    var x = try LAPACK.cholesky(p).multiply((0..<d).map { _ in rng.nextNormal() })
    var out: [Double] = []
    for (j, t) in times.enumerated() {
      if j > 0 {
        let (phi, q) = try transition(t - times[j - 1])
        let noise = try LAPACK.cholesky(q).multiply((0..<d).map { _ in rng.nextNormal() })
        x = phi.multiply(x).enumerated().map { $1 + noise[$0] }
      }
      out += x.map { $0 + observationStd * rng.nextNormal() }
    }
    return out
  }

  /// `−log p(y_{1:n})` of sequence `s` of `data` (its D columns are the d
  /// coordinates; NaN entries are not observed), by the Kalman filter.
  public func negativeLogLikelihood(_ data: SequenceData, sequence s: Int) throws -> Double {
    let d = dimension
    guard data.dimension == d else {
      throw NSDEError.shapeMismatch("the sequences have \(data.dimension) columns but the process has \(d)")
    }
    let p = try stationaryCovariance()
    var mean = [Double](repeating: 0, count: d)
    var cov = p
    var nll = 0.0
    var previous: Double?
    for r in data.observations(s) {
      let t = data.times[r]
      if let previous {
        let (phi, q) = try transition(t - previous)
        mean = phi.multiply(mean)
        let pcp = try BLAS.matmul(try BLAS.matmul(phi, cov), phi, transposeB: true)
        cov = Matrix(rows: d, cols: d) { i, j in pcp[i, j] + q[i, j] }
      }
      previous = t
      let rows = (0..<d).filter { !data.values[r * d + $0].isNaN }
      guard !rows.isEmpty else { continue }  // nothing observed at this time: predict only
      let sMat = Matrix<Double>(rows: rows.count, cols: rows.count) { i, j in
        cov[rows[i], rows[j]] + (i == j ? observationStd * observationStd : 0)
      }
      let resid = Matrix<Double>(rows: rows.count, cols: 1) { i, _ in data.values[r * d + rows[i]] - mean[rows[i]] }
      let solved = try LAPACK.choleskySolve(sMat, resid)
      nll +=
        0.5 * (0..<rows.count).map { resid[$0, 0] * solved[$0, 0] }.reduce(0, +)
        + 0.5 * (try LAPACK.logDeterminantSPD(sMat)) + 0.5 * Double(rows.count) * Double.log(2 * Double.pi)
      // m += P_{:,S} S⁻¹ r;  P −= P_{:,S} S⁻¹ P_{S,:}.
      let pS = Matrix<Double>(rows: d, cols: rows.count) { i, j in cov[i, rows[j]] }
      let gainT = try LAPACK.choleskySolve(sMat, Matrix(rows: rows.count, cols: d) { i, j in cov[rows[i], j] })
      mean = (0..<d).map { i in mean[i] + (0..<rows.count).map { pS[i, $0] * solved[$0, 0] }.reduce(0, +) }
      let kp = try BLAS.matmul(pS, gainT)
      cov = Matrix(rows: d, cols: d) { i, j in cov[i, j] - (kp[i, j] + kp[j, i]) / 2 }
    }
    return nll
  }
}

extension Matrix where Scalar == Double {
  /// `M v` for a vector of `cols` values.
  func multiply(_ v: [Double]) -> [Double] {
    (0..<rows).map { r in (0..<cols).map { self[r, $0] * v[$0] }.reduce(0, +) }
  }
}
