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
