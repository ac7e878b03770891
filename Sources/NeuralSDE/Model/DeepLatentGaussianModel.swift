/// The discrete view of a neural SDE (docs/MODEL.md §1): a k-layer deep latent
/// Gaussian model
///
///     x_i = x_{i−1} + b_i(x_{i−1}) + σ_i(x_{i−1}) z_i,   z_i ~ N(0, I_m),   i = 1…k
///
/// with `b_i(x) = h_i·b(x, t_{i−1})` and `σ_i(x) = √h_i·σ(x, t_{i−1})`. This is
/// exactly Euler–Maruyama with k steps on the same grid (`ΔW_i = √h_i·z_i`);
/// the SDE is its k → ∞ limit.
public struct DeepLatentGaussianModel<Scalar: SDEScalar> {
  /// The SDE whose discretisation this is.
  public let model: NeuralSDEModel<Scalar>
  /// The grid: one layer per step.
  public let grid: TimeGrid

  /// The DLGM with `grid.steps` layers built from `model`.
  public init(model: NeuralSDEModel<Scalar>, grid: TimeGrid) {
    self.model = model
    self.grid = grid
  }

  /// Number of layers k = N.
  public var layers: Int { grid.steps }

  /// Layer i's mean shift `b_i(x)` and noise scale `σ_i(x)` for a batch
  /// `x` (`rows × d`): returns (`rows × d`, `rows × d` or `rows × d·m` for general noise).
  public func layer(_ i: Int, at x: Matrix<Scalar>) throws -> (shift: Matrix<Scalar>, scale: Matrix<Scalar>) {
    guard i >= 1, i <= layers else { throw NSDEError.invalidArgument("layer \(i) is outside 1…\(layers)") }
    let t = Scalar(grid.times[i - 1])
    let h = grid.stepSize(i - 1)
    let driftWS = model.drift.makeWorkspace(rows: x.rows)
    try model.drift.forward(input: x.view, time: t, workspace: driftWS)
    let shift = Matrix<Scalar>(rows: x.rows, cols: x.cols) { r, c in Scalar(h) * driftWS.output[r, c] }
    let diffWS = model.diffusion.makeWorkspace(rows: x.rows)
    let input = model.diffusionTerm.isAdditive ? MatrixView(base: x.base, rows: x.rows, cols: 0, ld: 0) : x.view
    try model.diffusion.forward(input: input, time: t, workspace: diffWS)
    let sq = Scalar(h.squareRoot())
    let scale = Matrix<Scalar>(rows: x.rows, cols: model.diffusion.outputs) { r, c in sq * diffWS.output[r, c] }
    return (shift, scale)
  }

  /// Generates `x_k` from `x_0` and standard normal layer inputs `z`
  /// (`layers` matrices of `rows × m`), layer by layer.
  public func generate(rows: Int, z: [Matrix<Scalar>]) throws -> Matrix<Scalar> {
    guard z.count == layers else {
      throw NSDEError.shapeMismatch("\(z.count) noise matrices given for a \(layers)-layer DLGM")
    }
    let d = model.latentDimension
    let m = model.noiseDimension
    let x0 = model.initialState()
    var x = Matrix<Scalar>(rows: rows, cols: d) { _, c in x0[c] }
    for i in 1...layers {
      guard z[i - 1].rows == rows, z[i - 1].cols == m else {
        throw NSDEError.shapeMismatch("layer \(i) noise is \(z[i - 1].shapeDescription) but \(rows)×\(m) is needed")
      }
      let (shift, scale) = try layer(i, at: x)
      let zi = z[i - 1]
      x = Matrix(rows: rows, cols: d) { r, j in
        x[r, j] + shift[r, j]
          + Scalar(model.diffusionTerm.apply(sigma: { Double(scale[r, $0]) }, z: { Double(zi[r, $0]) }, coordinate: j))
      }
    }
    return x
  }
}
