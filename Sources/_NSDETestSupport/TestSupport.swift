// Helpers shared by the test targets: random inputs, naive reference
// implementations, error measures and finite differences.
@_exported import NSDEBenchmarks
@_exported import NeuralSDE

/// A matrix with independent standard normal entries (seeded).
public func randomMatrix<T: BLASScalar>(_ rows: Int, _ cols: Int, seed: UInt64, scale: Double = 1) -> Matrix<T> {
  var rng = SplitMix64(seed: seed)
  return Matrix(rows: rows, cols: cols) { _, _ in T(scale * rng.nextNormal()) }
}

/// Standard normal values (seeded).
public func randomVector<T: BLASScalar>(_ n: Int, seed: UInt64, scale: Double = 1) -> [T] {
  var rng = SplitMix64(seed: seed)
  return (0..<n).map { _ in T(scale * rng.nextNormal()) }
}

/// Reference `op(A)·op(B)` by the triple loop, in Double.
public func naiveProduct<T: BLASScalar>(
  _ a: Matrix<T>, transposeA: Bool, _ b: Matrix<T>, transposeB: Bool
) -> [Double] {
  let m = transposeA ? a.cols : a.rows
  let k = transposeA ? a.rows : a.cols
  let n = transposeB ? b.rows : b.cols
  var c = [Double](repeating: 0, count: m * n)
  for i in 0..<m {
    for j in 0..<n {
      var s = 0.0
      for p in 0..<k {
        let x = transposeA ? a[p, i] : a[i, p]
        let y = transposeB ? b[j, p] : b[p, j]
        s += Double(x) * Double(y)
      }
      c[i * n + j] = s
    }
  }
  return c
}

/// Reference solve of `A·X = B` by Gaussian elimination with partial pivoting, in Double.
public func naiveSolve(_ a: [[Double]], _ b: [[Double]]) -> [[Double]] {
  var a = a
  var b = b
  let n = a.count
  for col in 0..<n {
    var piv = col
    for r in col..<n where abs(a[r][col]) > abs(a[piv][col]) { piv = r }
    a.swapAt(col, piv)
    b.swapAt(col, piv)
    for r in (col + 1)..<n {
      let f = a[r][col] / a[col][col]
      for c in col..<n { a[r][c] -= f * a[col][c] }
      for c in b[r].indices { b[r][c] -= f * b[col][c] }
    }
  }
  var x = b
  for r in stride(from: n - 1, through: 0, by: -1) {
    for c in b[r].indices {
      var s = b[r][c]
      for k in (r + 1)..<n { s -= a[r][k] * x[k][c] }
      x[r][c] = s / a[r][r]
    }
  }
  return x
}

/// Central finite difference `(f(x + h·e_i) − f(x − h·e_i)) / 2h` for every
/// coordinate i of `x`, in Double.
public func centralDifferences(_ x: [Double], step h: Double, _ f: ([Double]) throws -> Double) rethrows -> [Double] {
  var g = [Double](repeating: 0, count: x.count)
  var xp = x
  for i in x.indices {
    xp[i] = x[i] + h
    let fp = try f(xp)
    xp[i] = x[i] - h
    let fm = try f(xp)
    xp[i] = x[i]
    g[i] = (fp - fm) / (2 * h)
  }
  return g
}

/// Central finite difference of `f` along the direction `u`.
public func directionalDifference(
  _ x: [Double], _ u: [Double], step h: Double, _ f: ([Double]) throws -> [Double]
) rethrows -> [Double] {
  let fp = try f(zip(x, u).map { $0 + h * $1 })
  let fm = try f(zip(x, u).map { $0 - h * $1 })
  return zip(fp, fm).map { ($0 - $1) / (2 * h) }
}

/// Asserts that `body` throws an `NSDEError` whose description contains every
/// string in `fragments`; returns a failure message or nil.
public func expectError(containing fragments: [String], _ body: () throws -> Void) -> String? {
  do {
    try body()
    return "expected an error containing \(fragments), but nothing was thrown"
  } catch let error as NSDEError {
    let text = error.description
    for f in fragments where !text.contains(f) {
      return "error \"\(text)\" does not mention \"\(f)\""
    }
    return nil
  } catch {
    return "expected an NSDEError, got \(error)"
  }
}

/// Central finite differences `(L(θ + h·e_i) − L(θ − h·e_i)) / 2h` of `loss`
/// in the model's parameters `indices` (default: all), perturbing them in
/// place and restoring each; with common random numbers inside `loss`.
public func parameterDifferences<Scalar: SDEScalar>(
  _ model: NeuralSDEModel<Scalar>, indices: Range<Int>? = nil, step h: Double = 1e-5, _ loss: () throws -> Double
) rethrows -> [Double] {
  let p = model.parameters.base
  return try (indices ?? 0..<model.parameterCount).map { i in
    let old = p[i]
    p[i] = old + Scalar(h)
    let up = try loss()
    p[i] = old - Scalar(h)
    let down = try loss()
    p[i] = old
    return (up - down) / (2 * h)
  }
}
