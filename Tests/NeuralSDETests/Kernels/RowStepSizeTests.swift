import NSDELinearAlgebra
import XCTest
import _NSDETestSupport

/// The kernels with per-row step sizes (per-point grids: each data point's K
/// rows share one `h`) against the same kernels called once per point with
/// that point's uniform `h`: equal bit for bit, for every noise type's
/// product, the drift cotangent's scaling, the control's shift and its
/// gradient, in both precisions.
final class RowStepSizeTests: XCTestCase {
  func values<T: SDEScalar>(_ n: Int, _ seed: UInt64) -> [T] {
    var rng = SplitMix64(seed: seed)
    return (0..<n).map { _ in T(rng.nextUnit() * 2 - 1) }
  }

  func check<T: SDEScalar>(_: T.Type) {
    let (points, k, d, m) = (5, 3, 4, 2)
    let rows = points * k
    let sizes: [T] = (0..<points).map { T(0.01 + 0.013 * Double($0)) }
    var buffers: [UnsafeMutableBufferPointer<T>] = []
    defer { for b in buffers { b.deallocate() } }
    func buffer(_ n: Int, _ seed: UInt64) -> UnsafeMutablePointer<T> {
      let p = UnsafeMutableBufferPointer<T>.allocate(capacity: n)
      _ = p.initialize(from: values(n, seed) as [T])
      buffers.append(p)
      return p.baseAddress!
    }
    let x = buffer(rows * d, 1)
    let b = buffer(rows * d, 2)
    let dw = buffer(rows * m, 3)
    let diag = buffer(rows * d, 4)
    let add = buffer(d, 5)
    let gen = buffer(rows * d * m, 6)
    sizes.withUnsafeBufferPointer { hs in
      let grouped = RowStepSizes(uniform: T(9), perGroup: hs.baseAddress!, groupRows: k)
      func compare(_ name: String, count: Int, _ run: (RowStepSizes<T>, Range<Int>, UnsafeMutablePointer<T>) -> Void) {
        var once = [T](repeating: 0, count: count)
        var each = once
        once.withUnsafeMutableBufferPointer { run(grouped, 0..<rows, $0.baseAddress!) }
        each.withUnsafeMutableBufferPointer { out in
          for g in 0..<points { run(RowStepSizes(sizes[g]), (g * k)..<((g + 1) * k), out.baseAddress!) }
        }
        XCTAssertTrue(once == each, "\(T.self) \(name): per-row sizes ≠ one call per point")
      }
      compare("diagonal", count: rows * d) { h, r, out in
        T.addProductsDiagonal(
          rows: r.count, d: d, x: x + r.lowerBound * d,
          b: b + r.lowerBound * d,
          sigma: diag + r.lowerBound * d,
          dw: gen + r.lowerBound * d, h: h, out: out + r.lowerBound * d)
      }
      compare("additive", count: rows * d) { h, r, out in
        T.addProductsAdditive(
          rows: r.count, d: d, x: x + r.lowerBound * d,
          b: b + r.lowerBound * d,
          sigma: add,
          dw: x + r.lowerBound * d, h: h, out: out + r.lowerBound * d)
      }
      compare("general", count: rows * d) { h, r, out in
        T.addProductsGeneral(
          rows: r.count, d: d, m: m, x: x + r.lowerBound * d,
          b: b + r.lowerBound * d,
          sigma: gen + r.lowerBound * d * m,
          dw: dw + r.lowerBound * m, h: h, out: out + r.lowerBound * d)
      }
      compare("scaled rows", count: rows * d) { h, r, out in
        T.scaledRows(
          rows: r.count, cols: d, h: h, x: x + r.lowerBound * d,
          out: out + r.lowerBound * d)
      }
      // The control: one row per path (feedback) or per point (mean-field, K paths a row).
      for perControl in [1, k] {
        let controls = rows / perControl
        let u = buffer(controls * m, 7)
        let c: [Double] = values(rows, 8)
        compare("control shift, \(perControl) paths per control row", count: rows * m + controls + rows) {
          h, r, out in
          // out holds [ΔW̃ (rows × m), KL (controls), log w (rows)]: start from ΔW and zeros.
          let q0 = r.lowerBound / perControl
          let q1 = r.upperBound / perControl
          for i in r.lowerBound * m..<r.upperBound * m { out[i] = dw[i] }
          var kl = [Double](repeating: 0, count: q1 - q0)
          var logw = [Double](repeating: 0, count: r.count)
          T.applyControl(
            points: q1 - q0, k: perControl, m: m, u: u + q0 * m,
            dw: out + r.lowerBound * m, h: h, kl: &kl, logWeights: &logw)
          for q in q0..<q1 { out[rows * m + q] = T(kl[q - q0]) }
          for p in r { out[rows * m + controls + p] = T(logw[p - r.lowerBound]) }
        }
        compare("control gradient, \(perControl) paths per control row", count: controls * m) { h, r, out in
          let q0 = r.lowerBound / perControl
          c.withUnsafeBufferPointer { cw in
            T.controlGradient(
              points: r.count / perControl, k: perControl, m: m, a: T(0.25),
              u: u + q0 * m, h: h,
              v: dw + r.lowerBound * m, c: cw.baseAddress! + r.lowerBound,
              w: dw + r.lowerBound * m, out: out + q0 * m)
          }
        }
      }
    }
  }

  func testPerRowStepSizesEqualOneCallPerPoint() {
    check(Double.self)
    check(Float.self)
  }
}
