/// A learning-rate schedule: the factor multiplying the base learning rate at step t (1-based).
public enum LearningRateSchedule: Sendable, Equatable, Codable {
  case constant
  /// Linear warm-up over `steps` steps, then constant.
  case warmup(steps: Int)
  /// Cosine decay from 1 to `minimumFactor` over `totalSteps`, after an optional linear warm-up.
  case cosine(totalSteps: Int, warmupSteps: Int = 0, minimumFactor: Double = 0)
  /// `decay^(t/every)`.
  case exponential(decay: Double, every: Int)

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

/// An optimiser over a model's flat parameter vector.
public protocol Optimizer<Scalar>: AnyObject {
  associatedtype Scalar: BLASScalar
  /// Number of updates applied so far.
  var step: Int { get }
  /// Applies one update with `gradient` (one value per parameter).
  /// - Throws: `shapeMismatch` for a wrong length, `nonFinite` for NaN/Inf gradients
  ///   (the parameters are left unchanged).
  func update(_ parameters: ParameterVector<Scalar>, gradient: [Double]) throws
}

/// `‖v‖₂` without overflow or underflow in the squares: `s·√(Σ (v_i/s)²)` with
/// `s = max |v_i|` (finite whenever the result is representable).
public func euclideanNorm(_ v: [Double]) -> Double {
  var scale = 0.0
  for x in v { scale = Swift.max(scale, Swift.abs(x)) }
  guard scale > 0, scale.isFinite else { return scale }
  var sum = 0.0
  for x in v {
    let r = x / scale
    sum += r * r
  }
  return scale * sum.squareRoot()
}

/// Checks the gradient and applies optional global-norm clipping; returns the
/// (clipped) gradient and its norm before clipping.
func preparedGradient(_ gradient: [Double], count: Int, clipNorm: Double?) throws -> ([Double], Double) {
  guard gradient.count == count else {
    throw NSDEError.shapeMismatch("gradient has \(gradient.count) values but the parameter vector has \(count)")
  }
  let bad = gradient.filter { !$0.isFinite }.count
  guard bad == 0 else {
    throw NSDEError.nonFinite("the gradient has \(bad) NaN/Inf value(s); parameters unchanged")
  }
  let norm = euclideanNorm(gradient)
  guard norm.isFinite else {
    throw NSDEError.nonFinite(
      "the gradient's norm exceeds the largest Double (largest entry \(gradient.map(abs).max() ?? 0)); parameters unchanged"
    )
  }
  if let c = clipNorm, norm > c, norm > 0 {
    let s = c / norm
    return (gradient.map { $0 * s }, norm)
  }
  return (gradient, norm)
}

/// Plain stochastic gradient descent, `θ ← θ − lr·factor(t)·g`, with optional momentum (PyTorch's convention).
public final class SGD<Scalar: BLASScalar>: Optimizer {
  public var learningRate: Double
  public var momentum: Double
  public var schedule: LearningRateSchedule
  public var gradientClipNorm: Double?
  public private(set) var step = 0
  var velocity: [Double] = []

  public init(
    learningRate: Double, momentum: Double = 0, schedule: LearningRateSchedule = .constant,
    gradientClipNorm: Double? = nil
  ) {
    self.learningRate = learningRate
    self.momentum = momentum
    self.schedule = schedule
    self.gradientClipNorm = gradientClipNorm
  }

  public func update(_ parameters: ParameterVector<Scalar>, gradient: [Double]) throws {
    let (g, _) = try preparedGradient(gradient, count: parameters.count, clipNorm: gradientClipNorm)
    if velocity.count != g.count { velocity = [Double](repeating: 0, count: g.count) }
    step += 1
    let lr = learningRate * schedule.factor(step: step)
    let p = parameters.base
    for i in 0..<g.count {
      velocity[i] = step == 1 ? g[i] : momentum * velocity[i] + g[i]
      let dir = momentum == 0 ? g[i] : velocity[i]
      p[i] = Scalar(Double(p[i]) - lr * dir)
    }
  }
}

/// Adam with bias correction and decoupled weight decay (AdamW), as PyTorch's
/// `torch.optim.AdamW` (or `Adam` with `weightDecay = 0`):
///
///     θ ← θ − lr·λ·θ
///     m ← β1 m + (1 − β1) g,   v ← β2 v + (1 − β2) g²
///     θ ← θ − lr · (m / (1 − β1ᵗ)) / (√(v / (1 − β2ᵗ)) + ε)
///
/// with `lr = learningRate·schedule.factor(t)` and optional global-norm
/// clipping of g first. Moments are kept in Double.
public final class Adam<Scalar: BLASScalar>: Optimizer {
  public var learningRate: Double
  public var beta1: Double
  public var beta2: Double
  public var epsilon: Double
  public var weightDecay: Double
  public var schedule: LearningRateSchedule
  public var gradientClipNorm: Double?
  public private(set) var step = 0
  /// First and second moment estimates (restored from checkpoints).
  public internal(set) var firstMoment: [Double] = []
  public internal(set) var secondMoment: [Double] = []
  /// Norm of the last gradient before clipping.
  public private(set) var lastGradientNorm = 0.0

  public init(
    learningRate: Double = 1e-3, beta1: Double = 0.9, beta2: Double = 0.999, epsilon: Double = 1e-8,
    weightDecay: Double = 0, schedule: LearningRateSchedule = .constant, gradientClipNorm: Double? = nil
  ) {
    self.learningRate = learningRate
    self.beta1 = beta1
    self.beta2 = beta2
    self.epsilon = epsilon
    self.weightDecay = weightDecay
    self.schedule = schedule
    self.gradientClipNorm = gradientClipNorm
  }

  public func update(_ parameters: ParameterVector<Scalar>, gradient: [Double]) throws {
    let (g, norm) = try preparedGradient(gradient, count: parameters.count, clipNorm: gradientClipNorm)
    lastGradientNorm = norm
    if firstMoment.count != g.count {
      firstMoment = [Double](repeating: 0, count: g.count)
      secondMoment = firstMoment
    }
    step += 1
    let lr = learningRate * schedule.factor(step: step)
    let c1 = 1 - Double.pow(beta1, Double(step))
    let c2 = 1 - Double.pow(beta2, Double(step))
    let p = parameters.base
    for i in 0..<g.count {
      var theta = Double(p[i])
      theta -= lr * weightDecay * theta
      firstMoment[i] = beta1 * firstMoment[i] + (1 - beta1) * g[i]
      secondMoment[i] = beta2 * secondMoment[i] + (1 - beta2) * g[i] * g[i]
      theta -= lr * (firstMoment[i] / c1) / ((secondMoment[i] / c2).squareRoot() + epsilon)
      p[i] = Scalar(theta)
    }
  }

  /// Restores the optimiser state (from a checkpoint).
  public func restore(step: Int, firstMoment m: [Double], secondMoment v: [Double]) throws {
    guard m.count == v.count else {
      throw NSDEError.shapeMismatch("Adam moments have \(m.count) and \(v.count) values")
    }
    self.step = step
    firstMoment = m
    secondMoment = v
  }
}
