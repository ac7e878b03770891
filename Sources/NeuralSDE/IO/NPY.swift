import Foundation

/// NumPy `.npy` arrays (format versions 1.0–3.0): little-endian `<f4`/`<f8`,
/// C or Fortran order on reading, C order on writing.
public enum NPY {
  /// Reads an array.
  /// - Throws: `NSDEError.file` naming the path and the problem (bad magic,
  ///   unsupported dtype, truncated data, …).
  public static func read(_ path: String) throws -> StoredTensor {
    try parse(try AtomicFile.read(path), path: path)
  }

  public static func parse(_ bytes: [UInt8], path: String = "<memory>") throws -> StoredTensor {
    func fail(_ reason: String) -> NSDEError { .file(path: path, reason: "invalid .npy file: \(reason)") }
    let magic: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59]
    guard bytes.count >= 10, Array(bytes[0..<6]) == magic else { throw fail("missing the \\x93NUMPY magic") }
    let major = bytes[6]
    let headerLength: Int
    let headerStart: Int
    switch major {
    case 1:
      headerLength = Int(bytes[8]) | Int(bytes[9]) << 8
      headerStart = 10
    case 2, 3:
      guard bytes.count >= 12 else { throw fail("truncated header") }
      headerLength = Int(bytes[8]) | Int(bytes[9]) << 8 | Int(bytes[10]) << 16 | Int(bytes[11]) << 24
      headerStart = 12
    default: throw fail("unsupported format version \(major).\(bytes[7])")
    }
    guard headerStart + headerLength <= bytes.count else { throw fail("truncated header") }
    guard let header = String(bytes: bytes[headerStart..<(headerStart + headerLength)], encoding: .utf8) else {
      throw fail("the header is not text")
    }
    func field(_ key: String) -> String? {
      guard let r = header.range(of: "'\(key)':") else { return nil }
      return String(header[r.upperBound...]).trimmingCharacters(in: .whitespaces)
    }
    guard let descrField = field("descr"), let q1 = descrField.firstIndex(where: { $0 == "'" || $0 == "\"" }) else {
      throw fail("the header has no descr")
    }
    let afterQ = descrField[descrField.index(after: q1)...]
    guard let q2 = afterQ.firstIndex(where: { $0 == "'" || $0 == "\"" }) else { throw fail("bad descr") }
    let descr = String(afterQ[..<q2])
    let dtype: TensorDType
    switch descr {
    case "<f8", "=f8", "f8": dtype = .float64
    case "<f4", "=f4", "f4": dtype = .float32
    default: throw fail("dtype \(descr) is not supported (use little-endian float32 '<f4' or float64 '<f8')")
    }
    guard let fortranField = field("fortran_order") else { throw fail("the header has no fortran_order") }
    let fortran = fortranField.hasPrefix("True")
    guard let shapeField = field("shape"), let open = shapeField.firstIndex(of: "("),
      let close = shapeField.firstIndex(of: ")")
    else { throw fail("the header has no shape") }
    let shapeText = shapeField[shapeField.index(after: open)..<close]
    let shape = try shapeText.split(separator: ",").compactMap { part -> Int? in
      let s = part.trimmingCharacters(in: .whitespaces)
      if s.isEmpty { return nil }
      guard let v = Int(s.replacingOccurrences(of: "L", with: "")), v >= 0 else {
        throw fail("bad shape (\(shapeText))")
      }
      return v
    }
    let count = shape.reduce(1, *)
    let dataStart = headerStart + headerLength
    let needed = count * dtype.byteSize
    guard bytes.count - dataStart >= needed else {
      throw fail("shape \(shape) needs \(needed) data bytes but the file has \(bytes.count - dataStart): truncated")
    }
    var values = StoredTensor.decode(bytes, offset: dataStart, count: count, dtype: dtype)
    if fortran && shape.count >= 2 {
      // Reorder column-major data to row-major.
      var strides = [Int](repeating: 1, count: shape.count)
      for i in 1..<shape.count { strides[i] = strides[i - 1] * shape[i - 1] }
      var rowMajor = [Double](repeating: 0, count: count)
      var index = [Int](repeating: 0, count: shape.count)
      for flat in 0..<count {
        var src = 0
        for a in 0..<shape.count { src += index[a] * strides[a] }
        rowMajor[flat] = values[src]
        var a = shape.count - 1
        while a >= 0 {
          index[a] += 1
          if index[a] < shape[a] { break }
          index[a] = 0
          a -= 1
        }
      }
      values = rowMajor
    }
    return StoredTensor(shape: shape, dtype: dtype, values: values)
  }

  /// The bytes of a version 1.0 `.npy` file (C order), header padded to 64 bytes.
  public static func serialize(_ tensor: StoredTensor) throws -> [UInt8] {
    guard tensor.values.count == tensor.count else {
      throw NSDEError.shapeMismatch("array of shape \(tensor.shape) has \(tensor.values.count) values")
    }
    let shapeText =
      tensor.shape.count == 1
      ? "(\(tensor.shape[0]),)" : "(" + tensor.shape.map(String.init).joined(separator: ", ") + ")"
    let descr = tensor.dtype == .float64 ? "<f8" : "<f4"
    var header = "{'descr': '\(descr)', 'fortran_order': False, 'shape': \(shapeText), }"
    let total = 10 + header.utf8.count + 1
    header += String(repeating: " ", count: (64 - total % 64) % 64) + "\n"
    var out: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59, 1, 0]
    let n = header.utf8.count
    out.append(UInt8(n & 0xFF))
    out.append(UInt8(n >> 8))
    out.append(contentsOf: header.utf8)
    out.append(contentsOf: tensor.bytes)
    return out
  }

  /// Writes an array atomically.
  public static func write(_ tensor: StoredTensor, to path: String) throws {
    try AtomicFile.write(try serialize(tensor), to: path)
  }

  /// Reads a 2-D array as a matrix (a 1-D array becomes one column).
  public static func readMatrix<T: BLASScalar>(_ path: String, as: T.Type = T.self) throws -> Matrix<T> {
    let t = try read(path)
    switch t.shape.count {
    case 1: return try Matrix(rows: t.shape[0], cols: 1, elements: t.values.map { T($0) })
    case 2: return try Matrix(rows: t.shape[0], cols: t.shape[1], elements: t.values.map { T($0) })
    default: throw NSDEError.file(path: path, reason: "expected a 1-D or 2-D array, got shape \(t.shape)")
    }
  }

  /// Writes a matrix as a 2-D array of its own precision.
  public static func write<T: BLASScalar>(_ m: Matrix<T>, to path: String) throws {
    try write(
      StoredTensor(
        shape: [m.rows, m.cols], dtype: T.self == Float.self ? .float32 : .float64, values: m.elements.map(Double.init)),
      to: path)
  }
}
