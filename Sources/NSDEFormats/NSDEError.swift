import Foundation

/// The errors NeuralSDE reports: every message names what is wrong.
///
/// Programmer errors (shapes, arguments) are caught at public entry points;
/// numerical failures (non-finite values, LAPACK failures) and bad files are
/// reported with enough context to find the cause.
public enum NSDEError: Error, CustomStringConvertible, LocalizedError, Equatable, Sendable {
  /// Two shapes that must agree do not, e.g. "state is 1000×4 but the drift expects 3 inputs".
  case shapeMismatch(String)
  /// An argument is out of its allowed range; the message names it and the range.
  case invalidArgument(String)
  /// NaN or ±Inf where finite values are required; the message names the quantity.
  case nonFinite(String)
  /// A LAPACK routine failed (`info` as returned by LAPACKE).
  case lapack(routine: String, info: Int, detail: String)
  /// A solve diverged: non-finite state at a step.
  case divergence(step: Int, time: Double, affectedPaths: Int)
  /// A file could not be read or written, or its contents are invalid.
  case file(path: String, reason: String)

  /// The same text as `description` (so `localizedDescription` names the problem too).
  public var errorDescription: String? { description }

  /// What is wrong, without the kind of error in front (for messages that nest it).
  public var message: String {
    switch self {
    case .shapeMismatch(let m), .invalidArgument(let m), .nonFinite(let m): return m
    default: return description
    }
  }

  /// The message, naming what is wrong.
  public var description: String {
    switch self {
    case .shapeMismatch(let message): return "shape mismatch: \(message)"
    case .invalidArgument(let message): return "invalid argument: \(message)"
    case .nonFinite(let message): return "non-finite values: \(message)"
    case .lapack(let routine, let info, let detail):
      return "LAPACK \(routine) failed with info = \(info): \(detail)"
    case .divergence(let step, let time, let paths):
      return "the solve diverged at step \(step) (t = \(time)): \(paths) path(s) have NaN or Inf in the state"
    case .file(let path, let reason): return "\(path): \(reason)"
    }
  }
}
