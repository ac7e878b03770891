import Foundation

/// How backprop through the solver fits a memory budget: multi-level
/// (recursive) checkpointing of the solver's states.
///
/// `levels = [S_0, S_1, …, S_{q−1}]`, each a multiple of the next, the last the
/// tape length τ. The first forward pass keeps the states at every multiple of
/// `S_0`; before the backward pass of a level-ℓ segment (length `S_{ℓ−1}`, or
/// N at the top), the segment is re-run from its checkpoint keeping the states
/// at every multiple of `S_ℓ` inside it, down to segments of τ steps, which are
/// re-run with the tape on and differentiated. Memory:
/// `⌈N/S_0⌉ + Σ_{ℓ≥1} S_{ℓ−1}/S_ℓ` states of `rows × d` plus a τ-step tape;
/// cost: about q extra forward passes (`recomputedSteps`). No levels: the full
/// tape, no recomputation. Same noise, same kernels: the gradient is the
/// full tape's bit for bit.
public struct CheckpointSchedule: Sendable, Equatable, CustomStringConvertible {
  /// Solver steps N.
  public let steps: Int
  /// Segment lengths, outermost first (empty: full tape).
  public let levels: [Int]

  /// A schedule; `levels` must decrease, each a multiple of the next, all below N.
  public init(steps: Int, levels: [Int]) throws {
    guard steps >= 1 else { throw NSDEError.invalidArgument("a checkpoint schedule needs ≥ 1 step, got \(steps)") }
    for (i, s) in levels.enumerated() {
      guard s >= 1, s < steps, i == 0 || (levels[i - 1] > s && levels[i - 1] % s == 0) else {
        throw NSDEError.invalidArgument(
          "checkpoint levels \(levels) must decrease, each a multiple of the next, all below N = \(steps)")
      }
    }
    self.steps = steps
    self.levels = levels
  }

  /// The full tape (no checkpoints).
  public static func fullTape(steps: Int) -> CheckpointSchedule {
    CheckpointSchedule(unchecked: steps, levels: [])
  }

  init(unchecked steps: Int, levels: [Int]) {
    self.steps = steps
    self.levels = levels
  }

  /// Steps the tape holds (τ).
  public var tapeLength: Int { levels.last ?? steps }

  /// States kept per level: `⌈N/S_0⌉`, then `S_{ℓ−1}/S_ℓ`.
  public var slots: [Int] {
    levels.indices.map { $0 == 0 ? (steps + levels[0] - 1) / levels[0] : levels[$0 - 1] / levels[$0] }
  }

  /// Solver steps re-run beyond the first forward pass.
  public var recomputedSteps: Int {
    plan.dropFirst().reduce(0) { sum, op in
      switch op {
      case .forward(let range, _, _): return sum + range.count
      case .backward(let range, let rerunFrom): return sum + (rerunFrom != nil ? range.count : 0)
      }
    }
  }

  public var description: String {
    levels.isEmpty
      ? "full tape (\(steps) steps)"
      : "checkpoints every \(levels.map(String.init).joined(separator: " → ")) steps, tape of \(tapeLength) (+\(recomputedSteps) re-run steps)"
  }

  /// A checkpoint: slot `index` of level `level`.
  package struct Slot: Equatable {
    package let level: Int
    package let index: Int
  }

  /// One operation of the backward sweep.
  package enum Operation: Equatable {
    /// Simulate `range` in tape-length pieces from the state in `start` (nil:
    /// `x_0`), keeping the state at every multiple of `levels[store]` past
    /// `range.lowerBound` in that level's slots (nil: keep none).
    case forward(range: Range<Int>, store: Int?, start: Slot?)
    /// Differentiate the steps of `range` (at most τ), in reverse; with
    /// `rerunFrom`, first re-simulate it with the tape on from that slot's
    /// state (nil: the tape already holds it).
    case backward(range: Range<Int>, rerunFrom: Slot?)
  }

  /// The operations in order: the first forward pass, then the backward sweep.
  package var plan: [Operation] {
    var ops: [Operation] = [.forward(range: 0..<steps, store: levels.isEmpty ? nil : 0, start: nil)]
    // The tape holds the last τ-piece of the range after a forward over it.
    func walk(_ range: Range<Int>, level: Int, start: Slot?, tapeHoldsLast: Bool, forwardDone: Bool) {
      if range.count <= tapeLength {
        ops.append(.backward(range: range, rerunFrom: tapeHoldsLast ? nil : start))
        return
      }
      if !forwardDone { ops.append(.forward(range: range, store: level, start: start)) }
      let s = levels[level]
      let parts = (range.count + s - 1) / s
      for j in stride(from: parts - 1, through: 0, by: -1) {
        let sub = (range.lowerBound + j * s)..<Swift.min(range.lowerBound + (j + 1) * s, range.upperBound)
        walk(
          sub, level: level + 1, start: Slot(level: level, index: j), tapeHoldsLast: j == parts - 1,
          forwardDone: false)
      }
    }
    walk(0..<steps, level: 0, start: nil, tapeHoldsLast: true, forwardDone: true)
    return ops
  }

  /// Candidate schedules for N steps: the full tape; one level `[τ]` and two
  /// levels `[f·τ, τ]` for every tape length τ and factor f (all up to 64,
  /// then in steps of about 12 %); three and four levels `[τ·f^{q−1}, …, τ]`
  /// with the least f such that `f^q ≥ N/τ`.
  static func candidates(steps n: Int) -> [CheckpointSchedule] {
    func lengths(below limit: Int) -> [Int] {
      var out = Array(1...Swift.max(1, Swift.min(limit - 1, 64)))
      var t = 64
      while t * 9 / 8 + 1 < limit {
        t = t * 9 / 8 + 1
        out.append(t)
      }
      return out.filter { $0 < limit }
    }
    var out = [fullTape(steps: n)]
    for tau in lengths(below: n) {
      out.append(CheckpointSchedule(unchecked: n, levels: [tau]))
      for f in lengths(below: (n + tau - 1) / tau) where f >= 2 {
        out.append(CheckpointSchedule(unchecked: n, levels: [f * tau, tau]))
      }
      for q in 3...4 {
        // The least f ≥ 2 with f^q ≥ N/τ.
        let ratio = Double(n) / Double(tau)
        var f = Swift.max(2, Int(Foundation.pow(ratio, 1 / Double(q)).rounded(.down)))
        while Foundation.pow(Double(f), Double(q)) < ratio { f += 1 }
        var levels: [Int] = []
        var s = tau
        for _ in 0..<q {
          levels.insert(s, at: 0)
          s *= f
        }
        while let first = levels.first, first >= n { levels.removeFirst() }
        if levels.count == q { out.append(CheckpointSchedule(unchecked: n, levels: levels)) }
      }
    }
    return out
  }
}
