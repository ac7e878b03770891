/// A strict, deterministic JSON reader for file headers (RFC 8259).
///
/// Unlike `JSONSerialization` it keeps object members in file order, rejects
/// duplicate keys, keeps integers apart from fractional numbers and booleans
/// (so a shape of `2.5` or `true` is an error, not a truncation), and bounds
/// nesting depth, so the same bytes always give the same result or the same error.
public enum StrictJSON: Equatable, Sendable {
  case object([(key: String, value: StrictJSON)])
  case array([StrictJSON])
  case string(String)
  /// A number written without fraction or exponent that fits in `Int`.
  case integer(Int)
  /// Any other number.
  case number(Double)
  case bool(Bool)
  case null

  /// Structural equality (object members compared in order).
  public static func == (a: StrictJSON, b: StrictJSON) -> Bool {
    switch (a, b) {
    case (.object(let x), .object(let y)):
      return x.count == y.count && zip(x, y).allSatisfy { $0.key == $1.key && $0.value == $1.value }
    case (.array(let x), .array(let y)): return x == y
    case (.string(let x), .string(let y)): return x == y
    case (.integer(let x), .integer(let y)): return x == y
    case (.number(let x), .number(let y)): return x == y
    case (.bool(let x), .bool(let y)): return x == y
    case (.null, .null): return true
    default: return false
    }
  }

  /// What went wrong, with the byte offset.
  public struct ParseError: Error, CustomStringConvertible, Sendable {
    /// Byte offset of the problem from the start of the parsed text.
    public var offset: Int
    /// What is wrong.
    public var reason: String
    /// The reason and the byte offset.
    public var description: String { "\(reason) at byte \(offset)" }
  }

  /// Maximum nesting of arrays and objects.
  public static let maximumDepth = 64

  /// Parses one JSON value filling `bytes` (surrounding whitespace allowed).
  public static func parse(_ bytes: ArraySlice<UInt8>) throws -> StrictJSON {
    var p = Parser(bytes: bytes)
    p.skipWhitespace()
    let v = try p.value(depth: 0)
    p.skipWhitespace()
    guard p.i == bytes.endIndex else { throw p.error("unexpected data after the JSON value") }
    return v
  }

  /// A short name of the value's kind, for messages.
  public var kind: String {
    switch self {
    case .object: return "an object"
    case .array: return "an array"
    case .string: return "a string"
    case .integer: return "an integer"
    case .number: return "a fractional number"
    case .bool: return "a boolean"
    case .null: return "null"
    }
  }

  struct Parser {
    let bytes: ArraySlice<UInt8>
    var i: Int
    init(bytes: ArraySlice<UInt8>) {
      self.bytes = bytes
      i = bytes.startIndex
    }

    func error(_ reason: String) -> ParseError { ParseError(offset: i - bytes.startIndex, reason: reason) }

    mutating func skipWhitespace() {
      while i < bytes.endIndex, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[i]) { i += 1 }
    }

    mutating func expect(_ literal: String) throws {
      for b in literal.utf8 {
        guard i < bytes.endIndex, bytes[i] == b else { throw error("invalid literal (expected \(literal))") }
        i += 1
      }
    }

    mutating func value(depth: Int) throws -> StrictJSON {
      guard depth <= StrictJSON.maximumDepth else { throw error("nesting deeper than \(StrictJSON.maximumDepth)") }
      guard i < bytes.endIndex else { throw error("unexpected end of the JSON text") }
      switch bytes[i] {
      case UInt8(ascii: "{"): return try object(depth: depth + 1)
      case UInt8(ascii: "["): return try array(depth: depth + 1)
      case UInt8(ascii: "\""): return .string(try string())
      case UInt8(ascii: "t"):
        try expect("true")
        return .bool(true)
      case UInt8(ascii: "f"):
        try expect("false")
        return .bool(false)
      case UInt8(ascii: "n"):
        try expect("null")
        return .null
      case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try number()
      default: throw error("unexpected character \(String(format: "0x%02X", bytes[i]))")
      }
    }

    mutating func object(depth: Int) throws -> StrictJSON {
      i += 1
      var members: [(key: String, value: StrictJSON)] = []
      var keys = Set<String>()
      skipWhitespace()
      if i < bytes.endIndex, bytes[i] == UInt8(ascii: "}") {
        i += 1
        return .object(members)
      }
      while true {
        skipWhitespace()
        guard i < bytes.endIndex, bytes[i] == UInt8(ascii: "\"") else { throw error("expected a string key") }
        let keyOffset = i
        let key = try string()
        guard keys.insert(key).inserted else {
          throw ParseError(offset: keyOffset - bytes.startIndex, reason: "duplicate key \"\(key)\"")
        }
        skipWhitespace()
        guard i < bytes.endIndex, bytes[i] == UInt8(ascii: ":") else { throw error("expected ':' after a key") }
        i += 1
        skipWhitespace()
        members.append((key, try value(depth: depth)))
        if try !another(close: "}", in: "an object") { return .object(members) }
      }
    }

    /// After a member or item: true at `,` (another follows), false at `close` (the end).
    mutating func another(close: Unicode.Scalar, in what: String) throws -> Bool {
      skipWhitespace()
      guard i < bytes.endIndex else { throw error("unterminated \(what.dropFirst(what.hasPrefix("an ") ? 3 : 2))") }
      let c = bytes[i]
      i += 1
      if c == UInt8(ascii: ",") { return true }
      guard c == UInt8(ascii: close) else {
        i -= 1
        throw error("expected ',' or '\(close)' in \(what)")
      }
      return false
    }

    mutating func array(depth: Int) throws -> StrictJSON {
      i += 1
      var items: [StrictJSON] = []
      skipWhitespace()
      if i < bytes.endIndex, bytes[i] == UInt8(ascii: "]") {
        i += 1
        return .array(items)
      }
      while true {
        skipWhitespace()
        items.append(try value(depth: depth))
        if try !another(close: "]", in: "an array") { return .array(items) }
      }
    }

    mutating func hex4() throws -> UInt32 {
      var v: UInt32 = 0
      for _ in 0..<4 {
        guard i < bytes.endIndex else { throw error("truncated \\u escape") }
        let c = bytes[i]
        let d: UInt32
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): d = UInt32(c - UInt8(ascii: "0"))
        case UInt8(ascii: "a")...UInt8(ascii: "f"): d = UInt32(c - UInt8(ascii: "a") + 10)
        case UInt8(ascii: "A")...UInt8(ascii: "F"): d = UInt32(c - UInt8(ascii: "A") + 10)
        default: throw error("invalid \\u escape")
        }
        v = v * 16 + d
        i += 1
      }
      return v
    }

    mutating func string() throws -> String {
      i += 1
      var out: [UInt8] = []
      while true {
        guard i < bytes.endIndex else { throw error("unterminated string") }
        let c = bytes[i]
        i += 1
        switch c {
        case UInt8(ascii: "\""):
          guard let s = String(validating: out, as: UTF8.self) else { throw error("a string is not valid UTF-8") }
          return s
        case UInt8(ascii: "\\"):
          guard i < bytes.endIndex else { throw error("unterminated escape") }
          let e = bytes[i]
          i += 1
          switch e {
          case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(e)
          case UInt8(ascii: "b"): out.append(0x08)
          case UInt8(ascii: "f"): out.append(0x0C)
          case UInt8(ascii: "n"): out.append(0x0A)
          case UInt8(ascii: "r"): out.append(0x0D)
          case UInt8(ascii: "t"): out.append(0x09)
          case UInt8(ascii: "u"):
            var scalar = try hex4()
            if (0xD800..<0xDC00).contains(scalar) {
              try expect("\\u")
              let low = try hex4()
              guard (0xDC00..<0xE000).contains(low) else { throw error("unpaired UTF-16 surrogate") }
              scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
            }
            guard let u = Unicode.Scalar(scalar) else { throw error("invalid Unicode escape") }
            out.append(contentsOf: Array(String(Character(u)).utf8))
          default: throw error("invalid escape \\\(Character(Unicode.Scalar(e)))")
          }
        case 0x00..<0x20: throw error("control character in a string")
        default: out.append(c)
        }
      }
    }

    mutating func number() throws -> StrictJSON {
      let start = i
      if bytes[i] == UInt8(ascii: "-") { i += 1 }
      func digits() -> Int {
        let s = i
        while i < bytes.endIndex, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[i]) { i += 1 }
        return i - s
      }
      let intStart = i
      guard digits() > 0 else { throw error("a number needs digits") }
      if bytes[intStart] == UInt8(ascii: "0"), i - intStart > 1 { throw error("a number has a leading zero") }
      var integral = true
      if i < bytes.endIndex, bytes[i] == UInt8(ascii: ".") {
        i += 1
        integral = false
        guard digits() > 0 else { throw error("a fraction needs digits") }
      }
      if i < bytes.endIndex, bytes[i] == UInt8(ascii: "e") || bytes[i] == UInt8(ascii: "E") {
        i += 1
        integral = false
        if i < bytes.endIndex, bytes[i] == UInt8(ascii: "+") || bytes[i] == UInt8(ascii: "-") { i += 1 }
        guard digits() > 0 else { throw error("an exponent needs digits") }
      }
      let text = String(decoding: bytes[start..<i], as: UTF8.self)
      if integral, let v = Int(text) { return .integer(v) }
      guard let d = Double(text) else { throw error("invalid number \(text)") }
      return .number(d)
    }
  }
}
