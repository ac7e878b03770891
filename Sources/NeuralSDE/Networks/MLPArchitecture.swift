/// The shape of a multilayer perceptron.
///
/// Linear layers `z_l = W_l a_{l−1} + c_l`, `a_l = φ_l(z_l)`; hidden layers use
/// `hiddenActivation`, the last one `outputActivation`. With `timeInput`, the
/// input is `[x, t]`: the time is the *last* input column of the first layer
/// (`W_0` is `[width, inputs + 1]`), computed as a rank-1 term `t·W_0[:, inputs]`
/// added to the bias, so no time column is ever materialised.
public struct MLPArchitecture: Sendable, Equatable, Codable {
  /// Input width, not counting the time input.
  public var inputs: Int
  /// Whether time is an extra (last) input.
  public var timeInput: Bool
  /// Output widths of the linear layers; the last is the output dimension.
  public var widths: [Int]
  /// Activation after every hidden layer.
  public var hiddenActivation: Activation
  /// Activation after the last layer (identity: linear output).
  public var outputActivation: Activation

  /// An architecture: `inputs` columns (plus the time if `timeInput`), then layers of `widths`.
  public init(
    inputs: Int, timeInput: Bool, widths: [Int], hiddenActivation: Activation = .tanh,
    outputActivation: Activation = .identity
  ) {
    self.inputs = inputs
    self.timeInput = timeInput
    self.widths = widths
    self.hiddenActivation = hiddenActivation
    self.outputActivation = outputActivation
  }

  /// The largest input or layer width a network may have (2²⁰).
  public static let maximumWidth = 1 << 20
  /// The most linear layers a network may have.
  public static let maximumLayers = 64

  /// Output width (the last layer's width).
  public var outputs: Int { widths.last ?? inputs }

  /// Each linear layer's fan-in (without the time column), row stride of its
  /// weight (`inputs + 1` for the first layer with a time input) and width.
  public var layerShapes: [(inputs: Int, weightStride: Int, outputs: Int)] {
    var fanIn = inputs
    return widths.enumerated().map { k, width in
      defer { fanIn = width }
      return (fanIn, fanIn + (k == 0 && timeInput ? 1 : 0), width)
    }
  }

  /// Named slices of the parameters, offsets from the network's first one:
  /// `<prefix>.<k>.weight` `[out, stride]` then `<prefix>.<k>.bias` `[out]`
  /// for each layer k (call on a validated architecture: sizes are not overflow-checked).
  public func parameterLayout(prefix: String) -> [ParameterSlice] {
    var offset = 0
    return layerShapes.enumerated().flatMap { k, l in
      defer { offset += l.outputs * (l.weightStride + 1) }
      return [
        ParameterSlice(name: "\(prefix).\(k).weight", offset: offset, shape: [l.outputs, l.weightStride]),
        ParameterSlice(name: "\(prefix).\(k).bias", offset: offset + l.outputs * l.weightStride, shape: [l.outputs]),
      ]
    }
  }

  /// Checks that all widths are positive and within `maximumWidth`, with 1…`maximumLayers` layers.
  public func validate() throws {
    let w = Self.maximumWidth
    guard (0...w).contains(inputs), (1...Self.maximumLayers).contains(widths.count),
      widths.allSatisfy({ (1...w).contains($0) })
    else {
      throw NSDEError.invalidArgument(
        "MLP needs 0…\(w) inputs and 1…\(Self.maximumLayers) layers of width 1…\(w), got inputs = \(inputs), widths = \(widths)"
      )
    }
    guard inputs + (timeInput ? 1 : 0) > 0 else {
      throw NSDEError.invalidArgument("MLP has no inputs (inputs = 0 and no time input)")
    }
  }

  enum CodingKeys: String, CodingKey {
    case inputs, timeInput, widths, hiddenActivation, outputActivation
  }

  /// Decodes an architecture and checks it field by field (`validate()`'s
  /// ranges); an error names the field (`widths[0]`) and the range.
  public init(from decoder: any Decoder) throws {
    let c = try decoder.container(keyedBy: CodingKeys.self)
    let w = Self.maximumWidth
    inputs = try StrictDecoding.integer(c, .inputs, in: 0...w)
    timeInput = try c.decode(Bool.self, forKey: .timeInput)
    var list = try c.nestedUnkeyedContainer(forKey: .widths)
    var widths: [Int] = []
    while !list.isAtEnd {
      guard widths.count < Self.maximumLayers else {
        throw StrictDecoding.invalid(
          c.codingPath + [CodingKeys.widths], "more than \(Self.maximumLayers) layers")
      }
      let path = list.codingPath
      let index = list.currentIndex
      let v = try list.decode(Int.self)
      guard (1...w).contains(v) else {
        throw StrictDecoding.invalid(path + [IndexKey(index)], "\(v) is out of range 1…\(w)")
      }
      widths.append(v)
    }
    guard !widths.isEmpty else {
      throw StrictDecoding.invalid(c.codingPath + [CodingKeys.widths], "a network needs at least one layer")
    }
    self.widths = widths
    hiddenActivation = try c.decode(Activation.self, forKey: .hiddenActivation)
    outputActivation = try c.decode(Activation.self, forKey: .outputActivation)
    guard inputs + (timeInput ? 1 : 0) > 0 else {
      throw StrictDecoding.invalid(c.codingPath, "the network has no inputs (inputs = 0 and no time input)")
    }
  }
}
