import Foundation
import NSDEFormats
import XCTest

/// The sequence formats: what they read, and a named error for every malformed file.
final class SequenceFileTests: XCTestCase {
  func parse(_ text: String) throws -> SequenceData { try SequenceFile.parseCSV(Array(text.utf8), path: "s.csv") }

  /// Rows in any order, sequences in order of first appearance, empty cells
  /// and NaN missing, comments and CRLF skipped; the CSV writer parses back.
  func testReadsLongCSV() throws {
    let text = """
      # a comment
      sequence,time,a,b\r
      u,0.5,1.0,\r
      v,0.2,NaN,3
      u,0.1,2, 4

      u,-1e-3,5,6
      """
    let data = try parse(text)
    XCTAssertEqual(data.ids, ["u", "v"])
    XCTAssertEqual(data.columns, ["a", "b"])
    XCTAssertEqual(data.offsets, [0, 3, 4])
    XCTAssertEqual(data.times, [-1e-3, 0.1, 0.5, 0.2])
    XCTAssertEqual(data.values[0...3], [5, 6, 2, 4])
    XCTAssertEqual(data.values[4], 1)
    XCTAssertTrue(data.values[5].isNaN && data.values[6].isNaN)
    XCTAssertEqual(data.values[7], 3)
    XCTAssertTrue(try parse(SequenceFile.csv(data)).same(as: data))
  }

  /// Every malformed CSV names its line and column.
  func testMalformedCSVNamesLineAndColumn() {
    let cases: [(String, String)] = [
      ("time,sequence,a\n", "line 1: the header must be sequence,time"),
      ("sequence,time\n", "line 1: the header must be"),
      ("sequence,time,a,a\n", "line 1, column 4: column \"a\" appears twice"),
      ("sequence,time,a,\n", "line 1, column 4: empty column name"),
      ("sequence,time,a\ns,0,1\ns,0,2\n", "line 3, column 2: time 0.0 of sequence \"s\" repeats line 2"),
      ("sequence,time,a\ns,1,1\nt,0,1\ns,1.0,2\n", "line 4, column 2: time 1.0 of sequence \"s\" repeats line 2"),
      ("sequence,time,a\ns,inf,1\n", "line 2, column 2: time inf is not finite"),
      ("sequence,time,a\ns,nan,1\n", "line 2, column 2: time nan is not finite"),
      ("sequence,time,a\ns,x,1\n", "line 2, column 2: time \"x\" is not a number"),
      ("sequence,time,a,b\ns,0,,NaN\n", "line 2: every value is missing"),
      ("sequence,time,a,b\ns,0,1\n", "line 2 has 3 fields but the header has 4"),
      ("sequence,time,a\ns,0,1,2\n", "line 2 has 4 fields but the header has 3"),
      ("sequence,time,a\n,0,1\n", "line 2, column 1: empty sequence name"),
      ("sequence,time,a\ns,0,1e999\n", "line 2, column 3: 1e999 is not finite"),
      ("sequence,time,a\ns,0,one\n", "line 2, column 3: \"one\" is not a number"),
      ("sequence,time,a\n", "no observations"),
      ("# only a comment\n", "no header line"),
    ]
    for (text, expected) in cases {
      XCTAssertThrowsError(try parse(text), text) { error in
        XCTAssertTrue("\(error)".contains("s.csv") && "\(error)".contains(expected), "\(text): \(error)")
      }
    }
    XCTAssertThrowsError(try SequenceFile.parseCSV([0x73, 0xFF, 0x0A], path: "s.csv")) {
      XCTAssertTrue("\($0)".contains("not UTF-8"), "\($0)")
    }
  }

  /// The array form: NaN padding last, each sequence sorted by time.
  func testReadsArrays() throws {
    let n = Double.nan
    let times = StoredTensor(shape: [2, 3], dtype: .float64, values: [0.3, 0.1, n, 0.5, n, n])
    let values = StoredTensor(shape: [2, 3, 2], dtype: .float64, values: [1, 2, 3, n, n, n, 7, 8, n, n, n, n])
    let data = try SequenceFile.fromArrays(times: times, values: values)
    XCTAssertEqual(data.ids, ["0", "1"])
    XCTAssertEqual(data.offsets, [0, 2, 3])
    XCTAssertEqual(data.times, [0.1, 0.3, 0.5])
    XCTAssertEqual(data.values[0], 3)
    XCTAssertTrue(data.values[1].isNaN)
    XCTAssertEqual(Array(data.values[2...5]), [1, 2, 7, 8])
  }

  /// Every malformed pair of arrays names the array and the entry.
  func testMalformedArraysNameTheEntry() {
    let n = Double.nan
    func check(_ t: [Double], _ tShape: [Int], _ v: [Double], _ vShape: [Int], _ expected: String) {
      XCTAssertThrowsError(
        try SequenceFile.fromArrays(
          times: StoredTensor(shape: tShape, dtype: .float64, values: t),
          values: StoredTensor(shape: vShape, dtype: .float64, values: v), timesPath: "t.npy", valuesPath: "v.npy")
      ) { XCTAssertTrue("\($0)".contains(expected), "\($0)") }
    }
    check([0, 1], [2], [1, 2], [2, 1], "times must be 2-D")
    check([0, 1], [1, 2], [1, 2], [1, 3, 1], "values must be [S, L, D] = [1, 2, D ≥ 1]")
    check([0, n, 1], [1, 3], [1, n, 2], [1, 3, 1], "times[0, 2] follows padding")
    check([n, n], [1, 2], [n, n], [1, 2, 1], "sequence 0 has no observations")
    check([0, n], [1, 2], [1, 5], [1, 2, 1], "values[0, 1, 0] is set at a padded time")
    check([0, 1], [1, 2], [n, 2], [1, 2, 1], "values[0, 0, :] are all missing")
    check([0, 0], [1, 2], [1, 2], [1, 2, 1], "times[0, 1] = 0.0 repeats times[0, 0]")
    check([0, .infinity], [1, 2], [1, 2], [1, 2, 1], "times[0, 1] is inf")
    check([0, 1], [1, 2], [1, .infinity], [1, 2, 1], "values[0, 1, 0] is not finite")
  }

  /// The past of a forecast: each sequence's last fifth of observations
  /// hidden (at least one, never all), times kept.
  func testMaskingFuture() throws {
    var text = "sequence,time,a,b\n"
    for j in 0..<10 { text += "long,\(j),\(j),\(j == 9 ? "" : "1")\n" }
    text += "pair,0,1,2\npair,1,3,4\nsingle,0,5,6\n"
    let data = try parse(text)
    let (past, hidden) = data.maskingFuture(0.2)
    XCTAssertEqual(past.times, data.times)
    // long: observations 8 and 9 hidden (3 observed values); pair: its last (2); single: nothing.
    XCTAssertEqual(hidden, 5)
    XCTAssertTrue(past.values[16...19].allSatisfy(\.isNaN))
    XCTAssertEqual(Array(past.values[14...15]), [7, 1])
    XCTAssertEqual(Array(past.values[20...21]), [1, 2])
    XCTAssertTrue(past.values[22...23].allSatisfy(\.isNaN))
    XCTAssertEqual(Array(past.values[24...25]), [5, 6])
  }
}
