/// Element types of stored tensors.
public enum TensorDType: String, Sendable, Codable, Equatable {
  case float32 = "F32"
  case float64 = "F64"

  /// Bytes per element: 4 or 8.
  public var byteSize: Int { self == .float32 ? 4 : 8 }
}

/// A named, shaped array of numbers as read from or written to a file
/// (row-major, values held in Double; `dtype` is the stored type).
public struct StoredTensor: Sendable, Equatable {
  /// Dimensions, outermost first.
  public var shape: [Int]
  /// The element type in the file.
  public var dtype: TensorDType
  /// The elements, row-major, as Double.
  public var values: [Double]

  /// A tensor; `values.count` should equal the product of `shape`.
  public init(shape: [Int], dtype: TensorDType, values: [Double]) {
    self.shape = shape
    self.dtype = dtype
    self.values = values
  }

  /// The number of elements, `∏ shape` (−1 if that overflows `Int`).
  public var count: Int { checkedProduct(shape) ?? -1 }

  /// Little-endian bytes of the values in `dtype`.
  var bytes: [UInt8] {
    var out = [UInt8]()
    out.reserveCapacity(values.count * dtype.byteSize)
    for v in values {
      switch dtype {
      case .float32: withUnsafeBytes(of: Float(v).bitPattern.littleEndian) { out.append(contentsOf: $0) }
      case .float64: withUnsafeBytes(of: v.bitPattern.littleEndian) { out.append(contentsOf: $0) }
      }
    }
    return out
  }

  /// Decodes `count` little-endian values of `dtype` from `bytes[offset...]`.
  static func decode(_ bytes: [UInt8], offset: Int, count: Int, dtype: TensorDType) -> [Double] {
    var values = [Double](repeating: 0, count: count)
    bytes.withUnsafeBytes { raw in
      for i in 0..<count {
        switch dtype {
        case .float32:
          let bits = raw.loadUnaligned(fromByteOffset: offset + 4 * i, as: UInt32.self)
          values[i] = Double(Float(bitPattern: UInt32(littleEndian: bits)))
        case .float64:
          let bits = raw.loadUnaligned(fromByteOffset: offset + 8 * i, as: UInt64.self)
          values[i] = Double(bitPattern: UInt64(littleEndian: bits))
        }
      }
    }
    return values
  }
}
