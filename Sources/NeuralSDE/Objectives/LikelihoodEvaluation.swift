extension Likelihood {
  /// `−log p(y | x)` for each row: `out[r] = ℓ(y_{row(r)}, decoded[r])`.
  ///
  /// - Parameters:
  ///   - decoded: decoder outputs, `rows × D` (Gaussian means or Bernoulli logits).
  ///   - data: `points × D`; row r uses data row `r / pathsPerPoint`.
  ///   - pathsPerPoint: rows per data point (K).
  ///   - logStd: learned per-dimension log standard deviations (D values) for `.gaussianLearnedStd`.
  ///   - out: receives `ℓ_r` for every row.
  ///   - gradient: if given, receives `∂ℓ_r/∂decoded_r` (`rows × D`).
  ///   - logStdGradient: if given, receives `∂ℓ_r/∂log_std` per row (`rows × D`; learned std only).
  ///   - mask: if given, `points × D` of 0 and 1 like `data`: entries with 0 are
  ///     not observed and contribute nothing (to `ℓ_r` or either gradient).
  @inlinable
  public func negativeLogLikelihood<T: SDEScalar>(
    decoded: MatrixView<T>, data: MatrixView<T>, pathsPerPoint: Int, logStd: UnsafePointer<T>?,
    into out: UnsafeMutablePointer<T>, gradient: MatrixView<T>? = nil, logStdGradient: MatrixView<T>? = nil,
    mask: MatrixView<T>? = nil
  ) {
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
          if let lg = logStdGradient { lg.base[r * lg.ld + j] = 0 }
          continue
        }
        elementTerm(
          y: y[j], z: z[j], logStd: logStd?[j], halfLog2Pi: halfLog2Pi, into: &nll,
          gradient: gradient.map { $0.base + r * $0.ld + j },
          logStdGradient: logStdGradient.map { $0.base + r * $0.ld + j })
      }
      out[r] = nll
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
    }
  }

  /// Draws observations `y ~ p(y | x)` from decoder outputs (`rows × D`).
  public func sample<T: SDEScalar>(
    decoded: MatrixView<T>, logStd: [T]?, rng: inout SplitMix64
  ) -> Matrix<T> {
    let out = Matrix<T>(rows: decoded.rows, cols: decoded.cols)
    for r in 0..<decoded.rows {
      for j in 0..<decoded.cols {
        let z = Double(decoded[r, j])
        switch self {
        case .gaussian(let std): out[r, j] = T(z + std * rng.nextNormal())
        case .gaussianLearnedStd: out[r, j] = T(z + Double.exp(Double(logStd![j])) * rng.nextNormal())
        case .bernoulli: out[r, j] = rng.nextUnit() < 1 / (1 + Double.exp(-z)) ? 1 : 0
        }
      }
    }
    return out
  }
}
