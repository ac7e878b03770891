/// One network of a model bound to its slice of the model's parameter vector:
/// its name (the interchange prefix: `drift`, `diffusion`, `posterior`,
/// `decoder`), the MLP and the offset of its parameters. The model's list of
/// these (`NeuralSDEModel.networks`) is the one place the network ↔ slice
/// pairing is made; layout, groups, initialisation, passes and tangent slices
/// all read it.
///
/// The passes take no parameter pointer: `forward(input:time:workspace:)`
/// reads the model's current parameters, `vjp` accumulates into the network's
/// slice of a full-length gradient, `jvp` reads its slice of full-length tangents.
@dynamicMemberLookup
public final class BoundNetwork<Scalar: SDEScalar>: @unchecked Sendable {
  /// The interchange prefix of the network's parameters.
  public let name: String
  /// The network.
  public let mlp: MLP<Scalar>
  /// Offset of the network's first parameter in the model's parameter vector.
  public let offset: Int
  /// The model's parameters (the network reads its slice in place).
  let parameters: ParameterVector<Scalar>

  init(name: String, mlp: MLP<Scalar>, offset: Int, parameters: ParameterVector<Scalar>) {
    self.name = name
    self.mlp = mlp
    self.offset = offset
    self.parameters = parameters
  }

  /// The network's indices in the model's parameter vector.
  public var range: Range<Int> { offset..<(offset + mlp.parameterCount) }

  /// The MLP's properties (`parameterCount`, `inputs`, `outputs`, `architecture`, …).
  public subscript<T>(dynamicMember keyPath: KeyPath<MLP<Scalar>, T>) -> T { mlp[keyPath: keyPath] }

  /// The network's parameters, in place.
  package var theta: UnsafeMutablePointer<Scalar> { parameters.base + offset }

  /// A workspace for batches of up to `rows` rows (see `MLP.makeWorkspace`).
  public func makeWorkspace(rows: Int, slots: Int = 1, tapesOutput: Bool = true) -> MLPWorkspace<Scalar> {
    mlp.makeWorkspace(rows: rows, slots: slots, tapesOutput: tapesOutput)
  }

  /// A tangent workspace (see `MLP.makeTangentWorkspace`).
  public func makeTangentWorkspace(rows: Int, directions: Int) -> MLPTangentWorkspace<Scalar> {
    mlp.makeTangentWorkspace(rows: rows, directions: directions)
  }

  /// Bytes of a workspace (see `MLP.workspaceBytes`).
  public func workspaceBytes(rows: Int, slots: Int = 1, tapesOutput: Bool = true) -> Int? {
    mlp.workspaceBytes(rows: rows, slots: slots, tapesOutput: tapesOutput)
  }

  /// Bytes of a tangent workspace (see `MLP.tangentWorkspaceBytes`).
  public func tangentWorkspaceBytes(rows: Int, directions: Int) -> Int? {
    mlp.tangentWorkspaceBytes(rows: rows, directions: directions)
  }

  /// The forward pass with the model's current parameters, checked (see `MLP.forward`).
  public func forward(input: MatrixView<Scalar>, time: Scalar = 0, workspace: MLPWorkspace<Scalar>) throws {
    try mlp.forward(.init(start: theta, count: mlp.parameterCount), input: input, time: time, workspace: workspace)
  }

  /// The forward pass, unchecked (hot paths).
  package func forwardUnchecked(_ input: MatrixView<Scalar>, time: Scalar, workspace: MLPWorkspace<Scalar>) {
    mlp.forwardUnchecked(theta, input: input, time: time, workspace: workspace)
  }

  /// The VJP after `forwardUnchecked`; the parameter gradient is accumulated
  /// into this network's slice of `gradient` (a full-length model gradient;
  /// nil: the input gradient only).
  package func vjpUnchecked(
    workspace: MLPWorkspace<Scalar>, outputGradient: MatrixView<Scalar>, inputGradient: MatrixView<Scalar>?,
    gradient: UnsafeMutablePointer<Scalar>?, accumulateInputGradient: Bool = false
  ) {
    mlp.vjpUnchecked(
      theta, workspace: workspace, outputGradient: outputGradient, inputGradient: inputGradient,
      parameterGradient: gradient.map { $0 + offset }, accumulateInputGradient: accumulateInputGradient)
  }

  /// The JVP after `forwardUnchecked` for `directions` rows of full-length
  /// parameter tangents (`T × P`, this network reads its columns).
  package func jvpUnchecked(
    workspace: MLPWorkspace<Scalar>, inputTangent: MatrixView<Scalar>?, tangents: Matrix<Scalar>,
    output: MatrixView<Scalar>, tangentWorkspace: MLPTangentWorkspace<Scalar>
  ) {
    let slice = MatrixView(
      base: tangents.base + offset, rows: tangents.rows, cols: mlp.parameterCount, ld: tangents.cols)
    mlp.jvpUnchecked(
      theta, workspace: workspace, inputTangent: inputTangent, parameterTangent: slice, directions: tangents.rows,
      output: output, tangentWorkspace: tangentWorkspace)
  }
}
