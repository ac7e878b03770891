/// The diffusion's products with increments, cotangents and tangents for one
/// noise type: the one place the diagonal / additive / general distinction
/// lives (in the spirit of diffrax's `vf_prod`). A `StepScheme` composes its
/// step and derivatives from these; no scheme or loop switches on `NoiseType`.
///
/// Shapes, for `rows` paths: states and their cotangents `λ` are `rows × d`,
/// increments `ΔW̃` and control cotangents `rows × m`; the diffusion output σ
/// is `rows × d` (diagonal), one shared row of `d` values (additive), or
/// `rows × d·m`, row-major `d × m` per path (general).
package struct DiffusionTerm {
  let noise: NoiseType
  let d: Int
  let m: Int

  init(_ configuration: NeuralSDEConfiguration) {
    noise = configuration.noise
    d = configuration.latentDimension
    m = configuration.noiseDimension
  }

  /// True if σ does not depend on the state (one shared row, input `[t]` only).
  package var isAdditive: Bool { noise == .additive }

  /// Rows of σ for `paths` paths: 1 if additive, else `paths`.
  package func rows(forPaths paths: Int) -> Int { isAdditive ? 1 : paths }

  /// The diffusion network's input for states `x`: the states, or no columns if additive.
  func input<Scalar>(_ x: MatrixView<Scalar>) -> MatrixView<Scalar> {
    isAdditive ? MatrixView(base: x.base, rows: 1, cols: 0, ld: 0) : x
  }

  /// The terms' product with the control `(h, ΔW̃)` added to a state,
  /// `out = x + h b + σ ΔW̃`, for `rows` paths (`out` may not alias `x`).
  func addProducts<Scalar: SDEScalar>(
    rows: Int, x: UnsafePointer<Scalar>, drift b: UnsafePointer<Scalar>, sigma: UnsafePointer<Scalar>,
    increments dw: UnsafePointer<Scalar>, h: RowStepSizes<Scalar>, into out: UnsafeMutablePointer<Scalar>
  ) {
    switch noise {
    case .diagonal: Scalar.addProductsDiagonal(rows: rows, d: d, x: x, b: b, sigma: sigma, dw: dw, h: h, out: out)
    case .additive: Scalar.addProductsAdditive(rows: rows, d: d, x: x, b: b, sigma: sigma, dw: dw, h: h, out: out)
    case .general: Scalar.addProductsGeneral(rows: rows, d: d, m: m, x: x, b: b, sigma: sigma, dw: dw, h: h, out: out)
    }
  }

  /// `σᵀλ` per path (`rows × m`): the cotangent of the increment.
  func transposeApply<Scalar: SDEScalar>(
    rows: Int, sigma: UnsafePointer<Scalar>, cotangent lam: UnsafePointer<Scalar>,
    into v: UnsafeMutablePointer<Scalar>
  ) {
    switch noise {
    case .diagonal: Scalar.multiply(n: rows * d, x: sigma, y: lam, out: v)
    case .additive: for r in 0..<rows { Scalar.multiply(n: d, x: sigma, y: lam + r * d, out: v + r * d) }
    case .general: Scalar.rowTransposeApply(rows: rows, d: d, m: m, s: sigma, v: lam, out: v)
    }
  }

  /// `∂L/∂σ = λ ⊗ ΔW̃` per path, written to `out` (`rows ×` σ's width), and,
  /// for additive noise, summed over the paths into its first row (σ is one
  /// shared row). Returns the view to pass to the diffusion network's VJP.
  /// `ones` must hold at least `rows` ones.
  func outerProduct<Scalar: SDEScalar>(
    rows: Int, cotangent lam: UnsafePointer<Scalar>, increments dw: UnsafePointer<Scalar>,
    into out: UnsafeMutablePointer<Scalar>, ones: UnsafePointer<Scalar>, scratch: UnsafeMutablePointer<Scalar>
  ) -> MatrixView<Scalar> {
    switch noise {
    case .diagonal:
      Scalar.multiply(n: rows * d, x: lam, y: dw, out: out)
      return MatrixView(base: out, rows: rows, cols: d)
    case .additive:
      Scalar.multiply(n: rows * d, x: lam, y: dw, out: out)
      Scalar.gemv(trans: true, m: rows, n: d, alpha: 1, a: out, lda: d, x: ones, incx: 1, beta: 0, y: scratch, incy: 1)
      return MatrixView(base: scratch, rows: 1, cols: d)
    case .general:
      Scalar.rowOuter(rows: rows, d: d, m: m, a: lam, b: dw, out: out)
      return MatrixView(base: out, rows: rows, cols: d * m)
    }
  }

  /// The tangent of `addProducts` for `t` directions per path, added to
  /// the state's tangent S (`ΔW̃ = ΔW + h u`, so `dΔW̃ = h du`):
  ///
  ///     S ← S + h dB + dσ·ΔW̃ + σ·(h du)
  ///
  /// with `S`, `dB` `(rows·t) × d` (row `r·t + τ`), `dσ` `(rows·t or t) ×` σ's
  /// width, and `du` per control row: path r uses row `⌊r / pathsPerControlRow⌋`.
  func addProductTangents<Scalar: SDEScalar>(
    rows: Int, directions t: Int, sensitivity s: UnsafeMutablePointer<Scalar>, driftTangent db: UnsafePointer<Scalar>,
    diffusionTangent ds: UnsafePointer<Scalar>, sigma: UnsafePointer<Scalar>, increments dw: UnsafePointer<Scalar>,
    controlTangent du: UnsafePointer<Scalar>, pathsPerControlRow kc: Int, h sizes: RowStepSizes<Scalar>
  ) {
    for r in 0..<rows {
      let h = sizes[row: r]
      let q = r / kc
      let w = dw + r * m
      for tau in 0..<t {
        let row = r * t + tau
        let sr = s + row * d
        let dbr = db + row * d
        let dur = du + (q * t + tau) * m
        switch noise {
        case .diagonal:
          let dsr = ds + row * d
          let sg = sigma + r * d
          for j in 0..<d { sr[j] += h * dbr[j] + dsr[j] * w[j] + sg[j] * h * dur[j] }
        case .additive:
          let dsr = ds + tau * d
          for j in 0..<d { sr[j] += h * dbr[j] + dsr[j] * w[j] + sigma[j] * h * dur[j] }
        case .general:
          let dsr = ds + row * d * m
          let sg = sigma + r * d * m
          for j in 0..<d {
            var acc = h * dbr[j]
            for l in 0..<m { acc += dsr[j * m + l] * w[l] + sg[j * m + l] * h * dur[l] }
            sr[j] += acc
          }
        }
      }
    }
  }

  /// `σ z` for one path's layer scale `sigma` (σ's row) and standard normals `z`
  /// (m values): coordinate j of the DLGM's noise term.
  func apply(sigma: (Int) -> Double, z: (Int) -> Double, coordinate j: Int) -> Double {
    switch noise {
    case .diagonal, .additive: return sigma(j) * z(j)
    case .general: return (0..<m).reduce(0) { $0 + sigma(j * m + $1) * z($1) }
    }
  }
}
