import Foundation

/// The linear-Gaussian latent model of docs/MODEL.md §5, with closed forms:
///
///     dX = (A X + c0 + c1 t) dt + Σ (dW + (u0 + u1 t) dt),   X_0 = x0,   y ~ N(C X_1 + e, s² I)
///
/// `X_N` is Gaussian for every N and in the limit, so `−log p(y)` and the free
/// energy of the deterministic control `u(t) = u0 + u1 t` are exact (LAPACK).
public struct LinearGaussianOracle {
  public var a: Matrix<Double>  // d×d
  public var c0: [Double]  // d
  public var c1: [Double]  // d
  public var sigma: Matrix<Double>  // d×m
  public var x0: [Double]  // d
  public var decoder: Matrix<Double>  // D×d
  public var decoderBias: [Double]  // D
  public var std: Double
  public var u0: [Double]  // m
  public var u1: [Double]  // m

  public init(
    a: Matrix<Double>, c0: [Double], c1: [Double], sigma: Matrix<Double>, x0: [Double], decoder: Matrix<Double>,
    decoderBias: [Double], std: Double, u0: [Double], u1: [Double]
  ) {
    self.a = a
    self.c0 = c0
    self.c1 = c1
    self.sigma = sigma
    self.x0 = x0
    self.decoder = decoder
    self.decoderBias = decoderBias
    self.std = std
    self.u0 = u0
    self.u1 = u1
  }

  /// The 2-D example of the tests: `A = [[−0.5, 0.3], [−0.2, −0.8]]`, `c0 = (0.1, −0.1)`,
  /// `c1 = (0.2, 0)`, `x0 = (0.3, −0.2)`, `C = [[1, 0.5], [−0.3, 1]]`, `e = (0.05, 0)`,
  /// with general noise (`Σ` 2×3) or diagonal additive noise (`Σ` = diag(0.6, 0.45)),
  /// likelihood standard deviation `std` and the control `u0 + u1 t` (default 0).
  public static func example(
    general: Bool, std: Double = 0.5, u0: [Double]? = nil, u1: [Double]? = nil
  ) throws -> LinearGaussianOracle {
    let m = general ? 3 : 2
    let sigma =
      general
      ? try Matrix<Double>(rows: 2, cols: 3, elements: [0.6, 0.2, -0.1, 0.1, 0.5, 0.3])
      : try Matrix<Double>(rows: 2, cols: 2, elements: [0.6, 0, 0, 0.45])
    return LinearGaussianOracle(
      a: try Matrix(rows: 2, cols: 2, elements: [-0.5, 0.3, -0.2, -0.8]), c0: [0.1, -0.1], c1: [0.2, 0],
      sigma: sigma, x0: [0.3, -0.2], decoder: try Matrix(rows: 2, cols: 2, elements: [1, 0.5, -0.3, 1]),
      decoderBias: [0.05, 0], std: std,
      u0: u0 ?? [Double](repeating: 0, count: m), u1: u1 ?? [Double](repeating: 0, count: m))
  }

  public var d: Int { a.rows }
  public var m: Int { sigma.cols }
  public var dataDim: Int { decoder.rows }

  /// The NeuralSDE model with linear networks realising this problem
  /// (general noise if `general`, else additive diagonal noise, which needs Σ diagonal).
  public func model(general: Bool) throws -> NeuralSDEModel<Double> {
    let noise: NoiseType = general ? .general(noiseDimension: m) : .additive
    let config = NeuralSDEConfiguration(
      latentDimension: d, dataDimension: dataDim, noise: noise,
      drift: MLPArchitecture(inputs: d, timeInput: true, widths: [d], outputActivation: .identity),
      diffusion: general
        ? MLPArchitecture(inputs: d, timeInput: true, widths: [d * m], outputActivation: .identity)
        : MLPArchitecture(inputs: 0, timeInput: true, widths: [d], outputActivation: .identity),
      posteriorDrift: MLPArchitecture(inputs: dataDim, timeInput: true, widths: [m], outputActivation: .identity),
      decoder: MLPArchitecture(inputs: d, timeInput: false, widths: [dataDim], outputActivation: .identity),
      likelihood: .gaussian(std: std), initialState: .fixed(x0))
    let model = try NeuralSDEModel<Double>(config, seed: 1)
    let p = model.parameters
    let dw = try p.values("drift.0.weight")
    for i in 0..<d {
      for j in 0..<d { dw[i * (d + 1) + j] = a[i, j] }
      dw[i * (d + 1) + d] = c1[i]
    }
    _ = try p.values("drift.0.bias").update(from: c0)
    let sw = try p.values("diffusion.0.weight")
    for i in 0..<sw.count { sw[i] = 0 }
    let sb = try p.values("diffusion.0.bias")
    if general {
      for i in 0..<d { for l in 0..<m { sb[i * m + l] = sigma[i, l] } }
    } else {
      for i in 0..<d { sb[i] = sigma[i, i] }
    }
    let pw = try p.values("posterior.0.weight")
    for l in 0..<m {
      for j in 0..<dataDim { pw[l * (dataDim + 1) + j] = 0 }
      pw[l * (dataDim + 1) + dataDim] = u1[l]
    }
    _ = try p.values("posterior.0.bias").update(from: u0)
    let cw = try p.values("decoder.0.weight")
    for i in 0..<dataDim { for j in 0..<d { cw[i * d + j] = decoder[i, j] } }
    _ = try p.values("decoder.0.bias").update(from: decoderBias)
    return model
  }

  func control(_ t: Double) -> [Double] { (0..<m).map { u0[$0] + u1[$0] * t } }

  /// Mean and covariance of `X_N` for N uniform EM steps under the control.
  public func discreteMoments(steps n: Int) throws -> (mean: [Double], cov: Matrix<Double>) {
    let h = 1.0 / Double(n)
    let f = Matrix<Double>(rows: d, cols: d) { r, c in (r == c ? 1 : 0) + h * a[r, c] }
    var mean = x0
    let cov = Matrix<Double>(rows: d, cols: d)
    let ssT = try BLAS.matmul(sigma, sigma, transposeB: true)
    var covCur = cov
    for i in 0..<n {
      let t = Double(i) * h
      let u = control(t)
      var next = [Double](repeating: 0, count: d)
      for r in 0..<d {
        var v = 0.0
        for c in 0..<d { v += f[r, c] * mean[c] }
        v += h * (c0[r] + c1[r] * t)
        for l in 0..<m { v += h * sigma[r, l] * u[l] }
        next[r] = v
      }
      mean = next
      // cov ← F cov Fᵀ + h ΣΣᵀ
      let fc = try BLAS.matmul(f, covCur)
      let fcf = try BLAS.matmul(fc, f, transposeB: true)
      covCur = Matrix(rows: d, cols: d) { r, c in fcf[r, c] + h * ssT[r, c] }
    }
    return (mean, covCur)
  }

  /// Mean and covariance of `X_1` for the SDE (matrix exponentials, Van Loan).
  public func continuousMoments() throws -> (mean: [Double], cov: Matrix<Double>) {
    // Mean: d/dt [m; t; 1] = [[A, c1 + Σu1, c0 + Σu0]; [0, 0, 1]; [0, 0, 0]] [m; t; 1].
    let n = d + 2
    let aug = Matrix<Double>(rows: n, cols: n)
    for r in 0..<d {
      for c in 0..<d { aug[r, c] = a[r, c] }
      var s1 = c1[r]
      var s0 = c0[r]
      for l in 0..<m {
        s1 += sigma[r, l] * u1[l]
        s0 += sigma[r, l] * u0[l]
      }
      aug[r, d] = s1
      aug[r, d + 1] = s0
    }
    aug[d, d + 1] = 1
    let e = try LAPACK.exponential(aug)
    let mean = (0..<d).map { r in (0..<d).map { e[r, $0] * x0[$0] }.reduce(0, +) + e[r, d + 1] }
    // Covariance (Van Loan's block exponential over [0, 1]).
    let cov = try LAPACK.integratedCovariance(
      drift: a, noiseCovariance: try BLAS.matmul(sigma, sigma, transposeB: true), over: 1
    ).covariance
    return (mean, cov)
  }

  /// The left-point discrete KL `½ Σ_i h ‖u(t_i)‖²`.
  public func discreteKL(steps n: Int) -> Double {
    let h = 1.0 / Double(n)
    return (0..<n).map { i in 0.5 * h * control(Double(i) * h).map { $0 * $0 }.reduce(0, +) }.reduce(0, +)
  }

  /// `½ ∫_0^1 ‖u0 + u1 t‖² dt`.
  public var continuousKL: Double {
    var s = 0.0
    for l in 0..<m {
      let a0: Double = u0[l]
      let a1: Double = u1[l]
      s += a0 * a0 + a0 * a1 + a1 * a1 / 3
    }
    return 0.5 * s
  }

  /// Expected reconstruction `E[−log N(y; C X + e, s² I)]` for `X ~ N(mean, cov)`.
  public func expectedReconstruction(y: [Double], mean: [Double], cov: Matrix<Double>) throws -> Double {
    let dd = Double(dataDim)
    var quad = 0.0
    for i in 0..<dataDim {
      var pred = decoderBias[i]
      for j in 0..<d { pred += decoder[i, j] * mean[j] }
      quad += (y[i] - pred) * (y[i] - pred)
    }
    let ccov = try BLAS.matmul(try BLAS.matmul(decoder, cov), decoder, transposeB: true)
    var trace = 0.0
    for i in 0..<dataDim { trace += ccov[i, i] }
    return 0.5 * (quad + trace) / (std * std) + dd * log(std) + 0.5 * dd * log(2 * Double.pi)
  }

  /// `−log N(y; C mean + e, C cov Cᵀ + s² I)` (mean and cov of the *prior*).
  public func negativeLogLikelihood(y: [Double], priorMean: [Double], priorCov: Matrix<Double>) throws -> Double {
    let ccov = try BLAS.matmul(try BLAS.matmul(decoder, priorCov), decoder, transposeB: true)
    for i in 0..<dataDim { ccov[i, i] += std * std }
    let r = Matrix<Double>(rows: dataDim, cols: 1) { i, _ in
      var pred = decoderBias[i]
      for j in 0..<d { pred += decoder[i, j] * priorMean[j] }
      return y[i] - pred
    }
    let sol = try LAPACK.choleskySolve(ccov, r)
    var quad = 0.0
    for i in 0..<dataDim { quad += r[i, 0] * sol[i, 0] }
    return 0.5 * quad + 0.5 * (try LAPACK.logDeterminantSPD(ccov)) + 0.5 * Double(dataDim) * log(2 * Double.pi)
  }

  /// The oracle with the control set to zero (the prior).
  public var prior: LinearGaussianOracle {
    var o = self
    o.u0 = [Double](repeating: 0, count: m)
    o.u1 = [Double](repeating: 0, count: m)
    return o
  }

  /// Exact discrete free energy of the N-step chain.
  public func discreteFreeEnergy(y: [Double], steps n: Int) throws -> Double {
    let (mean, cov) = try discreteMoments(steps: n)
    return discreteKL(steps: n) + (try expectedReconstruction(y: y, mean: mean, cov: cov))
  }

  /// Exact `−log p(y)` of the N-step chain.
  public func discreteNegativeLogLikelihood(y: [Double], steps n: Int) throws -> Double {
    let (mean, cov) = try prior.discreteMoments(steps: n)
    return try negativeLogLikelihood(y: y, priorMean: mean, priorCov: cov)
  }

  /// Free energy of the continuous model.
  public func continuousFreeEnergy(y: [Double]) throws -> Double {
    let (mean, cov) = try continuousMoments()
    return continuousKL + (try expectedReconstruction(y: y, mean: mean, cov: cov))
  }

  // MARK: - Optimal feedback control (docs/MODEL.md §6)

  /// The optimal feedback control of the continuous model for observation `y`,
  /// `u*(t, x) = K(t) x + k(t)` with
  ///
  ///     K(t) = −Σᵀ Φᵀ Cᵀ S⁻¹ C Φ,   k(t) = Σᵀ Φᵀ Cᵀ S⁻¹ (y − e − C μ(t)),
  ///     Φ = e^{A(1−t)},  μ(t) = ∫_t^1 e^{A(1−s)} (c0 + c1 s) ds,  S = C Q(t) Cᵀ + s² I,
  ///     Q(t) = ∫_t^1 e^{A(1−s)} ΣΣᵀ e^{Aᵀ(1−s)} ds   (matrix exponentials, Van Loan).
  public func optimalFeedback(y: [Double], t: Double) throws -> (gain: Matrix<Double>, offset: [Double]) {
    let tau = 1 - t
    // Φ and μ: exp(τ [[A, c1, c0], [0, 0, 1], [0, 0, 0]]) applied to [·; t; 1].
    let n = d + 2
    let aug = Matrix<Double>(rows: n, cols: n)
    for r in 0..<d {
      for c in 0..<d { aug[r, c] = a[r, c] * tau }
      aug[r, d] = c1[r] * tau
      aug[r, d + 1] = c0[r] * tau
    }
    aug[d, d + 1] = tau
    let e = try LAPACK.exponential(aug)
    let phi = Matrix<Double>(rows: d, cols: d) { r, c in e[r, c] }
    let mu = (0..<d).map { r in e[r, d] * t + e[r, d + 1] }
    // Q (Van Loan's block exponential over τ).
    let q = try LAPACK.integratedCovariance(
      drift: a, noiseCovariance: try BLAS.matmul(sigma, sigma, transposeB: true), over: tau
    ).covariance
    let sMat = try BLAS.matmul(try BLAS.matmul(decoder, q), decoder, transposeB: true)
    for i in 0..<dataDim { sMat[i, i] += std * std }
    // G = Σᵀ Φᵀ Cᵀ (m × D); K = −G S⁻¹ C Φ, k = G S⁻¹ r.
    let cPhi = try BLAS.matmul(decoder, phi)  // D × d
    let g = try BLAS.matmul(sigma, transposeA: true, try BLAS.matmul(phi, transposeA: true, decoder, transposeB: true))
    let resid = Matrix<Double>(rows: dataDim, cols: 1) { i, _ in
      var v = y[i] - decoderBias[i]
      for j in 0..<d { v -= decoder[i, j] * mu[j] }
      return v
    }
    let sInvR = try LAPACK.choleskySolve(sMat, resid)
    let sInvCPhi = try LAPACK.choleskySolve(sMat, cPhi)
    let gain = try BLAS.matmul(g, sInvCPhi)
    for i in 0..<gain.count { gain.base[i] = -gain.base[i] }
    let offset = try BLAS.matmul(g, sInvR)
    return (gain, (0..<m).map { offset[$0, 0] })
  }

  /// The optimal feedback control evaluated at the left end-points of N uniform steps.
  public func optimalFeedbackControl(y: [Double], steps n: Int) throws -> AffineFeedbackControl {
    var gains: [Matrix<Double>] = []
    var offsets: [Matrix<Double>] = []
    for i in 0..<n {
      let (gain, offset) = try optimalFeedback(y: y, t: Double(i) / Double(n))
      gains.append(gain)
      offsets.append(try Matrix(rows: 1, cols: m, elements: offset))
    }
    return AffineFeedbackControl(gains: gains, offsets: offsets)
  }

  /// Exact discrete free energy `F^N(u)` of the N-step chain under an affine
  /// feedback control (this oracle's own control `u0 + u1 t` is ignored):
  ///
  ///     F_i = I + hA + hΣK_i,  m_{i+1} = F_i m_i + h(c0 + c1 t_i) + hΣk_i,  P_{i+1} = F_i P_i F_iᵀ + hΣΣᵀ,
  ///     F^N = ½ h Σ_i (‖K_i m_i + k_i‖² + tr(K_i P_i K_iᵀ)) + E[−log N(y; C X_N + e, s² I)].
  public func discreteFreeEnergy(y: [Double], control: AffineFeedbackControl) throws -> Double {
    let n = control.gains.count
    let h = 1.0 / Double(n)
    var mean = x0
    var cov = Matrix<Double>(rows: d, cols: d)
    let ssT = try BLAS.matmul(sigma, sigma, transposeB: true)
    var kl = 0.0
    for i in 0..<n {
      let t = Double(i) * h
      let gain = control.gains[i]
      let k = (0..<m).map { control.offsets[i][0, $0] }
      // u mean and E‖u‖².
      var uMean = [Double](repeating: 0, count: m)
      for l in 0..<m {
        var v = k[l]
        for j in 0..<d { v += gain[l, j] * mean[j] }
        uMean[l] = v
      }
      let kpk = try BLAS.matmul(try BLAS.matmul(gain, cov), gain, transposeB: true)
      var trace = 0.0
      for l in 0..<m { trace += kpk[l, l] }
      kl += 0.5 * h * (uMean.map { $0 * $0 }.reduce(0, +) + trace)
      let sk = try BLAS.matmul(sigma, gain)  // d × d
      let f = Matrix<Double>(rows: d, cols: d) { r, c in (r == c ? 1 : 0) + h * a[r, c] + h * sk[r, c] }
      var next = [Double](repeating: 0, count: d)
      for r in 0..<d {
        var v = h * (c0[r] + c1[r] * t)
        for c in 0..<d { v += f[r, c] * mean[c] }
        for l in 0..<m { v += h * sigma[r, l] * k[l] }
        next[r] = v
      }
      mean = next
      let fcf = try BLAS.matmul(try BLAS.matmul(f, cov), f, transposeB: true)
      cov = Matrix(rows: d, cols: d) { r, c in fcf[r, c] + h * ssT[r, c] }
    }
    return kl + (try expectedReconstruction(y: y, mean: mean, cov: cov))
  }

  /// The gap `½[tr M − log det(I + M)]`, `M = C P_N Cᵀ / s²` (`P_N` the prior
  /// covariance of `X_N`), of the best deterministic (mean-field) control of the
  /// N-step chain: the same for every y.
  public func bestMeanFieldGap(steps n: Int) throws -> Double {
    let (_, cov) = try prior.discreteMoments(steps: n)
    let mMat = try BLAS.matmul(try BLAS.matmul(decoder, cov), decoder, transposeB: true)
    var trace = 0.0
    for i in 0..<dataDim {
      for j in 0..<dataDim { mMat[i, j] /= std * std }
      trace += mMat[i, i]
    }
    for i in 0..<dataDim { mMat[i, i] += 1 }
    return 0.5 * (trace - (try LAPACK.logDeterminantSPD(mMat)))
  }
}
