import ArgumentParser
import Foundation
import NeuralSDE

extension Activation: ExpressibleByArgument {}
extension TrainingObjective: ExpressibleByArgument {}
extension ToyDataset: ExpressibleByArgument {}

/// Noise types as command-line choices.
enum NoiseChoice: String, ExpressibleByArgument, CaseIterable {
  case diagonal, additive, general
}

/// Floating-point precisions to run.
enum DTypeChoice: String, ExpressibleByArgument, CaseIterable {
  case float, double, both
  /// The precisions to run, Float first: `for type in dtype.scalarTypes { try run(type) }`
  /// calls a generic `run<T: SDEScalar>(_: T.Type)` once per precision (the metatype is opened).
  var scalarTypes: [any SDEScalar.Type] {
    switch self {
    case .float: return [Float.self]
    case .double: return [Double.self]
    case .both: return [Float.self, Double.self]
    }
  }
}

/// Throws a `ValidationError` naming the option and its range unless `lo ≤ v ≤ hi`.
func checkRange(_ name: String, _ v: Int, _ lo: Int, _ hi: Int) throws {
  guard v >= lo && v <= hi else { throw ValidationError("--\(name) must be in \(lo)…\(hi), got \(v)") }
}

/// A size option such as 64MiB in bytes (nil if not given); a `ValidationError`
/// naming the option if it is not a positive size.
func parseSize(_ text: String?, option: String) throws -> Int? {
  guard let text else { return nil }
  guard let bytes = MemoryLimit.parse(text) else {
    throw ValidationError("--\(option) must be a positive size such as 512MiB or 8GiB, got '\(text)'")
  }
  return bytes
}

/// Parses `--max-memory` and makes it the library's memory limit.
func applyMemoryLimit(_ text: String?) throws {
  if let bytes = try parseSize(text, option: "max-memory") { MemoryLimit.override = bytes }
}

/// The networks' shape options shared by the benchmark subcommands and `train`.
struct NetworkOptions: ParsableArguments {
  @Option(
    name: .customLong("noise-type"),
    help: "Noise type (\(NoiseChoice.allCases.map(\.rawValue).joined(separator: ", "))).")
  var noise: NoiseChoice = .diagonal
  @Option(parsing: .unconditional, help: "Noise dimension m for --noise-type general (default: d).")
  var noiseDim: Int?
  @Option(help: "Hidden activation (\(Activation.allCases.map(\.rawValue).joined(separator: ", "))).")
  var activation: Activation = .tanh
  @Option(parsing: .unconditional, help: "Row chunks run concurrently (default: one per core; 1…256).")
  var chunks: Int?
  @Option(
    help:
      "Memory the run may allocate, e.g. 512MiB or 8GiB (default: NSDE_MAX_MEMORY, else the available memory); larger requests fail with an estimate before allocating."
  )
  var maxMemory: String?

  func validate() throws {
    try applyMemoryLimit(maxMemory)
    if let m = noiseDim {
      guard noise == .general else { throw ValidationError("--noise-dim only applies to --noise-type general") }
      try checkRange("noise-dim", m, 1, 4096)
    }
    if let c = chunks { try checkRange("chunks", c, 1, 256) }
  }

  /// The noise type for latent dimension `d`.
  func noiseType(latentDimension d: Int) -> NoiseType {
    switch noise {
    case .diagonal: return .diagonal
    case .additive: return .additive
    case .general: return .general(noiseDimension: noiseDim ?? d)
    }
  }
}

/// The problem shared by the benchmark subcommands (docs/REFERENCE-PROBLEM.md defaults).
struct ProblemOptions: ParsableArguments {
  @Option(parsing: .unconditional, help: "Latent dimension d (1…4096).")
  var latentDim = 16
  @Option(parsing: .unconditional, help: "Data dimension D (1…4096).")
  var dataDim = 2
  @Option(parsing: .unconditional, help: "Hidden width H of every network (1…8192).")
  var hidden = 64
  @Option(
    name: [.customLong("solver-steps"), .customLong("steps")], parsing: .unconditional,
    help: "Euler–Maruyama steps N on [0, 1] (1…100000); --steps is the older name.")
  var steps = 50
  @Option(parsing: .unconditional, help: "Monte Carlo paths per data point K (≥ 1).")
  var pathsPerPoint = 4
  @Option(parsing: .unconditional, help: "Paths per batch M = B·K (a positive multiple of --paths-per-point).")
  var paths = 1024
  @OptionGroup var network: NetworkOptions
  @Option(help: "Posterior control: mean-field reads [y, t] (the reference problem); feedback reads [x, y, t].")
  var posterior: PosteriorControl = .meanField
  @Option(help: "Precision (float, double, both).")
  var dtype: DTypeChoice = .both

  func validate() throws {
    try checkRange("latent-dim", latentDim, 1, 4096)
    try checkRange("data-dim", dataDim, 1, 4096)
    try checkRange("hidden", hidden, 1, 8192)
    try checkRange("solver-steps", steps, 1, 100_000)
    try checkRange("paths-per-point", pathsPerPoint, 1, 1_000_000)
    try checkRange("paths", paths, 1, 10_000_000)
    guard paths % pathsPerPoint == 0 else {
      throw ValidationError("--paths (\(paths)) must be a multiple of --paths-per-point (\(pathsPerPoint))")
    }
  }

  var noise: NoiseChoice { network.noise }
  var activation: Activation { network.activation }
  var chunks: Int? { network.chunks }
  var noiseType: NoiseType { network.noiseType(latentDimension: latentDim) }

  var configuration: NeuralSDEConfiguration {
    .reference(
      latentDimension: latentDim, dataDimension: dataDim, hidden: hidden, noise: noiseType, activation: activation,
      posterior: posterior)
  }

  var points: Int { paths / pathsPerPoint }
}

/// `--json` and `--repetitions`.
struct OutputOptions: ParsableArguments {
  @Flag(help: "Print machine-readable JSON instead of a table.")
  var json = false
  @Option(parsing: .unconditional, help: "Timed repetitions after a warm-up (1…1000).")
  var repetitions = 10

  func validate() throws {
    guard repetitions >= 1 && repetitions <= 1000 else {
      throw ValidationError("--repetitions must be in 1…1000, got \(repetitions)")
    }
  }
}

/// Runs `body`, turning NeuralSDE errors into a clean message and exit code 1.
func runReportingErrors(_ body: () throws -> Void) throws {
  do {
    try body()
  } catch let e as NSDEError {
    FileHandle.standardError.write(Data("error: \(e)\n".utf8))
    throw ExitCode.failure
  }
}
