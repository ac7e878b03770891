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
  ///
  /// Refuses (without touching it) a target that exists and is not a regular
  /// file: a rename would replace a device, a directory or a pipe by a file.
  /// Temporary files of this naming left by killed writers of the same target
  /// (their process no longer runs) are removed first.
  public static func write(_ bytes: [UInt8], to path: String) throws {
    guard !path.isEmpty else { throw NSDEError.file(path: "''", reason: "the output path is empty") }
    let url = URL(fileURLWithPath: path)
    let dir = url.deletingLastPathComponent().path
    var st = stat()
    if lstat(path, &st) == 0, (st.st_mode & S_IFMT) != S_IFREG {
      throw NSDEError.file(
        path: path, reason: "exists and is not a regular file (\(fileKind(st.st_mode))); refusing to replace it")
    }
    removeStaleTemporaries(of: path)
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

  /// Removes `.NAME.tmp-PID-…` files next to `path` whose writer process `PID`
  /// no longer runs (left by a killed write); returns how many were removed.
  @discardableResult
  public static func removeStaleTemporaries(of path: String) -> Int {
    let url = URL(fileURLWithPath: path)
    let dir = url.deletingLastPathComponent().path
    let prefix = "." + url.lastPathComponent + ".tmp-"
    guard let names = try? FileManager.default.contentsOfDirectory(atPath: dir.isEmpty ? "." : dir) else { return 0 }
    var removed = 0
    for name in names where name.hasPrefix(prefix) {
      let rest = name.dropFirst(prefix.count)
      guard let dash = rest.firstIndex(of: "-"), let pid = Int32(rest[..<dash]), pid > 0 else { continue }
      if kill(pid, 0) != 0 && errno == ESRCH, unlink(dir + "/" + name) == 0 { removed += 1 }
    }
    return removed
  }

  /// Removes the stale temporaries (see `removeStaleTemporaries(of:)`) of every file in `directory`.
  @discardableResult
  public static func removeStaleTemporaries(inDirectory directory: String) -> Int {
    guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return 0 }
    var targets = Set<String>()
    for name in names where name.hasPrefix(".") {
      if let r = name.range(of: ".tmp-") {
        targets.insert(String(name[name.index(after: name.startIndex)..<r.lowerBound]))
      }
    }
    return targets.map { removeStaleTemporaries(of: directory + "/" + $0) }.reduce(0, +)
  }

  /// A short name of a file type from `st_mode`.
  static func fileKind(_ mode: mode_t) -> String {
    switch mode & S_IFMT {
    case S_IFDIR: return "a directory"
    case S_IFCHR: return "a character device"
    case S_IFBLK: return "a block device"
    case S_IFIFO: return "a pipe"
    case S_IFSOCK: return "a socket"
    case S_IFLNK: return "a symbolic link"
    default: return "not a regular file"
    }
  }

  /// True if `a` and `b` name the same existing file (same device and inode),
  /// or, when either does not exist, the same absolute standardised path.
  public static func sameFile(_ a: String, _ b: String) -> Bool {
    var sa = stat()
    var sb = stat()
    if stat(a, &sa) == 0, stat(b, &sb) == 0 { return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino }
    return URL(fileURLWithPath: a).standardizedFileURL.path == URL(fileURLWithPath: b).standardizedFileURL.path
  }

  /// Refuses outputs that would overwrite an input.
  /// - Throws: `invalidArgument` naming the output and the input it equals.
  public static func checkDistinct(outputs: [(option: String, path: String)], inputs: [(option: String, path: String)])
    throws
  {
    for o in outputs {
      for i in inputs where sameFile(o.path, i.path) {
        throw NSDEError.invalidArgument(
          "\(o.option) \(o.path) is the same file as \(i.option) \(i.path): refusing to overwrite an input")
      }
    }
  }

  /// Creates `path` (and parents) if needed and checks that files can be
  /// created in it, before any long work starts.
  /// - Throws: `file` naming the path with a plain reason.
  public static func prepareDirectory(_ path: String) throws {
    guard !path.isEmpty else { throw NSDEError.file(path: "''", reason: "the output directory path is empty") }
    var isDir: ObjCBool = false
    if FileManager.default.fileExists(atPath: path, isDirectory: &isDir) {
      guard isDir.boolValue else { throw NSDEError.file(path: path, reason: "exists and is not a directory") }
    } else {
      var partial = path.hasPrefix("/") ? "" : "."
      for component in path.split(separator: "/") {
        partial += "/" + component
        if mkdir(partial, 0o755) != 0 && errno != EEXIST {
          throw NSDEError.file(path: path, reason: "cannot create the directory \(partial): \(errnoText())")
        }
      }
    }
    let probe = path + "/.nsde-write-probe-\(getpid())"
    let fd = open(probe, O_WRONLY | O_CREAT | O_EXCL, 0o644)
    guard fd >= 0 else { throw NSDEError.file(path: path, reason: "cannot create files here: \(errnoText())") }
    close(fd)
    unlink(probe)
    removeStaleTemporaries(inDirectory: path)
  }

  /// Writes UTF-8 text atomically.
  public static func write(text: String, to path: String) throws { try write(Array(text.utf8), to: path) }

  /// Reads a whole file.
  /// - Throws: `NSDEError.file` if it cannot be read.
  /// Reads a whole regular file.
  /// - Throws: `NSDEError.file` if it does not exist, is not a regular file
  ///   (a directory, a device: reading those could block or never end), or cannot be read.
  public static func read(_ path: String) throws -> [UInt8] {
    guard !path.isEmpty else { throw NSDEError.file(path: "''", reason: "the input path is empty") }
    var st = stat()
    guard stat(path, &st) == 0 else {
      throw NSDEError.file(path: path, reason: errno == ENOENT ? "no such file" : "cannot be read: \(errnoText())")
    }
    guard (st.st_mode & S_IFMT) == S_IFREG else {
      throw NSDEError.file(path: path, reason: "is \(fileKind(st.st_mode)), not a regular file")
    }
    guard let data = FileManager.default.contents(atPath: path) else {
      throw NSDEError.file(path: path, reason: "cannot be read")
    }
    return [UInt8](data)
  }

  static func errnoText() -> String { String(cString: strerror(errno)) }
}
