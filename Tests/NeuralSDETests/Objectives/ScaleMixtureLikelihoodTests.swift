import Foundation
import XCTest
import _NSDETestSupport

/// `Likelihood.gaussianScaleMixture`: its value against the mixture density
/// written out, its gradients against central differences, its Gaussian limit
/// and its sampler's moments.
final class ScaleMixtureLikelihoodTests: XCTestCase {
  let likelihood = Likelihood.gaussianScaleMixture(initialStd: 0.5)
  let dims = 3
  let k = 2

  /// P = 2D + Q parameters: log σ, c, ω.
  func parameters(seed: UInt64) -> [Double] {
    var rng = SplitMix64(seed: seed)
    let q = Likelihood.scaleMixtureScales.count
    return (0..<dims).map { _ in -0.7 + 0.3 * rng.nextNormal() } + (0..<dims).map { _ in 0.5 * rng.nextNormal() }
      + (0..<q).map { _ in rng.nextNormal() }
  }

  /// `ℓ_r` (and, if asked, both gradients) for `decoded` (`(points·K) × D`) against `data`.
  func evaluate(
    decoded: Matrix<Double>, data: Matrix<Double>, parameters p: [Double], mask: Matrix<Double>? = nil,
    gradients: Bool = false
  ) -> (values: [Double], decoded: Matrix<Double>, parameters: Matrix<Double>) {
    var out = [Double](repeating: 0, count: decoded.rows)
    let g = Matrix<Double>(rows: decoded.rows, cols: dims)
    let pg = Matrix<Double>(rows: decoded.rows, cols: p.count)
    p.withUnsafeBufferPointer { pp in
      out.withUnsafeMutableBufferPointer { o in
        likelihood.negativeLogLikelihood(
          decoded: decoded.view, data: data.view, pathsPerPoint: k, parameters: pp.baseAddress, into: o.baseAddress!,
          gradient: gradients ? g.view : nil, parameterGradient: gradients ? pg.view : nil, mask: mask?.view)
      }
    }
    return (out, g, pg)
  }

  /// `−log Σ_q π_q Π_j N(y_j; c_j + u_q (m_j − c_j), u_q² σ_j²)` over the observed entries, term by term.
  func reference(y: [Double], m: [Double], parameters p: [Double], observed: [Bool]) -> Double {
    let scales = Likelihood.scaleMixtureScales
    let logits = Array(p[(2 * dims)...])
    let norm = Double.log(logits.map { Double.exp($0) }.reduce(0, +))
    var density = 0.0
    for (q, u) in scales.enumerated() {
      var log = logits[q] - norm
      for j in 0..<dims where observed[j] {
        let sd = u * Double.exp(p[j])
        let mean = p[dims + j] + u * (m[j] - p[dims + j])
        log += -0.5 * Double.pow((y[j] - mean) / sd, 2) - Double.log(sd) - 0.5 * Double.log(2 * Double.pi)
      }
      density += Double.exp(log)
    }
    return -Double.log(density)
  }

  func testValueMatchesTheMixtureDensity() {
    let data: Matrix<Double> = randomMatrix(3, dims, seed: 4)
    // Far-out rows too: one point 12 units away (the tails carry it).
    data[2, 0] = 12
    let decoded: Matrix<Double> = randomMatrix(3 * k, dims, seed: 5)
    let mask = Matrix<Double>(rows: 3, cols: dims) { r, c in r == 1 && c == 2 ? 0 : 1 }
    let p = parameters(seed: 6)
    let values = evaluate(decoded: decoded, data: data, parameters: p, mask: mask).values
    for r in 0..<decoded.rows {
      let point = r / k
      let expected = reference(
        y: (0..<dims).map { data[point, $0] }, m: (0..<dims).map { decoded[r, $0] }, parameters: p,
        observed: (0..<dims).map { mask[point, $0] != 0 })
      XCTAssertEqual(values[r], expected, accuracy: 1e-12 * max(1, abs(expected)), "row \(r)")
    }
  }

  func testGradientsMatchCentralDifferences() {
    let data: Matrix<Double> = randomMatrix(2, dims, seed: 8)
    data[1, 1] = -7
    let decoded: Matrix<Double> = randomMatrix(2 * k, dims, seed: 9)
    let mask = Matrix<Double>(rows: 2, cols: dims) { r, c in r == 0 && c == 1 ? 0 : 1 }
    let p = parameters(seed: 10)
    let (_, g, pg) = evaluate(decoded: decoded, data: data, parameters: p, mask: mask, gradients: true)
    let h = 1e-6
    for r in 0..<decoded.rows {
      for j in 0..<dims {
        let plus = decoded.copy()
        plus[r, j] += h
        let minus = decoded.copy()
        minus[r, j] -= h
        let fd =
          (evaluate(decoded: plus, data: data, parameters: p, mask: mask).values[r]
            - evaluate(decoded: minus, data: data, parameters: p, mask: mask).values[r]) / (2 * h)
        XCTAssertEqual(g[r, j], fd, accuracy: 1e-7, "∂ℓ/∂m, row \(r), column \(j)")
      }
      for i in 0..<p.count {
        var plus = p
        plus[i] += h
        var minus = p
        minus[i] -= h
        let fd =
          (evaluate(decoded: decoded, data: data, parameters: plus, mask: mask).values[r]
            - evaluate(decoded: decoded, data: data, parameters: minus, mask: mask).values[r]) / (2 * h)
        XCTAssertEqual(pg[r, i], fd, accuracy: 1e-7, "∂ℓ/∂parameter \(i), row \(r)")
      }
    }
  }

  /// All weight on u = 1 is the Gaussian likelihood with the same learned std.
  func testAllWeightOnTheUnitScaleIsTheGaussian() {
    let data: Matrix<Double> = randomMatrix(2, dims, seed: 11)
    let decoded: Matrix<Double> = randomMatrix(2 * k, dims, seed: 12)
    var p = parameters(seed: 13)
    for i in (2 * dims)..<p.count { p[i] = i == 2 * dims ? 0 : -800 }
    let (values, g, _) = evaluate(decoded: decoded, data: data, parameters: p, gradients: true)
    var gaussian = [Double](repeating: 0, count: decoded.rows)
    let gg = Matrix<Double>(rows: decoded.rows, cols: dims)
    p.withUnsafeBufferPointer { pp in
      gaussian.withUnsafeMutableBufferPointer { o in
        Likelihood.gaussianLearnedStd(initialStd: 1).negativeLogLikelihood(
          decoded: decoded.view, data: data.view, pathsPerPoint: k, parameters: pp.baseAddress, into: o.baseAddress!,
          gradient: gg.view)
      }
    }
    XCTAssertLessThan(relativeError(values, gaussian), 1e-13)
    XCTAssertLessThan(relativeError(g.elements, gg.elements), 1e-13)
  }

  /// Draws have the mixture's mean `c + E[u](m − c)` and variance
  /// `E[u²] σ² + Var(u) (m − c)²` per column (within 5 standard errors).
  func testSamplesHaveTheMixtureMoments() {
    let q = Likelihood.scaleMixtureScales.count
    var p = parameters(seed: 14)
    // Weight on the first four scales (1 … 2), so that the fourth moment, and the test's power, stay finite.
    for i in 0..<q { p[2 * dims + i] = i < 4 ? Double(i) * 0.3 : -1e4 }
    let rows = 200_000
    let m = [0.8, -1.5, 0.2]
    let decoded = Matrix<Double>(rows: rows, cols: dims) { _, c in m[c] }
    var rng = SplitMix64(seed: 15)
    let y = likelihood.sample(decoded: decoded.view, parameters: p, rng: &rng)
    let w = (0..<q).map { Double.exp(p[2 * dims + $0]) }
    let total = w.reduce(0, +)
    let u = Likelihood.scaleMixtureScales
    let eu = zip(w, u).map { $0 * $1 }.reduce(0, +) / total
    let eu2 = zip(w, u).map { $0 * $1 * $1 }.reduce(0, +) / total
    for j in 0..<dims {
      let c = p[dims + j]
      let sigma2 = Double.exp(2 * p[j])
      let mean = c + eu * (m[j] - c)
      let variance = eu2 * sigma2 + (eu2 - eu * eu) * (m[j] - c) * (m[j] - c)
      let column = (0..<rows).map { y[$0, j] }
      let sampleMean = column.reduce(0, +) / Double(rows)
      let sampleVariance = column.map { ($0 - sampleMean) * ($0 - sampleMean) }.reduce(0, +) / Double(rows - 1)
      XCTAssertEqual(sampleMean, mean, accuracy: 5 * (variance / Double(rows)).squareRoot(), "mean, column \(j)")
      // The sample variance's standard error, √((μ₄ − σ⁴)/n), with μ₄ from the draws.
      let m4 = column.map { Double.pow($0 - sampleMean, 4) }.reduce(0, +) / Double(rows)
      let se = ((m4 - sampleVariance * sampleVariance) / Double(rows)).squareRoot()
      XCTAssertEqual(sampleVariance, variance, accuracy: 5 * se, "variance, column \(j)")
    }
  }
}
