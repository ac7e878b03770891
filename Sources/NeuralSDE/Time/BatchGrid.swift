/// The time grids of a batch's data points (docs/MODEL.md §7): one grid
/// shared by every point (the static model), or one per point with the same
/// number of steps N — a sequence's own grid with each of its observation
/// times a node. A step stays one GEMM over all paths: only the step size
/// differs between rows (`h_{b,i}` for the K paths of point b), so the
/// networks must not read the time when the grids differ.
public struct BatchGrid: Sendable {
  /// The grid of every point, when they share one.
  public let shared: TimeGrid?
  /// One grid per point (empty when shared).
  public let perPoint: [TimeGrid]
  /// N, the steps of every grid.
  public let steps: Int

  /// One grid for every point.
  public init(shared grid: TimeGrid) {
    shared = grid
    perPoint = []
    steps = grid.steps
  }

  /// One grid per data point, all with the same number of steps.
  /// - Throws: `invalidArgument` for no grids or grids of different step counts.
  public init(perPoint grids: [TimeGrid]) throws {
    guard let first = grids.first else { throw NSDEError.invalidArgument("a batch needs at least one grid") }
    if let other = grids.firstIndex(where: { $0.steps != first.steps }) {
      throw NSDEError.invalidArgument(
        "every grid of a batch has the same number of steps, but grid \(other) has \(grids[other].steps) and grid 0 \(first.steps)"
      )
    }
    shared = nil
    perPoint = grids
    steps = first.steps
  }

  /// The grid of data point b.
  public func grid(point b: Int) -> TimeGrid { shared ?? perPoint[b] }

  /// The grids of the data points `points` (a shard of the batch); a shared grid stays shared.
  public func points(_ points: Range<Int>) -> BatchGrid {
    guard shared == nil else { return self }
    return try! BatchGrid(perPoint: Array(perPoint[points]))
  }

  /// Step i's size for data point b.
  func stepSize(_ i: Int, point b: Int) -> Double { grid(point: b).stepSize(i) }
}
