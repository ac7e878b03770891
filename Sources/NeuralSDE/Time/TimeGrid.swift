/// A time grid `t_0 < t_1 < … < t_N` (uniform on [0, 1] by default).
public struct TimeGrid: Sendable, Equatable, Codable {
  /// The `N + 1` grid times.
  public let times: [Double]

  /// The uniform grid of `steps` steps on `[start, end]`.
  /// - Throws: `invalidArgument` for `steps < 1` or `end ≤ start`.
  public init(uniformSteps steps: Int, start: Double = 0, end: Double = 1) throws {
    guard steps >= 1 else { throw NSDEError.invalidArgument("number of steps must be ≥ 1, got \(steps)") }
    guard start.isFinite, end.isFinite, end > start else {
      throw NSDEError.invalidArgument("time interval [\(start), \(end)] must be finite with end > start")
    }
    times = (0...steps).map { i in i == steps ? end : start + (end - start) * Double(i) / Double(steps) }
  }

  /// A user-given grid.
  /// - Throws: `invalidArgument` naming the first non-increasing or non-finite time.
  public init(times: [Double]) throws {
    guard times.count >= 2 else {
      throw NSDEError.invalidArgument("a time grid needs at least 2 times, got \(times.count)")
    }
    for (i, t) in times.enumerated() where !t.isFinite {
      throw NSDEError.invalidArgument("time grid entry \(i) is \(t)")
    }
    for i in 1..<times.count where !(times[i] > times[i - 1]) {
      throw NSDEError.invalidArgument(
        "time grid must be strictly increasing, but t[\(i)] = \(times[i]) ≤ t[\(i - 1)] = \(times[i - 1])")
    }
    self.times = times
  }

  enum CodingKeys: String, CodingKey { case times }

  /// Decodes a grid and validates it as `init(times:)` does (≥ 2 finite,
  /// strictly increasing times); the error names the field and the entry.
  public init(from decoder: any Decoder) throws {
    let c = try decoder.container(keyedBy: CodingKeys.self)
    let times = try c.decode([Double].self, forKey: .times)
    do { try self.init(times: times) } catch let e as NSDEError {
      throw StrictDecoding.invalid(c.codingPath + [CodingKeys.times], e.message)
    }
  }

  /// Number of steps `N`.
  public var steps: Int { times.count - 1 }
  /// `h_i = t_{i+1} − t_i`.
  public func stepSize(_ i: Int) -> Double { times[i + 1] - times[i] }
  /// True if every step has the same size (to 1e-12 · max(1, h)).
  public var isUniform: Bool {
    let h = stepSize(0)
    return (0..<steps).allSatisfy { abs(stepSize($0) - h) <= 1e-12 * max(1, abs(h)) }
  }
}
