import Foundation

extension NeuralSDEModel {
  /// Sets the linear decoder (and a learned decoder scale) so that the model,
  /// as initialised, generates data with the mean and covariance of `data`:
  /// training then starts at the one-Gaussian baseline (probabilistic PCA when
  /// d < D) instead of at a random map.
  ///
  /// With `x̄`, `C_x = L_x L_xᵀ` the mean and covariance of the prior's `X_1`
  /// (estimated from `paths` prior paths on `grid`), `μ`, `Σ = U Λ Uᵀ` those of
  /// the data (eigenvalues descending), `k = min(d, D)` and the noise variance
  /// `s²` (the larger of PPCA's maximum-likelihood noise, the mean of the
  /// `D − d` smallest eigenvalues (0 for d ≥ D), and a quarter of the mean
  /// eigenvalue; a fixed decoder std: its square):
  ///
  ///     A = U_k (Λ_k − s² I)₊^{1/2}  (D × d, zero columns beyond k),   W = A L_x⁻¹,   c = μ − W x̄,
  ///
  /// so that `W C_x Wᵀ + s² I` is `Σ` with its eigenvalues below s² raised to
  /// s² (for d < D, of its best rank-k approximation); a learned
  /// `decoder.log_std` is set to `log s` (and a scale mixture's centre `c` to `μ`:
  /// with its weight on `u_0 = 1` the start is then this Gaussian).
  ///
  /// - Parameters:
  ///   - data: the training rows, `n × D` (n ≥ 2, finite).
  ///   - grid: the solver grid of training.
  ///   - paths: prior paths for the moments of `X_1`.
  ///   - seed: seeds their noise.
  /// - Throws: `invalidArgument` unless the decoder is one linear layer with a
  ///   Gaussian likelihood; LAPACK errors for a degenerate `X_1`.
  public func initializeDecoder(matching data: Matrix<Scalar>, grid: TimeGrid, paths: Int = 4096, seed: UInt64 = 0)
    throws
  {
    let arch = configuration.decoder
    guard arch.widths.count == 1, arch.outputActivation == .identity, !arch.timeInput else {
      throw NSDEError.invalidArgument("a Gaussian decoder initialisation needs a linear decoder (one layer, no time)")
    }
    let fixedStd: Double?
    switch configuration.likelihood {
    case .gaussian(let s): fixedStd = s
    case .gaussianLearnedStd, .gaussianScaleMixture: fixedStd = nil
    case .bernoulli: throw NSDEError.invalidArgument("a Gaussian decoder initialisation needs a Gaussian likelihood")
    }
    let d = latentDimension
    let dims = dataDimension
    guard data.cols == dims else {
      throw NSDEError.shapeMismatch("data is \(data.shapeDescription) but the model's data dimension is \(dims)")
    }
    // Moments of the prior's X_1.
    let x = try sample(
      count: paths, noise: PhiloxBrownianIncrements<Scalar>(seed: seed, dimension: noiseDimension), grid: grid,
      seed: seed &+ 1
    ).latent
    let prior = try GaussianBaseline(fitting: x, jitter: 1e-9)
    let target = try GaussianBaseline(fitting: data)
    let (ascending, vectors) = try LAPACK.symmetricEigen(target.covariance)
    let lambda = ascending.reversed().map { Swift.max($0, 0) }
    let k = Swift.min(d, dims)
    let s2: Double
    if let fixedStd {
      s2 = fixedStd * fixedStd
    } else {
      // PPCA's noise (d < D), but at least a quarter of the mean variance, so
      // that the prior's paths explain the data loosely at first (a sharp
      // likelihood with an untrained posterior makes the first gradients huge).
      let ppca = d < dims ? lambda[k...].reduce(0, +) / Double(dims - k) : 0
      s2 = Swift.max(ppca, lambda.reduce(0, +) / Double(dims) / 4, 1e-12)
    }
    // A = U_k (Λ_k − s²)^{1/2}, D × d (columns of U in descending order of λ).
    let a = Matrix<Double>(rows: dims, cols: d)
    for j in 0..<k {
      let scale = Swift.max(lambda[j] - s2, 0).squareRoot()
      let column = dims - 1 - j
      for i in 0..<dims { a[i, j] = vectors[i, column] * scale }
    }
    // W = A L_x⁻¹: solve L_xᵀ Wᵀ = Aᵀ.
    let lt = Matrix<Double>(rows: d, cols: d)
    for i in 0..<d { for j in 0..<d { lt[i, j] = prior.cholesky[j, i] } }
    let at = Matrix<Double>(rows: d, cols: dims)
    for i in 0..<dims { for j in 0..<d { at[j, i] = a[i, j] } }
    let wt = try LAPACK.solve(lt, at)
    guard let weight = parameters.slice(named: "decoder.0.weight"), let bias = parameters.slice(named: "decoder.0.bias")
    else { throw NSDEError.invalidArgument("the model has no decoder.0 layer") }
    let p = parameters.base
    for i in 0..<dims {
      var c = target.mean[i]
      for j in 0..<d {
        let w = wt[j, i]
        p[weight.offset + i * d + j] = Scalar(w)
        c -= w * prior.mean[j]
      }
      p[bias.offset + i] = Scalar(c)
    }
    if let o = likelihoodParameterOffset {
      for i in 0..<dims { p[o + i] = Scalar(0.5 * Double.log(s2)) }
      // The scale mixture's centre at the data's mean (its scales then widen about it).
      if case .gaussianScaleMixture = configuration.likelihood {
        for i in 0..<dims { p[o + dims + i] = Scalar(target.mean[i]) }
      }
    }
  }
}
