import NSDEKernels

/// A source of Brownian increments `ΔW_i` for Euler–Maruyama.
///
/// Increments are indexed by (step, path, component), never by call order:
/// the same increment is returned whatever batch split, thread count or
/// order (forward or reverse) asks for it. That is what lets the gradient
/// estimators regenerate the noise instead of storing it, and what makes
/// common random numbers across runs trivial.
public protocol BrownianIncrements<Scalar>: Sendable {
  associatedtype Scalar: SDEScalar
  /// Noise dimension `m`.
  var dimension: Int { get }
  /// Writes `ΔW_step` for paths `paths` into `out` (`paths.count × m`, row
  /// stride `ld`): increments over a step of length `stepSize` (in Double, so
  /// that Float and Double solves see the same noise), i.e. `N(0, stepSize·I)` values.
  func fill(step: Int, paths: Range<Int>, stepSize: Double, into out: UnsafeMutablePointer<Scalar>, ld: Int)
  /// The same for runs of `groupRows` paths with a step size each (per-point
  /// grids): paths `paths.lowerBound + g·groupRows ..<` `+ (g+1)·groupRows`
  /// over a step of length `stepSizes[g]`, exactly the values `fill` gives
  /// each run alone. The default calls `fill` once per run.
  func fill(
    step: Int, paths: Range<Int>, stepSizes: UnsafePointer<Double>, groupRows: Int,
    into out: UnsafeMutablePointer<Scalar>, ld: Int)
  /// Checks that this source can serve `steps × paths` increments of dimension `m`.
  func validate(steps: Int, paths: Int, dimension: Int) throws
}

extension BrownianIncrements {
  /// One `fill` per run of `groupRows` paths.
  public func fill(
    step: Int, paths: Range<Int>, stepSizes: UnsafePointer<Double>, groupRows: Int,
    into out: UnsafeMutablePointer<Scalar>, ld: Int
  ) {
    var g = 0
    for start in stride(from: paths.lowerBound, to: paths.upperBound, by: groupRows) {
      let end = Swift.min(start + groupRows, paths.upperBound)
      fill(step: step, paths: start..<end, stepSize: stepSizes[g], into: out + (start - paths.lowerBound) * ld, ld: ld)
      g += 1
    }
  }

  /// Checks that the source can supply `steps × paths × m` increments.
  public func validate(steps: Int, paths: Int, dimension m: Int) throws {
    guard dimension == m else {
      throw NSDEError.shapeMismatch("the noise has dimension \(dimension) but the model's noise dimension is \(m)")
    }
  }
}

/// Brownian increments from the counter-based generator Philox4x32-10 with a
/// Box–Muller transform (vectorised, in NSDEKernels).
///
/// `ΔW[step, path, j] = √h · Z(seed, step, path, j)`, a pure function of its
/// indices (see `nsde_normals_f64`). `Float` increments are the `Double`
/// values rounded, so both precisions see the same noise.
public struct PhiloxBrownianIncrements<Scalar: SDEScalar>: BrownianIncrements {
  /// The Philox key: the same seed gives the same increments.
  public let seed: UInt64
  /// Noise dimension m.
  public let dimension: Int

  /// Increments of dimension `dimension` from `seed`.
  public init(seed: UInt64, dimension: Int) {
    self.seed = seed
    self.dimension = dimension
  }

  /// Writes the increments of `step` for `paths` (variance `stepSize`) into `out` (row stride `ld`).
  public func fill(step: Int, paths: Range<Int>, stepSize: Double, into out: UnsafeMutablePointer<Scalar>, ld: Int) {
    Self.normals(
      seed: seed, step: step, paths: paths, dimension: dimension, scale: stepSize.squareRoot(), into: out, ld: ld)
  }

  /// One vectorised call over all the runs (`√h_g` per run of `groupRows` paths).
  public func fill(
    step: Int, paths: Range<Int>, stepSizes: UnsafePointer<Double>, groupRows: Int,
    into out: UnsafeMutablePointer<Scalar>, ld: Int
  ) {
    let groups = (paths.count + groupRows - 1) / Swift.max(groupRows, 1)
    let batch = 512  // groups per call: the scales stay on the stack
    withUnsafeTemporaryAllocation(of: Double.self, capacity: Swift.min(groups, batch)) { scales in
      for g0 in stride(from: 0, to: groups, by: batch) {
        let n = Swift.min(batch, groups - g0)
        for g in 0..<n { scales[g] = stepSizes[g0 + g].squareRoot() }
        let first = paths.lowerBound + g0 * groupRows
        let count = Swift.min(n * groupRows, paths.upperBound - first)
        Scalar.normals(
          seed: seed, step: step, firstPath: first, paths: count, dimension: dimension,
          scales: scales.baseAddress!, group: groupRows, into: out + g0 * groupRows * ld, ld: ld)
      }
    }
  }

  /// Standard normals `scale · Z(seed, step, path, j)` for `paths` into `out` (`paths.count × dimension`, stride `ld`).
  public static func normals(
    seed: UInt64, step: Int, paths: Range<Int>, dimension: Int, scale: Double,
    into out: UnsafeMutablePointer<Scalar>, ld: Int
  ) {
    Scalar.normals(
      seed: seed, step: step, firstPath: paths.lowerBound, paths: paths.count, dimension: dimension, scale: scale,
      into: out, ld: ld)
  }
}

/// User-supplied increments: a `[N, M, m]` buffer indexed `[step, path, component]`
/// (the interchange layout of docs/REFERENCE-PROBLEM.md), holding `ΔW` with variance `h` each.
public struct RecordedBrownianIncrements<Scalar: SDEScalar>: BrownianIncrements, @unchecked Sendable {
  /// Steps N held.
  public let steps: Int
  /// Paths M held.
  public let paths: Int
  /// Noise dimension m.
  public let dimension: Int
  /// `steps × paths × dimension` values.
  public let values: [Scalar]

  /// - Throws: `shapeMismatch` if `values.count != steps·paths·dimension`; `nonFinite` for NaN/Inf.
  public init(steps: Int, paths: Int, dimension: Int, values: [Scalar]) throws {
    guard steps > 0, paths > 0, dimension > 0 else {
      throw NSDEError.invalidArgument("noise shape [\(steps), \(paths), \(dimension)] must be positive")
    }
    guard values.count == steps * paths * dimension else {
      throw NSDEError.shapeMismatch(
        "noise has \(values.count) values but shape [\(steps), \(paths), \(dimension)] needs \(steps * paths * dimension)"
      )
    }
    let bad = values.withUnsafeBufferPointer { Scalar.countNonFinite(n: $0.count, x: $0.baseAddress!) }
    guard bad == 0 else { throw NSDEError.nonFinite("the noise increments contain \(bad) NaN/Inf value(s)") }
    self.steps = steps
    self.paths = paths
    self.dimension = dimension
    self.values = values
  }

  /// The increments of another source, materialised (e.g. for export or for coarsening).
  public init<Source: BrownianIncrements>(from source: Source, grid: TimeGrid, paths: Int) throws
  where Source.Scalar == Scalar {
    let n = grid.steps
    let m = source.dimension
    var v = [Scalar](repeating: 0, count: n * paths * m)
    v.withUnsafeMutableBufferPointer { p in
      for i in 0..<n {
        source.fill(step: i, paths: 0..<paths, stepSize: grid.stepSize(i), into: p.baseAddress! + i * paths * m, ld: m)
      }
    }
    try self.init(steps: n, paths: paths, dimension: m, values: v)
  }

  /// Sums groups of `factor` consecutive steps: the increments of the same
  /// Brownian path on a grid `factor` times coarser.
  public func coarsened(by factor: Int) throws -> RecordedBrownianIncrements<Scalar> {
    guard factor >= 1, steps % factor == 0 else {
      throw NSDEError.invalidArgument("coarsening factor \(factor) must be ≥ 1 and divide the \(steps) steps")
    }
    let n = steps / factor
    var v = [Scalar](repeating: 0, count: n * paths * dimension)
    let block = paths * dimension
    for i in 0..<steps { for j in 0..<block { v[(i / factor) * block + j] += values[i * block + j] } }
    return try RecordedBrownianIncrements(steps: n, paths: paths, dimension: dimension, values: v)
  }

  /// Checks the requested shape against the recorded `[N, M, m]`.
  public func validate(steps n: Int, paths mPaths: Int, dimension m: Int) throws {
    guard dimension == m else {
      throw NSDEError.shapeMismatch("the noise has dimension \(dimension) but the model's noise dimension is \(m)")
    }
    guard steps == n, paths == mPaths else {
      throw NSDEError.shapeMismatch(
        "the noise has shape [\(steps), \(paths), \(dimension)] but the solve needs [\(n), \(mPaths), \(m)] (steps, paths, noise dimension)"
      )
    }
  }

  /// Copies the recorded increments of `step` for `paths` into `out` (row stride `ld`).
  public func fill(
    step: Int, paths range: Range<Int>, stepSize: Double, into out: UnsafeMutablePointer<Scalar>, ld: Int
  ) {
    values.withUnsafeBufferPointer { v in
      let base = v.baseAddress! + (step * paths + range.lowerBound) * dimension
      if ld == dimension {
        out.copyElements(from: base, count: range.count * dimension)
      } else {
        for p in 0..<range.count { (out + p * ld).copyElements(from: base + p * dimension, count: dimension) }
      }
    }
  }
}
