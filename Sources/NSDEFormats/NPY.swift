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

  /// Parses `.npy` bytes (`path` only for messages).
  ///
  /// The header must be the Python dict literal numpy writes, with exactly the
  /// keys `descr`, `fortran_order` and `shape` (single- or double-quoted,
  /// any order, an optional trailing comma): `descr` one of `<f4`, `<f8` (or
  /// `=`/`|`-less forms), `fortran_order` `True` or `False`, `shape` a tuple
  /// of non-negative integers. Sizes are computed with overflow checks against
  /// the bytes actually present. Errors name the file and the field.
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
    guard headerLength <= bytes.count - headerStart else {
      throw fail("the header length \(headerLength) exceeds the file (\(bytes.count) bytes): truncated")
    }
    guard let header = String(validating: bytes[headerStart..<(headerStart + headerLength)], as: UTF8.self) else {
      throw fail("the header is not UTF-8 text")
    }
    let fields: [(key: String, value: PythonLiteral)]
    do {
      fields = try PythonLiteral.parseHeader(header)
    } catch let e as PythonLiteral.ParseError {
      throw fail("the header \(e)")
    }
    var descr: String?
    var fortranValue: Bool?
    var shapeValue: [Int]?
    for (key, value) in fields {
      switch key {
      case "descr":
        guard case .string(let d) = value else { throw fail("descr is not a string") }
        descr = d
      case "fortran_order":
        guard case .bool(let b) = value else { throw fail("fortran_order is not True or False") }
        fortranValue = b
      case "shape":
        guard case .tuple(let dims) = value else { throw fail("shape is not a tuple") }
        shapeValue = try dims.map { d in
          guard case .integer(let v) = d, v >= 0 else {
            throw fail("shape holds a value that is not a non-negative integer")
          }
          return v
        }
      default: throw fail("unknown header key '\(key)'")
      }
    }
    guard let descr else { throw fail("the header has no descr") }
    guard let fortran = fortranValue else { throw fail("the header has no fortran_order") }
    guard let shape = shapeValue else { throw fail("the header has no shape") }
    let dtype: TensorDType
    switch descr {
    case "<f8", "=f8", "f8": dtype = .float64
    case "<f4", "=f4", "f4": dtype = .float32
    default: throw fail("dtype \(descr) is not supported (use little-endian float32 '<f4' or float64 '<f8')")
    }
    let dataStart = headerStart + headerLength
    guard let count = checkedProduct(shape), let needed = checkedProduct([count, dtype.byteSize]) else {
      throw fail("shape \(shape) has more elements than can be addressed")
    }
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
}
