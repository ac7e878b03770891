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

/// The first way a set of named tensors fails to hold a parameter layout:
/// checked slice by slice in layout order (present, of the slice's shape,
/// finite), then for a tensor no slice names (the first in name order). Tensor
/// names with one of `ignoringPrefixes` (e.g. optimiser state) are skipped.
/// Each reader words the problem in its own error (`loadParameters`,
/// `Checkpoint.Info`).
public enum ParameterTensorProblem: Sendable, Equatable {
  /// No tensor of the slice's name.
  case missing(ParameterSlice)
  /// The tensor of the slice's name has another shape.
  case shape(ParameterSlice, found: [Int])
  /// The tensor of the slice's name holds NaN or ±Inf.
  case nonFinite(ParameterSlice)
  /// A tensor that no slice names.
  case unknown(String)

  /// The first problem of `tensors` against `layout`, nil if there is none.
  public static func first(
    in tensors: [(name: String, tensor: StoredTensor)], layout: [ParameterSlice], ignoringPrefixes: [String]
  ) -> ParameterTensorProblem? {
    var byName: [String: StoredTensor] = [:]
    for (n, t) in tensors where !ignoringPrefixes.contains(where: { n.hasPrefix($0) }) { byName[n] = t }
    for s in layout {
      guard let t = byName[s.name] else { return .missing(s) }
      guard t.shape == s.shape else { return .shape(s, found: t.shape) }
      guard t.values.allSatisfy(\.isFinite) else { return .nonFinite(s) }
    }
    let known = Set(layout.map(\.name))
    return byName.keys.sorted().first { !known.contains($0) }.map { .unknown($0) }
  }
}
