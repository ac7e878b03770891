import Foundation

/// How sequences map to grids (docs/MODEL.md §7): model time
/// `t = (τ − τ_{s,1}) / timeScale + leadIn` for a sequence whose first
/// observation is at file time `τ_{s,1}`; `leadInSteps` steps before the
/// first observation and `stepsPerInterval` equal steps between consecutive
/// ones. A sequence model is trained and used with one layout; checkpoints
/// of sequence models record it (metadata `sequence_layout`).
public struct SequenceLayout: Sendable, Codable, Equatable {
  /// Model time before each sequence's first observation (> 0).
  public var leadIn = 1.0
  /// Steps of the lead-in (1…`maximumSteps`).
  public var leadInSteps = 4
  /// Steps between consecutive observations (1…`maximumSteps`).
  public var stepsPerInterval = 2
  /// File time units per model time unit (> 0).
  public var timeScale = 1.0

  /// The most steps of a lead-in or an interval.
  public static let maximumSteps = 1000

  /// A layout with the given lead-in, steps and time scale.
  public init(leadIn: Double = 1, leadInSteps: Int = 4, stepsPerInterval: Int = 2, timeScale: Double = 1) {
    self.leadIn = leadIn
    self.leadInSteps = leadInSteps
    self.stepsPerInterval = stepsPerInterval
    self.timeScale = timeScale
  }

  /// The model time of file time `tau` in a sequence whose first observation is at `origin`:
  /// `(τ − origin) / timeScale + leadIn`.
  public func modelTime(_ tau: Double, origin: Double) -> Double { (tau - origin) / timeScale + leadIn }

  /// `times` followed by `stepsPerInterval` equal steps from each node to the
  /// next (the last time of each interval exactly the node): the grid times
  /// through `nodes`, continuing from `times` (whose last value is `nodes[0]`).
  func appendingIntervals(_ times: [Double], through nodes: [Double]) -> [Double] {
    var out = times
    let q = stepsPerInterval
    for j in 1..<Swift.max(nodes.count, 1) {
      for i in 1...q { out.append(nodes[j - 1] + (nodes[j] - nodes[j - 1]) * Double(i) / Double(q)) }
      out[out.count - 1] = nodes[j]
    }
    return out
  }

  /// Checks every field's range.
  /// - Throws: `invalidArgument` naming the field out of range.
  public func validate() throws {
    func fail(_ field: String, _ value: String, _ rule: String) -> NSDEError {
      .invalidArgument("sequence layout: \(field) must be \(rule), got \(value)")
    }
    guard leadIn > 0, leadIn.isFinite, leadIn <= 1e12 else {
      throw fail("leadIn", "\(leadIn)", "positive and finite")
    }
    guard timeScale > 0, timeScale.isFinite, timeScale <= 1e300, timeScale >= 1e-300 else {
      throw fail("timeScale", "\(timeScale)", "positive and finite")
    }
    guard (1...Self.maximumSteps).contains(leadInSteps) else {
      throw fail("leadInSteps", "\(leadInSteps)", "in 1…\(Self.maximumSteps)")
    }
    guard (1...Self.maximumSteps).contains(stepsPerInterval) else {
      throw fail("stepsPerInterval", "\(stepsPerInterval)", "in 1…\(Self.maximumSteps)")
    }
  }
}
