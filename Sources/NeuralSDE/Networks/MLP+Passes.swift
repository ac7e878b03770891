// Forward pass, vector–Jacobian product and Jacobian–vector product of `MLP`.
//
// Shapes (M rows): input `M × in`, layer l output `M × w_l`, W_l `[w_l, in_l(+1)]`.
// With `MLPKernels.blas`, forward per layer: Z = A·W[:, :in]ᵀ (one GEMM), then
// `a = φ(z)`, `a' = φ'(z)` (one pass over memory); with `.fused`, row tiles
// run through all layers (MLP+Fused.swift).

extension MLP {
  // MARK: Checked public entry points

  /// Forward pass: `output = MLP([input, t])`, `M × outputs`.
  ///
  /// - Parameters:
  ///   - parameters: this network's `parameterCount` parameters.
  ///   - input: `M × inputs`, finite; it must stay alive and unchanged until the
  ///     VJP/JVP that use this forward pass are done (it is not copied).
  ///   - time: the time input (ignored without `timeInput`).
  ///   - workspace: from `makeWorkspace(rows:)` with capacity ≥ M.
  /// - Returns: a view of the output inside `workspace`.
  /// - Throws: `shapeMismatch` / `nonFinite` naming the problem.
  @discardableResult
  public func forward(
    _ parameters: UnsafeBufferPointer<Scalar>, input: MatrixView<Scalar>, time: Scalar = 0,
    workspace: MLPWorkspace<Scalar>
  ) throws -> MatrixView<Scalar> {
    try checkParameters(parameters.count)
    try checkInput(input, workspace: workspace)
    try checkFinite(parameters.baseAddress!, parameters.count, "MLP parameters")
    for r in 0..<input.rows {
      try checkFinite(input.base + r * input.ld, input.cols, "MLP input row \(r)")
    }
    guard time.isFinite else { throw NSDEError.nonFinite("MLP time input is \(time)") }
    forwardUnchecked(parameters.baseAddress!, input: input, time: time, workspace: workspace)
    return workspace.output
  }

  /// Vector–Jacobian product after `forward`.
  ///
  /// - Parameters:
  ///   - parameters: θ, `parameterCount` values (those of the forward pass).
  ///   - workspace: the workspace of the forward pass (its slot selects the pass).
  ///   - outputGradient: `∂L/∂output`, `M × outputs` (M as in the forward pass).
  ///   - inputGradient: if given, receives `∂L/∂input`, `M × inputs` (overwritten).
  ///   - parameterGradient: if given, `∂L/∂θ` is *added* to it: `groups × parameterCount`
  ///     values, group g summing the rows `g·M/groups ..< (g+1)·M/groups`.
  ///   - groups: number of equal row groups (must divide M); 1 sums all rows.
  public func vjp(
    _ parameters: UnsafeBufferPointer<Scalar>, workspace: MLPWorkspace<Scalar>,
    outputGradient: MatrixView<Scalar>, inputGradient: MatrixView<Scalar>? = nil,
    parameterGradient: UnsafeMutableBufferPointer<Scalar>? = nil, groups: Int = 1
  ) throws {
    try checkParameters(parameters.count)
    let m = workspace.rows
    guard workspace.input != nil else { throw NSDEError.invalidArgument("vjp called before forward") }
    guard outputGradient.rows == m, outputGradient.cols == outputs else {
      throw NSDEError.shapeMismatch(
        "output gradient is \(outputGradient.shapeDescription) but the forward pass produced \(m)×\(outputs)")
    }
    if let g = inputGradient, g.rows != m || g.cols != inputs {
      throw NSDEError.shapeMismatch("input gradient is \(g.shapeDescription) but the input was \(m)×\(inputs)")
    }
    guard groups >= 1, m % groups == 0 else {
      throw NSDEError.invalidArgument("groups = \(groups) must be ≥ 1 and divide the \(m) rows")
    }
    if let pg = parameterGradient, pg.count != groups * parameterCount {
      throw NSDEError.shapeMismatch(
        "parameter gradient has \(pg.count) elements but \(groups) group(s) × \(parameterCount) parameters are needed")
    }
    vjpUnchecked(
      parameters.baseAddress!, workspace: workspace, outputGradient: outputGradient,
      inputGradient: inputGradient, parameterGradient: parameterGradient?.baseAddress, groups: groups)
  }

  /// Jacobian–vector product after `forward`, for `T` tangent directions at once.
  ///
  /// - Parameters:
  ///   - parameters: θ, `parameterCount` values (those of the forward pass).
  ///   - workspace: the workspace of the forward pass (its slot selects the pass).
  ///   - inputTangent: `(M·T) × inputs`, row `m·T + τ` the τ-th input direction of row m; nil for 0.
  ///   - parameterTangent: `T × parameterCount`, row τ the τ-th parameter direction; nil for 0.
  ///   - directions: T, the tangent directions per row (≥ 1).
  ///   - output: `(M·T) × outputs`, overwritten with the output tangents.
  ///   - tangentWorkspace: scratch for `M·T` rows (`makeTangentWorkspace`).
  public func jvp(
    _ parameters: UnsafeBufferPointer<Scalar>, workspace: MLPWorkspace<Scalar>,
    inputTangent: MatrixView<Scalar>?, parameterTangent: MatrixView<Scalar>?, directions: Int,
    output: MatrixView<Scalar>, tangentWorkspace: MLPTangentWorkspace<Scalar>
  ) throws {
    try checkParameters(parameters.count)
    let m = workspace.rows
    guard workspace.input != nil else { throw NSDEError.invalidArgument("jvp called before forward") }
    guard directions >= 1 else { throw NSDEError.invalidArgument("directions = \(directions) must be ≥ 1") }
    if let u = inputTangent, u.rows != m * directions || u.cols != inputs || !u.isContiguous {
      throw NSDEError.shapeMismatch(
        "input tangent is \(u.shapeDescription) but \(m) rows × \(directions) directions × \(inputs) inputs need a contiguous \(m * directions)×\(inputs)"
      )
    }
    if let p = parameterTangent, p.rows != directions || p.cols != parameterCount {
      throw NSDEError.shapeMismatch(
        "parameter tangent is \(p.shapeDescription) but \(directions)×\(parameterCount) is needed")
    }
    guard output.rows == m * directions, output.cols == outputs, output.isContiguous else {
      throw NSDEError.shapeMismatch(
        "JVP output is \(output.shapeDescription) but a contiguous \(m * directions)×\(outputs) is needed")
    }
    guard tangentWorkspace.rows >= m, tangentWorkspace.directions == directions else {
      throw NSDEError.shapeMismatch(
        "tangent workspace is for \(tangentWorkspace.rows) rows × \(tangentWorkspace.directions) directions, need \(m) × \(directions)"
      )
    }
    jvpUnchecked(
      parameters.baseAddress!, workspace: workspace, inputTangent: inputTangent,
      parameterTangent: parameterTangent, directions: directions, output: output,
      tangentWorkspace: tangentWorkspace)
  }

  /// The input Jacobian `∂output/∂input` of every row after `forward`:
  /// an `M × (outputs·inputs)` matrix, row m holding the `outputs × inputs`
  /// Jacobian of row m in row-major order.
  public func inputJacobian(
    _ parameters: UnsafeBufferPointer<Scalar>, workspace: MLPWorkspace<Scalar>
  ) throws -> Matrix<Scalar> {
    let m = workspace.rows
    let n = inputs
    let tangents = Matrix<Scalar>(rows: m * n, cols: n)
    for r in 0..<m { for i in 0..<n { tangents[r * n + i, i] = 1 } }
    let out = Matrix<Scalar>(rows: m * n, cols: outputs)
    try jvp(
      parameters, workspace: workspace, inputTangent: tangents.view, parameterTangent: nil,
      directions: n, output: out.view,
      tangentWorkspace: makeTangentWorkspace(rows: m, directions: n))
    return Matrix(rows: m, cols: outputs * n) { r, c in out[r * n + c % n, c / n] }
  }

  func checkInput(_ input: MatrixView<Scalar>, workspace: MLPWorkspace<Scalar>) throws {
    guard input.cols == inputs else {
      throw NSDEError.shapeMismatch(
        "input is \(input.shapeDescription) but the MLP expects \(inputs) input column(s)")
    }
    guard input.rows <= workspace.capacity else {
      throw NSDEError.shapeMismatch(
        "input has \(input.rows) rows but the workspace holds at most \(workspace.capacity)")
    }
  }

  func checkFinite(_ p: UnsafePointer<Scalar>, _ n: Int, _ what: String) throws {
    let bad = Scalar.countNonFinite(n: n, x: p)
    if bad > 0 { throw NSDEError.nonFinite("\(what) has \(bad) NaN/Inf value(s)") }
  }

  /// Whether `count` values are all zero.
  @inline(__always)
  static func isZero(_ p: UnsafePointer<Scalar>, count: Int) -> Bool {
    for i in 0..<count where p[i] != 0 { return false }
    return true
  }

  // MARK: Unchecked passes (hot paths; callers validated shapes once)

  /// Forward pass without checks. See `forward`.
  @usableFromInline
  @_specialize(where Scalar == Double)
  @_specialize(where Scalar == Float)
  package func forwardUnchecked(
    _ theta: UnsafePointer<Scalar>, input: MatrixView<Scalar>, time: Scalar,
    workspace ws: MLPWorkspace<Scalar>
  ) {
    let m = input.rows
    ws.input = input
    ws.time = time
    ws.rows = m
    if kernels == .fused {
      forwardFused(theta, input: input, time: time, workspace: ws)
      return
    }
    var a = UnsafePointer(input.base)
    var lda = input.ld
    for (k, l) in layers.enumerated() {
      let z = ws.activation(k)
      let w = theta + l.weightOffset
      // z ← [c + t·W[:, in]] broadcast over rows, then z += a·W[:, :in]ᵀ (β = 1 avoids
      // OpenBLAS's separate pass that zeroes C for β = 0), then z ← φ(z) in place.
      let bias = effectiveBias(l, theta, time: time, scratch: ws.vector.base)
      if m > 0 {
        Scalar.broadcastRows(rows: m, cols: l.outputs, row: bias, out: z)
        if l.inputs > 0 {
          Scalar.gemm(
            transA: false, transB: true, m: m, n: l.outputs, k: l.inputs, alpha: 1, a: a, lda: lda,
            b: w, ldb: l.weightStride, beta: 1, c: z, ldc: l.outputs)
        }
      }
      let da: UnsafeMutablePointer<Scalar>? = l.activation.storesDerivative ? ws.derivative(k) : nil
      Scalar.biasActivation(l.activation.kernelKind, rows: m, cols: l.outputs, z: z, bias: nil, da: da)
      a = UnsafePointer(z)
      lda = l.outputs
    }
  }

  /// VJP without checks. See `vjp`. `parameterGradient` (if any) holds `groups × P`.
  @usableFromInline
  @_specialize(where Scalar == Double)
  @_specialize(where Scalar == Float)
  package func vjpUnchecked(
    _ theta: UnsafePointer<Scalar>, workspace ws: MLPWorkspace<Scalar>,
    outputGradient: MatrixView<Scalar>, inputGradient: MatrixView<Scalar>?,
    parameterGradient: UnsafeMutablePointer<Scalar>?, groups: Int = 1, accumulateInputGradient: Bool = false
  ) {
    let m = ws.rows
    guard m > 0, let input = ws.input else {
      if let g = inputGradient, !accumulateInputGradient {
        for r in 0..<g.rows { (g.base + r * g.ld).setZero(count: g.cols) }
      }
      return
    }
    if kernels == .fused && groups == 1 {
      vjpFused(
        theta, workspace: ws, input: input, outputGradient: outputGradient, inputGradient: inputGradient,
        parameterGradient: parameterGradient, accumulateInputGradient: accumulateInputGradient)
      return
    }
    // g: gradient w.r.t. the current layer's output (rows × w_l, stride ldg).
    var g = UnsafePointer(outputGradient.base)
    var ldg = outputGradient.ld
    var useA = true
    let rowsPerGroup = m / groups
    for k in stride(from: layers.count - 1, through: 0, by: -1) {
      let l = layers[k]
      let w = theta + l.weightOffset
      let (gz, ldgz) = scaledOutputGradient(k, rows: m, from: 0, g: g, ldg: ldg, workspace: ws, useA: &useA)
      let (a, lda) = layerInput(k, from: 0, input: input, workspace: ws)
      if let pg = parameterGradient {
        let colsum = ws.vector.base + ws.vector.cols
        for grp in 0..<groups {
          let r0 = grp * rowsPerGroup
          let base = pg + grp * parameterCount
          // dW[:, :in] += gzᵀ · a
          if l.inputs > 0 {
            Scalar.gemm(
              transA: true, transB: false, m: l.outputs, n: l.inputs, k: rowsPerGroup, alpha: 1,
              a: gz + r0 * ldgz, lda: ldgz, b: a + r0 * lda, ldb: lda, beta: 1,
              c: base + l.weightOffset, ldc: l.weightStride)
          }
          // column sums of gz → bias (and time column, scaled by t)
          Scalar.gemv(
            trans: true, m: rowsPerGroup, n: l.outputs, alpha: 1, a: gz + r0 * ldgz, lda: ldgz,
            x: ws.ones.base, incx: 1, beta: 0, y: colsum, incy: 1)
          Scalar.axpy(n: l.outputs, alpha: 1, x: colsum, incx: 1, y: base + l.biasOffset, incy: 1)
          if l.hasTime {
            Scalar.axpy(
              n: l.outputs, alpha: ws.time, x: colsum, incx: 1, y: base + l.weightOffset + l.inputs,
              incy: l.weightStride)
          }
        }
      }
      // Propagate: g_in = gz · W[:, :in]  (rows × in_l)
      if k > 0 {
        let dst = (useA ? ws.scratchA : ws.scratchB).base
        useA.toggle()
        Scalar.gemm(
          transA: false, transB: false, m: m, n: l.inputs, k: l.outputs, alpha: 1, a: gz, lda: ldgz,
          b: w, ldb: l.weightStride, beta: 0, c: dst, ldc: l.inputs)
        g = UnsafePointer(dst)
        ldg = l.inputs
      } else if let gin = inputGradient, l.inputs > 0 {
        Scalar.gemm(
          transA: false, transB: false, m: m, n: l.inputs, k: l.outputs, alpha: 1, a: gz, lda: ldgz,
          b: w, ldb: l.weightStride, beta: accumulateInputGradient ? 1 : 0, c: gin.base, ldc: gin.ld)
      }
    }
  }

  // MARK: Pieces shared by the CBLAS and the fused passes

  /// Layer l's bias with the time input as a rank-1 term: `c + t·W[:, in]`
  /// written to `scratch` (`w_l` values) for the layer with time, else `c` in place.
  @inline(__always)
  func effectiveBias(
    _ l: Layer, _ theta: UnsafePointer<Scalar>, time: Scalar, scratch: UnsafeMutablePointer<Scalar>
  ) -> UnsafePointer<Scalar> {
    let c = theta + l.biasOffset
    guard l.hasTime else { return c }
    let w = theta + l.weightOffset
    for j in 0..<l.outputs { scratch[j] = c[j] + time * w[j &* l.weightStride &+ l.inputs] }
    return UnsafePointer(scratch)
  }

  /// `gz = g ⊙ φ'(z_k)` for `rows` rows from row `r0` of layer k's stored
  /// activations: written contiguously (`rows × w_k`) to the next ping-pong
  /// scratch buffer, or `g` itself for an identity activation. Returns gz and its stride.
  @inline(__always)
  func scaledOutputGradient(
    _ k: Int, rows: Int, from r0: Int, g: UnsafePointer<Scalar>, ldg: Int, workspace ws: MLPWorkspace<Scalar>,
    useA: inout Bool
  ) -> (UnsafePointer<Scalar>, Int) {
    let l = layers[k]
    guard l.activation != .identity else { return (g, ldg) }
    let dst = (useA ? ws.scratchA : ws.scratchB).base
    useA.toggle()
    let a = UnsafePointer(ws.activation(k) + r0 * l.outputs)
    let d = UnsafePointer(ws.derivative(k) + (l.activation.storesDerivative ? r0 * l.outputs : 0))
    let kind = l.activation.kernelKind
    if ldg == l.outputs {
      Scalar.scaleByDerivative(kind, n: rows * l.outputs, out: dst, g: g, a: a, d: d)
    } else {
      for r in 0..<rows {
        let o = r * l.outputs
        Scalar.scaleByDerivative(kind, n: l.outputs, out: dst + o, g: g + r * ldg, a: a + o, d: d + o)
      }
    }
    return (UnsafePointer(dst), l.outputs)
  }

  /// Layer k's input from row `r0` on: the forward pass's input for k = 0, else
  /// the previous layer's stored activations. Returns the pointer and its stride.
  @inline(__always)
  func layerInput(
    _ k: Int, from r0: Int, input: MatrixView<Scalar>, workspace ws: MLPWorkspace<Scalar>
  ) -> (UnsafePointer<Scalar>, Int) {
    k == 0
      ? (UnsafePointer(input.base + r0 * input.ld), input.ld)
      : (UnsafePointer(ws.activation(k - 1) + r0 * layers[k - 1].outputs), layers[k - 1].outputs)
  }

  /// JVP without checks. See `jvp`.
  @usableFromInline
  @_specialize(where Scalar == Double)
  @_specialize(where Scalar == Float)
  func jvpUnchecked(
    _ theta: UnsafePointer<Scalar>, workspace ws: MLPWorkspace<Scalar>,
    inputTangent: MatrixView<Scalar>?, parameterTangent: MatrixView<Scalar>?, directions nt: Int,
    output: MatrixView<Scalar>, tangentWorkspace tws: MLPTangentWorkspace<Scalar>
  ) {
    let m = ws.rows
    guard m > 0, let input = ws.input else { return }
    let rowsT = m * nt
    // du: tangent of the current layer's input, rowsT × in_l (contiguous), or nil for 0.
    var du: UnsafePointer<Scalar>? = inputTangent.map { UnsafePointer($0.base) }
    var useA = true
    for (k, l) in layers.enumerated() {
      let last = k == layers.count - 1
      let dz: UnsafeMutablePointer<Scalar> = last ? output.base : (useA ? tws.bufferA : tws.bufferB).base
      useA.toggle()
      let w = theta + l.weightOffset
      if let du, l.inputs > 0 {
        Scalar.gemm(
          transA: false, transB: true, m: rowsT, n: l.outputs, k: l.inputs, alpha: 1, a: du, lda: l.inputs,
          b: w, ldb: l.weightStride, beta: 0, c: dz, ldc: l.outputs)
      } else {
        dz.setZero(count: rowsT * l.outputs)
      }
      if let pt = parameterTangent {
        let a: UnsafePointer<Scalar> = k == 0 ? UnsafePointer(input.base) : UnsafePointer(ws.activation(k - 1))
        let lda = k == 0 ? input.ld : layers[k - 1].outputs
        let db = tws.biasTangents.base
        for tau in 0..<nt {
          let dtheta = pt.base + tau * pt.ld
          let dbias = db + tau * l.outputs
          // Basis directions touch one layer: skip layers whose tangent slice is zero.
          let sliceCount = l.biasOffset + l.outputs - l.weightOffset
          if Self.isZero(dtheta + l.weightOffset, count: sliceCount) {
            dbias.setZero(count: l.outputs)
            continue
          }
          // rows (m, τ) of dz += a · dW_τ[:, :in]ᵀ
          if l.inputs > 0 {
            Scalar.gemm(
              transA: false, transB: true, m: m, n: l.outputs, k: l.inputs, alpha: 1, a: a, lda: lda,
              b: dtheta + l.weightOffset, ldb: l.weightStride, beta: 1, c: dz + tau * l.outputs,
              ldc: nt * l.outputs)
          }
          for j in 0..<l.outputs {
            var v = dtheta[l.biasOffset + j]
            if l.hasTime { v += ws.time * dtheta[l.weightOffset + j * l.weightStride + l.inputs] }
            dbias[j] = v
          }
        }
        // dz[(m,τ), :] += dbias_τ
        for r in 0..<m {
          let row = dz + r * nt * l.outputs
          Scalar.axpy(n: nt * l.outputs, alpha: 1, x: db, incx: 1, y: row, incy: 1)
        }
      }
      if l.activation != .identity {
        let a = UnsafePointer(ws.activation(k))
        let d = UnsafePointer(ws.derivative(k))
        let kind = l.activation.kernelKind
        if nt == 1 {
          Scalar.scaleByDerivative(kind, n: m * l.outputs, out: dz, g: dz, a: a, d: d)
        } else {
          for r in 0..<m {
            let o = r * l.outputs
            for tau in 0..<nt {
              let row = dz + (r * nt + tau) * l.outputs
              Scalar.scaleByDerivative(kind, n: l.outputs, out: row, g: row, a: a + o, d: d + o)
            }
          }
        }
      }
      du = UnsafePointer(dz)
    }
  }
}
