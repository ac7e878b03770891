import Foundation
import NeuralSDE

/// The cost of per-point grids (docs/MODEL.md §7): the same posterior solve
/// and estimates, and the same backprop gradient, on one shared uniform grid
/// and on a `BatchGrid` holding that grid once per data point (the per-row
/// step sizes of sequence batches), interleaved on one core. The networks are made time-homogeneous (per-point
/// grids refuse networks that read the time), the same on both sides.
public struct PerPointGridBenchmark<Scalar: SDEScalar> {
  /// Both timings and their ratio.
  public struct Result: Sendable {
    /// Shared grid.
    public var shared: TimingSummary
    /// The same grid per point.
    public var perPoint: TimingSummary
    /// `perPoint / shared` (medians).
    public var ratio: Double { perPoint.median / shared.median }
    /// The backprop gradient (importance-weighted objective) on the shared grid.
    public var sharedGradient: TimingSummary
    /// The same on the grid per point.
    public var perPointGradient: TimingSummary
    /// `perPointGradient / sharedGradient` (medians).
    public var gradientRatio: Double { perPointGradient.median / sharedGradient.median }
  }

  public let configuration: NeuralSDEConfiguration
  public let paths: Int
  public let pathsPerPoint: Int
  public let steps: Int

  /// A benchmark of `configuration` (its networks' time inputs removed) with the given sizes.
  public init(configuration: NeuralSDEConfiguration, paths: Int, pathsPerPoint: Int, steps: Int) {
    var c = configuration
    c.drift.timeInput = false
    c.diffusion.timeInput = false
    c.posteriorDrift.timeInput = false
    c.decoder.timeInput = false
    self.configuration = c
    self.paths = paths
    self.pathsPerPoint = pathsPerPoint
    self.steps = steps
  }

  /// Times both solves `repetitions` times, interleaved.
  public func run(repetitions: Int = 10) throws -> Result {
    let model = try NeuralSDEModel<Scalar>(configuration, seed: 1)
    let points = paths / pathsPerPoint
    let data = Matrix<Scalar>(rows: points, cols: configuration.dataDimension) { r, c in
      Scalar(Double((r * 5 + c * 3) % 17) / 8.5 - 1)
    }
    let grid = try TimeGrid(uniformSteps: steps)
    let perPoint = try BatchGrid(perPoint: Array(repeating: grid, count: points))
    let observations = PathObservations<Scalar>.terminal(data, steps: steps)
    let noise = PhiloxBrownianIncrements<Scalar>(seed: 3, dimension: model.noiseDimension)
    let t = try measureInterleaved(
      repetitions: repetitions,
      [
        {
          _ = try model.variationalEstimates(
            data: data, noise: noise, grid: grid, pathsPerPoint: pathsPerPoint, chunks: 1)
        },
        {
          _ = try model.variationalEstimates(
            data: data, observations: observations, noise: noise, grid: perPoint, pathsPerPoint: pathsPerPoint,
            chunks: 1)
        },
      ])
    let backprop = BackpropThroughSolver(chunks: 1)
    let g = try measureInterleaved(
      repetitions: repetitions,
      [
        {
          _ = try backprop.gradient(
            of: model, data: data, noise: noise, grid: grid, pathsPerPoint: pathsPerPoint,
            objective: .importanceWeighted)
        },
        {
          _ = try backprop.gradient(
            of: model, data: data, noise: noise, grid: perPoint, pathsPerPoint: pathsPerPoint,
            objective: .importanceWeighted, observations: observations)
        },
      ])
    return Result(shared: t[0], perPoint: t[1], sharedGradient: g[0], perPointGradient: g[1])
  }
}
