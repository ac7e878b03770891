import Foundation
import XCTest
import _NSDETestSupport

/// The Gaussian decoder start: the untrained model generates data with the
/// training data's mean and covariance (its eigenvalues below the noise
/// variance s² raised to s²; for d < D the best rank-d part plus s²).
final class GaussianInitializationTests: XCTestCase {
  /// Correlated 3-D data, mean (1, −2, 0.5).
  func data(_ n: Int) -> Matrix<Double> {
    var rng = SplitMix64(seed: 4)
    let m = Matrix<Double>(rows: n, cols: 3)
    for r in 0..<n {
      let z = (0..<3).map { _ in rng.nextNormal() }
      m[r, 0] = 1 + 2 * z[0]
      m[r, 1] = -2 + z[0] - 0.8 * z[1]
      m[r, 2] = 0.5 + 0.3 * z[2] + 0.5 * z[1]
    }
    return m
  }

  func moments(latent d: Int) throws -> (target: GaussianBaseline, model: GaussianBaseline, s2: Double) {
    var config = NeuralSDEConfiguration.reference(
      latentDimension: d, dataDimension: 3, hidden: 16, posterior: .feedback)
    config.likelihood = .gaussianLearnedStd(initialStd: 0.5)
    let model = try NeuralSDEModel<Double>(config, seed: 1)
    let grid = try TimeGrid(uniformSteps: 10)
    let y = data(4000)
    try model.initializeDecoder(matching: y, grid: grid, paths: 20000, seed: 2)
    // Samples of the generative model with other noise.
    let samples = try model.sample(
      count: 40000, noise: PhiloxBrownianIncrements<Double>(seed: 9, dimension: model.noiseDimension), grid: grid,
      seed: 10
    ).observations
    let logStd = model.parameters.base[model.likelihoodParameterOffset!]
    return (try GaussianBaseline(fitting: y), try GaussianBaseline(fitting: samples), Double.exp(2 * logStd))
  }

  /// With the scale-mixture likelihood the start sets the same decoder and
  /// log-std as the Gaussian one and the centre `c` to the data's mean, so
  /// that the mixture's u = 1 component is that Gaussian start.
  func testScaleMixtureStartsAtTheSameGaussianAboutTheMean() throws {
    let grid = try TimeGrid(uniformSteps: 10)
    let y = data(2000)
    var models: [NeuralSDEModel<Double>] = []
    for likelihood in [Likelihood.gaussianLearnedStd(initialStd: 0.5), .gaussianScaleMixture(initialStd: 0.5)] {
      var config = NeuralSDEConfiguration.reference(
        latentDimension: 4, dataDimension: 3, hidden: 16, posterior: .feedback)
      config.likelihood = likelihood
      let model = try NeuralSDEModel<Double>(config, seed: 1)
      try model.initializeDecoder(matching: y, grid: grid, paths: 4000, seed: 2)
      models.append(model)
    }
    let (gaussian, mixture) = (models[0], models[1])
    let decoder = gaussian.decoder.range
    XCTAssertEqual(Array(gaussian.parameters.elements[decoder]), Array(mixture.parameters.elements[decoder]))
    let (g, m) = (gaussian.likelihoodParameterOffset!, mixture.likelihoodParameterOffset!)
    let mean = try GaussianBaseline(fitting: y).mean
    for j in 0..<3 {
      XCTAssertEqual(mixture.parameters.base[m + j], gaussian.parameters.base[g + j], "log σ_\(j)")
      XCTAssertEqual(mixture.parameters.base[m + 3 + j], mean[j], accuracy: 1e-12, "c_\(j)")
    }
  }

  func testFullCovarianceWhenTheLatentDimensionCoversTheData() throws {
    let (target, generated, s2) = try moments(latent: 4)
    let (values, vectors) = try LAPACK.symmetricEigen(target.covariance)
    // Σ with eigenvalues max(λ, s²).
    let expected = Matrix<Double>(rows: 3, cols: 3)
    for i in 0..<3 {
      for j in 0..<3 {
        expected[i, j] = (0..<3).map { vectors[i, $0] * Swift.max(values[$0], s2) * vectors[j, $0] }.reduce(0, +)
      }
    }
    XCTAssertEqual(s2, values.reduce(0, +) / 12, accuracy: 1e-12, "a quarter of the mean eigenvalue (d ≥ D)")
    for i in 0..<3 {
      XCTAssertEqual(generated.mean[i], target.mean[i], accuracy: 0.03 * 2)
      for j in 0..<3 {
        XCTAssertEqual(generated.covariance[i, j], expected[i, j], accuracy: 0.05 * 4, "Σ[\(i),\(j)]")
      }
    }
  }

  func testProbabilisticPCAWhenTheLatentDimensionIsSmaller() throws {
    let (target, generated, s2) = try moments(latent: 1)
    let (values, vectors) = try LAPACK.symmetricEigen(target.covariance)
    // The leading direction, plus s² = max(mean of the two smaller eigenvalues, mean/4) everywhere.
    XCTAssertEqual(s2, Swift.max((values[0] + values[1]) / 2, values.reduce(0, +) / 12), accuracy: 1e-12)
    for i in 0..<3 {
      XCTAssertEqual(generated.mean[i], target.mean[i], accuracy: 0.06)
      for j in 0..<3 {
        let expected = vectors[i, 2] * (values[2] - s2) * vectors[j, 2] + (i == j ? s2 : 0)
        XCTAssertEqual(generated.covariance[i, j], expected, accuracy: 0.2, "Σ[\(i),\(j)]")
      }
    }
  }

  func testRejectsNonGaussianDecoders() throws {
    var config = NeuralSDEConfiguration.reference(latentDimension: 2, dataDimension: 3, hidden: 4)
    config.likelihood = .bernoulli
    let model = try NeuralSDEModel<Double>(config)
    XCTAssertThrowsError(try model.initializeDecoder(matching: data(10), grid: TimeGrid(uniformSteps: 2))) {
      XCTAssertTrue("\($0)".contains("Gaussian likelihood"), "\($0)")
    }
  }
}
