import Foundation
import NeuralSDE

// Small statistics used by the benchmarks and the tests (one definition each).

/// Relative error `‖a − b‖₂ / max(‖a‖₂, ‖b‖₂, tiny)` of two vectors.
public func relativeError<T: BinaryFloatingPoint>(_ a: [T], _ b: [T]) -> Double {
  precondition(a.count == b.count, "relativeError: \(a.count) vs \(b.count) elements")
  var diff = 0.0
  var na = 0.0
  var nb = 0.0
  for i in a.indices {
    let x = Double(a[i])
    let y = Double(b[i])
    diff += (x - y) * (x - y)
    na += x * x
    nb += y * y
  }
  return diff.squareRoot() / Swift.max(na.squareRoot(), nb.squareRoot(), 1e-300)
}

/// Relative error of two scalars.
public func relativeError<T: BinaryFloatingPoint>(_ a: T, _ b: T) -> Double {
  relativeError([a], [b])
}

/// Least-squares slope of `log y` against `log x` (a convergence order).
public func logLogSlope(_ x: [Double], _ y: [Double]) -> Double {
  let lx = x.map { Double.log($0) }
  let ly = y.map { Double.log($0) }
  let mx = lx.reduce(0, +) / Double(lx.count)
  let my = ly.reduce(0, +) / Double(ly.count)
  var sxy = 0.0
  var sxx = 0.0
  for i in lx.indices {
    sxy += (lx[i] - mx) * (ly[i] - my)
    sxx += (lx[i] - mx) * (lx[i] - mx)
  }
  return sxy / sxx
}
