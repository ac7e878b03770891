/// The energy distance between two samples (rows are points):
/// `2 E‖X − Y‖ − E‖X − X'‖ − E‖Y − Y'‖` (V-statistic; 0 iff the empirical laws coincide).
public func energyDistance<T: BLASScalar>(_ a: Matrix<T>, _ b: Matrix<T>) throws -> Double {
  guard a.cols == b.cols else {
    throw NSDEError.shapeMismatch("samples are \(a.shapeDescription) and \(b.shapeDescription): dimensions differ")
  }
  func meanDistance(_ x: Matrix<T>, _ y: Matrix<T>) -> Double {
    var s = 0.0
    for i in 0..<x.rows {
      for j in 0..<y.rows {
        var d2 = 0.0
        for c in 0..<x.cols {
          let diff = Double(x[i, c]) - Double(y[j, c])
          d2 += diff * diff
        }
        s += d2.squareRoot()
      }
    }
    return s / Double(x.rows * y.rows)
  }
  return 2 * meanDistance(a, b) - meanDistance(a, a) - meanDistance(b, b)
}
