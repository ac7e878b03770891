/// A BLAS scalar with the library's own vectorised kernels (NSDEKernels,
/// compiled for several x86-64 levels with `target_clones`): activations and
/// their derivatives, the terms' products and the control kernels, and normals.
/// `Float` and `Double` conform with one-line forwards; everything above is
/// written once, generically over `SDEScalar`.
public protocol SDEScalar: BLASScalar {
  // MARK: Elementwise kernels (NSDEKernels)

  /// `y = φ(x)`, `dy = φ'(x)`, `d2y = φ''(x)` over `n` values; outputs may be nil.
  static func activation(
    _ kind: Int32, n: Int, x: UnsafePointer<Self>, y: UnsafeMutablePointer<Self>?,
    dy: UnsafeMutablePointer<Self>?, d2y: UnsafeMutablePointer<Self>?)
  /// Fused, in place over rows×cols: `z ← φ(z + bias)` (bias broadcast over
  /// rows), `da = φ'(z + bias)`; `bias` and `da` may be nil.
  static func biasActivation(
    _ kind: Int32, rows: Int, cols: Int, z: UnsafeMutablePointer<Self>,
    bias: UnsafePointer<Self>?, da: UnsafeMutablePointer<Self>?)
  /// `out = g ⊙ φ'(z)` with φ' taken from `a = φ(z)` (tanh), from `d = φ'(z)`
  /// (softplus, SiLU, LipSwish) or 1 (identity); `out` may equal `g`.
  static func scaleByDerivative(
    _ kind: Int32, n: Int, out: UnsafeMutablePointer<Self>, g: UnsafePointer<Self>,
    a: UnsafePointer<Self>?, d: UnsafePointer<Self>?)
  // MARK: SDE kernels (NSDEKernels, see nsde_kernels.h)

  /// `out[r] = x[r] + h_r·b[r] + σ[r] ⊙ dw[r]` over `rows × d` values.
  static func addProductsDiagonal(
    rows: Int, d: Int, x: UnsafePointer<Self>, b: UnsafePointer<Self>, sigma: UnsafePointer<Self>,
    dw: UnsafePointer<Self>, h: RowStepSizes<Self>, out: UnsafeMutablePointer<Self>)
  /// `out[r] = x[r] + h_r·b[r] + σ ⊙ dw[r]`, one σ row shared by all rows.
  static func addProductsAdditive(
    rows: Int, d: Int, x: UnsafePointer<Self>, b: UnsafePointer<Self>, sigma: UnsafePointer<Self>,
    dw: UnsafePointer<Self>, h: RowStepSizes<Self>, out: UnsafeMutablePointer<Self>)
  /// `out[r] = x[r] + h_r·b[r] + σ[r]·dw[r]` with σ[r] a d×m matrix.
  static func addProductsGeneral(
    rows: Int, d: Int, m: Int, x: UnsafePointer<Self>, b: UnsafePointer<Self>, sigma: UnsafePointer<Self>,
    dw: UnsafePointer<Self>, h: RowStepSizes<Self>, out: UnsafeMutablePointer<Self>)
  /// `out[r] = h_r·x[r]` over `rows × cols` values.
  static func scaledRows(
    rows: Int, cols: Int, h: RowStepSizes<Self>, x: UnsafePointer<Self>, out: UnsafeMutablePointer<Self>)
  /// The control as a shift of the increments, with KL and log-weight
  /// accumulation (control row q of k paths takes `h_{q·k}`).
  static func applyControl(
    points: Int, k: Int, m: Int, u: UnsafePointer<Self>, dw: UnsafeMutablePointer<Self>, h: RowStepSizes<Self>,
    kl: UnsafeMutablePointer<Double>, logWeights: UnsafeMutablePointer<Double>)

  /// `out = x ⊙ y` over n values (`out` may equal `x`).
  static func multiply(n: Int, x: UnsafePointer<Self>, y: UnsafePointer<Self>, out: UnsafeMutablePointer<Self>)
  /// Per-row outer products `out[r, j·m + l] = a[r, j]·b[r, l]`.
  static func rowOuter(
    rows: Int, d: Int, m: Int, a: UnsafePointer<Self>, b: UnsafePointer<Self>, out: UnsafeMutablePointer<Self>)
  /// Per-row `out[r] = S[r]ᵀ·v[r]` with `S[r]` a row-major d×m matrix.
  static func rowTransposeApply(
    rows: Int, d: Int, m: Int, s: UnsafePointer<Self>, v: UnsafePointer<Self>, out: UnsafeMutablePointer<Self>)

  /// Per-point control gradient `out_q = (h_q·a)·u_q + h_q·Σ_{p∈q} v_p + Σ_{p∈q} c_p·w_p`
  /// with `h_q = h_{q·k}` (c may be nil).
  static func controlGradient(
    points: Int, k: Int, m: Int, a: Self, u: UnsafePointer<Self>, h: RowStepSizes<Self>, v: UnsafePointer<Self>,
    c: UnsafePointer<Double>?, w: UnsafePointer<Self>, out: UnsafeMutablePointer<Self>)

  /// `out[j] += Σ_r a[r·lda + j]` over `rows × cols`.
  static func addColumnSums(
    rows: Int, cols: Int, a: UnsafePointer<Self>, lda: Int, into out: UnsafeMutablePointer<Self>)

  /// `out[i] = x[i]` for n values with non-temporal stores (for the backprop
  /// tape: written once, read back much later), then a store fence.
  static func streamCopy(n: Int, from x: UnsafePointer<Self>, to out: UnsafeMutablePointer<Self>)

  /// Copies `row` (cols values) into every row of `out` (rows × cols, contiguous).
  static func broadcastRows(rows: Int, cols: Int, row: UnsafePointer<Self>, out: UnsafeMutablePointer<Self>)

  // MARK: Tile products (the fused MLP passes)

  /// `C[r, n] = init + Σ_{j<k} A[r, j]·B[j, n]` for `r < rows`, `n < cols`, with
  /// `A[r, j] = a[r·ars + j·aks]`, `B` row-major (`ldb`), `C` row-major (`ldc`)
  /// and `init` the row `bias` if given, else `C` if `accumulate`, else 0.
  /// Register-blocked, dispatched to AVX-512 / AVX2 + FMA / baseline code at
  /// run time; each element sums over j in increasing order.
  static func gemmTile(
    rows: Int, cols: Int, k: Int, a: UnsafePointer<Self>, ars: Int, aks: Int, b: UnsafePointer<Self>, ldb: Int,
    bias: UnsafePointer<Self>?, accumulate: Bool, c: UnsafeMutablePointer<Self>, ldc: Int)

  // MARK: Noise (NSDEKernels, Philox4x32-10 + Box–Muller)

  /// `scale · Z(seed, step, path, j)` for `paths` paths from `firstPath` into
  /// `out` (`paths × dimension`, row stride `ld`); Float values are the
  /// rounded Double ones.
  static func normals(
    seed: UInt64, step: Int, firstPath: Int, paths: Int, dimension: Int, scale: Double,
    into out: UnsafeMutablePointer<Self>, ld: Int)
  /// The same with a scale per run of `group` paths: path `firstPath + p`
  /// takes `scales[p / group]`; each value equals `normals`' with that scale.
  static func normals(
    seed: UInt64, step: Int, firstPath: Int, paths: Int, dimension: Int, scales: UnsafePointer<Double>, group: Int,
    into out: UnsafeMutablePointer<Self>, ld: Int)

  // MARK: Roofline probe

  /// Independent accumulator lanes of `fmaProbe` (2 flops per lane and iteration).
  static var fmaProbeLanes: Int { get }
  /// `iterations` rounds of `acc ← acc·a + b` on `fmaProbeLanes` lanes with
  /// fused multiply–adds at the widest vector width the CPU offers; returns
  /// the accumulators' sum. Timed, it gives the core's peak FLOP rate.
  static func fmaProbe(iterations: Int, a: Self, b: Self) -> Self
}

/// The step size of each row of one batched step (docs/MODEL.md §7): `uniform`
/// for every row, or — per-point grids — `perGroup[r / groupRows]` for row r
/// (each data point's K consecutive paths share its own step size), so a
/// step with per-row sizes stays one kernel call over all rows.
@frozen
public struct RowStepSizes<Scalar: SDEScalar> {
  /// The step size of every row when `perGroup` is nil.
  public var uniform: Scalar
  /// One step size per run of `groupRows` rows, or nil.
  public var perGroup: UnsafePointer<Scalar>?
  /// Rows per entry of `perGroup` (≥ 1).
  public var groupRows: Int

  /// One step size `h` for every row.
  @inlinable
  public init(_ h: Scalar) {
    uniform = h
    perGroup = nil
    groupRows = 1
  }

  /// `perGroup[g]` for rows `g·groupRows ..< (g+1)·groupRows`, or `uniform` when `perGroup` is nil.
  @inlinable
  public init(uniform: Scalar, perGroup: UnsafePointer<Scalar>?, groupRows: Int) {
    self.uniform = uniform
    self.perGroup = perGroup
    self.groupRows = Swift.max(groupRows, 1)
  }

  /// Row r's step size.
  @inlinable
  public subscript(row r: Int) -> Scalar { perGroup.map { $0[r / groupRows] } ?? uniform }
}
