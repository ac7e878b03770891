import Foundation

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// Writes files atomically: the bytes go to a temporary file in the same
/// directory, which is flushed to disk (`fsync`) and then renamed over the
/// target. A crash leaves either the old file or the new one, never a
/// half-written one.
public enum AtomicFile {
  /// Writes `bytes` to `path` atomically.
  /// - Throws: `NSDEError.file` naming the path and the system error.
  public static func write(_ bytes: [UInt8], to path: String) throws {
    let url = URL(fileURLWithPath: path)
    let dir = url.deletingLastPathComponent().path
    let tmp = dir + "/." + url.lastPathComponent + ".tmp-\(getpid())-\(UInt64.random(in: 0...UInt64.max))"
    let fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0o644)
    guard fd >= 0 else { throw NSDEError.file(path: path, reason: "cannot create a temporary file: \(errnoText())") }
    var ok = false
    defer {
      if !ok { unlink(tmp) }
    }
    var written = 0
    while written < bytes.count {
      let n = bytes.withUnsafeBytes { buf in Glibc.write(fd, buf.baseAddress! + written, bytes.count - written) }
      if n < 0 {
        if errno == EINTR { continue }
        let reason = errnoText()
        close(fd)
        throw NSDEError.file(path: path, reason: "write failed: \(reason)")
      }
      written += n
    }
    guard fsync(fd) == 0 else {
      let reason = errnoText()
      close(fd)
      throw NSDEError.file(path: path, reason: "fsync failed: \(reason)")
    }
    close(fd)
    guard rename(tmp, path) == 0 else { throw NSDEError.file(path: path, reason: "rename failed: \(errnoText())") }
    ok = true
    let dfd = open(dir.isEmpty ? "." : dir, O_RDONLY)
    if dfd >= 0 {
      fsync(dfd)
      close(dfd)
    }
  }

  /// Writes UTF-8 text atomically.
  public static func write(text: String, to path: String) throws { try write(Array(text.utf8), to: path) }

  /// Reads a whole file.
  /// - Throws: `NSDEError.file` if it cannot be read.
  public static func read(_ path: String) throws -> [UInt8] {
    guard let data = FileManager.default.contents(atPath: path) else {
      let exists = FileManager.default.fileExists(atPath: path)
      throw NSDEError.file(path: path, reason: exists ? "cannot be read" : "no such file")
    }
    return [UInt8](data)
  }

  static func errnoText() -> String { String(cString: strerror(errno)) }
}
