/// Another noise source seen from path `pathOffset` on: local path p reads the
/// base's path `pathOffset + p`. A process that owns paths `[a, b)` of a batch
/// draws exactly the increments a single process would (the counter-based
/// noise is a pure function of the global path index).
public struct ShiftedBrownianIncrements<Base: BrownianIncrements>: BrownianIncrements {
  /// The base's scalar type.
  public typealias Scalar = Base.Scalar
  /// The whole batch's noise.
  public let base: Base
  /// Global index of local path 0.
  public let pathOffset: Int

  /// `base` seen from path `pathOffset` on.
  public init(_ base: Base, pathOffset: Int) {
    self.base = base
    self.pathOffset = pathOffset
  }

  /// Noise dimension m.
  public var dimension: Int { base.dimension }

  /// The base's increments of paths `pathOffset + paths`.
  public func fill(step: Int, paths: Range<Int>, stepSize: Double, into out: UnsafeMutablePointer<Scalar>, ld: Int) {
    base.fill(
      step: step, paths: (pathOffset + paths.lowerBound)..<(pathOffset + paths.upperBound), stepSize: stepSize,
      into: out, ld: ld)
  }

  /// The base's grouped increments of paths `pathOffset + paths`.
  public func fill(
    step: Int, paths: Range<Int>, stepSizes: UnsafePointer<Double>, groupRows: Int,
    into out: UnsafeMutablePointer<Scalar>, ld: Int
  ) {
    base.fill(
      step: step, paths: (pathOffset + paths.lowerBound)..<(pathOffset + paths.upperBound), stepSizes: stepSizes,
      groupRows: groupRows, into: out, ld: ld)
  }

  /// Checks the base for `pathOffset + paths` paths.
  public func validate(steps: Int, paths: Int, dimension: Int) throws {
    try base.validate(steps: steps, paths: pathOffset + paths, dimension: dimension)
  }
}
