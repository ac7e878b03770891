/// A multilayer perceptron batched over rows (one row per Monte Carlo path),
/// with analytic Jacobians.
///
/// The MLP itself holds no parameters: every pass reads them from a flat
/// buffer (`parameterCount` elements, layout `parameterLayout(prefix:)`:
/// `<prefix>.<k>.weight` `[out, in(+1)]` then `<prefix>.<k>.bias` `[out]` for
/// each layer k), so one allocation can hold a whole model.
///
/// Passes (M = rows, all buffers row-major):
/// - `forward`: input `M × inputs` (+ time `t`) → output `M × outputs`; the
///   workspace keeps what the backward passes need.
/// - `vjp`: `∂L/∂out` (`M × outputs`) → `∂L/∂in` (`M × inputs`) and `∂L/∂θ`
///   summed over rows (optionally per group of rows).
/// - `jvp`: input tangents `(M·T) × inputs` (row `m·T + τ` is direction τ of
///   row m) and/or parameter tangents `T × P` → output tangents
///   `(M·T) × outputs`, all T directions in the same GEMMs.
public final class MLP<Scalar: SDEScalar>: @unchecked Sendable {
  /// The layer widths, activations and inputs.
  public let architecture: MLPArchitecture
  /// Number of parameters (weights and biases of all layers).
  public let parameterCount: Int
  package let layers: [Layer]

  @usableFromInline
  package struct Layer: Sendable {
    /// Fan-in from the previous layer (excluding the time column).
    package let inputs: Int
    /// Row stride of W: `inputs + 1` for the first layer with time input.
    package let weightStride: Int
    package let outputs: Int
    package let weightOffset: Int
    package let biasOffset: Int
    package let activation: Activation
    package let hasTime: Bool
  }

  /// - Throws: `invalidArgument` for empty or non-positive widths.
  public init(_ architecture: MLPArchitecture) throws {
    Threading.ensureConfigured()
    try architecture.validate()
    self.architecture = architecture
    // Offsets from the architecture's layout (weight then bias of each layer).
    let layout = architecture.parameterLayout(prefix: "")
    let shapes = architecture.layerShapes
    layers = shapes.enumerated().map { k, l in
      Layer(
        inputs: l.inputs, weightStride: l.weightStride, outputs: l.outputs, weightOffset: layout[2 * k].offset,
        biasOffset: layout[2 * k + 1].offset,
        activation: k == shapes.count - 1 ? architecture.outputActivation : architecture.hiddenActivation,
        hasTime: k == 0 && architecture.timeInput)
    }
    parameterCount = layout.last.map { $0.offset + $0.count } ?? 0
    kernels = MLPKernels.preferred(for: architecture)
    tileRows = Self.tileRows(for: architecture)
  }

  /// Input columns (without the time).
  public var inputs: Int { architecture.inputs }
  /// Output columns.
  public var outputs: Int { architecture.outputs }
  package var maxWidth: Int { layers.map(\.outputs).max() ?? 0 }
  /// Whether any layer stores its activation derivative.
  package var storesDerivatives: Bool { layers.contains { $0.activation.storesDerivative } }
  /// Values of the fused kernels' packed weights (`Σ_l in_l·w_l`).
  package var packedCount: Int { layers.map { $0.inputs * $0.outputs }.reduce(0, +) }

  /// Which kernels run this network's forward and VJP passes (see `MLPKernels`).
  /// Chosen at construction by `MLPKernels.preferred(for:)`; set it before
  /// passes start, not while they run.
  public var kernels: MLPKernels
  /// Rows per tile of the fused passes.
  package let tileRows: Int

  /// Named slices of this network's parameters, offsets relative to its first parameter.
  public func parameterLayout(prefix: String) -> [ParameterSlice] { architecture.parameterLayout(prefix: prefix) }

  /// PyTorch's default `nn.Linear` initialisation: every weight and bias of a
  /// layer uniform in `±1/√fan_in` (fan-in counts the time column), drawn in
  /// storage order from `SplitMix64(seed)`.
  public func initialize(_ parameters: UnsafeMutableBufferPointer<Scalar>, seed: UInt64) throws {
    try checkParameters(parameters.count)
    var rng = SplitMix64(seed: seed)
    for l in layers {
      let bound = 1 / Double(l.weightStride).squareRoot()
      for i in l.weightOffset..<(l.biasOffset + l.outputs) {
        parameters[i] = Scalar((2 * rng.nextUnit() - 1) * bound)
      }
    }
  }

  /// A workspace for batches of up to `rows` rows, keeping the activations
  /// of `slots` forward passes. `tapesOutput: false` keeps one output for all
  /// slots (the last pass's): for a linear output layer read right after each
  /// pass and never by a backward pass (its VJP does not read it), e.g. the
  /// drift on a backprop tape.
  public func makeWorkspace(rows: Int, slots: Int = 1, tapesOutput: Bool = true) -> MLPWorkspace<Scalar> {
    MLPWorkspace(self, rows: rows, slots: slots, tapesOutput: tapesOutput)
  }

  /// Whether `tapesOutput: false` applies: several slots and a linear output layer.
  func keepsOneOutput(slots: Int, tapesOutput: Bool) -> Bool {
    !tapesOutput && slots > 1 && architecture.outputActivation == .identity
  }

  /// Bytes of `makeWorkspace(rows:slots:tapesOutput:)`, computed without allocating (nil on overflow).
  public func workspaceBytes(rows: Int, slots: Int = 1, tapesOutput: Bool = true) -> Int? {
    let oneOutput = keepsOneOutput(slots: slots, tapesOutput: tapesOutput)
    let stored = layers.dropLast(oneOutput ? 1 : 0).map { ($0.activation.storesDerivative ? 2 : 1) * $0.outputs }
      .reduce(0, +)
    let width = Swift.max(maxWidth, inputs)
    return SizeArithmetic.sum([
      SizeArithmetic.product(slots, rows, stored, MemoryLayout<Scalar>.stride),
      oneOutput ? SizeArithmetic.product(rows, outputs, MemoryLayout<Scalar>.stride) : 0,
      SizeArithmetic.product(2 * rows + 2, width, MemoryLayout<Scalar>.stride),
      SizeArithmetic.product(rows, MemoryLayout<Scalar>.stride),
      SizeArithmetic.product(packedCount, MemoryLayout<Scalar>.stride),
      slots > 1 && storesDerivatives
        ? SizeArithmetic.product(Swift.min(rows, tileRows), maxWidth, MemoryLayout<Scalar>.stride) : 0,
    ])
  }

  /// Bytes of `makeTangentWorkspace(rows:directions:)` (nil on overflow).
  public func tangentWorkspaceBytes(rows: Int, directions: Int) -> Int? {
    SizeArithmetic.product(3, rows, directions, Swift.max(maxWidth, 1), MemoryLayout<Scalar>.stride)
  }

  /// A workspace for JVPs of up to `rows` rows × `directions` tangent directions.
  public func makeTangentWorkspace(rows: Int, directions: Int) -> MLPTangentWorkspace<Scalar> {
    MLPTangentWorkspace(self, rows: rows, directions: directions)
  }

  func checkParameters(_ count: Int) throws {
    guard count == parameterCount else {
      throw NSDEError.shapeMismatch(
        "parameter buffer has \(count) elements but the MLP \(architecture.inputs)\(architecture.timeInput ? "+t" : "") → \(architecture.widths.map(String.init).joined(separator: " → ")) has \(parameterCount) parameters"
      )
    }
  }
}

/// Workspace of one MLP for batches of up to `capacity` rows: the
/// activations (and, where needed, activation derivatives) of forward passes
/// — what the VJP/JVP need — and scratch buffers. Not thread-safe: use one
/// per thread.
///
/// With `slots > 1` it keeps the activations of that many forward passes
/// (e.g. one per solver step, for backpropagation through the solver): select
/// the slot before a forward pass and again before the VJP that uses it.
public final class MLPWorkspace<Scalar: SDEScalar>: @unchecked Sendable {
  /// The most rows a forward pass may have.
  public let capacity: Int
  /// Forward passes kept (one per solver step for backprop).
  public let slots: Int
  /// The slot the next forward pass writes and the next VJP/JVP reads.
  public var slot: Int = 0 {
    willSet { precondition(newValue >= 0 && newValue < slots, "slot \(newValue) outside 0..<\(slots)") }
  }
  /// `a_l` per layer, `slots × capacity × width_l` (the last one is the
  /// output; `capacity × width` for all slots when `tapesOutput` is false).
  let activations: [Matrix<Scalar>]
  /// Whether every slot keeps its own output (see `MLP.makeWorkspace`).
  let tapesOutput: Bool
  /// `φ'(z_l)` per layer, only where it cannot be recomputed from `a_l`
  /// (empty for identity, tanh and softplus, whose derivatives are recomputed from `a_l`).
  let derivatives: [Matrix<Scalar>]
  let widths: [Int]
  /// Two `capacity × maxWidth` ping-pong buffers for backward passes.
  let scratchA: Matrix<Scalar>
  let scratchB: Matrix<Scalar>
  /// `maxWidth` scalars: effective bias, column sums.
  let vector: Matrix<Scalar>
  let ones: Matrix<Scalar>
  /// The fused kernels' packed weights: `W_lᵀ[:in, :]` (`in_l × w_l`,
  /// row-major) of every layer, one after another.
  let packed: Matrix<Scalar>
  /// The parameters `packed` holds, while a solve keeps them packed
  /// (`MLP.pack`); nil otherwise, and every fused forward packs first.
  var packedTheta: UnsafePointer<Scalar>?
  /// With several slots (a tape), the fused forward computes a tile's
  /// activation derivatives here before streaming them to the tape
  /// (`min(capacity, tileRows) × maxWidth`, empty if no layer stores them).
  let derivativeScratch: Matrix<Scalar>
  /// Set by a solve that only needs the states (a checkpointing pass): the
  /// fused forward then keeps a tape slot's hidden activations in its scratch
  /// and writes only the output (no derivatives) to the slot.
  package var discardsActivations = false
  /// Per slot: the input of its forward pass (not owned), its time and rows.
  var inputs: [MatrixView<Scalar>?]
  var times: [Scalar]
  var rowCounts: [Int]

  init(_ mlp: MLP<Scalar>, rows capacity: Int, slots: Int = 1, tapesOutput: Bool = true) {
    precondition(slots >= 1, "an MLP workspace needs at least one slot")
    self.capacity = capacity
    self.slots = slots
    widths = mlp.layers.map(\.outputs)
    let oneOutput = mlp.keepsOneOutput(slots: slots, tapesOutput: tapesOutput)
    self.tapesOutput = !oneOutput
    let last = mlp.layers.count - 1
    activations = mlp.layers.enumerated().map { k, l in
      Matrix(rows: (oneOutput && k == last ? 1 : slots) * capacity, cols: l.outputs)
    }
    derivatives = mlp.layers.map {
      Matrix(rows: $0.activation.storesDerivative ? slots * capacity : 0, cols: $0.outputs)
    }
    let width = Swift.max(mlp.maxWidth, mlp.inputs)
    scratchA = Matrix(rows: capacity, cols: width)
    scratchB = Matrix(rows: capacity, cols: width)
    vector = Matrix(rows: 2, cols: width)
    ones = Matrix(rows: 1, cols: capacity)
    ones.fill(1)
    packed = Matrix(rows: 1, cols: mlp.packedCount)
    derivativeScratch = Matrix(
      rows: slots > 1 && mlp.storesDerivatives ? Swift.min(capacity, mlp.tileRows) : 0, cols: mlp.maxWidth)
    inputs = Array(repeating: nil, count: slots)
    times = Array(repeating: 0, count: slots)
    rowCounts = Array(repeating: 0, count: slots)
  }

  /// Bytes held by this workspace (what `MLP.workspaceBytes` estimates).
  var bytes: Int {
    let elements =
      activations.map(\.count).reduce(0, +) + derivatives.map(\.count).reduce(0, +) + scratchA.count
      + scratchB.count + vector.count + ones.count + packed.count + derivativeScratch.count
    return elements * MemoryLayout<Scalar>.stride
  }

  var input: MatrixView<Scalar>? {
    get { inputs[slot] }
    set { inputs[slot] = newValue }
  }
  var time: Scalar {
    get { times[slot] }
    set { times[slot] = newValue }
  }
  var rows: Int {
    get { rowCounts[slot] }
    set { rowCounts[slot] = newValue }
  }

  /// `a_k` of the current slot (`rows × width_k`, contiguous; the output is
  /// shared by all slots when `tapesOutput` is false).
  @inline(__always)
  func activation(_ k: Int) -> UnsafeMutablePointer<Scalar> {
    activations[k].rows == capacity ? activations[k].base : activations[k].base + slot * capacity * widths[k]
  }
  /// `φ'(z_k)` of the current slot (only for layers that store it).
  @inline(__always)
  func derivative(_ k: Int) -> UnsafeMutablePointer<Scalar> {
    derivatives[k].rows == 0 ? derivatives[k].base : derivatives[k].base + slot * capacity * widths[k]
  }

  /// The output of the current slot's forward pass, `rows × outputs`.
  public var output: MatrixView<Scalar> {
    let k = activations.count - 1
    return MatrixView(base: activation(k), rows: rows, cols: widths[k])
  }
}

/// Scratch for `MLP.jvp`: two `(rows·directions) × maxWidth` buffers and a
/// `directions × maxWidth` bias-tangent buffer.
public final class MLPTangentWorkspace<Scalar: SDEScalar>: @unchecked Sendable {
  /// The most rows a JVP may have.
  public let rows: Int
  /// Tangent directions per row.
  public let directions: Int
  let bufferA: Matrix<Scalar>
  let bufferB: Matrix<Scalar>
  let biasTangents: Matrix<Scalar>

  init(_ mlp: MLP<Scalar>, rows: Int, directions: Int) {
    self.rows = rows
    self.directions = directions
    bufferA = Matrix(rows: rows * directions, cols: mlp.maxWidth)
    bufferB = Matrix(rows: rows * directions, cols: mlp.maxWidth)
    biasTangents = Matrix(rows: directions, cols: mlp.maxWidth)
  }
}
