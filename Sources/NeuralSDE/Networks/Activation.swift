/// Elementwise activation functions, each with analytic first and second derivatives.
///
/// Evaluated by vectorised kernels (NSDEKernels); maximum error against the
/// C library is about 2.5 ulp (Float and Double), checked by the tests.
public enum Activation: String, CaseIterable, Sendable, Codable {
  /// `φ(x) = x`.
  case identity
  /// `φ(x) = tanh x`, `φ' = 1 − φ²`.
  case tanh
  /// `φ(x) = log(1 + eˣ)`, `φ' = sigmoid(x)`; positive, used for diagonal diffusions.
  case softplus
  /// `φ(x) = x·sigmoid(x)` (SiLU / swish).
  case silu
  /// `φ(x) = 0.909·x·sigmoid(x)`, the 1-Lipschitz swish used by torchsde.
  case lipswish
}

extension Activation {
  /// Decodes an activation by name; an unknown name is an error listing the known ones.
  public init(from decoder: any Decoder) throws {
    self = try StrictDecoding.namedCase(Activation.self, from: decoder, what: "an activation")
  }
}
