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
  /// The `__metadata__` string map (e.g. a checkpoint's step and configuration).
  public var metadata: [String: String]

  /// A file with the given tensors (in order) and metadata.
  public init(tensors: [(name: String, tensor: StoredTensor)] = [], metadata: [String: String] = [:]) {
    self.tensors = tensors
    self.metadata = metadata
  }

  /// Same metadata and the same tensors in the same order.
  public static func == (a: SafetensorsFile, b: SafetensorsFile) -> Bool {
    a.metadata == b.metadata && a.tensors.count == b.tensors.count
      && zip(a.tensors, b.tensors).allSatisfy { $0.name == $1.name && $0.tensor == $1.tensor }
  }

  /// The tensor named `name`, or nil.
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
      guard let count = checkedProduct(t.shape), let size = checkedProduct([count, t.dtype.byteSize]) else {
        throw NSDEError.shapeMismatch("tensor \(name) has shape \(t.shape): too many elements")
      }
      header[name] =
        ["dtype": t.dtype.rawValue, "shape": t.shape, "data_offsets": [offset, offset + size]] as [String: Any]
      offset += size
    }
    var json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
    guard json.count <= Self.maximumHeaderBytes else {
      throw NSDEError.invalidArgument("the safetensors header would be \(json.count) bytes, over the limit")
    }
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

  /// The largest header accepted (the safetensors package's own limit).
  public static let maximumHeaderBytes = 100_000_000

  /// Parses safetensors bytes (`path` only for messages).
  ///
  /// Strict and deterministic: the header must be one JSON object (duplicate
  /// names rejected) whose members are `__metadata__` (string values) and
  /// tensors `{"dtype": "F32"|"F64", "shape": [non-negative integers],
  /// "data_offsets": [begin, end]}` with nothing else; every size is computed
  /// with overflow checks against the bytes actually present; the tensors must
  /// cover the data bytes exactly, without overlap. Errors name the file and
  /// the tensor, and are the same on every run (header order is kept).
  public static func parse(_ bytes: [UInt8], path: String = "<memory>") throws -> SafetensorsFile {
    func fail(_ reason: String) -> NSDEError { .file(path: path, reason: "invalid safetensors file: \(reason)") }
    guard bytes.count >= 8 else { throw fail("only \(bytes.count) bytes, shorter than the 8-byte header length") }
    let n = bytes.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) }
    guard n <= UInt64(maximumHeaderBytes) else {
      throw fail("header length \(n) exceeds the limit of \(maximumHeaderBytes) bytes")
    }
    guard n <= UInt64(bytes.count - 8) else {
      throw fail("header length \(n) exceeds the file (\(bytes.count) bytes): truncated or corrupted")
    }
    let headerEnd = 8 + Int(n)
    let header: [(key: String, value: StrictJSON)]
    do {
      guard case .object(let members) = try StrictJSON.parse(bytes[8..<headerEnd]) else {
        throw fail("the header is not a JSON object")
      }
      header = members
    } catch let e as StrictJSON.ParseError {
      throw fail("the header is not valid JSON: \(e)")
    }
    let dataSize = bytes.count - headerEnd
    var metadata: [String: String] = [:]
    var entries: [(name: String, begin: Int, end: Int, shape: [Int], dtype: TensorDType)] = []
    for (name, value) in header {
      if name == "__metadata__" {
        guard case .object(let m) = value else { throw fail("__metadata__ is \(value.kind), not an object") }
        for (k, v) in m {
          guard case .string(let text) = v else { throw fail("__metadata__ value for \(k) is \(v.kind), not a string") }
          metadata[k] = text
        }
        continue
      }
      guard case .object(let fields) = value else { throw fail("tensor \(name) is \(value.kind), not an object") }
      var dtypeName: String?
      var shapeValue: StrictJSON?
      var offsetsValue: StrictJSON?
      for (key, v) in fields {
        switch key {
        case "dtype":
          guard case .string(let t) = v else { throw fail("tensor \(name): dtype is \(v.kind), not a string") }
          dtypeName = t
        case "shape": shapeValue = v
        case "data_offsets": offsetsValue = v
        default: throw fail("tensor \(name) has an unknown field \"\(key)\"")
        }
      }
      guard let dtypeName, let shapeValue, let offsetsValue else {
        throw fail("tensor \(name) lacks dtype, shape or data_offsets")
      }
      guard let dtype = TensorDType(rawValue: dtypeName) else {
        throw fail("tensor \(name) has dtype \(dtypeName); only F32 and F64 are supported")
      }
      func integers(_ v: StrictJSON, _ what: String) throws -> [Int] {
        guard case .array(let items) = v else { throw fail("tensor \(name): \(what) is \(v.kind), not an array") }
        return try items.map { item in
          guard case .integer(let i) = item, i >= 0 else {
            throw fail("tensor \(name): \(what) holds \(item.kind), not a non-negative integer")
          }
          return i
        }
      }
      let shape = try integers(shapeValue, "shape")
      let offs = try integers(offsetsValue, "data_offsets")
      guard offs.count == 2 else { throw fail("tensor \(name): data_offsets has \(offs.count) values, not 2") }
      guard offs[0] <= offs[1], offs[1] <= dataSize else {
        throw fail("tensor \(name) data_offsets \(offs) exceed the \(dataSize) data bytes: truncated or corrupted")
      }
      guard let count = checkedProduct(shape), let expected = checkedProduct([count, dtype.byteSize]) else {
        throw fail("tensor \(name): shape \(shape) has more elements than can be addressed")
      }
      guard offs[1] - offs[0] == expected else {
        throw fail(
          "tensor \(name) has \(offs[1] - offs[0]) bytes but shape \(shape) of \(dtypeName) needs \(expected)")
      }
      entries.append((name, offs[0], offs[1], shape, dtype))
    }
    let order = entries.indices.sorted {
      (entries[$0].begin, entries[$0].end, $0) < (entries[$1].begin, entries[$1].end, $1)
    }
    var covered = 0
    for e in order.map({ entries[$0] }) {
      guard e.begin >= covered || e.begin == e.end else {
        throw fail("tensor \(e.name) overlaps the previous tensor")
      }
      covered = Swift.max(covered, e.end)
    }
    guard covered == dataSize else {
      throw fail("the tensors cover \(covered) of \(dataSize) data bytes (extra or missing data)")
    }
    var file = SafetensorsFile(metadata: metadata)
    for e in order.map({ entries[$0] }) {
      let count = (e.end - e.begin) / e.dtype.byteSize
      let values = StoredTensor.decode(bytes, offset: headerEnd + e.begin, count: count, dtype: e.dtype)
      file.tensors.append((e.name, StoredTensor(shape: e.shape, dtype: e.dtype, values: values)))
    }
    return file
  }
}

/// The product of non-negative sizes, or nil if it overflows `Int`.
public func checkedProduct(_ factors: [Int]) -> Int? {
  var p = 1
  for f in factors {
    guard f >= 0 else { return nil }
    let (r, overflow) = p.multipliedReportingOverflow(by: f)
    if overflow { return nil }
    p = r
  }
  return p
}
