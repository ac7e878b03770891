/// All parameters of a model in one contiguous allocation, with named slices.
///
/// Optimizers, gradient checks and serialisation see one flat vector; the
/// networks read their slices in place (no copies).
public final class ParameterVector<Scalar: SDEScalar>: @unchecked Sendable {
  /// Number of parameters.
  public let count: Int
  /// The first element; `count` elements follow.
  public let base: UnsafeMutablePointer<Scalar>
  /// Named slices, in storage order, covering `0..<count`.
  public let slices: [ParameterSlice]

  /// A zero-filled vector with the given layout.
  /// - Throws: `invalidArgument` if the slices overlap, leave gaps, or repeat a name.
  public init(layout slices: [ParameterSlice]) throws {
    var next = 0
    var names = Set<String>()
    for s in slices {
      guard s.offset == next else {
        throw NSDEError.invalidArgument(
          "parameter slice \(s.name) starts at \(s.offset) but the previous slice ends at \(next)")
      }
      guard names.insert(s.name).inserted else {
        throw NSDEError.invalidArgument("parameter name \(s.name) appears twice")
      }
      next += s.count
    }
    self.count = next
    self.slices = slices
    base = .allocate(capacity: Swift.max(next, 1))
    base.setZero(count: Swift.max(next, 1))
  }

  deinit { base.deallocate() }

  /// The whole vector as a buffer.
  public var buffer: UnsafeMutableBufferPointer<Scalar> { .init(start: base, count: count) }

  /// The slice named `name`, or nil.
  public func slice(named name: String) -> ParameterSlice? { slices.first { $0.name == name } }

  /// The elements of slice `name`.
  /// - Throws: `invalidArgument` naming the slice if it does not exist.
  public func values(_ name: String) throws -> UnsafeMutableBufferPointer<Scalar> {
    guard let s = slice(named: name) else {
      throw NSDEError.invalidArgument(
        "no parameter named \(name); known: \(slices.map(\.name).joined(separator: ", "))")
    }
    return .init(start: base + s.offset, count: s.count)
  }

  /// The elements as an array (a copy).
  public var elements: [Scalar] { Array(buffer) }

  /// Overwrites all elements.
  /// - Throws: `shapeMismatch` if `values.count != count`.
  public func assign(_ values: [Scalar]) throws {
    guard values.count == count else {
      throw NSDEError.shapeMismatch("\(values.count) values given for a parameter vector of \(count)")
    }
    values.withUnsafeBufferPointer { base.copyElements(from: $0.baseAddress!, count: count) }
  }

  /// A deep copy with the same layout.
  public func copy() -> ParameterVector<Scalar> {
    let p = try! ParameterVector(layout: slices)
    p.base.copyElements(from: base, count: count)
    return p
  }
}
