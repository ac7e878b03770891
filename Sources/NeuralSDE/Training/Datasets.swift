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
  public func sample<T: SDEScalar>(count: Int, seed: UInt64, as: T.Type = T.self) -> Matrix<T> {
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

extension ToyDataset {
  /// `−log p(x)` of the dataset's own density for each row of `x` (`n × 2`),
  /// in nats, or nil where the density has no closed form (pinwheel).
  ///
  /// - two moons: a uniform mixture over the two arcs of `N(c(θ), 0.2² I)`,
  ///   `θ ~ U[0, π]`, integrated over θ with 2000 midpoints per arc;
  /// - eight Gaussians: the 8-component mixture, exactly;
  /// - checkerboard: `1/32` on the 8 dark squares (`log 32` inside, `+∞` outside).
  public func negativeLogDensity<T: SDEScalar>(_ x: Matrix<T>) -> [Double]? {
    let ln2pi = Double.log(2 * Double.pi)
    func logMeanExp(_ a: [Double]) -> Double {
      let amax = a.max()!
      return amax + Double.log(a.map { Double.exp($0 - amax) }.reduce(0, +) / Double(a.count))
    }
    switch self {
    case .twoMoons:
      let n = 2000
      let s2 = 0.2 * 0.2
      var centres: [(Double, Double)] = []
      for i in 0..<n {
        let theta = Double.pi * (Double(i) + 0.5) / Double(n)
        centres.append((2 * Double.cos(theta) - 1, 2 * Double.sin(theta) - 0.5))
        centres.append((2 * (1 - Double.cos(theta)) - 1, 2 * (0.5 - Double.sin(theta)) - 0.5))
      }
      return (0..<x.rows).map { r in
        let px = Double(x[r, 0])
        let py = Double(x[r, 1])
        let logs = centres.map { c in
          -((px - c.0) * (px - c.0) + (py - c.1) * (py - c.1)) / (2 * s2) - ln2pi - Double.log(s2)
        }
        return -logMeanExp(logs)
      }
    case .eightGaussians:
      let s2 = 0.25 / 2
      let centres = (0..<8).map { k -> (Double, Double) in
        let a = Double(k) * Double.pi / 4
        return (4 * Double.cos(a) / 2.0.squareRoot(), 4 * Double.sin(a) / 2.0.squareRoot())
      }
      return (0..<x.rows).map { r in
        let px = Double(x[r, 0])
        let py = Double(x[r, 1])
        return -logMeanExp(
          centres.map { c in
            -((px - c.0) * (px - c.0) + (py - c.1) * (py - c.1)) / (2 * s2) - ln2pi - Double.log(s2)
          })
      }
    case .checkerboard:
      return (0..<x.rows).map { r in
        // Back to the sampler's units: x1 ∈ [−2, 2), x2 ∈ [−2, 2) on dark squares.
        let x1 = Double(x[r, 0]) / 2
        let x2 = Double(x[r, 1]) / 2
        guard x1 >= -2, x1 < 2, x2 >= -2, x2 < 2 else { return .infinity }
        let column = Int((x1 + 4).rounded(.down)) % 2
        let row = Int((x2 + 4).rounded(.down)) % 2
        return column == row ? Double.log(32) : .infinity
      }
    case .pinwheel:
      return nil
    }
  }
}
