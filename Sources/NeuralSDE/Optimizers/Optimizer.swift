/// An optimiser over a model's flat parameter vector.
public protocol Optimizer<Scalar>: AnyObject {
  associatedtype Scalar: SDEScalar
  /// Number of updates applied so far.
  var step: Int { get }
  /// The norm of the last gradient before clipping (0 before the first update).
  var lastGradientNorm: Double { get }
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

/// The bookkeeping every optimiser step starts with: the checked (and
/// clipped) gradient, state vectors sized to it, the step count advanced, and
/// the scheduled learning rate of the new step.
func beginStep(
  _ gradient: [Double], parameters: Int, clipNorm: Double?, schedule: LearningRateSchedule, learningRate: Double,
  step: inout Int, state: inout [[Double]]
) throws -> (gradient: [Double], norm: Double, learningRate: Double) {
  let (g, norm) = try preparedGradient(gradient, count: parameters, clipNorm: clipNorm)
  for i in state.indices where state[i].count != g.count { state[i] = [Double](repeating: 0, count: g.count) }
  step += 1
  return (g, norm, learningRate * schedule.factor(step: step))
}
