import ArgumentParser
import Foundation
import NSDEBenchmarks
import NeuralSDE

/// Batched Euler–Maruyama throughput.
struct Simulate: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Batched Euler–Maruyama throughput (posterior solve, one core) vs its GEMM floor and a per-path loop.")

  @OptionGroup var problem: ProblemOptions
  @OptionGroup var output: OutputOptions
  @Option(parsing: .unconditional, help: "Paths stepped one at a time for the per-path comparison (1…4096).")
  var perPathSample = 32
  @Flag(
    help:
      "Also time the solve on a per-point grid (the same grid once per data point, as sequence batches step) against the shared grid, time-homogeneous networks on both sides."
  )
  var perPointGrid = false

  func validate() throws { try checkRange("per-path-sample", perPathSample, 1, 4096) }

  func run() throws {
    try runReportingErrors {
      var rows: [[String]] = []
      var json: [String: Any] = [:]
      func go<T: SDEScalar>(_: T.Type) throws {
        note("[\(T.dtypeName)] simulating M = \(problem.paths), N = \(problem.steps)")
        let r = try SolverBenchmark<T>(
          configuration: problem.configuration, paths: problem.paths, pathsPerPoint: problem.pathsPerPoint,
          steps: problem.steps
        ).run(repetitions: output.repetitions, perPathSample: min(perPathSample, problem.paths))
        json[T.dtypeName.lowercased()] =
          [
            "solve_ms": r.solve.median, "gemm_floor_ms": r.gemmFloor.median,
            "solve_over_gemm_floor": r.solveOverGEMMFloor,
            "noise_ms": r.noise.median, "noise_fraction": r.noiseFraction,
            "normals_per_s": Double(r.paths * r.steps * problem.configuration.noiseDimension) / (r.noise.median / 1e3),
            "batched_over_per_path": r.batchedOverPerPath,
            "path_steps_per_s": r.pathStepsPerSecond, "paths": r.paths, "steps": r.steps,
            "timings": [
              "solve": timingJSON(r.solve), "gemm_floor": timingJSON(r.gemmFloor), "noise": timingJSON(r.noise),
              "per_path_sample": timingJSON(r.perPath),
            ],
          ] as [String: Any]
        rows.append([
          T.dtypeName, fmt(r.solve.median), fmt(r.gemmFloor.median), fmt(r.solveOverGEMMFloor),
          fmt(100 * r.noiseFraction, 1) + "%",
          fmtSci(Double(r.paths * r.steps * problem.configuration.noiseDimension) / (r.noise.median / 1e3)),
          fmt(r.batchedOverPerPath, 1), fmtSci(r.pathStepsPerSecond),
        ])
      }
      for type in problem.dtype.scalarTypes { try go(type) }
      var perPointLines: [String] = []
      if perPointGrid {
        func grids<T: SDEScalar>(_: T.Type) throws {
          let r = try PerPointGridBenchmark<T>(
            configuration: problem.configuration, paths: problem.paths, pathsPerPoint: problem.pathsPerPoint,
            steps: problem.steps
          ).run(repetitions: output.repetitions)
          json["per_point_grid_" + T.dtypeName.lowercased()] = [
            "shared_ms": r.shared.median, "per_point_ms": r.perPoint.median, "per_point_over_shared": r.ratio,
            "gradient_shared_ms": r.sharedGradient.median, "gradient_per_point_ms": r.perPointGradient.median,
            "gradient_per_point_over_shared": r.gradientRatio,
          ]
          perPointLines.append(
            "[\(T.dtypeName)] per-point grid: estimates \(fmt(r.perPoint.median)) ms vs shared grid \(fmt(r.shared.median)) ms: ratio \(fmt(r.ratio, 3)); backprop gradient \(fmt(r.perPointGradient.median)) ms vs \(fmt(r.sharedGradient.median)) ms: ratio \(fmt(r.gradientRatio, 3)) (time-homogeneous networks, one core)"
          )
        }
        for type in problem.dtype.scalarTypes { try grids(type) }
      }
      try emit(
        json: output.json, problem: problem, results: json,
        title:
          "Euler–Maruyama, M = \(problem.paths), N = \(problem.steps), d = \(problem.latentDim), H = \(problem.hidden), \(problem.noise) noise, one core",
        table: Table(
          header: [
            "dtype", "solve (ms)", "GEMM floor (ms)", "ratio", "noise share", "normals/s", "batched / per-path",
            "path-steps/s",
          ], rows: rows))
      if !output.json { for line in perPointLines { print(line) } }
    }
  }
}
