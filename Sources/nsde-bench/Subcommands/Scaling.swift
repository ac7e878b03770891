import ArgumentParser
import Foundation
import NSDEBenchmarks
import NeuralSDE

/// Cost laws by sweeps.
struct Scaling: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Sweeps M, N, H and tangent directions; prints measured cost laws with fitted exponents.",
    discussion: """
      Expected: forward and backprop time linear in M and N (exponent ≈ 1); backprop / forward flat in the \
      number of parameters (exponent ≈ 0 as H grows); pathwise time linear in the number of tangent \
      directions (exponent ≈ 1).
      """)

  @OptionGroup var problem: ProblemOptions
  @OptionGroup var output: OutputOptions

  func run() throws {
    try runReportingErrors {
      if problem.dtype == .float { try sweep(Float.self) } else { try sweep(Double.self) }
    }
  }

  func slope(_ x: [Double], _ y: [Double]) -> Double { logLogSlope(x, y) }

  func sweep<T: SDEScalar>(_: T.Type) throws {
    let reps = output.repetitions
    func times(config: NeuralSDEConfiguration, paths: Int, steps: Int) throws -> (
      forward: Double, backprop: Double, params: Int
    ) {
      let model = try NeuralSDEModel<T>(config, seed: 1)
      let k = problem.pathsPerPoint
      let y = ToyDataset.twoMoons.sample(count: paths / k, seed: 2, as: T.self)
      let grid = try TimeGrid(uniformSteps: steps)
      let noise = PhiloxBrownianIncrements<T>(seed: 3, dimension: model.noiseDimension)
      let a = BackpropThroughSolver(chunks: problem.chunks)
      let t = try measureInterleaved(
        warmup: 1, repetitions: reps,
        [
          { _ = try model.freeEnergy(data: y, noise: noise, grid: grid, pathsPerPoint: k, chunks: problem.chunks) },
          {
            _ = try a.gradient(of: model, data: y, noise: noise, grid: grid, pathsPerPoint: k, objective: .freeEnergy)
          },
        ])
      return (t[0].median, t[1].median, model.parameterCount)
    }
    var laws: [[String]] = []
    var json: [String: Any] = [:]
    let base = problem.configuration
    note("sweeping M")
    let ms = [256, 512, 1024, 2048].map { $0 * problem.pathsPerPoint / 4 }
    let tm = try ms.map { try times(config: base, paths: $0, steps: problem.steps) }
    laws.append([
      "forward vs M", ms.map(String.init).joined(separator: ","), fmt(slope(ms.map(Double.init), tm.map(\.forward))),
      "1",
    ])
    laws.append(["backprop vs M", "", fmt(slope(ms.map(Double.init), tm.map(\.backprop))), "1"])
    note("sweeping N")
    let ns = [10, 20, 40, 80]
    let tn = try ns.map { try times(config: base, paths: problem.paths, steps: $0) }
    laws.append([
      "forward vs N", ns.map(String.init).joined(separator: ","), fmt(slope(ns.map(Double.init), tn.map(\.forward))),
      "1",
    ])
    laws.append(["backprop vs N", "", fmt(slope(ns.map(Double.init), tn.map(\.backprop))), "1"])
    note("sweeping H (number of parameters)")
    let hs = [32, 64, 128]
    let th = try hs.map { h -> (forward: Double, backprop: Double, params: Int) in
      var c = NeuralSDEConfiguration.reference(
        latentDimension: problem.latentDim, dataDimension: problem.dataDim, hidden: h, noise: problem.noiseType,
        activation: problem.activation)
      c.likelihood = base.likelihood
      return try times(config: c, paths: problem.paths, steps: problem.steps)
    }
    let ps = th.map { Double($0.params) }
    laws.append([
      "backprop/forward vs #params", th.map { "\($0.params)" }.joined(separator: ","),
      fmt(slope(ps, th.map { $0.backprop / $0.forward })), "0",
    ])
    note("sweeping pathwise tangent directions")
    let model = try NeuralSDEModel<T>(base, seed: 1)
    let y = ToyDataset.twoMoons.sample(count: problem.points, seed: 2, as: T.self)
    let grid = try TimeGrid(uniformSteps: problem.steps)
    let noise = PhiloxBrownianIncrements<T>(seed: 3, dimension: model.noiseDimension)
    let ds = [4, 8, 16, 32]
    let td = try ds.map { n -> Double in
      let b = ForwardPathwise(directions: .indices(Array(0..<n)), blockSize: n, chunks: problem.chunks)
      return try measure(warmup: 0, repetitions: max(1, reps / 2)) {
        _ = try b.gradient(
          of: model, data: y, noise: noise, grid: grid, pathsPerPoint: problem.pathsPerPoint, objective: .freeEnergy)
      }.median
    }
    laws.append([
      "pathwise vs directions", ds.map(String.init).joined(separator: ","), fmt(slope(ds.map(Double.init), td)), "1",
    ])
    json = [
      "forward_vs_paths": slope(ms.map(Double.init), tm.map(\.forward)),
      "backprop_vs_paths": slope(ms.map(Double.init), tm.map(\.backprop)),
      "forward_vs_steps": slope(ns.map(Double.init), tn.map(\.forward)),
      "backprop_vs_steps": slope(ns.map(Double.init), tn.map(\.backprop)),
      "backprop_over_forward_vs_parameters": slope(ps, th.map { $0.backprop / $0.forward }),
      "pathwise_vs_directions": slope(ds.map(Double.init), td),
      "raw": [
        "paths": ms, "forward_ms_vs_paths": tm.map(\.forward), "backprop_ms_vs_paths": tm.map(\.backprop), "steps": ns,
        "forward_ms_vs_steps": tn.map(\.forward), "backprop_ms_vs_steps": tn.map(\.backprop),
        "parameters": th.map(\.params),
        "forward_ms_vs_parameters": th.map(\.forward), "backprop_ms_vs_parameters": th.map(\.backprop),
        "directions": ds,
        "pathwise_ms_vs_directions": td,
      ] as [String: Any],
    ]
    if output.json {
      try printJSON([
        "machine": machineJSON(), "problem": problemJSON(problem), "dtype": T.dtypeName, "exponents": json,
      ])
    } else {
      print("Cost laws (\(T.dtypeName)), time ∝ x^exponent")
      print(machineLine())
      print(Table(header: ["law", "x values", "measured exponent", "expected"], rows: laws).render())
    }
  }
}
