/// The energy distance between two samples (rows are points):
/// `2 E‖X − Y‖ − E‖X − X'‖ − E‖Y − Y'‖` (V-statistic, pairs of a point with
/// itself included; 0 iff the empirical laws coincide). Its value between two
/// independent samples of one law is its noise floor (`ModelEvaluation`).
/// Cost `O((n + m)² D)`.
public func energyDistance<T: SDEScalar>(_ a: Matrix<T>, _ b: Matrix<T>) throws -> Double {
  guard a.cols == b.cols else {
    throw NSDEError.shapeMismatch("samples are \(a.shapeDescription) and \(b.shapeDescription): dimensions differ")
  }
  guard a.rows >= 1, b.rows >= 1 else {
    throw NSDEError.invalidArgument("energy distance of an empty sample (\(a.rows) and \(b.rows) points)")
  }
  for (name, m) in [("first", a), ("second", b)] {
    let bad = T.countNonFinite(n: m.count, x: m.base)
    guard bad == 0 else {
      throw NSDEError.nonFinite("energy distance: the \(name) sample contains \(bad) NaN/Inf value(s)")
    }
  }
  let dims = a.cols
  let x = a.elements.map(Double.init)
  let y = b.elements.map(Double.init)
  /// Mean pairwise Euclidean distance; `same` uses the symmetry of a sample with itself.
  func meanDistance(_ p: [Double], _ np: Int, _ q: [Double], _ nq: Int, same: Bool) -> Double {
    p.withUnsafeBufferPointer { pp in
      q.withUnsafeBufferPointer { qq in
        var s = 0.0
        for i in 0..<np {
          let pi = pp.baseAddress! + i * dims
          var row = 0.0
          for j in (same ? i + 1 : 0)..<nq {
            let qj = qq.baseAddress! + j * dims
            var d2 = 0.0
            for c in 0..<dims {
              let diff = pi[c] - qj[c]
              d2 += diff * diff
            }
            row += d2.squareRoot()
          }
          s += row
        }
        return (same ? 2 * s : s) / Double(np * nq)
      }
    }
  }
  return 2 * meanDistance(x, a.rows, y, b.rows, same: false) - meanDistance(x, a.rows, x, a.rows, same: true)
    - meanDistance(y, b.rows, y, b.rows, same: true)
}
