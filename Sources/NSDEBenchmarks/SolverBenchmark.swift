import Foundation
import NeuralSDE

/// Measures a free-energy solve of a model (forward only) against its GEMM
/// floor, the same solve stepped one path at a time, and the noise
/// generation alone — all in one interleaved run, single core.
public struct SolverBenchmark<Scalar: SDEScalar> {
  public struct Result: Sendable, Codable {
    public var dtype: String
    public var paths: Int
    public var steps: Int
    /// The batched solve (all paths, one core).
    public var solve: TimingSummary
    /// Its matrix products alone.
    public var gemmFloor: TimingSummary
    /// Noise generation for all steps and paths alone.
    public var noise: TimingSummary
    /// The same code, one path at a time, over `perPathSample` paths.
    public var perPath: TimingSummary
    public var perPathSample: Int
    public var solveOverGEMMFloor: Double { solve.median / gemmFloor.median }
    public var noiseFraction: Double { noise.median / solve.median }
    /// Batched speed-up: per-path time scaled to all paths over the batched time.
    public var batchedOverPerPath: Double { perPath.median * Double(paths) / Double(perPathSample) / solve.median }
    public var pathStepsPerSecond: Double { Double(paths * steps) / (solve.median / 1e3) }
  }

  public let configuration: NeuralSDEConfiguration
  public let paths: Int
  public let pathsPerPoint: Int
  public let steps: Int

  public init(configuration: NeuralSDEConfiguration, paths: Int, pathsPerPoint: Int, steps: Int) {
    self.configuration = configuration
    self.paths = paths
    self.pathsPerPoint = pathsPerPoint
    self.steps = steps
  }

  public func run(repetitions: Int = 10, perPathSample: Int = 64) throws -> Result {
    let model = try NeuralSDEModel<Scalar>(configuration, seed: 1)
    let points = paths / pathsPerPoint
    let data = Matrix<Scalar>(rows: points, cols: configuration.dataDimension) { r, c in
      Scalar(Double((r * 5 + c * 3) % 17) / 8.5 - 1)
    }
    let grid = try TimeGrid(uniformSteps: steps)
    let noise = PhiloxBrownianIncrements<Scalar>(seed: 3, dimension: model.noiseDimension)
    let ws = SolveWorkspace(model: model, points: points, paths: paths)
    let final = Matrix<Scalar>(rows: paths, cols: model.latentDimension)
    var kl = [Double](repeating: 0, count: ws.controlRows)
    var logW = [Double](repeating: 0, count: paths)
    let decoderWS = model.decoder.makeWorkspace(rows: paths)
    let sample = Swift.min(perPathSample, paths)
    let oneWS = SolveWorkspace(model: model, points: 1, paths: 1)
    let oneFinal = Matrix<Scalar>(rows: paths, cols: model.latentDimension)

    let batched: () throws -> Void = {
      try kl.withUnsafeMutableBufferPointer { klp in
        try logW.withUnsafeMutableBufferPointer { lwp in
          try ws.simulate(
            model: model, scheme: EulerMaruyama(), noise: noise, grid: BatchGrid(shared: grid), pathRange: 0..<paths,
            posterior: PosteriorDrive(
              data: data.view, pathsPerPoint: pathsPerPoint, kl: klp.baseAddress!, logWeights: lwp.baseAddress!),
            observe: { step, x in
              if step == steps { final.base.copyElements(from: x, count: final.count) }
            })
        }
      }
      model.decoder.forwardUnchecked(
        final.view, time: 0, workspace: decoderWS)
    }
    // One path at a time: K = 1 per call, with the path's own data point.
    let perPath: () throws -> Void = {
      var k1 = [Double](repeating: 0, count: 1)
      var w1 = [Double](repeating: 0, count: 1)
      for p in 0..<sample {
        try k1.withUnsafeMutableBufferPointer { klp in
          try w1.withUnsafeMutableBufferPointer { lwp in
            try oneWS.simulate(
              model: model, scheme: EulerMaruyama(), noise: noise, grid: BatchGrid(shared: grid),
              pathRange: p..<(p + 1),
              posterior: PosteriorDrive(
                data: data.rows((p / pathsPerPoint)..<(p / pathsPerPoint + 1)), pathsPerPoint: 1,
                kl: klp.baseAddress!, logWeights: lwp.baseAddress!),
              observe: { step, x in
                if step == steps {
                  (oneFinal.base + p * oneFinal.cols).copyElements(from: x, count: oneFinal.cols)
                }
              })
          }
        }
      }
    }
    let solveFloor = SolveGEMMFloor(model: model, points: points, pathsPerPoint: pathsPerPoint)
    let floor: () throws -> Void = { solveFloor.run(steps: steps, backward: false) }
    let dw = Matrix<Scalar>(rows: paths, cols: model.noiseDimension)
    let noiseOnly: () throws -> Void = {
      for i in 0..<steps {
        noise.fill(step: i, paths: 0..<paths, stepSize: grid.stepSize(i), into: dw.base, ld: dw.cols)
      }
    }
    let t = try measureInterleaved(warmup: 1, repetitions: repetitions, [batched, floor, noiseOnly, perPath])
    return Result(
      dtype: Scalar.dtypeName, paths: paths, steps: steps, solve: t[0], gemmFloor: t[1], noise: t[2], perPath: t[3],
      perPathSample: sample)
  }
}
