/// SplitMix64: a small, fast, seedable generator (Steele, Lea, Flood 2014).
///
/// Used for reproducible initialisation and toy data; the Brownian
/// increments use the counter-based generator instead.
public struct SplitMix64: RandomNumberGenerator, Sendable {
  /// The generator state (advanced by each `next()`).
  public private(set) var state: UInt64

  /// A generator starting from `seed`.
  public init(seed: UInt64) { state = seed }

  /// The next 64 random bits.
  public mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }

  /// A uniform value in [0, 1) with 53 random bits.
  public mutating func nextUnit() -> Double { Double(next() >> 11) * 0x1p-53 }

  /// A standard normal value (Box–Muller; for set-up code, not hot paths).
  public mutating func nextNormal() -> Double {
    let u1 = 1 - nextUnit()  // (0, 1]
    let u2 = nextUnit()
    return (-2 * Double.log(u1)).squareRoot() * Double.cos(2 * .pi * u2)
  }
}
