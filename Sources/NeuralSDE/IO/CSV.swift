import Foundation

extension CSV {
  /// Reads a numeric table.
  /// - Throws: `file` naming the path, line and column of a field that is not a
  ///   number or a row of the wrong width.
  public static func readMatrix<T: SDEScalar>(_ path: String, as: T.Type = T.self) throws -> Matrix<T> {
    try readTable(path, as: T.self).matrix
  }

  /// Reads a numeric table and the 1-based file line of each of its rows.
  public static func readTable<T: SDEScalar>(
    _ path: String, as: T.Type = T.self
  ) throws -> (matrix: Matrix<T>, lines: [Int]) {
    let table = try parse(try AtomicFile.read(path), path: path)
    return (try Matrix(rows: table.rows, cols: table.columns, elements: table.values.map { T($0) }), table.lines)
  }

  /// Writes a matrix as CSV (with an optional header line), atomically.
  public static func write<T: SDEScalar>(_ m: Matrix<T>, header: [String]? = nil, to path: String) throws {
    var text = header.map { $0.joined(separator: ",") + "\n" } ?? ""
    for r in 0..<m.rows {
      text += (0..<m.cols).map { "\(Double(m[r, $0]))" }.joined(separator: ",") + "\n"
    }
    try AtomicFile.write(text: text, to: path)
  }
}

/// A data set read from a user file: `.npy` (`[count, D]`, or 1-D as one
/// column) or `.csv` (anything else), validated before use.
public enum DataFile {
  /// Reads a data matrix and checks that every value is finite in `T`.
  /// - Throws: `file` naming the path and the position of the first NaN/Inf
  ///   (CSV: line and 1-based column; .npy: `[row, column]`), including values
  ///   that overflow `Float`, or the reader's own error.
  public static func readMatrix<T: SDEScalar>(_ path: String, as: T.Type = T.self) throws -> Matrix<T> {
    let matrix: Matrix<T>
    var lines: [Int]?
    if path.lowercased().hasSuffix(".npy") {
      matrix = try NPY.readMatrix(path, as: T.self)
    } else {
      let table = try CSV.readTable(path, as: T.self)
      matrix = table.matrix
      lines = table.lines
    }
    guard matrix.rows >= 1, matrix.cols >= 1 else {
      throw NSDEError.file(path: path, reason: "the data set is empty (\(matrix.shapeDescription))")
    }
    if let (r, c) = firstNonFinite(matrix) {
      // CSV: editor line and 1-based column; .npy: the numpy index [row, column].
      let position = lines.map { "line \($0[r]), column \(c + 1)" } ?? "element [\(r), \(c)]"
      throw NSDEError.file(
        path: path,
        reason: "\(position) is \(matrix[r, c]) in \(T.dtypeName): the data must be finite")
    }
    return matrix
  }

  /// The first (row, column) holding NaN or ±Inf, or nil.
  public static func firstNonFinite<T: SDEScalar>(_ m: Matrix<T>) -> (Int, Int)? {
    guard T.countNonFinite(n: m.count, x: m.base) > 0 else { return nil }
    for i in 0..<m.count where !m.base[i].isFinite { return (i / m.cols, i % m.cols) }
    return nil
  }
}
