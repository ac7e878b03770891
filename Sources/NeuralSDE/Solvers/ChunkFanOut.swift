/// The one fan-out of a batch over cores, shared by the solver and both
/// estimators: the units (data points, or paths of a prior solve) are
/// partitioned into contiguous chunks (whole data points, so each chunk's
/// control and objective are self-contained), each chunk gets its workspace,
/// the chunks run concurrently, and the results come back in chunk order, so
/// that reductions over chunks are ordered (deterministic for a chunk count).
struct ChunkFanOut {
  /// The chunks' unit ranges.
  let parts: [Range<Int>]

  /// `units` split into `chunks` (at least 1) contiguous ranges.
  init(units: Int, chunks: Int) { parts = Threading.partition(units, into: Swift.max(1, chunks)) }

  /// Gets a workspace per chunk, runs `body` on every chunk concurrently, then
  /// hands every workspace to `release` (even on failure) and returns the
  /// results in chunk order.
  /// - Throws: the chunks' errors merged: the earliest divergence over all
  ///   chunks (its affected paths summed), else the first error in chunk order.
  func run<Workspace, Output>(
    workspace: (Range<Int>) throws -> Workspace, release: (Range<Int>, Workspace) -> Void = { _, _ in },
    body: (_ chunk: Int, _ part: Range<Int>, _ workspace: Workspace) throws -> Output
  ) throws -> [Output] {
    let workspaces = try parts.map(workspace)
    defer { for (part, ws) in zip(parts, workspaces) { release(part, ws) } }
    nonisolated(unsafe) let shared = workspaces
    let outcomes = Threading.concurrentMap(parts.count) { c in try body(c, parts[c], shared[c]) }
    var errors: [Error] = []
    var outputs: [Output] = []
    for outcome in outcomes {
      switch outcome {
      case .success(let o): outputs.append(o)
      case .failure(let e): errors.append(e)
      }
    }
    if !errors.isEmpty { throw Self.merged(errors) }
    return outputs
  }

  /// The earliest divergence (paths summed over chunks that diverged at that
  /// step), or else the first error.
  static func merged(_ errors: [Error]) -> Error {
    var first: (step: Int, time: Double, paths: Int)?
    for case .divergence(let step, let time, let paths) as NSDEError in errors {
      if first == nil || step < first!.step {
        first = (step, time, paths)
      } else if step == first!.step {
        first!.paths += paths
      }
    }
    if let other = errors.first(where: { e in
      if case .divergence = e as? NSDEError { return false }
      return true
    }) {
      return other
    }
    return NSDEError.divergence(step: first!.step, time: first!.time, affectedPaths: first!.paths)
  }
}
