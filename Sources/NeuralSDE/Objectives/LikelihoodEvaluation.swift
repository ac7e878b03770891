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
  @inlinable
  public func negativeLogLikelihood<T: SDEScalar>(
    decoded: MatrixView<T>, data: MatrixView<T>, pathsPerPoint: Int, logStd: UnsafePointer<T>?,
    into out: UnsafeMutablePointer<T>, gradient: MatrixView<T>? = nil, logStdGradient: MatrixView<T>? = nil
  ) {
    let dims = decoded.cols
    let halfLog2Pi = T(0.91893853320467274178)  // ½ log 2π
    for r in 0..<decoded.rows {
      let y = data.base + (r / pathsPerPoint) * data.ld
      let z = decoded.base + r * decoded.ld
      var nll: T = 0
      switch self {
      case .gaussian(let std):
        let s = T(std)
        let inv = 1 / s
        let constant = T.log(s) + halfLog2Pi
        for j in 0..<dims {
          let e = (y[j] - z[j]) * inv
          nll += e * e / 2 + constant
          if let g = gradient { g.base[r * g.ld + j] = -e * inv }
        }
      case .gaussianLearnedStd:
        for j in 0..<dims {
          let ls = logStd![j]
          let inv = T.exp(-ls)
          let e = (y[j] - z[j]) * inv
          nll += e * e / 2 + ls + halfLog2Pi
          if let g = gradient { g.base[r * g.ld + j] = -e * inv }
          if let lg = logStdGradient { lg.base[r * lg.ld + j] = 1 - e * e }
        }
      case .bernoulli:
        for j in 0..<dims {
          let x = z[j]
          let sp = Swift.max(x, 0) + T.log(1 + T.exp(-Swift.abs(x)))  // softplus(x)
          nll += sp - y[j] * x
          if let g = gradient {
            let sig = x >= 0 ? 1 / (1 + T.exp(-x)) : T.exp(x) / (1 + T.exp(x))
            g.base[r * g.ld + j] = sig - y[j]
          }
        }
      }
      out[r] = nll
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
