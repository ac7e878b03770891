import Foundation

/// Workspaces kept between calls, keyed by model and shapes. Checked out while
/// in use, so concurrent calls never share one. Holds at most a few entries
/// (the last shapes used); an entry keeps its model alive, so a model's
/// identity cannot be reused by another model while it is cached.
final class WorkspaceCache: @unchecked Sendable {
  struct Key: Hashable {
    let model: ObjectIdentifier
    let points: Range<Int>
    let k: Int
    let steps: Int
    /// The checkpoint levels (checkpointed backprop), empty for a full tape.
    var checkpointLevels: [Int] = []
    /// Sequential micro-batches per chunk (backprop within a memory budget).
    var microBatches = 1
    /// The observation steps (where the likelihood is read) and the scheme's stages.
    var observations: [Int] = []
    var stages = 1
  }
  private let lock = NSLock()
  private var entries: [(key: Key, value: AnyObject)] = []
  private let capacity = 8

  func checkOut(_ key: Key) -> AnyObject? {
    lock.lock()
    defer { lock.unlock() }
    guard let i = entries.firstIndex(where: { $0.key == key }) else { return nil }
    return entries.remove(at: i).value
  }

  func removeAll() {
    lock.lock()
    entries.removeAll()
    lock.unlock()
  }

  func checkIn(_ key: Key, _ value: AnyObject) {
    lock.lock()
    defer { lock.unlock() }
    entries.append((key, value))
    if entries.count > capacity { entries.removeFirst(entries.count - capacity) }
  }
}
