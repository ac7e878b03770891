import ArgumentParser
import Foundation
import NSDEBenchmarks
import NeuralSDE

enum EstimatorChoice: String, ExpressibleByArgument, CaseIterable {
  case backprop, pathwise
}

/// Gradient timing, memory and agreement; or one gradient for user-given files.
struct Gradient: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract:
      "Both estimators' time, memory and agreement; or the loss and gradient for given parameters, data and noise.",
    discussion: """
      File mode (all of --params, --data, --noise): evaluates the free energy and its gradient for the \
      parameters in a safetensors file (interchange names, e.g. drift.0.weight [out, in]), data [B, D] and \
      noise [N, M, m] (.npy, M = B·K), with the architecture of the problem options, and writes the \
      gradient as safetensors. Use it to check our numbers against a PyTorch or JAX model.
      """)

  @OptionGroup var problem: ProblemOptions
  @OptionGroup var output: OutputOptions
  @Option(help: "Parameters (safetensors) for file mode.") var params: String?
  @Option(help: "Data (.npy, [B, D]) for file mode.") var data: String?
  @Option(name: .customLong("noise"), help: "Noise increments ΔW (.npy, [N, M, m], variance h each) for file mode.")
  var noiseFile: String?
  @Option(help: "Estimator for file mode (backprop, pathwise). Pathwise costs about one forward pass per parameter.")
  var estimator: EstimatorChoice = .backprop
  @Option(help: "Objective (free-energy, importance-weighted).") var objective: TrainingObjective = .freeEnergy
  @Option(help: "Where to write the gradient (safetensors) in file mode.") var gradientOut: String?
  @Option(
    help:
      "Memory budget of the backprop workspace, e.g. 64MiB: each core's paths then run in sequential micro-batches and/or states are checkpointed on one or more levels and segments re-run, whichever is predicted cheaper (the plan is printed). Timing mode also times the full tape when it fits."
  )
  var memoryBudget: String?
  @Flag(
    help:
      "Meet --memory-budget by checkpointing only (the full tape's gradient bit for bit); by default each core's paths may also run in sequential micro-batches when that is cheaper (the same gradient to round-off)."
  )
  var checkpointOnly = false

  var budgetBytes: Int? { memoryBudget.flatMap(MemoryLimit.parse) }
  @Option(parsing: .unconditional, help: "Tangent directions for the pathwise estimator in timing mode (1…100000).")
  var directions = 16
  @Option(
    help:
      "Write the problem's parameters (params.safetensors), data (data.npy) and noise (noise.npy) to this directory and exit."
  )
  var exportDir: String?

  var noisePath: String? { noiseFile }
  var fileMode: Bool { params != nil || data != nil || noisePath != nil }

  func validate() throws {
    _ = try parseSize(memoryBudget, option: "memory-budget")
    if fileMode {
      guard params != nil, data != nil, noisePath != nil else {
        throw ValidationError("file mode needs all of --params, --data and --noise")
      }
    }
    guard directions >= 1 && directions <= 100_000 else {
      throw ValidationError("--directions must be in 1…100000, got \(directions)")
    }
  }

  func run() throws {
    try runReportingErrors {
      if let dir = exportDir {
        if problem.dtype == .float { try export(Float.self, to: dir) } else { try export(Double.self, to: dir) }
      } else if fileMode {
        if problem.dtype == .float { try evaluateFiles(Float.self) } else { try evaluateFiles(Double.self) }
      } else {
        try timing()
      }
    }
  }

  /// Writes the seeded reference inputs, so that other tools can compute the same loss.
  func export<T: SDEScalar>(_: T.Type, to dir: String) throws {
    try AtomicFile.prepareDirectory(dir)
    let model = try NeuralSDEModel<T>(problem.configuration, seed: 1)
    try SafetensorsFile(tensors: model.parameterTensors(), metadata: ["problem": "\(problemJSON(problem))"]).write(
      to: dir + "/params.safetensors")
    let y = ToyDataset.twoMoons.sample(count: problem.points, seed: 2, as: T.self)
    try NPY.write(y, to: dir + "/data.npy")
    let grid = try TimeGrid(uniformSteps: problem.steps)
    let noise = try RecordedBrownianIncrements(
      from: PhiloxBrownianIncrements<T>(seed: 3, dimension: model.noiseDimension), grid: grid, paths: problem.paths)
    try NPY.write(
      StoredTensor(
        shape: [problem.steps, problem.paths, model.noiseDimension], dtype: T.self == Float.self ? .float32 : .float64,
        values: noise.values.map(Double.init)), to: dir + "/noise.npy")
    if output.json {
      try printJSON([
        "dir": dir, "files": ["params.safetensors", "data.npy", "noise.npy"], "parameters": model.parameterCount,
      ])
    } else {
      print(
        "wrote \(dir)/params.safetensors, data.npy [\(problem.points), \(problem.dataDim)], noise.npy [\(problem.steps), \(problem.paths), \(model.noiseDimension)]"
      )
    }
  }

  func evaluateFiles<T: SDEScalar>(_: T.Type) throws {
    if let out = gradientOut {
      try AtomicFile.checkDistinct(
        outputs: [("--gradient-out", out)],
        inputs: [("--params", params!), ("--data", data!), ("--noise", noisePath!)])
    }
    let model = try NeuralSDEModel<T>(problem.configuration, seed: 0)
    let file = try SafetensorsFile.read(params!)
    try model.loadParameters(from: file.tensors, source: params!)
    let y = try NPY.readMatrix(data!, as: T.self)
    let noiseTensor = try NPY.read(noisePath!)
    guard noiseTensor.shape.count == 3 else {
      throw NSDEError.file(path: noisePath!, reason: "noise must have shape [N, M, m], got \(noiseTensor.shape)")
    }
    let (n, m, dim) = (noiseTensor.shape[0], noiseTensor.shape[1], noiseTensor.shape[2])
    let k = problem.pathsPerPoint
    let noise = try RecordedBrownianIncrements<T>(
      steps: n, paths: m, dimension: dim, values: noiseTensor.values.map { T($0) })
    // The solve checks the noise shape [N, M, m] against --solver-steps, B·K and the model.
    let grid = try TimeGrid(uniformSteps: problem.steps)
    let est: any GradientEstimator =
      estimator == .backprop
      ? BackpropThroughSolver(memoryBudget: budgetBytes, allowsMicroBatches: !checkpointOnly) : ForwardPathwise()
    let r = try est.gradient(of: model, data: y, noise: noise, grid: grid, pathsPerPoint: k, objective: objective)
    if let out = gradientOut {
      let tensors = model.parameters.slices.map { s in
        (
          s.name,
          StoredTensor(
            shape: s.shape, dtype: T.self == Float.self ? .float32 : .float64, values: Array(r.gradient[s.range]))
        )
      }
      try SafetensorsFile(tensors: tensors, metadata: ["loss": "\(r.loss)", "objective": objective.rawValue]).write(
        to: out)
    }
    let norm = euclideanNorm(r.gradient)
    if output.json {
      try printJSON([
        "loss": r.loss, "gradient_norm": norm, "estimator": estimator.rawValue, "objective": objective.rawValue,
        "steps": n, "paths": m, "paths_per_point": k, "seconds": r.diagnostics.seconds,
        "gradient_out": gradientOut.map { $0 as Any } ?? NSNull(),
      ])
    } else {
      print(
        "loss \(r.loss)  gradient norm \(norm)  (\(estimator.rawValue), N = \(n), M = \(m), K = \(k), \(fmt(r.diagnostics.seconds * 1e3)) ms)"
      )
      if let out = gradientOut { print("gradient written to \(out)") }
    }
  }

  func timing() throws {
    var json: [String: Any] = [:]
    var rows: [[String]] = []
    func go<T: SDEScalar>(_: T.Type) throws {
      let model = try NeuralSDEModel<T>(problem.configuration, seed: 1)
      let y = ToyDataset.twoMoons.sample(count: problem.points, seed: 2, as: T.self)
      let grid = try TimeGrid(uniformSteps: problem.steps)
      let noise = PhiloxBrownianIncrements<T>(seed: 3, dimension: model.noiseDimension)
      let count = min(directions, model.parameterCount)
      let full = BackpropThroughSolver(chunks: problem.chunks)
      let a = BackpropThroughSolver(
        chunks: problem.chunks, memoryBudget: budgetBytes, allowsMicroBatches: !checkpointOnly)
      let b = ForwardPathwise(directions: .indices(Array(0..<count)), blockSize: min(count, 32), chunks: problem.chunks)
      let k = problem.pathsPerPoint
      let plan = try a.plan(model: model, points: y.rows, pathsPerPoint: k, steps: grid.steps)
      let budgeted = plan.microBatches > 1 || !plan.schedule.levels.isEmpty
      note(
        "[\(T.dtypeName)] backprop (predicted workspace \(MemoryLimit.describe(plan.estimatedBytes))\(budgeted ? ", \(plan), predicted \(fmt(plan.relativeCost))× the full tape" : "")) and pathwise (\(count) directions), M = \(problem.paths), N = \(problem.steps)"
      )
      // With a budget: the full tape too when it fits in memory, and when the
      // plan uses micro-batches, checkpointing alone (bitwise the full tape).
      let fullFits =
        budgeted
        && (full.estimatedWorkspaceBytes(model: model, points: y.rows, pathsPerPoint: k, steps: grid.steps) ?? .max)
          <= MemoryLimit.available
      let c = BackpropThroughSolver(chunks: problem.chunks, memoryBudget: budgetBytes, allowsMicroBatches: false)
      let checkpointPlan =
        fullFits && plan.microBatches > 1
        ? try? c.plan(model: model, points: y.rows, pathsPerPoint: k, steps: grid.steps) : nil
      var ra: GradientResult?
      var rb: GradientResult?
      var rf: GradientResult?
      var rc: GradientResult?
      var bodies: [() throws -> Void] = [
        { ra = try a.gradient(of: model, data: y, noise: noise, grid: grid, pathsPerPoint: k, objective: objective) },
        { rb = try b.gradient(of: model, data: y, noise: noise, grid: grid, pathsPerPoint: k, objective: objective) },
      ]
      if fullFits {
        bodies.append {
          rf = try full.gradient(of: model, data: y, noise: noise, grid: grid, pathsPerPoint: k, objective: objective)
        }
      }
      if checkpointPlan != nil {
        bodies.append {
          rc = try c.gradient(of: model, data: y, noise: noise, grid: grid, pathsPerPoint: k, objective: objective)
        }
      }
      let t = try measureInterleaved(warmup: 1, repetitions: output.repetitions, bodies)
      let diff = relativeError((0..<count).map { ra!.gradient[$0] }, (0..<count).map { rb!.gradient[$0] })
      /// "bitwise equal" or the relative difference from the full tape's gradient.
      func agreement(_ r: GradientResult, _ reference: GradientResult) -> (bitwise: Bool, relDiff: Double, text: String)
      {
        let same = zip(r.gradient, reference.gradient).allSatisfy { $0.bitPattern == $1.bitPattern }
        let rel = relativeError(r.gradient, reference.gradient)
        return (same, rel, same ? "bitwise equal" : "relative difference \(fmtSci(rel))")
      }
      if let rf {
        let (same, rel, text) = agreement(ra!, rf)
        var entry: [String: Any] = [
          "micro_batches": plan.microBatches, "checkpoint_levels": plan.schedule.levels,
          "tape_steps": plan.schedule.tapeLength, "recomputed_steps": plan.schedule.recomputedSteps,
          "predicted_over_full": plan.relativeCost, "full_tape_ms": t[2].median, "checkpointed_ms": t[0].median,
          "checkpointed_over_full": t[0].median / t[2].median,
          "full_tape_workspace_bytes": rf.diagnostics.peakWorkspaceBytes,
          "checkpointed_workspace_bytes": ra!.diagnostics.peakWorkspaceBytes, "bitwise_equal": same,
          "relative_difference": rel,
        ]
        note(
          "[\(T.dtypeName)] budgeted backprop (\(plan)) \(fmt(t[0].median)) ms, \(mib(ra!.diagnostics.peakWorkspaceBytes)) vs full tape \(fmt(t[2].median)) ms, \(mib(rf.diagnostics.peakWorkspaceBytes)): \(fmt(t[0].median / t[2].median))×, gradients \(text)"
        )
        if let rc, let checkpointPlan {
          let (cSame, _, cText) = agreement(rc, rf)
          entry["checkpoint_only"] =
            [
              "checkpoint_levels": checkpointPlan.schedule.levels,
              "recomputed_steps": checkpointPlan.schedule.recomputedSteps,
              "ms": t[3].median, "over_full": t[3].median / t[2].median,
              "workspace_bytes": rc.diagnostics.peakWorkspaceBytes, "bitwise_equal": cSame,
            ] as [String: Any]
          note(
            "[\(T.dtypeName)] checkpointing only (\(checkpointPlan)) \(fmt(t[3].median)) ms, \(mib(rc.diagnostics.peakWorkspaceBytes)): \(fmt(t[3].median / t[2].median))× the full tape, gradients \(cText)"
          )
        }
        json["\(T.dtypeName.lowercased())_checkpointed"] = entry
      }
      json[T.dtypeName.lowercased()] =
        [
          "backprop_ms": t[0].median, "pathwise_ms": t[1].median, "pathwise_directions": count,
          "pathwise_ms_per_direction": t[1].median / Double(count),
          "backprop_workspace_bytes": ra!.diagnostics.peakWorkspaceBytes,
          "pathwise_workspace_bytes": rb!.diagnostics.peakWorkspaceBytes, "estimators_max_rel_diff": diff,
          "loss": ra!.loss, "parameters": model.parameterCount,
        ] as [String: Any]
      rows.append([
        T.dtypeName, fmt(t[0].median), mib(ra!.diagnostics.peakWorkspaceBytes), fmt(t[1].median), "\(count)",
        fmt(t[1].median / Double(count)), mib(rb!.diagnostics.peakWorkspaceBytes), fmtSci(diff),
      ])
    }
    for type in problem.dtype.scalarTypes { try go(type) }
    try emit(
      json: output.json, problem: problem, results: json, title: nil,
      table: Table(
        header: [
          "dtype", "backprop (ms)", "backprop memory", "pathwise (ms)", "directions", "ms/direction",
          "pathwise memory", "rel. diff",
        ], rows: rows))
  }
}
