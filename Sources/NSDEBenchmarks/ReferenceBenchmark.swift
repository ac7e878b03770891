import Foundation
import NeuralSDE

/// The reference-problem report of docs/REFERENCE-PROBLEM.md for one dtype: forward and
/// gradient times against their GEMM floors, the backprop/forward ratio, the
/// forward-pathwise cost per direction and its agreement with backprop,
/// batched vs per-path throughput and memory — all measured in one run.
public struct ReferenceBenchmark<Scalar: SDEScalar> {
  public struct Result: Sendable, Codable {
    public var dtype: String
    public var paths: Int
    public var steps: Int
    public var pathsPerPoint: Int
    public var parameters: Int
    public var chunks: Int
    public var blasThreads: Int
    public var forward: TimingSummary
    public var gemmFloorForward: TimingSummary
    public var backprop: TimingSummary
    public var gemmFloorGradient: TimingSummary
    /// Forward and backprop gradient with every network on `MLPKernels.blas`
    /// (the CBLAS path), timed in the same interleaved run.
    public var forwardCBLAS: TimingSummary
    public var backpropCBLAS: TimingSummary
    /// The kernels the networks run by default (`MLPKernels.preferred`) and the fused kernels' ISA level.
    public var kernels: String
    public var instructionSetLevel: Int
    /// Backprop within half the full tape's workspace (`budgetBytes`; the
    /// `BackpropPlan` it chose, its workspace), timed in the same interleaved run.
    public var budgeted: TimingSummary
    public var budgetBytes: Int
    public var budgetPlan: String
    public var budgetedWorkspaceBytes: Int
    /// Forward-pathwise run over `pathwiseDirections` directions.
    public var pathwise: TimingSummary
    public var pathwiseDirections: Int
    /// Single-core batched solve and the per-path loop (scaled to all paths).
    public var batchedSingleCore: TimingSummary
    public var perPathScaled: Double
    /// ‖A − B‖/‖A‖ over the pathwise directions.
    public var estimatorsRelativeDifference: Double
    /// Workspace bytes of one backprop gradient (tapes, activations, buffers).
    public var backpropWorkspaceBytes: Int
    public var pathwiseWorkspaceBytes: Int
    /// Peak resident set size of the process so far.
    public var maxResidentBytes: Int
    /// The roofline: the peak FMA rate per core (FLOP/s; the probe runs on
    /// all `chunks` cores at once, interleaved with the timed solves, so both
    /// sides of the FLOP-floor ratios are measured under the same load) and
    /// the FLOPs of the forward and gradient matrix products.
    public var peakFLOPRatePerCore: Double
    public var forwardFLOPs: Double
    public var gradientFLOPs: Double

    /// Achieved GFLOP/s of the forward and the gradient (their products' FLOPs over their times).
    public var forwardGFLOPs: Double { forwardFLOPs / (forward.median / 1e3) / 1e9 }
    public var gradientGFLOPs: Double { gradientFLOPs / (backprop.median / 1e3) / 1e9 }
    /// The peak of the cores used (`chunks` cores run concurrently).
    public var peakFLOPRate: Double { peakFLOPRatePerCore * Double(chunks) }
    /// Achieved share of that peak.
    public var forwardFractionOfPeak: Double { forwardGFLOPs * 1e9 / peakFLOPRate }
    public var gradientFractionOfPeak: Double { gradientGFLOPs * 1e9 / peakFLOPRate }
    /// Time over the FLOP floor `FLOPs / peak` (1 = at the machine's compute limit).
    public var forwardOverPeakTime: Double { 1 / forwardFractionOfPeak }
    public var gradientOverPeakTime: Double { 1 / gradientFractionOfPeak }

    /// Gradient time within half the memory over the full tape's.
    public var budgetedOverFullTape: Double { budgeted.median / backprop.median }
    public var forwardOverGEMMFloor: Double { forward.median / gemmFloorForward.median }
    public var gradientOverGEMMFloor: Double { backprop.median / gemmFloorGradient.median }
    public var backpropOverForward: Double { backprop.median / forward.median }
    /// Default kernels over the CBLAS path (below 1: the fused kernels are faster).
    public var forwardOverCBLAS: Double { forward.median / forwardCBLAS.median }
    public var gradientOverCBLAS: Double { backprop.median / backpropCBLAS.median }
    public var batchedOverPerPath: Double { perPathScaled / batchedSingleCore.median }
    public var pathStepsPerSecond: Double { Double(paths * steps) / (forward.median / 1e3) }
    /// Time per tangent direction of the pathwise estimator (its time minus one forward, per direction).
    public var pathwiseMillisecondsPerDirection: Double {
      Swift.max(pathwise.median - forward.median, 0) / Double(pathwiseDirections)
    }
    /// Projected pathwise time for all parameters.
    public var pathwiseProjectedFullMilliseconds: Double {
      forward.median + pathwiseMillisecondsPerDirection * Double(parameters)
    }
  }

  public var configuration: NeuralSDEConfiguration
  public var paths: Int
  public var pathsPerPoint: Int
  public var steps: Int
  public var chunks: Int
  public var repetitions: Int
  public var pathwiseDirections: Int
  public var perPathSample: Int

  public init(
    configuration: NeuralSDEConfiguration = .reference(), paths: Int = 1024, pathsPerPoint: Int = 4, steps: Int = 50,
    chunks: Int? = nil, repetitions: Int = 10, pathwiseDirections: Int = 8, perPathSample: Int = 32
  ) {
    self.configuration = configuration
    self.paths = paths
    self.pathsPerPoint = pathsPerPoint
    self.steps = steps
    self.chunks = chunks ?? Threading.availableCores
    self.repetitions = repetitions
    self.pathwiseDirections = pathwiseDirections
    self.perPathSample = perPathSample
  }

  public func validate() throws {
    try configuration.validate()
    guard paths >= 1, pathsPerPoint >= 1, paths % pathsPerPoint == 0 else {
      throw NSDEError.invalidArgument(
        "paths (\(paths)) must be a positive multiple of paths per point (\(pathsPerPoint))")
    }
    guard steps >= 1 else { throw NSDEError.invalidArgument("steps must be ≥ 1, got \(steps)") }
    guard repetitions >= 1 else { throw NSDEError.invalidArgument("repetitions must be ≥ 1, got \(repetitions)") }
  }

  public func run(progress: ((String) -> Void)? = nil) throws -> Result {
    try validate()
    let model = try NeuralSDEModel<Scalar>(configuration, seed: 1)
    let points = paths / pathsPerPoint
    let data = ToyDataset.twoMoons.sample(count: points, seed: 2, as: Scalar.self)
    let grid = try TimeGrid(uniformSteps: steps)
    let noise = PhiloxBrownianIncrements<Scalar>(seed: 3, dimension: model.noiseDimension)
    let backprop = BackpropThroughSolver(chunks: chunks)

    // Correctness first: A against B on a few directions (posterior, drift and diffusion weights).
    progress?("checking the estimators against each other")
    let groups = model.parameterGroups
    var directions: [Int] = []
    for g in groups where directions.count < pathwiseDirections {
      directions.append(contentsOf: g.range.prefix(Swift.max(1, pathwiseDirections / 4)))
    }
    directions = Array(directions.prefix(pathwiseDirections))
    let pathwise = ForwardPathwise(directions: .indices(directions), blockSize: directions.count, chunks: chunks)
    let a = try backprop.gradient(
      of: model, data: data, noise: noise, grid: grid, pathsPerPoint: pathsPerPoint, objective: .freeEnergy)
    let b = try pathwise.gradient(
      of: model, data: data, noise: noise, grid: grid, pathsPerPoint: pathsPerPoint, objective: .freeEnergy)
    let relDiff = relativeError(directions.map { a.gradient[$0] }, directions.map { b.gradient[$0] })

    // Backprop within half the full tape's memory (micro-batches and/or checkpoints).
    let budget = a.diagnostics.peakWorkspaceBytes / 2
    let budgeted = BackpropThroughSolver(chunks: chunks, memoryBudget: budget)
    let plan = try budgeted.plan(model: model, points: points, pathsPerPoint: pathsPerPoint, steps: steps)
    var budgetedBytes = 0

    // GEMM floors with the same chunking.
    let parts = Threading.partition(points, into: chunks)
    let floors = parts.map { SolveGEMMFloor(model: model, points: $0.count, pathsPerPoint: pathsPerPoint) }
    func floorRun(backward: Bool) {
      Threading.concurrentPerform(floors.count) { c in floors[c].run(steps: steps, backward: backward) }
    }
    // The same model on the CBLAS path (same parameters).
    let cblasModel = try NeuralSDEModel<Scalar>(configuration, seed: 1)
    for n in cblasModel.networks { n.mlp.kernels = .blas }
    // The FMA peak of the same cores, probed between the timed solves.
    let probe = Roofline.ConcurrentProbe<Scalar>(cores: parts.count)
    progress?(
      "timing forward, backprop, their GEMM floors, the CBLAS path, backprop in half the memory and the FMA peak (\(repetitions) interleaved repetitions)"
    )
    let t = try measureInterleaved(
      warmup: 1, repetitions: repetitions,
      [
        {
          _ = try model.freeEnergy(data: data, noise: noise, grid: grid, pathsPerPoint: pathsPerPoint, chunks: chunks)
        },
        { floorRun(backward: false) },
        {
          _ = try backprop.gradient(
            of: model, data: data, noise: noise, grid: grid, pathsPerPoint: pathsPerPoint, objective: .freeEnergy)
        },
        { floorRun(backward: true) },
        {
          _ = try cblasModel.freeEnergy(
            data: data, noise: noise, grid: grid, pathsPerPoint: pathsPerPoint, chunks: chunks)
        },
        {
          _ = try backprop.gradient(
            of: cblasModel, data: data, noise: noise, grid: grid, pathsPerPoint: pathsPerPoint,
            objective: .freeEnergy)
        },
        {
          budgetedBytes = try budgeted.gradient(
            of: model, data: data, noise: noise, grid: grid, pathsPerPoint: pathsPerPoint, objective: .freeEnergy
          ).diagnostics.peakWorkspaceBytes
        },
        { probe.run() },
      ])
    progress?("timing the forward-pathwise estimator (\(directions.count) directions)")
    let tb = try measure(warmup: 0, repetitions: Swift.max(2, repetitions / 4)) {
      _ = try pathwise.gradient(
        of: model, data: data, noise: noise, grid: grid, pathsPerPoint: pathsPerPoint, objective: .freeEnergy)
    }
    progress?("timing batched vs per-path stepping (one core)")
    let solver = try SolverBenchmark<Scalar>(
      configuration: configuration, paths: paths, pathsPerPoint: pathsPerPoint, steps: steps
    ).run(repetitions: Swift.max(2, repetitions / 3), perPathSample: perPathSample)
    let peak = probe.flops / (t[7].median / 1e3) / Double(probe.cores)
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Result(
      dtype: Scalar.dtypeName, paths: paths, steps: steps, pathsPerPoint: pathsPerPoint,
      parameters: model.parameterCount, chunks: parts.count, blasThreads: Threading.blasThreads, forward: t[0],
      gemmFloorForward: t[1], backprop: t[2], gemmFloorGradient: t[3], forwardCBLAS: t[4], backpropCBLAS: t[5],
      kernels: model.drift.mlp.kernels.rawValue, instructionSetLevel: MLPKernels.instructionSetLevel,
      budgeted: t[6], budgetBytes: budget, budgetPlan: plan.description, budgetedWorkspaceBytes: budgetedBytes,
      pathwise: tb,
      pathwiseDirections: directions.count,
      batchedSingleCore: solver.solve,
      perPathScaled: solver.perPath.median * Double(paths) / Double(solver.perPathSample),
      estimatorsRelativeDifference: relDiff, backpropWorkspaceBytes: a.diagnostics.peakWorkspaceBytes,
      pathwiseWorkspaceBytes: b.diagnostics.peakWorkspaceBytes, maxResidentBytes: Int(usage.ru_maxrss) * 1024,
      peakFLOPRatePerCore: peak,
      forwardFLOPs: Roofline.forwardFLOPs(model: model, points: points, pathsPerPoint: pathsPerPoint, steps: steps),
      gradientFLOPs: Roofline.gradientFLOPs(model: model, points: points, pathsPerPoint: pathsPerPoint, steps: steps))
  }
}
