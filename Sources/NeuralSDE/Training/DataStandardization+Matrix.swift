extension DataStandardization {
  /// The map fitted on `data`'s rows: each column's mean and standard
  /// deviation (divisor n; 1 for a constant column or a single row).
  public init<Scalar: SDEScalar>(fitting data: Matrix<Scalar>) {
    var mean = [Double](repeating: 0, count: data.cols)
    var scale = [Double](repeating: 1, count: data.cols)
    let n = Double(Swift.max(data.rows, 1))
    for c in 0..<data.cols {
      var s = 0.0
      for r in 0..<data.rows { s += Double(data[r, c]) }
      let mu = s / n
      var v = 0.0
      for r in 0..<data.rows {
        let e = Double(data[r, c]) - mu
        v += e * e
      }
      let sd = (v / n).squareRoot()
      mean[c] = mu
      scale[c] = sd > 0 && sd.isFinite ? sd : 1
    }
    self.init(mean: mean, scale: scale)
  }

  /// The map fitted on `data`'s rows: the per-column map of `init(fitting:)`,
  /// then `scaling` along the principal axes of the standardised rows'
  /// covariance (divisor n).
  /// - Throws: `invalidArgument` if the standardised rows' covariance is
  ///   singular (a constant column, or linearly dependent columns; named);
  ///   LAPACK errors if the eigen-decomposition fails.
  public init<Scalar: SDEScalar>(fitting data: Matrix<Scalar>, axisScaling scaling: AxisScaling) throws {
    self.init(fitting: data)
    if scaling == .none || data.rows < 2 { return }
    let n = data.cols
    let x = columnStandardized(data)
    let covariance = try BLAS.matmul(x, transposeA: true, x)
    for i in 0..<(n * n) { covariance.base[i] /= Double(data.rows) }
    let (values, vectors) = try LAPACK.symmetricEigen(covariance)
    // A numerically zero variance: the data lie in a subspace (no scaling makes a density of it).
    if let smallest = values.first, let largest = values.last, !(smallest > 1e-12 * largest) {
      throw GaussianBaseline.singular(covariance, columns: n)
    }
    let meanVariance = values.reduce(0, +) / Double(n)
    axes = (0..<(n * n)).map { vectors.base[$0] }
    axisScales = values.map { lambda in
      switch scaling {
      case .none: return 1
      case .whitening: return 1 / lambda.squareRoot()
      case .varianceFloor(let fraction): return Swift.max(1, (fraction * meanVariance / lambda).squareRoot())
      }
    }
  }

  /// `x = (y − μ)/s` for every row of `data`, in Double (the per-column map alone).
  func columnStandardized<Scalar: SDEScalar>(_ data: Matrix<Scalar>) -> Matrix<Double> {
    Matrix(rows: data.rows, cols: data.cols) { r, c in (Double(data[r, c]) - mean[c]) / scale[c] }
  }

  /// `x Aᵀ` for the rows of `x` (`B × D`) and a `D × D` matrix `A` (the shapes
  /// agree by construction: `BLAS.matmul` cannot throw here).
  func rowsTimesTranspose(_ x: Matrix<Double>, _ a: Matrix<Double>) -> Matrix<Double> {
    try! BLAS.matmul(x, a, transposeB: true)
  }

  /// The D × D matrix `U diag(f^power) Uᵀ` (nil without axes).
  func axisMap(power: Double) -> Matrix<Double>? {
    guard let u = axes, let f = axisScales else { return nil }
    let n = columns
    let g = f.map { Double.pow($0, power) }
    let axes = Matrix<Double>(rows: n, cols: n) { i, k in u[i * n + k] }
    let scaled = Matrix<Double>(rows: n, cols: n) { i, k in u[i * n + k] * g[k] }
    return rowsTimesTranspose(scaled, axes)  // (U diag(g)) Uᵀ
  }

  /// `z` for every row `y` of `data` (`B × D`, D = `columns`): `x = (y − μ)/s`,
  /// then `z = U diag(f) Uᵀ x` if the map has axes.
  public func standardized<Scalar: SDEScalar>(_ data: Matrix<Scalar>) -> Matrix<Scalar> {
    precondition(data.cols == columns, "\(data.cols) columns, the standardisation has \(columns)")
    let x = columnStandardized(data)
    guard let a = axisMap(power: 1), data.rows > 0 else {
      return Matrix(rows: x.rows, cols: x.cols) { Scalar(x[$0, $1]) }
    }
    let z = rowsTimesTranspose(x, a)
    return Matrix(rows: z.rows, cols: z.cols) { Scalar(z[$0, $1]) }
  }

  /// `y = μ + s·x`, `x = U diag(1/f) Uᵀ z` (or `x = z` without axes), for
  /// every row of `z` (samples back in the file's units).
  public func original<Scalar: SDEScalar>(_ z: Matrix<Scalar>) -> Matrix<Scalar> {
    precondition(z.cols == columns, "\(z.cols) columns, the standardisation has \(columns)")
    var x = Matrix<Double>(rows: z.rows, cols: z.cols) { Double(z[$0, $1]) }
    if let a = axisMap(power: -1) { x = rowsTimesTranspose(x, a) }
    return Matrix(rows: z.rows, cols: z.cols) { r, c in Scalar(mean[c] + scale[c] * x[r, c]) }
  }
}

extension ModelEvaluation {
  /// This evaluation — of a model trained behind `standardization`, on the
  /// standardised data — in the data's own units: every −log p and `F̂` (the
  /// model's mean and per point, at a tenth of the paths, the Gaussian's and
  /// the data's own) plus `Σ_j log s_j`. Standard errors and the paths'
  /// convergence gap are unchanged; the energy distances stay those of the
  /// standardised data (the statistic is not affine-invariant).
  public func inOriginalUnits(of standardization: DataStandardization) -> ModelEvaluation {
    let j = standardization.logJacobian
    var e = self
    e.negativeLogLikelihood += j
    e.freeEnergy += j
    e.gaussianNegativeLogLikelihood += j
    e.trueNegativeLogLikelihood = trueNegativeLogLikelihood.map { $0 + j }
    e.negativeLogLikelihoodTenthOfPaths += j
    e.perPointNegativeLogLikelihood = perPointNegativeLogLikelihood.map { $0 + j }
    return e
  }
}
