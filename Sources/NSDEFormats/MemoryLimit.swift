import Foundation

/// The memory a computation may allocate, checked before large allocations
/// made from user-given sizes, so that an impossible request is a clear error
/// naming the request and the estimate instead of an abort in the allocator.
///
/// The limit is `MemoryLimit.override` if set (`--max-memory` in nsde-bench),
/// else the environment variable `NSDE_MAX_MEMORY` (bytes, or with a `KiB`,
/// `MiB`, `GiB` suffix), else the `MemAvailable` of `/proc/meminfo` (Linux),
/// else the physical memory.
public enum MemoryLimit {
  nonisolated(unsafe) private static var overrideBytes: Int?
  private static let lock = NSLock()

  /// An explicit limit in bytes (nil: the default).
  public static var override: Int? {
    get { lock.withLock { overrideBytes } }
    set { lock.withLock { overrideBytes = newValue } }
  }

  /// The limit now, in bytes.
  public static var available: Int {
    if let o = override { return o }
    if let env = ProcessInfo.processInfo.environment["NSDE_MAX_MEMORY"], let v = parse(env) { return v }
    if let text = try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8) {
      for line in text.split(separator: "\n") where line.hasPrefix("MemAvailable:") {
        let parts = line.split(separator: " ")
        if parts.count >= 2, let kib = Int(parts[1]) { return kib.multipliedReportingOverflow(by: 1024).partialValue }
      }
    }
    return Int(clamping: ProcessInfo.processInfo.physicalMemory)
  }

  /// Parses `123`, `64MiB`, `1.5GiB`, `512KiB`, `2GB` (decimal units too) into bytes.
  public static func parse(_ text: String) -> Int? {
    let t = text.trimmingCharacters(in: .whitespaces)
    let units: [(String, Double)] = [
      ("KiB", 1024), ("MiB", 1_048_576), ("GiB", 1_073_741_824), ("TiB", 1_099_511_627_776), ("KB", 1e3), ("MB", 1e6),
      ("GB", 1e9), ("TB", 1e12), ("B", 1),
    ]
    var number = t
    var scale = 1.0
    for (suffix, s) in units where t.hasSuffix(suffix) {
      number = String(t.dropLast(suffix.count)).trimmingCharacters(in: .whitespaces)
      scale = s
      break
    }
    guard let v = Double(number), v > 0, v.isFinite else { return nil }
    let bytes = v * scale
    return bytes < 9e18 ? Int(bytes) : nil
  }

  /// A human-readable size.
  public static func describe(_ bytes: Int) -> String {
    let b = Double(bytes)
    if b >= 1_073_741_824 { return String(format: "%.1f GiB", b / 1_073_741_824) }
    if b >= 1_048_576 { return String(format: "%.1f MiB", b / 1_048_576) }
    if b >= 1024 { return String(format: "%.1f KiB", b / 1024) }
    return "\(bytes) bytes"
  }

  /// Throws unless `bytes` (nil: the size overflowed) fits in the limit.
  /// - Throws: `invalidArgument` naming `what`, the estimate and the limit.
  public static func check(_ bytes: Int?, for what: String) throws {
    let limit = available
    guard let bytes else {
      throw NSDEError.invalidArgument("\(what) would need more memory than can be addressed (limit \(describe(limit)))")
    }
    guard bytes <= limit else {
      throw NSDEError.invalidArgument(
        "\(what) would need ≈ \(describe(bytes)) but only \(describe(limit)) are available (set --max-memory or NSDE_MAX_MEMORY to change the limit)"
      )
    }
  }
}

/// Sums and products of sizes with overflow checks (nil on overflow or a negative size).
public enum SizeArithmetic {
  /// The product of non-negative sizes, or nil if it overflows.
  public static func product(_ factors: Int...) -> Int? { checkedProduct(factors) }
  /// The sum of sizes, or nil if any is nil, negative, or the sum overflows.
  public static func sum(_ terms: [Int?]) -> Int? {
    var s = 0
    for t in terms {
      guard let t, t >= 0 else { return nil }
      let (r, o) = s.addingReportingOverflow(t)
      if o { return nil }
      s = r
    }
    return s
  }
}
