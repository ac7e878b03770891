import NSDEKernels

extension Activation {
  /// The NSDEKernels constant for this activation.
  public var kernelKind: Int32 {
    switch self {
    case .identity: return Int32(NSDE_ACTIVATION_IDENTITY.rawValue)
    case .tanh: return Int32(NSDE_ACTIVATION_TANH.rawValue)
    case .softplus: return Int32(NSDE_ACTIVATION_SOFTPLUS.rawValue)
    case .silu: return Int32(NSDE_ACTIVATION_SILU.rawValue)
    case .lipswish: return Int32(NSDE_ACTIVATION_LIPSWISH.rawValue)
    }
  }

  /// Whether backward passes need `φ'(z)` stored; identity, tanh and softplus recompute
  /// it from the activation value (`1 − a²` for tanh, `−expm1(−a)` for softplus).
  public var storesDerivative: Bool { nsde_activation_stores_derivative(kernelKind) != 0 }

  /// Applies the activation to `n` values: `y = φ(x)`, `dy = φ'(x)`, `d2y = φ''(x)`.
  /// Any output may be nil.
  @inlinable
  public func apply<T: SDEScalar>(
    n: Int, x: UnsafePointer<T>, y: UnsafeMutablePointer<T>?, dy: UnsafeMutablePointer<T>? = nil,
    d2y: UnsafeMutablePointer<T>? = nil
  ) {
    T.activation(kernelKind, n: n, x: x, y: y, dy: dy, d2y: d2y)
  }

  /// Value, first and second derivative at one point (for tests and set-up).
  public func evaluate<T: SDEScalar>(_ x: T) -> (value: T, derivative: T, second: T) {
    var xv = x
    var y: T = 0
    var d: T = 0
    var d2: T = 0
    T.activation(kernelKind, n: 1, x: &xv, y: &y, dy: &d, d2y: &d2)
    return (y, d, d2)
  }
}
