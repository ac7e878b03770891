import ArgumentParser
import Foundation
import NSDEBenchmarks
import NeuralSDE
import NeuralSDEDistributed

/// The reference-problem report.
struct Report: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Reference-problem report: forward, gradients (both estimators), GEMM floors, ratios, memory.")

  @OptionGroup var problem: ProblemOptions
  @OptionGroup var output: OutputOptions
  @Option(parsing: .unconditional, help: "Tangent directions timed for the forward-pathwise estimator (1…4096).")
  var pathwiseDirections = 8
  @Flag(
    help:
      "Under mpirun: per-step compute and communication time of data-parallel training at the problem's shapes (B = paths / paths-per-point split over the ranks)."
  )
  var mpi = false

  func validate() throws {
    guard pathwiseDirections >= 1 && pathwiseDirections <= 4096 else {
      throw ValidationError("--pathwise-directions must be in 1…4096, got \(pathwiseDirections)")
    }
  }

  func run() throws {
    if mpi {
      try runReportingErrors { try reportMPI() }
      return
    }
    try runReportingErrors {
      var results: [(String, [String: Any], [String])] = []
      for type in problem.dtype.scalarTypes { results.append(try measure(type)) }
      if output.json {
        var byType: [String: Any] = [:]
        for (name, json, _) in results { byType[name] = json }
        try printJSON(["machine": machineJSON(), "results": byType, "problem": problemJSON(problem)])
      } else {
        print(
          "Reference problem: d = \(problem.latentDim), H = \(problem.hidden), N = \(problem.steps), M = \(problem.paths) (K = \(problem.pathsPerPoint)), \(problem.noise) noise"
        )
        print(machineLine())
        var table = Table(
          header: ["", "Float", "Double"].filter { h in h.isEmpty || results.contains { $0.0 == h.lowercased() } })
        let labels = [
          "forward (ms)", "GEMM floor, forward (ms)", "forward / GEMM floor", "gradient, backprop (ms)",
          "GEMM floor, gradient (ms)", "gradient / GEMM floor", "backprop / forward", "pathwise per direction (ms)",
          "pathwise, all parameters (ms, projected)", "backprop vs pathwise rel. diff", "batched / per-path (1 core)",
          "path-steps/s (forward)", "backprop workspace", "max RSS", "FMA peak per core, all cores (GFLOP/s)",
          "forward GFLOP/s (% of peak)", "forward / FLOP floor", "gradient GFLOP/s (% of peak)",
          "gradient / FLOP floor", "MLP kernels (ISA level)", "forward, CBLAS path (ms)", "forward / CBLAS path",
          "gradient, CBLAS path (ms)", "gradient / CBLAS path", "gradient in ½ the memory (ms)",
          "  its plan", "  its workspace", "  / full-tape gradient",
        ]
        for (i, label) in labels.enumerated() { table.rows.append([label] + results.map { $0.2[i] }) }
        print(table.render())
      }
    }
  }

  /// `report --mpi`: training-step time split into compute and the gradient reduction.
  func reportMPI() throws {
    guard MPICommunicator.isLaunchedByMPI else {
      throw NSDEError.invalidArgument("--mpi needs MPI: run `mpirun -np R nsde-bench report --mpi`")
    }
    let communicator = try MPICommunicator()
    defer { communicator.finalize() }
    var json: [String: Any] = [:]
    var rows: [[String]] = []
    for type in problem.dtype.scalarTypes {
      func go<T: SDEScalar>(_: T.Type) throws {
        let t = try DistributedStepTiming.measure(
          T.self, configuration: problem.configuration, points: problem.points, pathsPerPoint: problem.pathsPerPoint,
          solverSteps: problem.steps, chunksPerRank: problem.chunks ?? 1, communicator: communicator)
        json[T.dtypeName.lowercased()] =
          [
            "ranks": t.ranks, "chunks_per_rank": t.chunksPerRank, "step_ms": t.stepMilliseconds,
            "compute_ms": t.computeMilliseconds, "communication_ms": t.communicationMilliseconds,
            "communication_share": t.communicationShare, "bytes_per_rank_per_step": t.bytesPerRankPerStep,
          ] as [String: Any]
        rows.append([
          T.dtypeName, "\(t.ranks) × \(t.chunksPerRank)", fmt(t.stepMilliseconds), fmt(t.computeMilliseconds),
          fmt(t.communicationMilliseconds, 3), fmt(100 * t.communicationShare, 1) + " %", "\(t.bytesPerRankPerStep)",
        ])
      }
      try go(type)
    }
    guard communicator.rank == 0 else { return }
    try emit(
      json: output.json, problem: problem, results: json,
      title: "Data-parallel training step over MPI, M = \(problem.paths), N = \(problem.steps)",
      table: Table(
        header: ["dtype", "ranks × cores", "step (ms)", "compute (ms)", "reduction (ms)", "share", "bytes/rank"],
        rows: rows))
  }

  func measure<T: SDEScalar>(_: T.Type) throws -> (String, [String: Any], [String]) {
    note("[\(T.dtypeName)] reference problem, M = \(problem.paths), N = \(problem.steps)")
    let bench = ReferenceBenchmark<T>(
      configuration: problem.configuration, paths: problem.paths, pathsPerPoint: problem.pathsPerPoint,
      steps: problem.steps, chunks: problem.chunks, repetitions: output.repetitions,
      pathwiseDirections: pathwiseDirections)
    let r = try bench.run { note("[\(T.dtypeName)] \($0)") }
    let json: [String: Any] = [
      "dtype": r.dtype, "paths": r.paths, "steps": r.steps, "paths_per_point": r.pathsPerPoint,
      "parameters": r.parameters, "chunks": r.chunks, "blas_threads": r.blasThreads,
      "forward_ms": r.forward.median,
      "gradient_ms": ["backprop": r.backprop.median, "pathwise_projected": r.pathwiseProjectedFullMilliseconds],
      "pathwise_ms_per_direction": r.pathwiseMillisecondsPerDirection,
      "gemm_floor_forward_ms": r.gemmFloorForward.median, "gemm_floor_gradient_ms": r.gemmFloorGradient.median,
      "forward_over_gemm_floor": r.forwardOverGEMMFloor, "gradient_over_gemm_floor": r.gradientOverGEMMFloor,
      "batched_over_per_path": r.batchedOverPerPath, "backprop_over_forward": r.backpropOverForward,
      "estimators_max_rel_diff": r.estimatorsRelativeDifference, "path_steps_per_s": r.pathStepsPerSecond,
      "peak_memory_bytes": r.backpropWorkspaceBytes, "max_rss_bytes": r.maxResidentBytes,
      "roofline": [
        "fma_peak_gflops_per_core": r.peakFLOPRatePerCore / 1e9, "cores": r.chunks,
        "forward_gflop": r.forwardFLOPs / 1e9, "gradient_gflop": r.gradientFLOPs / 1e9,
        "forward_gflops": r.forwardGFLOPs, "gradient_gflops": r.gradientGFLOPs,
        "forward_fraction_of_peak": r.forwardFractionOfPeak, "gradient_fraction_of_peak": r.gradientFractionOfPeak,
        "forward_over_flop_floor": r.forwardOverPeakTime, "gradient_over_flop_floor": r.gradientOverPeakTime,
      ],
      "kernels": r.kernels, "isa_level": r.instructionSetLevel,
      "cblas_path": [
        "forward_ms": r.forwardCBLAS.median, "gradient_ms": r.backpropCBLAS.median,
        "forward_over_cblas": r.forwardOverCBLAS, "gradient_over_cblas": r.gradientOverCBLAS,
      ],
      "half_memory": [
        "budget_bytes": r.budgetBytes, "plan": r.budgetPlan, "workspace_bytes": r.budgetedWorkspaceBytes,
        "gradient_ms": r.budgeted.median, "over_full_tape": r.budgetedOverFullTape,
      ],
      "timings": [
        "forward": timingJSON(r.forward), "gemm_floor_forward": timingJSON(r.gemmFloorForward),
        "backprop": timingJSON(r.backprop), "gemm_floor_gradient": timingJSON(r.gemmFloorGradient),
        "pathwise": timingJSON(r.pathwise), "batched_single_core": timingJSON(r.batchedSingleCore),
        "forward_cblas": timingJSON(r.forwardCBLAS), "backprop_cblas": timingJSON(r.backpropCBLAS),
        "backprop_half_memory": timingJSON(r.budgeted),
      ],
    ]
    let column = [
      fmt(r.forward.median), fmt(r.gemmFloorForward.median), fmt(r.forwardOverGEMMFloor), fmt(r.backprop.median),
      fmt(r.gemmFloorGradient.median), fmt(r.gradientOverGEMMFloor), fmt(r.backpropOverForward),
      fmt(r.pathwiseMillisecondsPerDirection), fmt(r.pathwiseProjectedFullMilliseconds, 0),
      fmtSci(r.estimatorsRelativeDifference), fmt(r.batchedOverPerPath, 1), fmtSci(r.pathStepsPerSecond),
      mib(r.backpropWorkspaceBytes), mib(r.maxResidentBytes), fmt(r.peakFLOPRatePerCore / 1e9, 1),
      "\(fmt(r.forwardGFLOPs, 1)) (\(fmt(100 * r.forwardFractionOfPeak, 0)) %)", fmt(r.forwardOverPeakTime),
      "\(fmt(r.gradientGFLOPs, 1)) (\(fmt(100 * r.gradientFractionOfPeak, 0)) %)", fmt(r.gradientOverPeakTime),
      "\(r.kernels) (\(r.instructionSetLevel))", fmt(r.forwardCBLAS.median), fmt(r.forwardOverCBLAS),
      fmt(r.backpropCBLAS.median), fmt(r.gradientOverCBLAS), fmt(r.budgeted.median), r.budgetPlan,
      "\(mib(r.budgetedWorkspaceBytes)) (budget \(mib(r.budgetBytes)))", fmt(r.budgetedOverFullTape),
    ]
    return (T.dtypeName.lowercased(), json, column)
  }
}

func problemJSON(_ p: ProblemOptions) -> [String: Any] {
  [
    "latent_dim": p.latentDim, "data_dim": p.dataDim, "hidden": p.hidden, "steps": p.steps,
    "paths_per_point": p.pathsPerPoint, "paths": p.paths, "noise": p.noise.rawValue,
    "noise_dim": p.configuration.noiseDimension, "activation": p.activation.rawValue,
    "posterior": p.posterior.rawValue,
  ]
}
