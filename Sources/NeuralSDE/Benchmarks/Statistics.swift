// Small statistics used by the benchmarks and the tests.

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
