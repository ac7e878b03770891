import Foundation
import NSDELinearAlgebra
import XCTest
import _NSDETestSupport

/// Accuracy of the vectorised activation kernels against the C library
/// (glibc, evaluated in Double; for Float the Double result is the reference).
///
/// Stated accuracy (max over the tested range, relative error in units of
/// the type's machine epsilon): tanh ≤ 2.5, softplus ≤ 3, SiLU/LipSwish ≤ 3.
final class ElementwiseTests: XCTestCase {
  // Kernel kinds as in nsde_kernels.h.
  let identity: Int32 = 0, tanhKind: Int32 = 1, softplus: Int32 = 2, silu: Int32 = 3, lipswish: Int32 = 4

  func reference(_ kind: Int32, _ x: Double) -> (Double, Double, Double) {
    func sigmoid(_ x: Double) -> Double { x >= 0 ? 1 / (1 + exp(-x)) : exp(x) / (1 + exp(x)) }
    switch kind {
    case tanhKind:
      let t = tanh(x)
      return (t, 1 - t * t, -2 * t * (1 - t * t))
    case softplus:
      let s = sigmoid(x)
      return (max(x, 0) + log1p(exp(-abs(x))), s, s * (1 - s))
    case silu, lipswish:
      let g = kind == lipswish ? 0.909 : 1
      let s = sigmoid(x)
      return (g * x * s, g * (s + x * s * (1 - s)), g * s * (1 - s) * (2 + x * (1 - 2 * s)))
    default:
      return (x, 1, 0)
    }
  }

  func inputs() -> [Double] {
    var xs: [Double] = [
      0, -0.0, 1e-300, -1e-8, 1e-5, 0.3, -0.34, 0.35, 0.6931, 1, -1, 2.5, 19.9, 20, 21, -25, 40, -40, 80, -80, 700,
      -700,
    ]
    var rng = SplitMix64(seed: 42)
    for _ in 0..<20000 { xs.append((rng.nextUnit() * 2 - 1) * 12) }
    for _ in 0..<2000 { xs.append((rng.nextUnit() * 2 - 1) * 1e-3) }
    return xs
  }

  func checkAccuracy<T: SDEScalar>(
    _: T.Type, kind: Int32, maxEps: Double, file: StaticString = #filePath, line: UInt = #line
  ) {
    let xs = inputs().map { T($0) }
    var y = [T](repeating: 0, count: xs.count)
    var dy = y
    var d2y = y
    T.activation(kind, n: xs.count, x: xs, y: &y, dy: &dy, d2y: &d2y)
    let eps = Double(T.ulpOfOne)
    var worst = 0.0
    var worstDerivative = 0.0
    for i in xs.indices {
      let (ref, dref, d2ref) = reference(kind, Double(xs[i]))
      let rel = abs(Double(y[i]) - ref) / max(abs(ref), Double(T.leastNormalMagnitude))
      worst = max(worst, rel / eps)
      worstDerivative = max(worstDerivative, abs(Double(dy[i]) - dref), abs(Double(d2y[i]) - d2ref))
    }
    XCTAssertLessThanOrEqual(worst, maxEps, "\(T.self) kind \(kind): worst error \(worst) eps", file: file, line: line)
    XCTAssertLessThanOrEqual(worstDerivative, 16 * eps, "\(T.self) kind \(kind) derivatives", file: file, line: line)
  }

  func testTanhAccuracy() {
    checkAccuracy(Double.self, kind: tanhKind, maxEps: 2.5)
    checkAccuracy(Float.self, kind: tanhKind, maxEps: 2.5)
  }

  func testSoftplusAccuracy() {
    checkAccuracy(Double.self, kind: softplus, maxEps: 3)
    checkAccuracy(Float.self, kind: softplus, maxEps: 3)
  }

  func testSwishAccuracy() {
    for kind in [silu, lipswish] {
      checkAccuracy(Double.self, kind: kind, maxEps: 3)
      checkAccuracy(Float.self, kind: kind, maxEps: 3)
    }
    checkAccuracy(Double.self, kind: identity, maxEps: 0)
  }

  /// Derivatives are consistent with the values: central differences of φ and φ'.
  func testDerivativesMatchFiniteDifferences() {
    let xs: [Double] = [-3, -0.7, -0.01, 0.2, 1.3, 4]
    for kind in [tanhKind, softplus, silu, lipswish] {
      for x in xs {
        let h = 1e-5
        var v = [x - h, x + h, x]
        var y = [Double](repeating: 0, count: 3)
        var dy = y
        var d2y = y
        Double.activation(kind, n: 3, x: &v, y: &y, dy: &dy, d2y: &d2y)
        XCTAssertEqual((y[1] - y[0]) / (2 * h), dy[2], accuracy: 1e-9, "kind \(kind) φ' at \(x)")
        XCTAssertEqual((dy[1] - dy[0]) / (2 * h), d2y[2], accuracy: 1e-9, "kind \(kind) φ'' at \(x)")
      }
    }
  }

  /// The fused bias + activation kernel equals bias-add then activation, in place or not.
  func testFusedBiasActivation() {
    let rows = 37
    let cols = 19
    let z0: [Double] = randomVector(rows * cols, seed: 1)
    let bias: [Double] = randomVector(cols, seed: 2)
    var expected = z0
    for r in 0..<rows { for c in 0..<cols { expected[r * cols + c] += bias[c] } }
    var ey = expected
    var edy = expected
    Double.activation(tanhKind, n: expected.count, x: expected, y: &ey, dy: &edy, d2y: nil)
    var z = z0
    var da = [Double](repeating: 0, count: z.count)
    Double.biasActivation(tanhKind, rows: rows, cols: cols, z: &z, bias: bias, da: &da)
    XCTAssertEqual(z, ey)
    XCTAssertEqual(da, edy)
    // g ⊙ φ' from the stored value (tanh) equals g ⊙ the computed derivative.
    let g: [Double] = randomVector(z.count, seed: 3)
    var out = g
    Double.scaleByDerivative(tanhKind, n: g.count, out: &out, g: g, a: z, d: nil)
    XCTAssertLessThan(relativeError(out, zip(g, edy).map { $0 * $1 }), 1e-15)
    var z2 = z0
    var d2 = da
    Double.biasActivation(silu, rows: rows, cols: cols, z: &z2, bias: bias, da: &d2)
    Double.scaleByDerivative(silu, n: g.count, out: &out, g: g, a: nil, d: d2)
    XCTAssertEqual(out, zip(g, d2).map { $0 * $1 })
  }

  /// Backward passes recompute softplus's derivative from its value,
  /// `sigmoid(z) = −expm1(−softplus(z))`: within a few eps of the sigmoid
  /// relative, also where softplus underflows towards 0 and where it is z.
  func testSoftplusDerivativeFromItsValue() {
    func check<T: SDEScalar>(_: T.Type, maxEps: Double) {
      let zs: [Double] =
        [-700, -80, -30, -10, -1e-3, 0, 1e-3, 0.5, 3, 10, 30, 80] + (0..<2000).map { Double($0) / 50 - 20 }
      let z = zs.map { T($0) }.filter { Double($0) > -85 || T.self == Double.self }
      var a = z
      T.activation(softplus, n: a.count, x: z, y: &a, dy: nil, d2y: nil)
      let g = [T](repeating: 1, count: z.count)
      var out = g
      T.scaleByDerivative(softplus, n: z.count, out: &out, g: g, a: a, d: nil)
      var worst = 0.0
      for i in z.indices {
        let x = Double(z[i])
        let s = x >= 0 ? 1 / (1 + exp(-x)) : exp(x) / (1 + exp(x))
        worst = max(worst, abs(Double(out[i]) - s) / s / Double(T.ulpOfOne))
      }
      XCTAssertLessThanOrEqual(worst, maxEps, "\(T.self) softplus derivative from its value")
    }
    check(Double.self, maxEps: 4)
    check(Float.self, maxEps: 4)
  }

  /// Column sums (bias gradients) keep their sums in registers over column
  /// blocks but add row by row: bit for bit the plain loop's result, for every
  /// width around the vector and block sizes, with a row stride past the width.
  func testColumnSumsEqualThePlainLoop() {
    func check<T: SDEScalar>(_: T.Type) {
      var rng = SplitMix64(seed: 9)
      for cols in [1, 3, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 100, 130] {
        for rows in [0, 1, 5, 37] {
          let lda = cols + 3
          let a = (0..<(rows * lda)).map { _ in T(rng.nextNormal() * 1e3) }
          let start = (0..<cols).map { _ in T(rng.nextNormal()) }
          var expected = start
          for r in 0..<rows { for j in 0..<cols { expected[j] += a[r * lda + j] } }
          var out = start
          out.append(T(7.0))  // a value past the columns stays untouched
          T.addColumnSums(rows: rows, cols: cols, a: a, lda: lda, into: &out)
          // Equal as Doubles means the same bits here (no NaN, no signed zeros).
          XCTAssertEqual(out.map { Double($0) }, expected.map { Double($0) } + [7], "\(T.self) \(rows)×\(cols)")
        }
      }
    }
    check(Double.self)
    check(Float.self)
  }

  func testCountNonFinite() {
    let v: [Double] = [1, .nan, 2, .infinity, -.infinity, 0, -0.0, .greatestFiniteMagnitude]
    XCTAssertEqual(Double.countNonFinite(n: v.count, x: v), 3)
    let f: [Float] = [1, .nan, 3]
    XCTAssertEqual(Float.countNonFinite(n: f.count, x: f), 1)
  }
}
