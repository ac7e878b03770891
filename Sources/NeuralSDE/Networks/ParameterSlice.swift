/// A named, contiguous slice of a flat parameter buffer.
///
/// Weight slices have shape `[out, in]` (PyTorch `nn.Linear` layout,
/// row-major), biases `[out]`.
public struct ParameterSlice: Sendable, Equatable, CustomStringConvertible {
  /// Interchange name, e.g. `drift.0.weight`.
  public var name: String
  /// Offset in elements from the start of the owning buffer.
  public var offset: Int
  /// Tensor shape; the slice holds `shape.reduce(1, *)` elements.
  public var shape: [Int]

  /// A slice named `name` of `shape` starting at `offset`.
  public init(name: String, offset: Int, shape: [Int]) {
    self.name = name
    self.offset = offset
    self.shape = shape
  }

  /// Number of elements.
  public var count: Int { shape.reduce(1, *) }
  /// The slice's indices in the flat vector.
  public var range: Range<Int> { offset..<(offset + count) }
  /// `name shape @offset`.
  public var description: String { "\(name) \(shape) @\(offset)" }

  /// The same slice moved by `delta` elements.
  public func shifted(by delta: Int) -> ParameterSlice {
    ParameterSlice(name: name, offset: offset + delta, shape: shape)
  }
}
