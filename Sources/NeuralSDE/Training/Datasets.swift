/// Built-in 2-D toy distributions, generated in code from a seed (the usual
/// density-estimation benchmarks, as in FFJORD's `toy_data`).
public enum ToyDataset: String, CaseIterable, Sendable, Codable {
  /// Two interleaved half circles with Gaussian noise (σ = 0.1), scaled ×2 and centred.
  case twoMoons = "two-moons"
  /// A mixture of 8 Gaussians (σ = 0.5) on a circle of radius 4, scaled by 1/√2.
  case eightGaussians = "eight-gaussians"
  /// Five spiral arms (radial σ 0.3, tangential σ 0.1, rate 0.25).
  case pinwheel
  /// A 4×4 checkerboard on [−4, 4]², uniform on the dark squares.
  case checkerboard

  /// `count × 2` samples.
  public func sample<T: BLASScalar>(count: Int, seed: UInt64, as: T.Type = T.self) -> Matrix<T> {
    var rng = SplitMix64(seed: seed)
    let out = Matrix<T>(rows: count, cols: 2)
    for i in 0..<count {
      let (x, y): (Double, Double)
      switch self {
      case .twoMoons:
        let theta = Double.pi * rng.nextUnit()
        let upper = rng.nextUnit() < 0.5
        let px = upper ? Double.cos(theta) : 1 - Double.cos(theta)
        let py = upper ? Double.sin(theta) : 0.5 - Double.sin(theta)
        x = 2 * (px + 0.1 * rng.nextNormal()) - 1
        y = 2 * (py + 0.1 * rng.nextNormal()) - 0.5
      case .eightGaussians:
        let k = Int(rng.next() % 8)
        let angle = Double(k) * Double.pi / 4
        x = (4 * Double.cos(angle) + 0.5 * rng.nextNormal()) / 2.0.squareRoot()
        y = (4 * Double.sin(angle) + 0.5 * rng.nextNormal()) / 2.0.squareRoot()
      case .pinwheel:
        let classes = 5
        let k = Int(rng.next() % UInt64(classes))
        let r = 1 + 0.3 * rng.nextNormal()
        let t = 0.1 * rng.nextNormal()
        let angle = 2 * Double.pi * Double(k) / Double(classes) + 0.25 * Double.exp(r)
        let (fx, fy) = (r, t)
        x = 2 * (Double.cos(angle) * fx - Double.sin(angle) * fy)
        y = 2 * (Double.sin(angle) * fx + Double.cos(angle) * fy)
      case .checkerboard:
        let x1 = 4 * rng.nextUnit() - 2
        let x2 = rng.nextUnit() - Double(rng.next() % 2) * 2
        let shift = Double((Int((x1 + 4).rounded(.down)) % 2))
        x = 2 * x1
        y = 2 * (x2 + shift)
      }
      out[i, 0] = T(x)
      out[i, 1] = T(y)
    }
    return out
  }
}

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
