import Foundation

/// One observation of a sequence for the linear-Gaussian oracle: at grid
/// node `node` (time `t_node`), `y = C X + e + N(0, s² I)` on the entries
/// where `observed` is true.
public struct OracleObservation {
  public var node: Int
  public var y: [Double]
  public var observed: [Bool]

  public init(node: Int, y: [Double], observed: [Bool]) {
    self.node = node
    self.y = y
    self.observed = observed
  }
}

/// The linear-Gaussian model observed along the path (docs/MODEL.md §7) on a
/// grid with every observation time a node: the discrete chain's exact
/// `−log p^N(y_{1:n})` (a Kalman filter, and independently the joint Gaussian
/// of all observations), the continuous optimal control `u*(t, x) = Σᵀ(η(t) −
/// Λ(t) x)` by a backward information filter, and the exact discrete free
/// energy of any affine control.
extension LinearGaussianOracle {
  /// The exact transition of the SDE (this oracle's control ignored) over
  /// `[t0, t0 + Δ]`: `X' = Φ X + μ + N(0, Q)`, with
  /// `Φ = e^{AΔ}`, `μ = ∫_0^Δ e^{A(Δ−s)} (c0 + c1 (t0 + s)) ds`,
  /// `Q = ∫_0^Δ e^{As} ΣΣᵀ e^{Aᵀs} ds` (matrix exponentials, Van Loan).
  public func exactTransition(from t0: Double, over delta: Double) throws -> (
    phi: Matrix<Double>, mu: [Double], q: Matrix<Double>
  ) {
    let n = d + 2
    let aug = Matrix<Double>(rows: n, cols: n)
    for r in 0..<d {
      for c in 0..<d { aug[r, c] = a[r, c] * delta }
      aug[r, d] = c1[r] * delta
      aug[r, d + 1] = (c0[r] + c1[r] * t0) * delta
    }
    aug[d, d + 1] = delta
    let e = try LAPACK.exponential(aug)
    let phi = Matrix<Double>(rows: d, cols: d) { r, c in e[r, c] }
    let mu = (0..<d).map { e[$0, d + 1] }
    let q = try LAPACK.integratedCovariance(
      drift: a, noiseCovariance: try BLAS.matmul(sigma, sigma, transposeB: true), over: delta
    ).covariance
    return (phi, mu, q)
  }

  /// `(Λ, η)` of one observation: `C_Sᵀ C_S / s²` and `C_Sᵀ (y_S − e_S) / s²` over its observed rows S.
  func information(_ o: OracleObservation) -> (Matrix<Double>, [Double]) {
    let lambda = Matrix<Double>(rows: d, cols: d)
    var eta = [Double](repeating: 0, count: d)
    let s2 = std * std
    for i in 0..<dataDim where o.observed[i] {
      let r = o.y[i] - decoderBias[i]
      for p in 0..<d {
        eta[p] += decoder[i, p] * r / s2
        for q in 0..<d { lambda[p, q] += decoder[i, p] * decoder[i, q] / s2 }
      }
    }
    return (lambda, eta)
  }

  /// The optimal control of the continuous model given the observations of
  /// each sequence (one list per data point; every list at the same nodes
  /// with the same masks), evaluated at the left end-points of `grid`:
  /// `u*(t_i, x) = Σᵀ (η_b(t_i) − Λ(t_i) x)`, with `log h(t, x) = −½ xᵀΛx + ηᵀx`
  /// the information of the observations after `t_i`, carried back through
  /// the exact transitions: `Λ ← Φᵀ (I + Λ'Q)⁻¹ Λ' Φ`, `η ← Φᵀ (I + Λ'Q)⁻¹ (η' − Λ'μ)`,
  /// and `Λ += C_SᵀC_S/s²`, `η += C_Sᵀ(y_S − e_S)/s²` at each observation.
  public func optimalControl(sequences: [[OracleObservation]], grid: TimeGrid) throws -> AffineFeedbackControl {
    let n = grid.steps
    let b = sequences.count
    var lambda = Matrix<Double>(rows: d, cols: d)
    var etas = [[Double]](repeating: [Double](repeating: 0, count: d), count: b)
    var gains = [Matrix<Double>](repeating: Matrix(rows: m, cols: d), count: n)
    var offsets = [Matrix<Double>](repeating: Matrix(rows: b, cols: m), count: n)
    for k in stride(from: n - 1, through: 0, by: -1) {
      // The observation at node k + 1 joins the information about X_{t_{k+1}}.
      for (q, seq) in sequences.enumerated() {
        for o in seq where o.node == k + 1 {
          let (l, e) = information(o)
          if q == 0 { for i in 0..<(d * d) { lambda.base[i] += l.base[i] } }
          for p in 0..<d { etas[q][p] += e[p] }
        }
      }
      let (phi, mu, qm) = try exactTransition(from: grid.times[k], over: grid.stepSize(k))
      let lq = try BLAS.matmul(lambda, qm)
      let iPlus = Matrix<Double>(rows: d, cols: d) { r, c in (r == c ? 1 : 0) + lq[r, c] }
      let tilde = try LAPACK.solve(iPlus, lambda)
      let newLambda = try BLAS.matmul(phi, transposeA: true, try BLAS.matmul(tilde, phi))
      for q in 0..<b {
        let rhs = Matrix<Double>(rows: d, cols: 1) { r, _ in
          etas[q][r] - (0..<d).map { lambda[r, $0] * mu[$0] }.reduce(0, +)
        }
        let v = try LAPACK.solve(iPlus, rhs)
        etas[q] = (0..<d).map { r in (0..<d).map { phi[$0, r] * v[$0, 0] }.reduce(0, +) }
      }
      lambda = Matrix(rows: d, cols: d) { r, c in (newLambda[r, c] + newLambda[c, r]) / 2 }
      // u = Σᵀ η − Σᵀ Λ x.
      let sl = try BLAS.matmul(sigma, transposeA: true, lambda)
      gains[k] = Matrix(rows: m, cols: d) { l, j in -sl[l, j] }
      offsets[k] = Matrix(rows: b, cols: m) { q, l in (0..<d).map { sigma[$0, l] * etas[q][$0] }.reduce(0, +) }
    }
    return AffineFeedbackControl(gains: gains, offsets: offsets)
  }

  /// `E[ℓ]` of one observation for `X ~ N(mean, cov)`, over its observed entries.
  func expectedTerm(_ o: OracleObservation, mean: [Double], cov: Matrix<Double>) throws -> Double {
    let ccov = try BLAS.matmul(try BLAS.matmul(decoder, cov), decoder, transposeB: true)
    var total = 0.0
    for i in 0..<dataDim where o.observed[i] {
      var pred = decoderBias[i]
      for j in 0..<d { pred += decoder[i, j] * mean[j] }
      total +=
        0.5 * ((o.y[i] - pred) * (o.y[i] - pred) + ccov[i, i]) / (std * std) + log(std) + 0.5 * log(2 * Double.pi)
    }
    return total
  }

  /// Exact discrete free energy `F^N(u)` of sequence `q` (one point of the
  /// control's offsets) on `grid` under an affine control:
  ///
  ///     F_i = I + h_iA + h_iΣK_i,  m_{i+1} = F_i m_i + h_i(c0 + c1 t_i) + h_iΣk_i,  P_{i+1} = F_i P_i F_iᵀ + h_iΣΣᵀ,
  ///     F^N = ½ Σ_i h_i (‖K_i m_i + k_i‖² + tr(K_i P_i K_iᵀ)) + Σ_j E[ℓ_j(X_{i(j)})].
  public func discreteFreeEnergy(
    sequence: [OracleObservation], point q: Int, grid: TimeGrid, control: AffineFeedbackControl
  ) throws -> Double {
    var mean = x0
    var cov = Matrix<Double>(rows: d, cols: d)
    let ssT = try BLAS.matmul(sigma, sigma, transposeB: true)
    var total = 0.0
    for o in sequence where o.node == 0 { total += try expectedTerm(o, mean: mean, cov: cov) }
    for i in 0..<grid.steps {
      let h = grid.stepSize(i)
      let t = grid.times[i]
      let gain = control.gains[i]
      let row = control.offsets[i].rows == 1 ? 0 : q
      let k = (0..<m).map { control.offsets[i][row, $0] }
      var uMean = [Double](repeating: 0, count: m)
      for l in 0..<m { uMean[l] = k[l] + (0..<d).map { gain[l, $0] * mean[$0] }.reduce(0, +) }
      let kpk = try BLAS.matmul(try BLAS.matmul(gain, cov), gain, transposeB: true)
      total += 0.5 * h * (uMean.map { $0 * $0 }.reduce(0, +) + (0..<m).map { kpk[$0, $0] }.reduce(0, +))
      let sk = try BLAS.matmul(sigma, gain)
      let f = Matrix<Double>(rows: d, cols: d) { r, c in (r == c ? 1 : 0) + h * a[r, c] + h * sk[r, c] }
      mean = (0..<d).map { r in
        h * (c0[r] + c1[r] * t) + (0..<d).map { f[r, $0] * mean[$0] }.reduce(0, +)
          + (0..<m).map { h * sigma[r, $0] * k[$0] }.reduce(0, +)
      }
      let fcf = try BLAS.matmul(try BLAS.matmul(f, cov), f, transposeB: true)
      cov = Matrix(rows: d, cols: d) { r, c in fcf[r, c] + h * ssT[r, c] }
      for o in sequence where o.node == i + 1 { total += try expectedTerm(o, mean: mean, cov: cov) }
    }
    return total
  }

  /// The prior EM chain's transition of step i: `F = I + h_iA`, offset `h_i(c0 + c1 t_i)`.
  func eulerTransition(_ i: Int, grid: TimeGrid) -> (f: Matrix<Double>, offset: [Double]) {
    let h = grid.stepSize(i)
    let t = grid.times[i]
    return (
      Matrix(rows: d, cols: d) { r, c in (r == c ? 1 : 0) + h * a[r, c] }, (0..<d).map { h * (c0[$0] + c1[$0] * t) }
    )
  }

  /// The discrete chain's exact `−log p^N(y_{1:n})` by the Kalman filter on
  /// the EM transitions `x ↦ (I + h_iA)x + h_i(c0 + c1 t_i)`, covariance
  /// `h_i ΣΣᵀ`, with each observation's observed rows.
  public func kalmanNegativeLogLikelihood(sequence: [OracleObservation], grid: TimeGrid) throws -> Double {
    var mean = x0
    var cov = Matrix<Double>(rows: d, cols: d)
    let ssT = try BLAS.matmul(sigma, sigma, transposeB: true)
    var nll = 0.0
    func update(_ o: OracleObservation) throws {
      let rows = (0..<dataDim).filter { o.observed[$0] }
      guard !rows.isEmpty else { return }
      let cs = Matrix<Double>(rows: rows.count, cols: d) { i, j in decoder[rows[i], j] }
      let s = try BLAS.matmul(try BLAS.matmul(cs, cov), cs, transposeB: true)
      for i in 0..<rows.count { s[i, i] += std * std }
      let resid = Matrix<Double>(rows: rows.count, cols: 1) { i, _ in
        o.y[rows[i]] - decoderBias[rows[i]] - (0..<d).map { cs[i, $0] * mean[$0] }.reduce(0, +)
      }
      let sInvR = try LAPACK.choleskySolve(s, resid)
      let quad = (0..<rows.count).map { resid[$0, 0] * sInvR[$0, 0] }.reduce(0, +)
      nll += 0.5 * quad + 0.5 * (try LAPACK.logDeterminantSPD(s)) + 0.5 * Double(rows.count) * log(2 * Double.pi)
      // Gain K = P C_Sᵀ S⁻¹: m += K r, P −= K C_S P.
      let pct = try BLAS.matmul(cov, cs, transposeB: true)  // d × |S|
      let gainT = try LAPACK.choleskySolve(s, try BLAS.matmul(cs, cov))  // S⁻¹ C_S P = Kᵀ
      mean = (0..<d).map { r in mean[r] + (0..<rows.count).map { pct[r, $0] * sInvR[$0, 0] }.reduce(0, +) }
      let kcp = try BLAS.matmul(pct, gainT)
      cov = Matrix(rows: d, cols: d) { r, c in cov[r, c] - (kcp[r, c] + kcp[c, r]) / 2 }
    }
    for o in sequence where o.node == 0 { try update(o) }
    for i in 0..<grid.steps {
      let (f, offset) = eulerTransition(i, grid: grid)
      mean = (0..<d).map { r in offset[r] + (0..<d).map { f[r, $0] * mean[$0] }.reduce(0, +) }
      let fcf = try BLAS.matmul(try BLAS.matmul(f, cov), f, transposeB: true)
      let h = grid.stepSize(i)
      cov = Matrix(rows: d, cols: d) { r, c in fcf[r, c] + h * ssT[r, c] }
      for o in sequence where o.node == i + 1 { try update(o) }
    }
    return nll
  }

  /// The same `−log p^N(y_{1:n})` without a filter: the joint Gaussian of all
  /// observed entries, from the prior chain's means `m_i`, covariances `P_i`
  /// and cross-covariances `Cov(X_a, X_b) = F_{b−1}⋯F_a P_a` (a ≤ b), evaluated directly.
  public func jointGaussianNegativeLogLikelihood(sequence: [OracleObservation], grid: TimeGrid) throws -> Double {
    let ssT = try BLAS.matmul(sigma, sigma, transposeB: true)
    var means = [x0]
    var covs = [Matrix<Double>(rows: d, cols: d)]
    var transitions: [Matrix<Double>] = []
    for i in 0..<grid.steps {
      let (f, offset) = eulerTransition(i, grid: grid)
      transitions.append(f)
      means.append((0..<d).map { r in offset[r] + (0..<d).map { f[r, $0] * means[i][$0] }.reduce(0, +) })
      let fcf = try BLAS.matmul(try BLAS.matmul(f, covs[i]), f, transposeB: true)
      let h = grid.stepSize(i)
      covs.append(Matrix(rows: d, cols: d) { r, c in fcf[r, c] + h * ssT[r, c] })
    }
    func crossCovariance(_ a: Int, _ b: Int) throws -> Matrix<Double> {  // Cov(X_a, X_b), a ≤ b: (F⋯F P_a)ᵀ
      var m = covs[a]
      for i in a..<b { m = try BLAS.matmul(transitions[i], m) }
      return Matrix(rows: d, cols: d) { r, c in m[c, r] }
    }
    let entries = sequence.flatMap { o in (0..<dataDim).filter { o.observed[$0] }.map { (o, $0) } }
    let count = entries.count
    let joint = Matrix<Double>(rows: count, cols: count)
    let resid = Matrix<Double>(rows: count, cols: 1)
    for (p, (o, i)) in entries.enumerated() {
      resid[p, 0] = o.y[i] - decoderBias[i] - (0..<d).map { decoder[i, $0] * means[o.node][$0] }.reduce(0, +)
      for (q, (o2, j)) in entries.enumerated() {
        let cross = o.node <= o2.node ? try crossCovariance(o.node, o2.node) : try crossCovariance(o2.node, o.node)
        // Cov(y_p, y_q) = c_iᵀ Cov(X_a, X_b) c_j (+ s² on the diagonal).
        var v = 0.0
        for r in 0..<d {
          for c in 0..<d {
            v += decoder[i, r] * (o.node <= o2.node ? cross[r, c] : cross[c, r]) * decoder[j, c]
          }
        }
        joint[p, q] = v + (p == q ? std * std : 0)
      }
    }
    let sol = try LAPACK.choleskySolve(joint, resid)
    let quad = (0..<count).map { resid[$0, 0] * sol[$0, 0] }.reduce(0, +)
    return 0.5 * quad + 0.5 * (try LAPACK.logDeterminantSPD(joint)) + 0.5 * Double(count) * log(2 * Double.pi)
  }
}
