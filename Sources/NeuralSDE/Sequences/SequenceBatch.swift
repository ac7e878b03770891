import Foundation

/// A batch of sequences laid out for one solve (docs/MODEL.md §7): every
/// sequence gets its own grid of the same N steps with each of its
/// observation times an exact node, so the batch is one solve on per-point
/// grids (`BatchGrid`) with one observation schedule.
///
/// The layout rule (`SequenceLayout`): model time `t = (τ − τ_{s,1}) / timeScale + leadIn` — each
/// sequence starts `leadIn` before its first observation (the prior spreads
/// `x_0` into the initial state's law over it, in `leadInSteps` steps) — and
/// every interval between consecutive observations has `stepsPerInterval`
/// equal steps. A batch whose longest sequence has n observations has
/// `N = leadInSteps + (n − 1)·stepsPerInterval` steps; a shorter sequence's
/// missing observations are fully masked slots one mean interval apart after
/// its last one.
public struct SequenceBatch<Scalar: SDEScalar>: @unchecked Sendable {
  /// Each sequence's grid.
  public let grid: BatchGrid
  /// The observations at the shared schedule (values `B × D` per slot, masks).
  public let observations: PathObservations<Scalar>
  /// The static control's input (zeros; a sequence model's control reads the lookahead instead).
  public let conditioning: Matrix<Scalar>

  /// The batch of sequences `indices` of `data` laid out by `layout`.
  /// - Throws: `invalidArgument` for a layout out of range or no sequences.
  public init(_ data: SequenceData, sequences indices: [Int], layout: SequenceLayout) throws {
    guard !indices.isEmpty else { throw NSDEError.invalidArgument("a sequence batch needs at least one sequence") }
    try layout.validate()
    let dims = data.dimension
    let slots = indices.map { data.observations($0).count }.max()!
    let q = layout.stepsPerInterval
    let n = layout.leadInSteps + (slots - 1) * q
    var grids: [TimeGrid] = []
    let values = (0..<slots).map { _ in Matrix<Scalar>(rows: indices.count, cols: dims) }
    for (b, s) in indices.enumerated() {
      let rows = Array(data.observations(s))
      let first = data.times[rows[0]]
      var nodes = rows.map { layout.modelTime(data.times[$0], origin: first) }
      let meanInterval = nodes.count > 1 ? (nodes.last! - nodes.first!) / Double(nodes.count - 1) : layout.leadIn
      while nodes.count < slots { nodes.append(nodes.last! + meanInterval) }
      let leadIn = (0...layout.leadInSteps).map { layout.leadIn * Double($0) / Double(layout.leadInSteps) }
      grids.append(try TimeGrid(times: layout.appendingIntervals(leadIn, through: nodes)))
      for j in 0..<slots {
        for c in 0..<dims { values[j][b, c] = j < rows.count ? Scalar(data.values[rows[j] * dims + c]) : .nan }
      }
    }
    let schedule = try ObservationSchedule(
      steps: (0..<slots).map { layout.leadInSteps + $0 * q }, gridSteps: n)
    grid = try BatchGrid(perPoint: grids)
    observations = try PathObservations(schedule: schedule, values: values)
    conditioning = Matrix(rows: indices.count, cols: dims)
  }
}
