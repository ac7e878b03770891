import Foundation
import XCTest
import _NSDETestSupport

/// A small model of each noise type with learned x_0 (and learned std for the
/// Gaussian case), data and noise, for gradient checks in Double.
struct GradientFixture {
  let model: NeuralSDEModel<Double>
  let data: Matrix<Double>
  let noise: PhiloxBrownianIncrements<Double>
  let grid: TimeGrid
  let k: Int

  init(
    noise type: NoiseType, likelihood: Likelihood = .gaussianLearnedStd(initialStd: 0.7), steps: Int = 6,
    seed: UInt64 = 1, posterior: PosteriorControl = .meanField
  ) throws {
    var config = NeuralSDEConfiguration.reference(
      latentDimension: 3, dataDimension: 2, hidden: 5, noise: type, posterior: posterior)
    config.initialState = .learned([0.2, -0.1, 0.3])
    config.likelihood = likelihood
    model = try NeuralSDEModel<Double>(config, seed: seed)
    // Larger weights than the default so every term matters.
    var rng = SplitMix64(seed: seed + 100)
    for i in 0..<model.parameterCount { model.parameters.base[i] += 0.3 * rng.nextNormal() }
    if case .bernoulli = likelihood {
      data = Matrix(rows: 3, cols: 2) { r, c in Double((r + c) % 2) }
    } else {
      data = randomMatrix(3, 2, seed: seed + 7)
    }
    noise = PhiloxBrownianIncrements(seed: seed + 3, dimension: model.noiseDimension)
    grid = try TimeGrid(
      times: [0, 0.1, 0.3, 0.45, 0.6, 0.8, 1.0].prefix(steps + 1).map {
        $0 / ([0, 0.1, 0.3, 0.45, 0.6, 0.8, 1.0][steps])
      })
    k = 4
  }

  /// The objective evaluated by the forward solver (a separate code path).
  func loss(_ objective: TrainingObjective) throws -> Double {
    let est = try model.variationalEstimates(data: data, noise: noise, grid: grid, pathsPerPoint: k)
    return objective == .freeEnergy ? est.freeEnergy.mean : est.importanceWeighted.mean
  }

  /// Central finite differences of the objective in every parameter (common random numbers).
  func finiteDifferences(_ objective: TrainingObjective, step h: Double = 1e-5) throws -> [Double] {
    try parameterDifferences(model, step: h) { try loss(objective) }
  }
}

extension TrainingObjective {
  /// The loss whose central differences check this objective's gradient:
  /// itself, but the importance-weighted loss for DReG (the same loss).
  var differentiatedLoss: TrainingObjective { self == .importanceWeightedDReG ? .importanceWeighted : self }

  /// The gradient entries central differences check: all of them, but for
  /// DReG those outside the control (its control gradient is unbiased for
  /// the loss's derivative, not equal to it on one draw: DoublyReparameterizedTests).
  func differencedIndices<Scalar>(_ model: NeuralSDEModel<Scalar>) -> [Int] {
    let control = model.posteriorDrift.range
    return (0..<model.parameterCount).filter { self != .importanceWeightedDReG || !control.contains($0) }
  }
}
