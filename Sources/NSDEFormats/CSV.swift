import Foundation

/// Comma-separated numbers, one row per line; a first line that is not numeric
/// is a header. Blank lines and lines starting with `#` are skipped, but line
/// numbers in messages count every line of the file (1-based), as an editor
/// does. `\n` and `\r\n` line ends; no quoting (numbers only).
public enum CSV {
  /// A parsed table: `rows × columns` values, row-major, and the file line of each row.
  public struct Table: Sendable, Equatable {
    /// The values, row-major, `rows × columns`.
    public var values: [Double]
    /// Number of data rows (header, blank and comment lines excluded).
    public var rows: Int
    /// Number of columns.
    public var columns: Int
    /// The 1-based file line of each row.
    public var lines: [Int]
  }

  /// Parses CSV bytes (`path` only for messages).
  /// - Throws: `file` naming the path, line and column of a field that is not
  ///   a number, a row of the wrong width, text that is not UTF-8, or no rows.
  public static func parse(_ bytes: [UInt8], path: String = "<memory>") throws -> Table {
    guard String(validating: bytes, as: UTF8.self) != nil else {
      throw NSDEError.file(path: path, reason: "not UTF-8 text")
    }
    var values: [Double] = []
    var lines: [Int] = []
    var cols: Int?
    var sawContent = false
    // Lines split on the byte \n (a "\r\n" is one Character in Swift strings).
    for (i, raw) in bytes.split(separator: 0x0A, omittingEmptySubsequences: false).enumerated() {
      let line = String(decoding: raw, as: UTF8.self)
      let trimmed = line.trimmingCharacters(in: .whitespacesAndNewlines)
      if trimmed.isEmpty || trimmed.hasPrefix("#") { continue }
      let fields = trimmed.split(separator: ",", omittingEmptySubsequences: false).map {
        $0.trimmingCharacters(in: .whitespaces)
      }
      let numbers = fields.map { Double($0) }
      if let bad = numbers.firstIndex(where: { $0 == nil }) {
        if !sawContent {  // header
          sawContent = true
          continue
        }
        let shown = fields[bad].count > 40 ? String(fields[bad].prefix(40)) + "…" : fields[bad]
        throw NSDEError.file(path: path, reason: "line \(i + 1), column \(bad + 1): \"\(shown)\" is not a number")
      }
      sawContent = true
      if let c = cols, c != numbers.count {
        throw NSDEError.file(
          path: path, reason: "line \(i + 1) has \(numbers.count) fields but earlier lines have \(c)")
      }
      cols = numbers.count
      values += numbers.map { $0! }
      lines.append(i + 1)
    }
    guard let c = cols else { throw NSDEError.file(path: path, reason: "no data rows") }
    return Table(values: values, rows: lines.count, columns: c, lines: lines)
  }
}
