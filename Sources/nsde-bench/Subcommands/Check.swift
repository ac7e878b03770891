import ArgumentParser
import Foundation
import NSDEBenchmarks
import NeuralSDE

/// The CI performance check: a small reference configuration, ratio bars.
struct Check: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "CI performance check: fails (exit 1) if a measured ratio misses its bar.",
    discussion: """
      Bars (ratios measured in one run, so machine noise mostly cancels): batched vs per-path EM ≥ \
      --min-batched-speedup; forward ≤ --max-forward-over-floor × its GEMM floor and gradient ≤ \
      --max-gradient-over-floor × its GEMM floor; forward ≤ --max-forward-over-flop-floor × the time of its \
      FLOPs at the FMA peak (the roofline: the peak is probed on all cores at once between the timed \
      solves, so a busy machine slows both sides alike; reported, and checked only when a bar for the CPU is \
      given, since the share of the peak that the non-GEMM work reaches differs between CPUs); the default kernels ≤ --max-over-cblas × the CBLAS \
      path's time (forward and gradient); backprop gradient ≤ --max-backprop-over-forward × forward; \
      backprop within half the full tape's memory ≤ --max-budgeted-over-full-tape × the full tape's time, \
      its workspace within that budget (the check's 512 paths make small micro-batches: measured \
      1.04–1.10 Double, 1.21–1.33 Float); \
      backprop and forward-pathwise gradients agree to --max-estimator-difference (Double); the estimates \
      and the backprop gradient on per-point grids (sequence batches' per-row step sizes) ≤ \
      --max-per-point-grid-over-shared × the same on one shared grid. The defaults \
      are the values measured on 2-core AMD EPYC (AVX-512) with margins of 20–35 % (docs/PEERS.md): the \
      roofline bar leaves room for CPUs whose FMA peak the non-GEMM work uses less well.
      """)

  @OptionGroup var output: OutputOptions
  @Option(parsing: .unconditional, help: "Paths M of the check problem.") var paths = 512
  @Option(parsing: .unconditional, help: "Steps N of the check problem.") var steps = 20
  @Option(parsing: .unconditional, help: "Minimum batched / per-path speed-up.") var minBatchedSpeedup = 2.5
  @Option(parsing: .unconditional, help: "Maximum forward / GEMM floor.") var maxForwardOverFloor = 2.2
  @Option(parsing: .unconditional, help: "Maximum gradient / GEMM floor.") var maxGradientOverFloor = 1.8
  @Option(
    parsing: .unconditional,
    help:
      "Maximum forward / FLOP floor (roofline); default: reported, not checked (the share of the FMA peak that non-GEMM work reaches differs between CPUs: 2.3–2.6 on the AMD EPYC of docs/PEERS.md, 4.0–4.1 on a 2-FMA-port Xeon)."
  )
  var maxForwardOverFlopFloor: Double?
  @Option(parsing: .unconditional, help: "Maximum default kernels / CBLAS path (forward and gradient).")
  var maxOverCblas = 1.1
  @Option(parsing: .unconditional, help: "Maximum backprop / forward.") var maxBackpropOverForward = 3.5
  @Option(parsing: .unconditional, help: "Maximum gradient time within half the memory / full-tape gradient time.")
  var maxBudgetedOverFullTape = 1.6
  @Option(parsing: .unconditional, help: "Maximum relative difference between the estimators (Double).")
  var maxEstimatorDifference = 1e-10
  @Option(
    parsing: .unconditional,
    help: "Maximum per-point grid / shared grid (estimates and backprop gradient, interleaved; measured 0.99–1.03).")
  var maxPerPointGridOverShared = 1.15

  func validate() throws {
    try checkRange("paths", paths, 4, 1_000_000)
    guard paths % 4 == 0 else { throw ValidationError("--paths must be a multiple of 4 (K = 4), got \(paths)") }
    try checkRange("steps", steps, 1, 10_000)
    for (name, v) in [
      ("min-batched-speedup", minBatchedSpeedup), ("max-forward-over-floor", maxForwardOverFloor),
      ("max-backprop-over-forward", maxBackpropOverForward), ("max-estimator-difference", maxEstimatorDifference),
      ("max-gradient-over-floor", maxGradientOverFloor), ("max-forward-over-flop-floor", maxForwardOverFlopFloor ?? 1),
      ("max-over-cblas", maxOverCblas), ("max-budgeted-over-full-tape", maxBudgetedOverFullTape),
      ("max-per-point-grid-over-shared", maxPerPointGridOverShared),
    ] where !(v > 0 && v.isFinite) {
      throw ValidationError("--\(name) must be a positive number, got \(v)")
    }
  }

  func run() throws {
    var failures: [String] = []
    var report: [String: Any] = [:]
    var rows: [[String]] = []
    func go<T: SDEScalar>(_: T.Type) throws {
      let r = try ReferenceBenchmark<T>(
        paths: paths, pathsPerPoint: 4, steps: steps, repetitions: output.repetitions, pathwiseDirections: 8,
        perPathSample: 16
      ).run { note("[check \(T.dtypeName)] \($0)") }
      note("[check \(T.dtypeName)] per-point grid against the shared grid")
      let grids = try PerPointGridBenchmark<T>(
        configuration: .reference(), paths: paths, pathsPerPoint: 4, steps: steps
      ).run(repetitions: output.repetitions)
      let checks: [(String, Double, Double, Bool)] =
        [
          (
            "per_point_grid_over_shared", grids.ratio, maxPerPointGridOverShared,
            grids.ratio <= maxPerPointGridOverShared
          ),
          (
            "per_point_grid_gradient_over_shared", grids.gradientRatio, maxPerPointGridOverShared,
            grids.gradientRatio <= maxPerPointGridOverShared
          ),
          ("batched_over_per_path", r.batchedOverPerPath, minBatchedSpeedup, r.batchedOverPerPath >= minBatchedSpeedup),
          (
            "forward_over_gemm_floor", r.forwardOverGEMMFloor, maxForwardOverFloor,
            r.forwardOverGEMMFloor <= maxForwardOverFloor
          ),
          (
            "gradient_over_gemm_floor", r.gradientOverGEMMFloor, maxGradientOverFloor,
            r.gradientOverGEMMFloor <= maxGradientOverFloor
          ),
          ("forward_over_cblas", r.forwardOverCBLAS, maxOverCblas, r.forwardOverCBLAS <= maxOverCblas),
          ("gradient_over_cblas", r.gradientOverCBLAS, maxOverCblas, r.gradientOverCBLAS <= maxOverCblas),
          (
            "backprop_over_forward", r.backpropOverForward, maxBackpropOverForward,
            r.backpropOverForward <= maxBackpropOverForward
          ),
          (
            "half_memory_over_full_tape", r.budgetedOverFullTape, maxBudgetedOverFullTape,
            r.budgetedOverFullTape <= maxBudgetedOverFullTape
          ),
          (
            "half_memory_workspace_over_budget", Double(r.budgetedWorkspaceBytes) / Double(r.budgetBytes), 1,
            r.budgetedWorkspaceBytes <= r.budgetBytes
          ),
        ]
        + (T.self == Double.self
          ? [
            (
              "estimators_max_rel_diff", r.estimatorsRelativeDifference, maxEstimatorDifference,
              r.estimatorsRelativeDifference <= maxEstimatorDifference
            )
          ] : [])
      var entry: [String: Any] = [:]
      for (name, value, bar, ok) in checks {
        entry[name] = ["value": value, "bar": bar, "pass": ok]
        rows.append([T.dtypeName, name, fmtSci(value), fmtSci(bar), ok ? "pass" : "FAIL"])
        if !ok { failures.append("\(T.dtypeName) \(name) = \(fmtSci(value)) misses its bar \(fmtSci(bar))") }
      }
      // The roofline ratio: checked only against a bar given for this CPU.
      let roofline = r.forwardOverPeakTime
      if let bar = maxForwardOverFlopFloor {
        let ok = roofline <= bar
        entry["forward_over_flop_floor"] = ["value": roofline, "bar": bar, "pass": ok]
        rows.append([T.dtypeName, "forward_over_flop_floor", fmtSci(roofline), fmtSci(bar), ok ? "pass" : "FAIL"])
        if !ok {
          failures.append("\(T.dtypeName) forward_over_flop_floor = \(fmtSci(roofline)) misses its bar \(fmtSci(bar))")
        }
      } else {
        entry["forward_over_flop_floor"] = ["value": roofline, "bar": NSNull(), "pass": NSNull()]
        rows.append([T.dtypeName, "forward_over_flop_floor", fmtSci(roofline), "–", "(reported)"])
      }
      report[T.dtypeName.lowercased()] = entry
    }
    try runReportingErrors {
      try go(Double.self)
      try go(Float.self)
      if !failures.isEmpty {
        // Shared machines are noisy: measure once more and keep the second verdict.
        note("re-measuring after \(failures.count) failed check(s)")
        failures = []
        rows = []
        report = [:]
        try go(Double.self)
        try go(Float.self)
      }
    }
    if output.json {
      try printJSON(["machine": machineJSON(), "checks": report, "passed": failures.isEmpty])
    } else {
      print(machineLine())
      print(Table(header: ["dtype", "ratio", "measured", "bar", ""], rows: rows).render())
      let checked = rows.filter { $0.last != "(reported)" }.count
      print("\(checked - failures.count) passed, \(failures.count) failed")
    }
    if !failures.isEmpty {
      for f in failures { note("check failed: \(f)") }
      throw ExitCode.failure
    }
  }
}
