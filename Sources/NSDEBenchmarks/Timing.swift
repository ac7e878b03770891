import Foundation
import NeuralSDE

/// Wall-clock statistics of repeated runs, in milliseconds.
public struct TimingSummary: Sendable, Codable, CustomStringConvertible {
  public var median: Double
  public var min: Double
  public var max: Double
  public var repetitions: Int

  public var description: String {
    String(format: "%.3f ms (min %.3f, max %.3f, n = %d)", median, min, max, repetitions)
  }
}

/// Monotonic time in seconds.
@inline(__always)
public func monotonicSeconds() -> Double {
  var ts = timespec()
  clock_gettime(CLOCK_MONOTONIC, &ts)
  return Double(ts.tv_sec) + 1e-9 * Double(ts.tv_nsec)
}

/// Runs `body` `warmup` times untimed, then `repetitions` times timed.
public func measure(warmup: Int = 2, repetitions: Int = 10, _ body: () throws -> Void) rethrows -> TimingSummary {
  for _ in 0..<warmup { try body() }
  var times: [Double] = []
  times.reserveCapacity(repetitions)
  for _ in 0..<Swift.max(repetitions, 1) {
    let t0 = monotonicSeconds()
    try body()
    times.append((monotonicSeconds() - t0) * 1e3)
  }
  times.sort()
  let n = times.count
  let median = n % 2 == 1 ? times[n / 2] : 0.5 * (times[n / 2 - 1] + times[n / 2])
  return TimingSummary(median: median, min: times[0], max: times[n - 1], repetitions: n)
}

/// Runs several timed bodies interleaved (round-robin) so that machine noise
/// affects them alike; returns one summary per body. Use for ratios.
public func measureInterleaved(
  warmup: Int = 2, repetitions: Int = 10, _ bodies: [() throws -> Void]
) throws -> [TimingSummary] {
  for _ in 0..<warmup { for b in bodies { try b() } }
  var times = [[Double]](repeating: [], count: bodies.count)
  for _ in 0..<Swift.max(repetitions, 1) {
    for (i, b) in bodies.enumerated() {
      let t0 = monotonicSeconds()
      try b()
      times[i].append((monotonicSeconds() - t0) * 1e3)
    }
  }
  return times.map { t in
    let s = t.sorted()
    let n = s.count
    let median = n % 2 == 1 ? s[n / 2] : 0.5 * (s[n / 2 - 1] + s[n / 2])
    return TimingSummary(median: median, min: s[0], max: s[n - 1], repetitions: n)
  }
}
