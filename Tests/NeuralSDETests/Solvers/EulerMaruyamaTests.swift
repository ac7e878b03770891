import Foundation
import XCTest
import _NSDETestSupport

/// A scalar SDE `dX = r X dt + σ(X) dW` with `σ = s` (additive) or `σ = s X`
/// (diagonal, geometric Brownian motion), `X_0 = x0`, identity decoder.
func scalarModel(rate: Double, noiseScale s: Double, multiplicative: Bool, x0: Double) throws -> NeuralSDEModel<Double>
{
  let config = NeuralSDEConfiguration(
    latentDimension: 1, dataDimension: 1, noise: multiplicative ? .diagonal : .additive,
    drift: MLPArchitecture(inputs: 1, timeInput: true, widths: [1], outputActivation: .identity),
    diffusion: MLPArchitecture(
      inputs: multiplicative ? 1 : 0, timeInput: true, widths: [1], outputActivation: .identity),
    posteriorDrift: MLPArchitecture(inputs: 1, timeInput: true, widths: [1], outputActivation: .identity),
    decoder: MLPArchitecture(inputs: 1, timeInput: false, widths: [1], outputActivation: .identity),
    likelihood: .gaussian(std: 1), initialState: .fixed([x0]))
  let model = try NeuralSDEModel<Double>(config, seed: 0)
  let p = model.parameters
  try p.values("drift.0.weight").update(from: [rate, 0])
  try p.values("drift.0.bias").update(from: [0])
  if multiplicative {
    try p.values("diffusion.0.weight").update(from: [s, 0])
    try p.values("diffusion.0.bias").update(from: [0])
  } else {
    try p.values("diffusion.0.weight").update(from: [0])
    try p.values("diffusion.0.bias").update(from: [s])
  }
  try p.values("decoder.0.weight").update(from: [1])
  try p.values("decoder.0.bias").update(from: [0])
  return model
}

final class EulerMaruyamaTests: XCTestCase {
  /// Ornstein–Uhlenbeck: mean and variance at t = 1 match the closed forms
  /// within 4 standard errors (N = 1000, so the O(h) bias is far below them).
  func testOrnsteinUhlenbeckMoments() throws {
    let a = 1.3
    let s = 0.7
    let x0 = 1.5
    let model = try scalarModel(rate: -a, noiseScale: s, multiplicative: false, x0: x0)
    let paths = 20000
    let grid = try TimeGrid(uniformSteps: 1000)
    let result = try EulerMaruyama().solvePrior(
      model, paths: paths, noise: PhiloxBrownianIncrements(seed: 3, dimension: 1), options: .init(grid: grid))
    let x = result.finalStates.elements
    let n = Double(paths)
    let mean = x.reduce(0, +) / n
    let variance = x.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / (n - 1)
    let exactMean = x0 * exp(-a)
    let exactVariance = s * s * (1 - exp(-2 * a)) / (2 * a)
    XCTAssertLessThan(abs(mean - exactMean), 4 * (exactVariance / n).squareRoot())
    XCTAssertLessThan(abs(variance - exactVariance), 4 * exactVariance * (2 / n).squareRoot())
  }

  /// Geometric Brownian motion: mean and variance at t = 1, and the strong
  /// (½) and weak (1) orders of EM against the exact solution on the same
  /// Brownian path, fitted over 5 step sizes.
  func testGeometricBrownianMotionOrders() throws {
    let r = 1.0
    let s = 0.8
    let x0 = 1.0
    let model = try scalarModel(rate: r, noiseScale: s, multiplicative: true, x0: x0)
    let paths = 20000
    let fine = 256
    let fineNoise = try RecordedBrownianIncrements(
      from: PhiloxBrownianIncrements<Double>(seed: 7, dimension: 1), grid: TimeGrid(uniformSteps: fine), paths: paths)
    // Exact solution on each path: X_1 = x0 exp((r − s²/2) + s W_1).
    var w1 = [Double](repeating: 0, count: paths)
    for i in 0..<fine { for p in 0..<paths { w1[p] += fineNoise.values[i * paths + p] } }
    let exact = w1.map { x0 * exp((r - s * s / 2) + s * $0) }
    var hs: [Double] = []
    var strong: [Double] = []
    var weak: [Double] = []
    for n in [8, 16, 32, 64, 128] {
      let noise = try fineNoise.coarsened(by: fine / n)
      let x = try EulerMaruyama().solvePrior(
        model, paths: paths, noise: noise, options: .init(grid: TimeGrid(uniformSteps: n))
      )
      .finalStates.elements
      hs.append(1 / Double(n))
      strong.append(zip(x, exact).map { abs($0 - $1) }.reduce(0, +) / Double(paths))
      weak.append(abs(zip(x, exact).map { $0 - $1 }.reduce(0, +) / Double(paths)))
      if n == 128 {
        let mean = x.reduce(0, +) / Double(paths)
        let exactMean = x0 * exp(r)
        let exactVar = x0 * x0 * exp(2 * r) * (exp(s * s) - 1)
        // EM's own bias at N = 128 is ≈ e^r r²/(2N) ≈ 0.01; allow it on top of 4 SE.
        XCTAssertLessThan(abs(mean - exactMean), 4 * (exactVar / Double(paths)).squareRoot() + 0.02)
      }
    }
    let strongOrder = logLogSlope(hs, strong)
    let weakOrder = logLogSlope(hs, weak)
    XCTAssertEqual(strongOrder, EulerMaruyama.strongOrder, accuracy: 0.1, "strong errors \(strong)")
    XCTAssertEqual(weakOrder, EulerMaruyama.weakOrder, accuracy: 0.15, "weak errors \(weak)")
  }

  func smallModel(noise: NoiseType) throws -> NeuralSDEModel<Double> {
    var config = NeuralSDEConfiguration.reference(latentDimension: 3, dataDimension: 2, hidden: 8, noise: noise)
    config.initialState = .learned([0.1, -0.2, 0.3])
    return try NeuralSDEModel<Double>(config, seed: 5)
  }

  /// Same seed → same paths whatever the batch split; reductions agree to round-off.
  func testSplitInvariance() throws {
    let model = try NeuralSDEModel<Double>(.reference(latentDimension: 4, dataDimension: 2, hidden: 16), seed: 2)
    let data: Matrix<Double> = randomMatrix(256, 2, seed: 9)
    let noise = PhiloxBrownianIncrements<Double>(seed: 4, dimension: 4)
    let grid = try TimeGrid(uniformSteps: 20)
    let one = try EulerMaruyama().solvePosterior(
      model, data: data, noise: noise, options: .init(grid: grid, pathsPerPoint: 4, chunks: 1))
    let four = try EulerMaruyama().solvePosterior(
      model, data: data, noise: noise, options: .init(grid: grid, pathsPerPoint: 4, chunks: 4))
    XCTAssertEqual(one.finalStates.rows, 1024)
    XCTAssertLessThanOrEqual(relativeError(one.finalStates.elements, four.finalStates.elements), 1e-14)
    XCTAssertLessThanOrEqual(relativeError(one.logWeights, four.logWeights), 1e-14)
    let f1 = try model.freeEnergy(data: data, noise: noise, grid: grid, pathsPerPoint: 4, chunks: 1)
    let f4 = try model.freeEnergy(data: data, noise: noise, grid: grid, pathsPerPoint: 4, chunks: 4)
    XCTAssertLessThanOrEqual(relativeError(f1.mean, f4.mean), 1e-12)
  }

  /// A k-layer DLGM with b_i = h·b, σ_i = √h·σ equals EM with k steps.
  func testDLGMEqualsEulerMaruyama() throws {
    for noise in [NoiseType.diagonal, .additive, .general(noiseDimension: 2)] {
      let model = try smallModel(noise: noise)
      let grid = try TimeGrid(times: [0, 0.1, 0.25, 0.5, 0.6, 1.0])
      let paths = 7
      let m = model.noiseDimension
      let source = PhiloxBrownianIncrements<Double>(seed: 8, dimension: m)
      let em = try EulerMaruyama().solvePrior(model, paths: paths, noise: source, options: .init(grid: grid))
      let z = (0..<grid.steps).map { i -> Matrix<Double> in
        let out = Matrix<Double>(rows: paths, cols: m)
        source.fill(step: i, paths: 0..<paths, stepSize: 1, into: out.base, ld: m)  // standard normals
        return out
      }
      let dlgm = try DeepLatentGaussianModel(model: model, grid: grid).generate(rows: paths, z: z)
      XCTAssertLessThan(relativeError(dlgm.elements, em.finalStates.elements), 1e-13, "\(noise)")
    }
  }

  /// Recording returns x_0 and intermediate states consistent with shorter solves.
  func testRecordedStates() throws {
    let model = try smallModel(noise: .diagonal)
    let noise = PhiloxBrownianIncrements<Double>(seed: 1, dimension: 3)
    let grid = try TimeGrid(uniformSteps: 10)
    let r = try EulerMaruyama().solvePrior(
      model, paths: 5, noise: noise, options: .init(grid: grid, recordSteps: [0, 4, 10]))
    XCTAssertEqual(r.recorded[0].elements, (0..<5).flatMap { _ in [0.1, -0.2, 0.3] })
    XCTAssertEqual(r.recorded[2].elements, r.finalStates.elements)
    let short = try EulerMaruyama().solvePrior(
      model, paths: 5, noise: noise, options: .init(grid: TimeGrid(times: Array(grid.times[0...4]))))
    XCTAssertEqual(short.finalStates.elements, r.recorded[1].elements)
  }

  func testBadInputGivesClearErrors() throws {
    let model = try smallModel(noise: .diagonal)
    let grid = try TimeGrid(uniformSteps: 4)
    let noise = PhiloxBrownianIncrements<Double>(seed: 1, dimension: 3)
    let em = EulerMaruyama()
    XCTAssertNil(
      expectError(containing: ["5×3", "data dimension is 2"]) {
        _ = try em.solvePosterior(model, data: Matrix(rows: 5, cols: 3), noise: noise, options: .init(grid: grid))
      })
    let nanData = Matrix<Double>(rows: 2, cols: 2)
    nanData[1, 1] = .nan
    XCTAssertNil(
      expectError(containing: ["data", "NaN"]) {
        _ = try em.solvePosterior(model, data: nanData, noise: noise, options: .init(grid: grid))
      })
    XCTAssertNil(
      expectError(containing: ["dimension 2", "noise dimension is 3"]) {
        _ = try em.solvePrior(
          model, paths: 3, noise: PhiloxBrownianIncrements<Double>(seed: 1, dimension: 2), options: .init(grid: grid))
      })
    let recorded = try RecordedBrownianIncrements<Double>(
      steps: 3, paths: 2, dimension: 3, values: .init(repeating: 0, count: 18))
    XCTAssertNil(
      expectError(containing: ["[3, 2, 3]", "[4, 2, 3]"]) {
        _ = try em.solvePrior(model, paths: 2, noise: recorded, options: .init(grid: grid))
      })
    XCTAssertNil(expectError(containing: ["steps", "0"]) { _ = try TimeGrid(uniformSteps: 0) })
    XCTAssertNil(expectError(containing: ["increasing", "t[2]"]) { _ = try TimeGrid(times: [0, 0.5, 0.5, 1]) })
    XCTAssertNil(
      expectError(containing: ["paths per data point"]) {
        _ = try em.solvePosterior(
          model, data: Matrix(rows: 2, cols: 2), noise: noise, options: .init(grid: grid, pathsPerPoint: 0))
      })
    var config = NeuralSDEConfiguration.reference(latentDimension: 3, dataDimension: 2, hidden: 8)
    config.drift.widths = [8, 4]
    XCTAssertNil(expectError(containing: ["drift", "4 outputs", "needs 3"]) { _ = try NeuralSDEModel<Double>(config) })
    config = .reference(latentDimension: 3, dataDimension: 2, hidden: 8)
    config.initialState = .fixed([0, 0])
    XCTAssertNil(expectError(containing: ["x_0", "2 values"]) { _ = try NeuralSDEModel<Double>(config) })
  }

  /// A NaN/Inf state stops the solve with the step, time and number of paths.
  func testDivergenceIsReported() throws {
    let model = try scalarModel(rate: 1e200, noiseScale: 0.1, multiplicative: false, x0: 1)
    let grid = try TimeGrid(uniformSteps: 10)
    XCTAssertNil(
      expectError(containing: ["step 2", "t = 0.2", "6 path(s)"]) {
        _ = try EulerMaruyama().solvePrior(
          model, paths: 6, noise: PhiloxBrownianIncrements(seed: 1, dimension: 1), options: .init(grid: grid, chunks: 2)
        )
      })
  }
}
