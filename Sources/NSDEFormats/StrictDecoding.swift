import Foundation

/// Helpers for `Decodable` types that validate what they decode (checkpoint
/// metadata is untrusted input): errors carry the coding path of the bad
/// field, and `describe` turns any decoding error into one line naming it.
public enum StrictDecoding {
  /// The dotted path of a field, `drift.widths[0]` (the empty path: `(top level)`).
  public static func field(_ codingPath: [any CodingKey]) -> String {
    var s = ""
    for key in codingPath {
      if let i = key.intValue, key.stringValue.hasPrefix("Index") || key.stringValue == String(i) {
        s += "[\(i)]"
      } else {
        s += s.isEmpty ? key.stringValue : "." + key.stringValue
      }
    }
    return s.isEmpty ? "(top level)" : s
  }

  /// A `dataCorrupted` error at `codingPath` with `message` (what is wrong and what is allowed).
  public static func invalid(_ codingPath: [any CodingKey], _ message: String) -> DecodingError {
    .dataCorrupted(.init(codingPath: codingPath, debugDescription: message))
  }

  /// Decodes a single value that must be one of the cases' raw names; the
  /// error lists the allowed names.
  public static func namedCase<T: RawRepresentable & CaseIterable>(_: T.Type, from decoder: any Decoder, what: String)
    throws -> T where T.RawValue == String
  {
    let name = try decoder.singleValueContainer().decode(String.self)
    guard let value = T(rawValue: name) else {
      throw invalid(
        decoder.codingPath,
        "\"\(name)\" is not \(what) (one of \(T.allCases.map { $0.rawValue }.joined(separator: ", ")))")
    }
    return value
  }

  /// Decodes an integer at `key` that must lie in `range`.
  public static func integer<K: CodingKey>(
    _ c: KeyedDecodingContainer<K>, _ key: K, in range: ClosedRange<Int>
  ) throws -> Int {
    let v = try c.decode(Int.self, forKey: key)
    guard range.contains(v) else {
      throw invalid(c.codingPath + [key], "\(v) is out of range \(range.lowerBound)…\(range.upperBound)")
    }
    return v
  }

  /// One line naming the field and what is wrong with it, for any error a
  /// decoder throws (`field drift.widths[0]: 0 is out of range 1…1048576`).
  public static func describe(_ error: any Error, prefix: [String] = []) -> String {
    func at(_ path: [any CodingKey]) -> String {
      let f = field(path)
      let parts = prefix + (f == "(top level)" ? [] : [f])
      return parts.isEmpty ? "" : "field \(parts.joined(separator: ".").replacingOccurrences(of: ".[", with: "[")): "
    }
    guard let e = error as? DecodingError else { return "\(at([]))\(error)" }
    switch e {
    case .typeMismatch(let type, let c):
      return "\(at(c.codingPath))expected \(typeName(type))" + detail(c)
    case .valueNotFound(let type, let c):
      return "\(at(c.codingPath))is null, expected \(typeName(type))"
    case .keyNotFound(let key, let c):
      return "\(at(c.codingPath + [key]))is missing"
    case .dataCorrupted(let c):
      return "\(at(c.codingPath))\(c.debugDescription)"
    @unknown default:
      return "\(at([]))\(e)"
    }
  }

  static func typeName(_ type: Any.Type) -> String {
    switch type {
    case is Int.Type: return "an integer"
    case is Double.Type: return "a number"
    case is String.Type: return "a string"
    case is Bool.Type: return "true or false"
    default:
      let n = String(describing: type)
      if n.hasPrefix("Array") { return "an array" }
      if n.hasPrefix("Dictionary") || n.hasPrefix("KeyedDecodingContainer") { return "an object" }
      return n
    }
  }

  static func detail(_ c: DecodingError.Context) -> String {
    let d = c.debugDescription
    // Foundation's texts name the found type ("… but found a string instead."); keep that part.
    if let r = d.range(of: "but found ") {
      return " (found " + d[r.upperBound...].trimmingCharacters(in: CharacterSet(charactersIn: ". ")) + ")"
    }
    if d.contains("does not fit") || d.contains("not representable") { return " (\(d))" }
    return ""
  }
}

/// An array index as a coding key (for paths built by hand).
public struct IndexKey: CodingKey {
  /// `Index i`, as Foundation names array elements.
  public var stringValue: String { "Index \(index)" }
  /// The index.
  public var intValue: Int? { index }
  let index: Int
  /// The key of element `index`.
  public init(_ index: Int) { self.index = index }
  /// Not made from names (nil).
  public init?(stringValue: String) { nil }
  /// The key of element `intValue`.
  public init?(intValue: Int) { index = intValue }
}
