/// Plain stochastic gradient descent, `θ ← θ − lr·factor(t)·g`, with optional momentum (PyTorch's convention).
public final class SGD<Scalar: SDEScalar>: Optimizer {
  /// Base learning rate (multiplied by the schedule).
  public var learningRate: Double
  /// Momentum coefficient (0: none).
  public var momentum: Double
  /// The learning-rate factor per step.
  public var schedule: LearningRateSchedule
  /// Global gradient-norm clipping threshold (nil: none).
  public var gradientClipNorm: Double?
  /// Updates applied so far.
  public private(set) var step = 0
  /// Norm of the last gradient before clipping.
  public private(set) var lastGradientNorm = 0.0
  var velocity: [Double] = []

  /// SGD with the given rate, momentum, schedule and clipping.
  public init(
    learningRate: Double, momentum: Double = 0, schedule: LearningRateSchedule = .constant,
    gradientClipNorm: Double? = nil
  ) {
    self.learningRate = learningRate
    self.momentum = momentum
    self.schedule = schedule
    self.gradientClipNorm = gradientClipNorm
  }

  /// One SGD step with `gradient` (see `Optimizer.update`).
  public func update(_ parameters: ParameterVector<Scalar>, gradient: [Double]) throws {
    var state = [velocity]
    let (g, norm, lr) = try beginStep(
      gradient, parameters: parameters.count, clipNorm: gradientClipNorm, schedule: schedule,
      learningRate: learningRate, step: &step, state: &state)
    velocity = state[0]
    state = []
    lastGradientNorm = norm
    let p = parameters.base
    for i in 0..<g.count {
      velocity[i] = step == 1 ? g[i] : momentum * velocity[i] + g[i]
      let dir = momentum == 0 ? g[i] : velocity[i]
      p[i] = Scalar(Double(p[i]) - lr * dir)
    }
  }
}
