import Foundation
import NSDEBenchmarks
import NeuralSDE
import NeuralSDEDistributed

/// An aligned text table.
struct Table {
  var header: [String]
  var rows: [[String]] = []

  func render() -> String {
    // Every row gets exactly one cell per header column.
    let rows = self.rows.map { r in (0..<header.count).map { $0 < r.count ? r[$0] : "" } }
    let widths = header.indices.map { c in ([header[c]] + rows.map { $0[c] }).map(\.count).max() ?? 0 }
    func line(_ cells: [String]) -> String {
      cells.enumerated().map { i, s in
        i == 0
          ? s.padding(toLength: widths[i], withPad: " ", startingAt: 0)
          : String(repeating: " ", count: widths[i] - s.count) + s
      }.joined(separator: "  ")
    }
    return ([line(header), widths.map { String(repeating: "─", count: $0) }.joined(separator: "  ")] + rows.map(line))
      .joined(separator: "\n")
  }
}

func fmt(_ x: Double, _ digits: Int = 2) -> String { String(format: "%.\(digits)f", x) }
func fmtSci(_ x: Double) -> String { String(format: "%.3g", x) }
func mib(_ bytes: Int) -> String { String(format: "%.1f MiB", Double(bytes) / 1_048_576) }

/// Prints a JSON value (dictionaries sorted by key). Non-finite numbers, which
/// JSON cannot hold, are written as the strings `"NaN"`, `"Infinity"` and
/// `"-Infinity"` (README, "JSON output").
func printJSON(_ value: Any) throws {
  let safe = jsonSafe(value)
  guard JSONSerialization.isValidJSONObject(safe) else {
    throw NSDEError.invalidArgument("internal: the result is not representable as JSON")
  }
  let data = try JSONSerialization.data(withJSONObject: safe, options: [.prettyPrinted, .sortedKeys])
  print(String(decoding: data, as: UTF8.self))
}

/// `value` with every non-finite Double or Float replaced by its string name.
func jsonSafe(_ value: Any) -> Any {
  func name(_ d: Double) -> Any { d.isFinite ? d : d.isNaN ? "NaN" : d > 0 ? "Infinity" : "-Infinity" }
  switch value {
  case let d as Double: return name(d)
  case let f as Float: return name(Double(f))
  case let a as [Any]: return a.map(jsonSafe)
  case let o as [String: Any]: return o.mapValues(jsonSafe)
  default: return value
  }
}

func timingJSON(_ t: TimingSummary) -> [String: Any] {
  ["median_ms": t.median, "min_ms": t.min, "max_ms": t.max, "repetitions": t.repetitions]
}

/// Facts about the machine and BLAS that every report carries.
func machineJSON() -> [String: Any] {
  let env = ProcessInfo.processInfo.environment
  return [
    "blas": Threading.blasConfiguration, "blas_core": Threading.blasCoreName, "blas_threads": Threading.blasThreads,
    "cores": Threading.availableCores, "openblas_coretype": env["OPENBLAS_CORETYPE"] ?? "",
    "host": ProcessInfo.processInfo.hostName,
  ]
}

func machineLine() -> String {
  let env = ProcessInfo.processInfo.environment
  return
    "BLAS \(Threading.blasCoreName), \(Threading.blasThreads) BLAS thread(s), \(Threading.availableCores) cores, OPENBLAS_CORETYPE=\(env["OPENBLAS_CORETYPE"] ?? "(unset)")"
}

/// Progress messages go to standard error so that --json output stays clean.
func note(_ s: String) { FileHandle.standardError.write(Data((s + "\n").utf8)) }

/// `note`, for scopes that shadow it (e.g. rank-0-only printing under MPI).
func nsdeBenchNote(_ s: String) { note(s) }

/// Prints a subcommand's results: `{"machine", "problem", "results"}` as JSON,
/// or the title (if any), the machine line and the table.
func emit(json: Bool, problem: ProblemOptions, results: [String: Any], title: String?, table: Table) throws {
  if json {
    try printJSON(["machine": machineJSON(), "problem": problemJSON(problem), "results": results])
  } else {
    if let title { print(title) }
    print(machineLine())
    print(table.render())
  }
}

/// Checks that `files` in `outputDir` overwrite no input and prepares the
/// directory — on rank 0 only under MPI, every rank then learning whether it
/// failed — so that no rank trains for nothing and none waits on a rank that stopped.
func prepareOutputDirectory(
  _ outputDir: String, files: [String], inputs: [(option: String, path: String)], mpi: MPICommunicator?
) throws {
  var failure: Error?
  if (mpi?.rank ?? 0) == 0 {
    do {
      try AtomicFile.checkDistinct(outputs: files.map { ("--output-dir", outputDir + "/" + $0) }, inputs: inputs)
      try AtomicFile.prepareDirectory(outputDir)
    } catch {
      failure = error
    }
  }
  if let mpi, mpi.maximum(failure == nil ? 0 : 1) != 0 {
    throw failure ?? NSDEError.invalidArgument("rank 0 cannot write to --output-dir \(outputDir)")
  }
  if let failure { throw failure }
}
