/// Seeds derived from a seed and counters: the one hash the library uses
/// for independent streams (a training step's noise, an epoch's shuffle, an
/// evaluation solve's noise, the null's draws).
public enum SeedHash {
  /// A well-mixed 64-bit value of three inputs (SplitMix64's finaliser over a
  /// combination), for deriving independent seeds from a seed and counters.
  public static func mix(_ a: UInt64, _ b: UInt64, _ c: UInt64) -> UInt64 {
    var g = SplitMix64(seed: a ^ 0xA076_1D64_78BD_642F)
    let x = g.next() ^ b
    var g2 = SplitMix64(seed: x &* 0xE703_7ED1_A0B4_28DB)
    let y = g2.next() ^ c
    var g3 = SplitMix64(seed: y)
    return g3.next()
  }
}
