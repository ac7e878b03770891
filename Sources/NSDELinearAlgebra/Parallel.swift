import CBLAS
import Dispatch
import Foundation

/// BLAS threading and the row-split parallelism NeuralSDE uses.
///
/// Threading model (measured, see docs/THREADING.md): OpenBLAS runs
/// single-threaded and a batch's rows (Monte Carlo paths) are split into one
/// contiguous chunk per core; each core runs the whole step (GEMMs and
/// elementwise work) on its chunk. Per-path results do not depend on the
/// split; reductions over paths are summed per chunk, then across chunks in a
/// fixed order.
public enum Threading {
  /// Sets OpenBLAS's own thread count (NeuralSDE sets 1 and splits rows itself).
  public static func setBLASThreads(_ n: Int) {
    _ = defaultConfiguration
    openblas_set_num_threads(Int32(n))
  }

  /// Applies the default threading model once: OpenBLAS single-threaded,
  /// unless the environment sets `OPENBLAS_NUM_THREADS` or `NSDE_BLAS_THREADS`
  /// (then that count is used). Called by every model and network constructor.
  public static func ensureConfigured() { _ = defaultConfiguration }

  private static let defaultConfiguration: Void = {
    let env = ProcessInfo.processInfo.environment
    if let n = env["NSDE_BLAS_THREADS"].flatMap(Int.init), n >= 1 {
      openblas_set_num_threads(Int32(n))
    } else if env["OPENBLAS_NUM_THREADS"] == nil {
      openblas_set_num_threads(1)
    }
  }()
  /// OpenBLAS's current thread count.
  public static var blasThreads: Int { Int(openblas_get_num_threads()) }
  /// OpenBLAS build configuration string.
  public static var blasConfiguration: String { String(cString: openblas_get_config()) }
  /// The OpenBLAS kernel family in use (e.g. "Haswell", "Zen").
  public static var blasCoreName: String { String(cString: openblas_get_corename()) }
  /// Cores available to this process.
  public static var availableCores: Int { ProcessInfo.processInfo.activeProcessorCount }

  /// Splits `0..<count` into `chunks` contiguous ranges of nearly equal size
  /// (the first `count % chunks` ranges get one extra element).
  public static func partition(_ count: Int, into chunks: Int) -> [Range<Int>] {
    let k = Swift.max(1, Swift.min(chunks, Swift.max(count, 1)))
    let q = count / k
    let r = count % k
    var ranges: [Range<Int>] = []
    var start = 0
    for i in 0..<k {
      let len = q + (i < r ? 1 : 0)
      ranges.append(start..<(start + len))
      start += len
    }
    return ranges
  }

  /// Runs `body(i)` for `i in 0..<n`, concurrently when `n > 1`.
  public static func concurrentPerform(_ n: Int, _ body: (Int) -> Void) {
    if n <= 1 {
      if n == 1 { body(0) }
      return
    }
    withoutActuallyEscaping(body) { escapable in
      nonisolated(unsafe) let task = escapable
      DispatchQueue.concurrentPerform(iterations: n) { i in task(i) }
    }
  }

  /// Runs `body(i)` for `i in 0..<n` concurrently and returns each outcome in
  /// order (a thrown error is returned, not propagated, so that callers can
  /// merge errors from several chunks).
  public static func concurrentMap<T>(_ n: Int, _ body: (Int) throws -> T) -> [Result<T, Error>] {
    var results = [Result<T, Error>?](repeating: nil, count: n)
    results.withUnsafeMutableBufferPointer { buffer in
      nonisolated(unsafe) let out = buffer
      concurrentPerform(n) { i in out[i] = Result { try body(i) } }
    }
    return results.map { $0! }
  }
}
