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

  /// `z = (y − μ)/s` for every row of `data` (`B × D`, D = `columns`).
  public func standardized<Scalar: SDEScalar>(_ data: Matrix<Scalar>) -> Matrix<Scalar> {
    precondition(data.cols == columns, "\(data.cols) columns, the standardisation has \(columns)")
    return Matrix(rows: data.rows, cols: data.cols) { r, c in Scalar((Double(data[r, c]) - mean[c]) / scale[c]) }
  }

  /// `y = μ + s·z` for every row of `z` (samples back in the file's units).
  public func original<Scalar: SDEScalar>(_ z: Matrix<Scalar>) -> Matrix<Scalar> {
    precondition(z.cols == columns, "\(z.cols) columns, the standardisation has \(columns)")
    return Matrix(rows: z.rows, cols: z.cols) { r, c in Scalar(mean[c] + scale[c] * Double(z[r, c])) }
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
