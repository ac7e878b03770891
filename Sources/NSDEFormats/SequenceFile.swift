import Foundation

/// Sequences observed at their own, irregular times (docs/MODEL.md §7):
/// sequence s has `offsets[s+1] − offsets[s]` observations at strictly
/// increasing `times`, each a row of D `values` in which NaN marks a missing
/// entry. Contiguous and row-major: observation r is `values[r·D ..< (r+1)·D]`.
public struct SequenceData: Sendable {
  /// The sequences' names (the CSV's `sequence` column; "0", "1", … for arrays), in order of first appearance.
  public var ids: [String]
  /// The value columns' names (D).
  public var columns: [String]
  /// `S + 1` offsets into `times` (and rows of `values`).
  public var offsets: [Int]
  /// The observation times, increasing within each sequence.
  public var times: [Double]
  /// `observations × D` values, NaN where missing.
  public var values: [Double]

  /// Sequences with the given names, columns, offsets, times and values
  /// (not checked; the readers check what they read).
  public init(ids: [String], columns: [String], offsets: [Int], times: [Double], values: [Double]) {
    self.ids = ids
    self.columns = columns
    self.offsets = offsets
    self.times = times
    self.values = values
  }

  /// Number of sequences S.
  public var count: Int { ids.count }
  /// Number of value columns D.
  public var dimension: Int { columns.count }
  /// The observations of sequence s (a range of rows).
  public func observations(_ s: Int) -> Range<Int> { offsets[s]..<offsets[s + 1] }

  /// The sequences at `indices`, in that order.
  public func selecting(_ indices: [Int]) -> SequenceData {
    var out = SequenceData(ids: [], columns: columns, offsets: [0], times: [], values: [])
    for s in indices {
      out.ids.append(ids[s])
      out.times += times[observations(s)]
      out.values += values[(offsets[s] * dimension)..<(offsets[s + 1] * dimension)]
      out.offsets.append(out.times.count)
    }
    return out
  }

  /// The same sequences with the values of each one's last `fraction` of
  /// observations (at least one, never all) set missing: the past a forecast
  /// is conditioned on, at the same times.
  public func maskingFuture(_ fraction: Double) -> (past: SequenceData, futureValues: Int) {
    var out = self
    var hidden = 0
    for s in 0..<count {
      let r = observations(s)
      guard r.count >= 2 else { continue }
      let future = Swift.min(Swift.max(1, Int((Double(r.count) * fraction).rounded())), r.count - 1)
      for row in (r.upperBound - future)..<r.upperBound {
        for c in 0..<dimension where !out.values[row * dimension + c].isNaN {
          out.values[row * dimension + c] = .nan
          hidden += 1
        }
      }
    }
    return (out, hidden)
  }

  /// Equal names, times and values (NaN equal to NaN).
  public func same(as other: SequenceData) -> Bool {
    ids == other.ids && columns == other.columns && offsets == other.offsets && times == other.times
      && values.count == other.values.count
      && zip(values, other.values).allSatisfy { $0 == $1 || ($0.isNaN && $1.isNaN) }
  }
}

/// The two sequence formats (docs/RELIABILITY.md): a long CSV with the header
/// `sequence,time,<value columns…>` — one row per observation; an empty cell
/// or `NaN` is a missing value; the rows of a sequence may come in any order
/// — and a pair of `.npy` arrays, `times [S, L]` and `values [S, L, D]`,
/// NaN-padded at the end of each sequence. Every malformed file is an error
/// naming the line and column (or the array entry): a repeated time within a
/// sequence, a non-finite time, a row with every value missing, a ragged row.
/// Blank lines and lines starting with `#` are skipped; line numbers count
/// every line of the file (1-based).
public enum SequenceFile {
  /// Reads a long CSV of sequences.
  /// - Throws: `file` naming the path (and line and column) of the first problem.
  public static func read(csv path: String) throws -> SequenceData {
    let url = URL(fileURLWithPath: path)
    let bytes: [UInt8]
    do { bytes = Array(try Data(contentsOf: url)) } catch {
      throw NSDEError.file(path: path, reason: "cannot be read (\(error.localizedDescription))")
    }
    return try parseCSV(bytes, path: path)
  }

  /// Parses long-CSV bytes (`path` only for messages).
  public static func parseCSV(_ bytes: [UInt8], path: String = "<memory>") throws -> SequenceData {
    guard String(validating: bytes, as: UTF8.self) != nil else {
      throw NSDEError.file(path: path, reason: "not UTF-8 text")
    }
    func fail(_ reason: String) -> NSDEError { NSDEError.file(path: path, reason: reason) }
    var columns: [String]?
    var ids: [String] = []
    var index: [String: Int] = [:]
    // Per sequence: (time, line, values) in file order.
    var rows: [[(time: Double, line: Int, values: [Double])]] = []
    for (i, raw) in bytes.split(separator: 0x0A, omittingEmptySubsequences: false).enumerated() {
      let line = i + 1
      let text = String(decoding: raw, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
      if text.isEmpty || text.hasPrefix("#") { continue }
      let fields = text.split(separator: ",", omittingEmptySubsequences: false).map {
        $0.trimmingCharacters(in: .whitespaces)
      }
      guard let header = columns else {
        guard fields.count >= 3, fields[0] == "sequence", fields[1] == "time" else {
          throw fail(
            "line \(line): the header must be sequence,time,<value columns…> with at least one value column, found \"\(shown(text))\""
          )
        }
        let names = Array(fields[2...])
        if let empty = names.firstIndex(of: "") { throw fail("line \(line), column \(empty + 3): empty column name") }
        if let repeated = names.indices.first(where: { names[..<$0].contains(names[$0]) }) {
          throw fail("line \(line), column \(repeated + 3): column \"\(shown(names[repeated]))\" appears twice")
        }
        columns = names
        continue
      }
      guard fields.count == header.count + 2 else {
        throw fail("line \(line) has \(fields.count) fields but the header has \(header.count + 2)")
      }
      let id = fields[0]
      guard !id.isEmpty else { throw fail("line \(line), column 1: empty sequence name") }
      guard let time = Double(fields[1]) else {
        throw fail("line \(line), column 2: time \"\(shown(fields[1]))\" is not a number")
      }
      guard time.isFinite else { throw fail("line \(line), column 2: time \(fields[1]) is not finite") }
      var values = [Double](repeating: .nan, count: header.count)
      for c in 0..<header.count {
        let field = fields[c + 2]
        if field.isEmpty || field.lowercased() == "nan" { continue }
        guard let v = Double(field) else {
          throw fail(
            "line \(line), column \(c + 3): \"\(shown(field))\" is not a number (a missing value is empty or NaN)")
        }
        guard v.isFinite else {
          throw fail("line \(line), column \(c + 3): \(field) is not finite (a missing value is empty or NaN)")
        }
        values[c] = v
      }
      guard values.contains(where: { !$0.isNaN }) else {
        throw fail("line \(line): every value is missing (leave the row out instead)")
      }
      let s: Int
      if let known = index[id] {
        s = known
      } else {
        s = ids.count
        index[id] = s
        ids.append(id)
        rows.append([])
      }
      rows[s].append((time, line, values))
    }
    guard let header = columns else { throw fail("no header line sequence,time,<value columns…>") }
    guard !ids.isEmpty else { throw fail("no observations after the header") }
    var data = SequenceData(ids: ids, columns: header, offsets: [0], times: [], values: [])
    for (s, seq) in rows.enumerated() {
      let sorted = seq.enumerated().sorted { ($0.element.time, $0.offset) < ($1.element.time, $1.offset) }.map(
        \.element)
      for (a, b) in zip(sorted, sorted.dropFirst()) where a.time == b.time {
        let (first, second) = a.line < b.line ? (a, b) : (b, a)
        throw fail(
          "line \(second.line), column 2: time \(second.time) of sequence \"\(shown(ids[s]))\" repeats line \(first.line)"
        )
      }
      for r in sorted {
        data.times.append(r.time)
        data.values += r.values
      }
      data.offsets.append(data.times.count)
    }
    return data
  }

  /// Reads the array form: `times [S, L]` and `values [S, L, D]` (`.npy`).
  public static func read(times timesPath: String, values valuesPath: String) throws -> SequenceData {
    try fromArrays(
      times: try NPY.read(timesPath), values: try NPY.read(valuesPath), timesPath: timesPath, valuesPath: valuesPath)
  }

  /// Sequences from `times [S, L]` and `values [S, L, D]`: sequence s holds
  /// the slots j whose time is not NaN, which must come first (NaN padding
  /// last); a padded slot's values must all be NaN.
  /// - Throws: `file` naming the array (path) and the entry of the first problem.
  public static func fromArrays(
    times: StoredTensor, values: StoredTensor, timesPath: String = "times", valuesPath: String = "values"
  ) throws -> SequenceData {
    guard times.shape.count == 2 else {
      throw NSDEError.file(path: timesPath, reason: "times must be 2-D [S, L], got shape \(times.shape)")
    }
    let (s, l) = (times.shape[0], times.shape[1])
    guard values.shape.count == 3, values.shape[0] == s, values.shape[1] == l, values.shape[2] >= 1 else {
      throw NSDEError.file(
        path: valuesPath,
        reason: "values must be [S, L, D] = [\(s), \(l), D ≥ 1] to match the times, got shape \(values.shape)")
    }
    guard s >= 1, l >= 1 else { throw NSDEError.file(path: timesPath, reason: "no sequences (shape \(times.shape))") }
    let dims = values.shape[2]
    var data = SequenceData(
      ids: (0..<s).map(String.init), columns: (0..<dims).map { "y\($0)" }, offsets: [0], times: [], values: [])
    for q in 0..<s {
      var length = 0
      while length < l && !times.values[q * l + length].isNaN { length += 1 }
      for j in length..<l where !times.values[q * l + j].isNaN {
        throw NSDEError.file(
          path: timesPath,
          reason: "times[\(q), \(j)] follows padding (NaN at [\(q), \(length)]): padding must come last")
      }
      guard length >= 1 else { throw NSDEError.file(path: timesPath, reason: "sequence \(q) has no observations") }
      var slots: [(time: Double, j: Int)] = []
      for j in 0..<l {
        let row = values.values[((q * l + j) * dims)..<((q * l + j + 1) * dims)]
        if j >= length {
          if let c = row.firstIndex(where: { !$0.isNaN }) {
            throw NSDEError.file(
              path: valuesPath,
              reason: "values[\(q), \(j), \(c - (q * l + j) * dims)] is set at a padded time (times[\(q), \(j)] is NaN)"
            )
          }
          continue
        }
        let t = times.values[q * l + j]
        guard t.isFinite else { throw NSDEError.file(path: timesPath, reason: "times[\(q), \(j)] is \(t)") }
        if let c = row.firstIndex(where: { $0.isInfinite }) {
          throw NSDEError.file(path: valuesPath, reason: "values[\(q), \(j), \(c - (q * l + j) * dims)] is not finite")
        }
        guard row.contains(where: { !$0.isNaN }) else {
          throw NSDEError.file(path: valuesPath, reason: "values[\(q), \(j), :] are all missing at time \(t)")
        }
        slots.append((t, j))
      }
      let sorted = slots.sorted { ($0.time, $0.j) < ($1.time, $1.j) }
      for (a, b) in zip(sorted, sorted.dropFirst()) where a.time == b.time {
        throw NSDEError.file(
          path: timesPath, reason: "times[\(q), \(max(a.j, b.j))] = \(b.time) repeats times[\(q), \(min(a.j, b.j))]")
      }
      for slot in sorted {
        data.times.append(slot.time)
        let base = (q * l + slot.j) * dims
        data.values += values.values[base..<(base + dims)]
      }
      data.offsets.append(data.times.count)
    }
    return data
  }

  /// The long CSV of `data` (parses back to the same sequences).
  public static func csv(_ data: SequenceData) -> String {
    var out = "sequence,time," + data.columns.joined(separator: ",") + "\n"
    for s in 0..<data.count {
      for r in data.observations(s) {
        let row = data.values[(r * data.dimension)..<((r + 1) * data.dimension)]
        out += "\(data.ids[s]),\(data.times[r])," + row.map { $0.isNaN ? "" : "\($0)" }.joined(separator: ",") + "\n"
      }
    }
    return out
  }

  static func shown(_ s: String) -> String { s.count > 40 ? String(s.prefix(40)) + "…" : s }
}
