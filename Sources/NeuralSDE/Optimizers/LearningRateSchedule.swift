/// A learning-rate schedule: the factor multiplying the base learning rate at step t (1-based).
public enum LearningRateSchedule: Sendable, Equatable, Codable {
  case constant
  /// Linear warm-up over `steps` steps, then constant.
  case warmup(steps: Int)
  /// Cosine decay from 1 to `minimumFactor` over `totalSteps`, after an optional linear warm-up.
  case cosine(totalSteps: Int, warmupSteps: Int = 0, minimumFactor: Double = 0)
  /// `decay^(t/every)`.
  case exponential(decay: Double, every: Int)

  /// The factor at step `t` (1-based).
  public func factor(step t: Int) -> Double {
    switch self {
    case .constant: return 1
    case .warmup(let w): return w <= 0 ? 1 : Swift.min(1, Double(t) / Double(w))
    case .cosine(let total, let w, let minFactor):
      if w > 0 && t <= w { return Double(t) / Double(w) }
      let progress = Swift.min(1, Double(t - w) / Double(Swift.max(1, total - w)))
      return minFactor + (1 - minFactor) * 0.5 * (1 + Double.cos(Double.pi * progress))
    case .exponential(let decay, let every): return Double.pow(decay, Double(t) / Double(Swift.max(every, 1)))
    }
  }
}
