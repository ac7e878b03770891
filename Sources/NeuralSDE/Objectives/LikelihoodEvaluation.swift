extension Likelihood {
  /// `−log p(y | x)` for each row: `out[r] = ℓ(y_{row(r)}, decoded[r])`.
  ///
  /// - Parameters:
  ///   - decoded: decoder outputs, `rows × D` (Gaussian means or Bernoulli logits).
  ///   - data: `points × D`; row r uses data row `r / pathsPerPoint`.
  ///   - pathsPerPoint: rows per data point (K).
  ///   - parameters: the likelihood's learned parameters (P values, `parameterLayout(dataDimension:)`:
  ///     `log σ` for `.gaussianLearnedStd`; `log σ`, `c`, `ω` for `.gaussianScaleMixture`).
  ///   - out: receives `ℓ_r` for every row.
  ///   - gradient: if given, receives `∂ℓ_r/∂decoded_r` (`rows × D`).
  ///   - parameterGradient: if given, receives `∂ℓ_r/∂(learned parameters)` per row (`rows × P`).
  ///   - mask: if given, `points × D` of 0 and 1 like `data`: entries with 0 are
  ///     not observed and contribute nothing (to `ℓ_r` or either gradient).
  @inlinable
  public func negativeLogLikelihood<T: SDEScalar>(
    decoded: MatrixView<T>, data: MatrixView<T>, pathsPerPoint: Int, parameters: UnsafePointer<T>?,
    into out: UnsafeMutablePointer<T>, gradient: MatrixView<T>? = nil, parameterGradient: MatrixView<T>? = nil,
    mask: MatrixView<T>? = nil
  ) {
    if case .gaussianScaleMixture = self {
      scaleMixtureNegativeLogLikelihood(
        decoded: decoded, data: data, pathsPerPoint: pathsPerPoint, parameters: parameters!, into: out,
        gradient: gradient, parameterGradient: parameterGradient, mask: mask)
      return
    }
    let dims = decoded.cols
    let halfLog2Pi = T(0.91893853320467274178)  // ½ log 2π
    for r in 0..<decoded.rows {
      let y = data.base + (r / pathsPerPoint) * data.ld
      let z = decoded.base + r * decoded.ld
      let observed = mask.map { $0.base + (r / pathsPerPoint) * $0.ld }
      var nll: T = 0
      for j in 0..<dims {
        if let observed, observed[j] == 0 {
          // Not observed: a zero term with zero gradients.
          if let g = gradient { g.base[r * g.ld + j] = 0 }
          if let lg = parameterGradient { lg.base[r * lg.ld + j] = 0 }
          continue
        }
        elementTerm(
          y: y[j], z: z[j], logStd: parameters?[j], halfLog2Pi: halfLog2Pi, into: &nll,
          gradient: gradient.map { $0.base + r * $0.ld + j },
          logStdGradient: parameterGradient.map { $0.base + r * $0.ld + j })
      }
      out[r] = nll
    }
  }

  /// `.gaussianScaleMixture`'s rows. With `e_{qj} = ((y_j − c_j)/u_q − (m_j − c_j))/σ_j`
  /// over the observed entries (D_o of them), `a_q = log π_q − Σ_j e_{qj}²/2 − D_o log u_q`
  /// and `ρ = softmax(a)` (the posterior over the scale):
  ///
  ///     ℓ = −logsumexp_q a_q + Σ_j (log σ_j + ½ log 2π),
  ///     ∂ℓ/∂m_j = −Σ_q ρ_q e_{qj}/σ_j,   ∂ℓ/∂c_j = Σ_q ρ_q e_{qj} (1 − 1/u_q)/σ_j,
  ///     ∂ℓ/∂log σ_j = Σ_q ρ_q (1 − e_{qj}²),   ∂ℓ/∂ω_q = π_q − ρ_q.
  @inlinable
  func scaleMixtureNegativeLogLikelihood<T: SDEScalar>(
    decoded: MatrixView<T>, data: MatrixView<T>, pathsPerPoint: Int, parameters: UnsafePointer<T>,
    into out: UnsafeMutablePointer<T>, gradient: MatrixView<T>?, parameterGradient: MatrixView<T>?,
    mask: MatrixView<T>?
  ) {
    let dims = decoded.cols
    let scales = Self.scaleMixtureScales.map { T($0) }
    let q = scales.count
    let logScales = scales.map { T.log($0) }
    let logStd = parameters
    let center = parameters + dims
    let logits = parameters + 2 * dims
    // log π = log softmax(ω), once for all rows.
    var maxLogit = logits[0]
    for i in 1..<q { maxLogit = Swift.max(maxLogit, logits[i]) }
    var sumExp: T = 0
    for i in 0..<q { sumExp += T.exp(logits[i] - maxLogit) }
    let logNormaliser = maxLogit + T.log(sumExp)
    let logPi = (0..<q).map { logits[$0] - logNormaliser }
    let invStd = (0..<dims).map { T.exp(-logStd[$0]) }
    let halfLog2Pi = T(0.91893853320467274178)  // ½ log 2π
    var a = [T](repeating: 0, count: q)
    for r in 0..<decoded.rows {
      let y = data.base + (r / pathsPerPoint) * data.ld
      let m = decoded.base + r * decoded.ld
      let observed = mask.map { $0.base + (r / pathsPerPoint) * $0.ld }
      var constant: T = 0
      var count: T = 0
      for i in 0..<q { a[i] = logPi[i] }
      for j in 0..<dims where observed.map({ $0[j] != 0 }) ?? true {
        constant += logStd[j] + halfLog2Pi
        count += 1
        let dy = y[j] - center[j]
        let dm = m[j] - center[j]
        for i in 0..<q {
          let e = (dy / scales[i] - dm) * invStd[j]
          a[i] -= e * e / 2
        }
      }
      var best = -T.infinity
      for i in 0..<q {
        a[i] -= count * logScales[i]
        best = Swift.max(best, a[i])
      }
      var total: T = 0
      for i in 0..<q {
        a[i] = T.exp(a[i] - best)
        total += a[i]
      }
      out[r] = constant - (best + T.log(total))
      guard gradient != nil || parameterGradient != nil else { continue }
      for i in 0..<q { a[i] /= total }  // ρ
      let pg = parameterGradient.map { $0.base + r * $0.ld }
      for j in 0..<dims {
        if let observed, observed[j] == 0 {
          if let g = gradient { g.base[r * g.ld + j] = 0 }
          if let pg {
            pg[j] = 0
            pg[dims + j] = 0
          }
          continue
        }
        let dy = y[j] - center[j]
        let dm = m[j] - center[j]
        var gm: T = 0
        var gc: T = 0
        var gs: T = 0
        for i in 0..<q {
          let e = (dy / scales[i] - dm) * invStd[j]
          gm -= a[i] * e
          gc += a[i] * e * (1 - 1 / scales[i])
          gs += a[i] * (1 - e * e)
        }
        if let g = gradient { g.base[r * g.ld + j] = gm * invStd[j] }
        if let pg {
          pg[j] = gs
          pg[dims + j] = gc * invStd[j]
        }
      }
      if let pg { for i in 0..<q { pg[2 * dims + i] = T.exp(logPi[i]) - a[i] } }
    }
  }

  /// One entry's term `ℓ(y, z)` added to `term`, with `∂ℓ/∂z` and (learned std) `∂ℓ/∂log_std`.
  @inlinable @inline(__always)
  func elementTerm<T: SDEScalar>(
    y: T, z: T, logStd: T?, halfLog2Pi: T, into term: inout T, gradient: UnsafeMutablePointer<T>?,
    logStdGradient: UnsafeMutablePointer<T>?
  ) {
    switch self {
    case .gaussian(let std):
      let s = T(std)
      let inv = 1 / s
      let e = (y - z) * inv
      term += e * e / 2 + (T.log(s) + halfLog2Pi)
      gradient?.pointee = -e * inv
    case .gaussianLearnedStd:
      let ls = logStd!
      let inv = T.exp(-ls)
      let e = (y - z) * inv
      term += e * e / 2 + ls + halfLog2Pi
      gradient?.pointee = -e * inv
      logStdGradient?.pointee = 1 - e * e
    case .bernoulli:
      let sp = Swift.max(z, 0) + T.log(1 + T.exp(-Swift.abs(z)))  // softplus(z)
      term += sp - y * z
      gradient?.pointee = (z >= 0 ? 1 / (1 + T.exp(-z)) : T.exp(z) / (1 + T.exp(z))) - y
    case .gaussianScaleMixture:
      preconditionFailure("the scale mixture's rows are evaluated whole (scaleMixtureNegativeLogLikelihood)")
    }
  }

  /// Draws observations `y ~ p(y | x)` from decoder outputs (`rows × D`);
  /// `parameters` holds the learned parameters (P values) if the likelihood has any.
  public func sample<T: SDEScalar>(
    decoded: MatrixView<T>, parameters: [T]?, rng: inout SplitMix64
  ) -> Matrix<T> {
    let out = Matrix<T>(rows: decoded.rows, cols: decoded.cols)
    if case .gaussianScaleMixture = self, let p = parameters {
      // u ~ softmax(ω) by inversion, then y = c + u (m − c + σ ε).
      let dims = decoded.cols
      let weights = logSumExp(p[(2 * dims)...].map(Double.init)).softmax
      for r in 0..<decoded.rows {
        var target = rng.nextUnit()
        var index = weights.count - 1
        for (i, w) in weights.enumerated() {
          if target < w {
            index = i
            break
          }
          target -= w
        }
        let u = Self.scaleMixtureScales[index]
        for j in 0..<dims {
          let c = Double(p[dims + j])
          let e = Double.exp(Double(p[j])) * rng.nextNormal()
          out[r, j] = T(c + u * (Double(decoded[r, j]) - c + e))
        }
      }
      return out
    }
    for r in 0..<decoded.rows {
      for j in 0..<decoded.cols {
        let z = Double(decoded[r, j])
        switch self {
        case .gaussian(let std): out[r, j] = T(z + std * rng.nextNormal())
        case .gaussianLearnedStd: out[r, j] = T(z + Double.exp(Double(parameters![j])) * rng.nextNormal())
        case .bernoulli: out[r, j] = rng.nextUnit() < 1 / (1 + Double.exp(-z)) ? 1 : 0
        case .gaussianScaleMixture: preconditionFailure("the scale mixture is sampled above")
        }
      }
    }
    return out
  }
}
