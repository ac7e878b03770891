import Foundation

/// Draws from a sequence model's predictive law `p(y(τ_1), …, y(τ_Q) | y_observed)`
/// at Q query times of one sequence (docs/MODEL.md §7): `samples` joint draws
/// of the D channels at every query time, in the file's time units.
public struct SequenceForecast: Sendable {
  /// The sequence's name.
  public var id: String
  /// The query times τ_q (file units, increasing).
  public var times: [Double]
  /// The value columns' names (D).
  public var columns: [String]
  /// Number of draws S.
  public var samples: Int
  /// The draws, `S × Q × D` row-major: draw s, query q, channel c at `(s·Q + q)·D + c`.
  public var draws: [Double]
  /// The importance weights' effective sample size `1 / Σ_k w_k²` among the
  /// K posterior paths the draws were resampled from (K when every path
  /// weighs the same; near 1 when one path dominates and the draws are not
  /// yet a sample of the predictive law).
  public var effectiveSampleSize: Double

  /// Number of value columns D.
  public var dimension: Int { columns.count }

  /// The S draws of channel c at query q.
  public func draws(query q: Int, channel c: Int) -> [Double] {
    (0..<samples).map { draws[($0 * times.count + q) * dimension + c] }
  }

  /// The `p`-quantile (0…1, linear interpolation) of channel c's draws at query q.
  public func quantile(_ p: Double, query q: Int, channel c: Int) -> Double {
    quantiles([p], query: q, channel: c)[0]
  }

  /// The quantiles `ps` (each 0…1, linear interpolation) of channel c's draws at query q, sorting once.
  public func quantiles(_ ps: [Double], query q: Int, channel c: Int) -> [Double] {
    let x = draws(query: q, channel: c).sorted()
    return ps.map { p in
      let r = Swift.min(Swift.max(p, 0), 1) * Double(x.count - 1)
      let lo = Int(r.rounded(.down))
      let hi = Swift.min(lo + 1, x.count - 1)
      return x[lo] + (r - Double(lo)) * (x[hi] - x[lo])
    }
  }
}

/// Forecasts and interpolation with a sequence model (docs/MODEL.md §7).
///
/// For each sequence, the query times up to its last observed value are
/// added to its observation times as unobserved nodes (a query at an
/// observation time reads that node; queries before the first observation
/// are refused: the model's time starts there), the sequences are laid out by
/// `layout`, and K posterior paths per sequence are solved with the control
/// seeing the observed values (and masks for the queries). Each path carries
/// its importance weight `w_k ∝ exp(log w_k − Σ_j ℓ_j)` (Girsanov ratio times
/// the likelihood of the observed entries) and S paths are drawn by
/// systematic resampling. Queries after the last observation are forecasts:
/// given the state there nothing more is observed, so each draw continues
/// from its resampled state with a fresh prior path (S distinct futures, on
/// `layout.stepsPerInterval` steps between query times). Then
/// `y(τ_q) ~ p_θ(y | X_{τ_q})` is drawn at every query. As K grows the draws
/// tend to the model's predictive law; `effectiveSampleSize` says how many
/// paths the weights effectively use.
public struct SequenceForecaster<Scalar: SDEScalar> {
  /// How sequences map to grids (the model's training layout).
  public var layout: SequenceLayout
  /// Posterior paths per sequence K.
  public var pathsPerSequence = 1000
  /// Draws per sequence S.
  public var samples = 200
  /// Sequences solved together.
  public var batchSize = 16
  /// Seed of the paths' noise, the resampling and the likelihood draws.
  public var seed: UInt64 = 0
  /// The step scheme.
  public var scheme: any StepScheme = EulerMaruyama()

  /// A forecaster for a model trained with `layout`.
  public init(layout: SequenceLayout) { self.layout = layout }

  /// Draws from `p(y(queries[s]) | observed sequence s)` for every sequence of `observed`.
  ///
  /// - Parameters:
  ///   - model: a sequence model (its configuration's data dimension is the file's D).
  ///   - observed: the sequences' observations (NaN: missing).
  ///   - queries: per sequence, the query times (file units; finite, not
  ///     before its first observation; any order, repeats removed).
  /// - Throws: `invalidArgument` naming the sequence and time for a bad
  ///   query, a count that does not match, or a K or S below 1.
  public func forecast(
    _ model: NeuralSDEModel<Scalar>, observed: SequenceData, at queries: [[Double]]
  ) throws -> [SequenceForecast] {
    try layout.validate()
    guard queries.count == observed.count else {
      throw NSDEError.shapeMismatch("\(observed.count) sequences but \(queries.count) lists of query times")
    }
    guard observed.dimension == model.dataDimension else {
      throw NSDEError.shapeMismatch(
        "the sequences have \(observed.dimension) value columns but the model's data dimension is \(model.dataDimension)"
      )
    }
    guard pathsPerSequence >= 1, samples >= 1, batchSize >= 1 else {
      throw NSDEError.invalidArgument(
        "paths per sequence, samples and batch size must be ≥ 1, got \(pathsPerSequence), \(samples), \(batchSize)")
    }
    let dims = observed.dimension
    let d = model.latentDimension
    // The merged sequences: the observations up to the last observed one ∪ the
    // query times up to it (interpolation; query q of s reads row slot[s][q]);
    // the queries after it are forecasts, continued from that node.
    var merged = SequenceData(ids: [], columns: observed.columns, offsets: [0], times: [], values: [])
    var plans: [(inside: [Int], last: Int, beyond: [Double], lastTime: Double, origin: Double)] = []
    var queryTimes: [[Double]] = []
    for s in 0..<observed.count {
      let rows = observed.observations(s)
      let origin = observed.times[rows.lowerBound]
      let q = Array(Set(queries[s])).sorted()
      for t in q {
        guard t.isFinite else {
          throw NSDEError.invalidArgument("sequence \(observed.ids[s]): query time \(t) is not finite")
        }
        guard t >= origin else {
          throw NSDEError.invalidArgument(
            "sequence \(observed.ids[s]): query time \(t) is before its first observation at \(origin) (the model's time starts there)"
          )
        }
      }
      // Trailing rows with nothing observed carry nothing: the forecast continues from the last observed one.
      let lastRow =
        rows.last { r in (0..<dims).contains { !observed.values[r * dims + $0].isNaN } } ?? rows.lowerBound
      let lastTime = observed.times[lastRow]
      let kept = rows.lowerBound...lastRow
      var times = Array(observed.times[kept])
      let inside = q.filter { $0 <= lastTime }
      let known = Set(times)
      times += inside.filter { !known.contains($0) }
      times.sort()
      var index: [Double: Int] = [:]
      for (j, t) in times.enumerated() { index[t] = j }
      var values = [Double](repeating: .nan, count: times.count * dims)
      for r in kept {
        let j = index[observed.times[r]]!
        for c in 0..<dims { values[j * dims + c] = observed.values[r * dims + c] }
      }
      merged.ids.append(observed.ids[s])
      merged.times += times
      merged.values += values
      merged.offsets.append(merged.times.count)
      plans.append(
        (inside.map { index[$0]! }, index[lastTime]!, q.filter { $0 > lastTime }, lastTime, origin))
      queryTimes.append(q)
    }
    var out: [SequenceForecast] = []
    let k = pathsPerSequence
    for first in stride(from: 0, to: merged.count, by: batchSize) {
      let indices = Array(first..<Swift.min(first + batchSize, merged.count))
      let batch = try SequenceBatch<Scalar>(merged, sequences: indices, layout: layout)
      let steps = batch.observations.schedule.steps
      let solve = try scheme.solvePosterior(
        model, data: batch.conditioning,
        noise: PhiloxBrownianIncrements(
          seed: SeedHash.mix(seed, UInt64(first), 0xF0_CA57), dimension: model.noiseDimension),
        options: .init(grid: batch.grid.grid(point: 0), pathsPerPoint: k, recordSteps: steps),
        grid: batch.grid, observations: batch.observations)
      let nll = try model.observationTerms(
        recorded: solve.recorded, observations: batch.observations, pathsPerPoint: k)
      var rng = SplitMix64(seed: SeedHash.mix(seed, UInt64(first), 0x5A_3B1E))
      for (b, s) in indices.enumerated() {
        let plan = plans[s]
        let paths = (b * k)..<((b + 1) * k)
        let weights = NeuralSDEModel<Scalar>.normalisedWeights(
          logWeights: solve.logWeights, reconstruction: nll, paths: paths)
        let ess = 1 / weights.reduce(0) { $0 + $1 * $1 }
        let chosen = Self.systematicResample(weights, count: samples, rng: &rng).map { b * k + $0 }
        let q = queryTimes[s].count
        let states = Matrix<Scalar>(rows: samples * q, cols: d)
        func put(_ i: Int, _ j: Int, _ src: UnsafePointer<Scalar>) {
          (states.base + (i * q + j) * d).update(from: src, count: d)
        }
        for (i, p) in chosen.enumerated() {
          for (j, slot) in plan.inside.enumerated() { put(i, j, solve.recorded[slot].base + p * d) }
        }
        if !plan.beyond.isEmpty {
          // The prior from the resampled states at the last observation, a fresh path per draw.
          let start = Matrix<Scalar>(rows: samples, cols: d)
          for (i, p) in chosen.enumerated() {
            (start.base + i * d).update(from: solve.recorded[plan.last].base + p * d, count: d)
          }
          let nodes = ([plan.lastTime] + plan.beyond).map { layout.modelTime($0, origin: plan.origin) }
          let per = layout.stepsPerInterval
          let grid = try TimeGrid(times: layout.appendingIntervals([nodes[0]], through: nodes))
          let future = try scheme.solvePrior(
            model, from: start,
            noise: PhiloxBrownianIncrements(
              seed: SeedHash.mix(seed, UInt64(s), 0xF0_2E), dimension: model.noiseDimension),
            options: .init(grid: grid, recordSteps: (1..<nodes.count).map { $0 * per }))
          for i in 0..<samples {
            for j in plan.beyond.indices { put(i, plan.inside.count + j, future.recorded[j].base + i * d) }
          }
        }
        var draws: [Double] = []
        if q > 0 {
          let y = model.observationDraws(states: states.view, rng: &rng).observations
          draws = (0..<y.count).map { Double(y.base[$0]) }
        }
        out.append(
          SequenceForecast(
            id: observed.ids[s], times: queryTimes[s], columns: observed.columns, samples: samples, draws: draws,
            effectiveSampleSize: ess))
      }
    }
    return out
  }

  /// `count` indices drawn from `weights` (summing to 1) by systematic
  /// resampling: one uniform offset, `count` evenly spaced points through the cumulative weights.
  static func systematicResample(_ weights: [Double], count: Int, rng: inout SplitMix64) -> [Int] {
    let u = rng.nextUnit()
    var out: [Int] = []
    out.reserveCapacity(count)
    var cumulative = weights[0]
    var i = 0
    for j in 0..<count {
      let point = (Double(j) + u) / Double(count)
      while point > cumulative && i < weights.count - 1 {
        i += 1
        cumulative += weights[i]
      }
      out.append(i)
    }
    return out
  }
}
