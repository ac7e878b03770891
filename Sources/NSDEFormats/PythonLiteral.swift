/// The subset of Python literals in a `.npy` header: a dict of string keys to
/// strings, `True`/`False` and tuples of integers, as numpy's `repr` writes
/// it (single or double quotes, optional trailing commas, padding after `}`).
enum PythonLiteral: Equatable {
  case string(String)
  case bool(Bool)
  case integer(Int)
  case tuple([PythonLiteral])

  struct ParseError: Error, CustomStringConvertible {
    var offset: Int
    var reason: String
    var description: String { "is malformed at character \(offset): \(reason)" }
  }

  /// Parses `{key: value, …}` followed only by whitespace; keys in order, no duplicates.
  static func parseHeader(_ text: String) throws -> [(key: String, value: PythonLiteral)] {
    var p = Parser(chars: Array(text.unicodeScalars))
    p.skip()
    try p.expect("{")
    var out: [(key: String, value: PythonLiteral)] = []
    var keys = Set<String>()
    while true {
      p.skip()
      if p.peek == "}" {
        p.i += 1
        break
      }
      let at = p.i
      guard case .string(let key) = try p.value(depth: 0) else {
        throw ParseError(offset: at, reason: "a key is not a string")
      }
      guard keys.insert(key).inserted else { throw ParseError(offset: at, reason: "duplicate key '\(key)'") }
      p.skip()
      try p.expect(":")
      p.skip()
      out.append((key, try p.value(depth: 0)))
      p.skip()
      if p.peek == "," {
        p.i += 1
        continue
      }
      p.skip()
      try p.expect("}")
      break
    }
    p.skip()
    guard p.i == p.chars.count else { throw p.error("unexpected text after the dict") }
    return out
  }

  struct Parser {
    let chars: [Unicode.Scalar]
    var i = 0

    var peek: Unicode.Scalar? { i < chars.count ? chars[i] : nil }
    func error(_ reason: String) -> ParseError { ParseError(offset: i, reason: reason) }

    mutating func skip() { while let c = peek, c == " " || c == "\t" || c == "\n" || c == "\r" { i += 1 } }

    mutating func expect(_ s: Unicode.Scalar) throws {
      guard peek == s else { throw error("expected '\(s)'") }
      i += 1
    }

    mutating func value(depth: Int) throws -> PythonLiteral {
      guard depth < 8 else { throw error("nested too deeply") }
      guard let c = peek else { throw error("unexpected end") }
      switch c {
      case "'", "\"":
        i += 1
        var s = String.UnicodeScalarView()
        while let d = peek, d != c {
          guard d != "\\" else { throw error("escapes are not supported in header strings") }
          s.append(d)
          i += 1
        }
        try expect(c)
        return .string(String(s))
      case "(":
        i += 1
        var items: [PythonLiteral] = []
        while true {
          skip()
          if peek == ")" {
            i += 1
            return .tuple(items)
          }
          items.append(try value(depth: depth + 1))
          skip()
          if peek == "," {
            i += 1
            continue
          }
          try expect(")")
          return .tuple(items)
        }
      case "T", "F":
        let word = c == "T" ? "True" : "False"
        for w in word.unicodeScalars { try expect(w) }
        return .bool(c == "T")
      case "0"..."9":
        var digits = ""
        while let d = peek, ("0"..."9").contains(d) {
          digits.unicodeScalars.append(d)
          i += 1
        }
        if peek == "L" { i += 1 }  // Python 2 long suffix
        guard let v = Int(digits) else { throw error("integer \(digits) is too large") }
        return .integer(v)
      default: throw error("unexpected character '\(c)'")
      }
    }
  }
}
