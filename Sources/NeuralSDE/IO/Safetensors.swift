import Foundation

/// The safetensors format (the format PyTorch users share weights in):
///
///     [u64 little-endian N][N bytes of JSON header][tensor bytes]
///
/// The header maps each tensor name to `{"dtype", "shape", "data_offsets": [begin, end]}`
/// (offsets relative to the first byte after the header) and may hold a
/// `"__metadata__"` object of string values. F32 and F64 tensors are read and
/// written; everything is validated on reading, and errors name the file and
/// the tensor.
public struct SafetensorsFile: Sendable, Equatable {
  /// Tensors in file order.
  public var tensors: [(name: String, tensor: StoredTensor)]
  public var metadata: [String: String]

  public init(tensors: [(name: String, tensor: StoredTensor)] = [], metadata: [String: String] = [:]) {
    self.tensors = tensors
    self.metadata = metadata
  }

  public static func == (a: SafetensorsFile, b: SafetensorsFile) -> Bool {
    a.metadata == b.metadata && a.tensors.count == b.tensors.count
      && zip(a.tensors, b.tensors).allSatisfy { $0.name == $1.name && $0.tensor == $1.tensor }
  }

  public subscript(name: String) -> StoredTensor? { tensors.first { $0.name == name }?.tensor }

  /// The file's bytes.
  public func serialized() throws -> [UInt8] {
    var header: [String: Any] = [:]
    if !metadata.isEmpty { header["__metadata__"] = metadata }
    var offset = 0
    var names = Set<String>()
    for (name, t) in tensors {
      guard names.insert(name).inserted else {
        throw NSDEError.invalidArgument("tensor name \(name) appears twice")
      }
      guard t.values.count == t.count else {
        throw NSDEError.shapeMismatch("tensor \(name) has shape \(t.shape) but \(t.values.count) values")
      }
      let size = t.count * t.dtype.byteSize
      header[name] =
        ["dtype": t.dtype.rawValue, "shape": t.shape, "data_offsets": [offset, offset + size]] as [String: Any]
      offset += size
    }
    var json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
    while json.count % 8 != 0 { json.append(0x20) }  // pad with spaces to 8-byte alignment
    var out = [UInt8]()
    withUnsafeBytes(of: UInt64(json.count).littleEndian) { out.append(contentsOf: $0) }
    out.append(contentsOf: json)
    for (_, t) in tensors { out.append(contentsOf: t.bytes) }
    return out
  }

  /// Writes the file atomically (temporary file + rename).
  public func write(to path: String) throws { try AtomicFile.write(try serialized(), to: path) }

  /// Reads and validates a safetensors file.
  /// - Throws: `NSDEError.file` naming the path and what is wrong (truncated,
  ///   bad header, unsupported dtype, offsets out of range or overlapping, …).
  public static func read(_ path: String) throws -> SafetensorsFile {
    try parse(try AtomicFile.read(path), path: path)
  }

  /// Parses safetensors bytes (`path` only for messages).
  public static func parse(_ bytes: [UInt8], path: String = "<memory>") throws -> SafetensorsFile {
    func fail(_ reason: String) -> NSDEError { .file(path: path, reason: "invalid safetensors file: \(reason)") }
    guard bytes.count >= 8 else { throw fail("only \(bytes.count) bytes, shorter than the 8-byte header length") }
    let n = bytes.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) }
    guard n <= UInt64(bytes.count - 8), n <= 100_000_000 else {
      throw fail("header length \(n) exceeds the file (\(bytes.count) bytes): truncated or corrupted")
    }
    let headerEnd = 8 + Int(n)
    let headerData = Data(bytes[8..<headerEnd])
    guard let object = try? JSONSerialization.jsonObject(with: headerData), let header = object as? [String: Any] else {
      throw fail("the header is not a JSON object")
    }
    let dataSize = bytes.count - headerEnd
    var metadata: [String: String] = [:]
    var entries: [(name: String, begin: Int, end: Int, shape: [Int], dtype: TensorDType)] = []
    for (name, value) in header {
      if name == "__metadata__" {
        guard let m = value as? [String: Any] else { throw fail("__metadata__ is not an object") }
        for (k, v) in m {
          guard let s = v as? String else { throw fail("__metadata__ value for \(k) is not a string") }
          metadata[k] = s
        }
        continue
      }
      guard let info = value as? [String: Any], let dtypeName = info["dtype"] as? String,
        let shapeAny = info["shape"] as? [Any], let offsetsAny = info["data_offsets"] as? [Any], offsetsAny.count == 2
      else { throw fail("tensor \(name) lacks dtype, shape or data_offsets") }
      guard let dtype = TensorDType(rawValue: dtypeName) else {
        throw fail("tensor \(name) has dtype \(dtypeName); only F32 and F64 are supported")
      }
      let shape = try shapeAny.map { v -> Int in
        guard let i = (v as? NSNumber)?.intValue, i >= 0 else {
          throw fail("tensor \(name) has a bad shape \(shapeAny)")
        }
        return i
      }
      let offs = try offsetsAny.map { v -> Int in
        guard let i = (v as? NSNumber)?.intValue, i >= 0 else { throw fail("tensor \(name) has bad data_offsets") }
        return i
      }
      guard offs[0] <= offs[1], offs[1] <= dataSize else {
        throw fail("tensor \(name) data_offsets \(offs) exceed the \(dataSize) data bytes: truncated or corrupted")
      }
      let expected = shape.reduce(1, *) * dtype.byteSize
      guard offs[1] - offs[0] == expected else {
        throw fail("tensor \(name) has \(offs[1] - offs[0]) bytes but shape \(shape) of \(dtypeName) needs \(expected)")
      }
      entries.append((name, offs[0], offs[1], shape, dtype))
    }
    entries.sort { $0.begin < $1.begin || ($0.begin == $1.begin && $0.end < $1.end) }
    var covered = 0
    for e in entries {
      guard e.begin >= covered || e.begin == e.end else { throw fail("tensor \(e.name) overlaps the previous tensor") }
      covered = Swift.max(covered, e.end)
    }
    guard covered == dataSize else {
      throw fail("the tensors cover \(covered) of \(dataSize) data bytes (extra or missing data)")
    }
    var file = SafetensorsFile(metadata: metadata)
    for e in entries {
      let values = StoredTensor.decode(bytes, offset: headerEnd + e.begin, count: e.shape.reduce(1, *), dtype: e.dtype)
      file.tensors.append((e.name, StoredTensor(shape: e.shape, dtype: e.dtype, values: values)))
    }
    return file
  }
}
