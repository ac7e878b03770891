/// Adam with bias correction and decoupled weight decay (AdamW), as PyTorch's
/// `torch.optim.AdamW` (or `Adam` with `weightDecay = 0`):
///
///     θ ← θ − lr·λ·θ
///     m ← β1 m + (1 − β1) g,   v ← β2 v + (1 − β2) g²
///     θ ← θ − lr · (m / (1 − β1ᵗ)) / (√(v / (1 − β2ᵗ)) + ε)
///
/// with `lr = learningRate·schedule.factor(t)` and optional global-norm
/// clipping of g first. Moments are kept in Double.
public final class Adam<Scalar: SDEScalar>: Optimizer {
  /// Base learning rate (multiplied by the schedule).
  public var learningRate: Double
  /// Decay of the first moment (0.9).
  public var beta1: Double
  /// Decay of the second moment (0.999).
  public var beta2: Double
  /// Added to the denominator (1e-8).
  public var epsilon: Double
  /// Decoupled weight decay λ (AdamW).
  public var weightDecay: Double
  /// The learning-rate factor per step.
  public var schedule: LearningRateSchedule
  /// Global gradient-norm clipping threshold (nil: none).
  public var gradientClipNorm: Double?
  /// Updates applied so far.
  public private(set) var step = 0
  /// First and second moment estimates (restored from checkpoints).
  public internal(set) var firstMoment: [Double] = []
  /// The second-moment estimates v (Double).
  public internal(set) var secondMoment: [Double] = []
  /// Norm of the last gradient before clipping.
  public private(set) var lastGradientNorm = 0.0

  /// Adam with PyTorch's defaults unless given.
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

  /// One Adam step with `gradient` (see `Optimizer.update`).
  public func update(_ parameters: ParameterVector<Scalar>, gradient: [Double]) throws {
    var moments = [firstMoment, secondMoment]
    let (g, norm, lr) = try beginStep(
      gradient, parameters: parameters.count, clipNorm: gradientClipNorm, schedule: schedule,
      learningRate: learningRate, step: &step, state: &moments)
    (firstMoment, secondMoment) = (moments[0], moments[1])
    moments = []  // keep the moments uniquely referenced (no copy on the updates below)
    lastGradientNorm = norm
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
