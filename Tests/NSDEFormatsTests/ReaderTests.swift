import Foundation
import NSDEFormats
import XCTest

/// The readers never trap: every malformed input gets an `NSDEError` naming
/// the file and the problem, the same on every run.
final class ReaderTests: XCTestCase {
  let here = URL(fileURLWithPath: #filePath).deletingLastPathComponent()

  /// `header` as a safetensors file with `data` bytes after it.
  func safetensors(_ header: String, data: [UInt8] = []) -> [UInt8] {
    var h = Array(header.utf8)
    while h.count % 8 != 0 { h.append(0x20) }
    var out = [UInt8]()
    withUnsafeBytes(of: UInt64(h.count).littleEndian) { out.append(contentsOf: $0) }
    return out + h + data
  }

  /// `header` as a version-1 .npy file with `data` bytes after it.
  func npy(_ header: String, data: [UInt8] = [], major: UInt8 = 1) -> [UInt8] {
    var h = Array(header.utf8)
    h.append(0x0A)
    var out: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59, major, 0]
    if major == 1 {
      out += [UInt8(h.count & 0xFF), UInt8(h.count >> 8)]
    } else {
      out += [UInt8(h.count & 0xFF), UInt8((h.count >> 8) & 0xFF), 0, 0]
    }
    return out + h + data
  }

  func expectFileError(_ body: @autoclosure () throws -> Any, _ fragments: String..., line: UInt = #line) {
    do {
      _ = try body()
      XCTFail("no error; expected one mentioning \(fragments)", line: line)
    } catch let e as NSDEError {
      guard case .file(let path, _) = e else { return XCTFail("not a file error: \(e)", line: line) }
      XCTAssertEqual(path, "t", line: line)
      for f in fragments { XCTAssertTrue("\(e)".contains(f), "\"\(e)\" lacks \"\(f)\"", line: line) }
      XCTAssertEqual(e.localizedDescription, e.description, line: line)
    } catch {
      XCTFail("unexpected error type \(error)", line: line)
    }
  }

  func testSafetensorsSizesAreOverflowChecked() {
    let big = Int.max / 2
    expectFileError(
      try SafetensorsFile.parse(
        safetensors(
          "{\"a\": {\"dtype\": \"F64\", \"shape\": [\(big), 4], \"data_offsets\": [0, 8]}}",
          data: [UInt8](repeating: 0, count: 8)),
        path: "t"), "tensor a", "more elements than can be addressed")
    expectFileError(
      try SafetensorsFile.parse(
        safetensors(
          "{\"a\": {\"dtype\": \"F64\", \"shape\": [\(Int.max / 4)], \"data_offsets\": [0, 8]}}",
          data: [UInt8](repeating: 0, count: 8)),
        path: "t"), "more elements")
    // Header length beyond the file or the limit.
    var bytes = safetensors("{}")
    bytes[7] = 0x7F
    expectFileError(try SafetensorsFile.parse(bytes, path: "t"), "header length")
  }

  func testSafetensorsRejectsLenientValues() {
    let data = [UInt8](repeating: 0, count: 8)
    for (shape, kind) in [
      ("[2.5]", "fractional"), ("[true]", "boolean"), ("[-1]", "integer"), ("[1e0]", "fractional"), ("\"1\"", "string"),
    ] {
      expectFileError(
        try SafetensorsFile.parse(
          safetensors("{\"a\": {\"dtype\": \"F64\", \"shape\": \(shape), \"data_offsets\": [0, 8]}}", data: data),
          path: "t"),
        "tensor a", kind)
    }
    expectFileError(
      try SafetensorsFile.parse(
        safetensors("{\"a\": {\"dtype\": \"F64\", \"shape\": [1], \"data_offsets\": [0, 8.0]}}", data: data), path: "t"),
      "data_offsets")
    expectFileError(
      try SafetensorsFile.parse(
        safetensors(
          "{\"a\": {\"dtype\": \"F64\", \"shape\": [1], \"data_offsets\": [0, 8]}, \"a\": {\"dtype\": \"F64\", \"shape\": [1], \"data_offsets\": [0, 8]}}",
          data: data), path: "t"), "duplicate key \"a\"")
    expectFileError(
      try SafetensorsFile.parse(
        safetensors(
          "{\"a\": {\"dtype\": \"F64\", \"shape\": [1], \"data_offsets\": [0, 8], \"extra\": 1}}", data: data),
        path: "t"), "unknown field")
    expectFileError(try SafetensorsFile.parse(safetensors("{\"a\": ", data: data), path: "t"), "not valid JSON")
    expectFileError(try SafetensorsFile.parse(safetensors("[1]"), path: "t"), "not a JSON object")
    expectFileError(try SafetensorsFile.parse(safetensors(String(repeating: "[", count: 100)), path: "t"), "nesting")
  }

  /// A file with several faults gets the same message every time (header order, not hash order).
  func testSafetensorsMessagesAreDeterministic() throws {
    let header =
      "{"
      + (0..<20).map { "\"t\($0)\": {\"dtype\": \"F16\", \"shape\": [1], \"data_offsets\": [0, 2]}" }.joined(
        separator: ", ")
      + "}"
    let bytes = safetensors(header, data: [0, 0])
    var messages = Set<String>()
    for _ in 0..<5 {
      do { _ = try SafetensorsFile.parse(bytes, path: "t") } catch { messages.insert("\(error)") }
    }
    XCTAssertEqual(messages.count, 1)
    XCTAssertTrue(messages.first!.contains("tensor t0 "), messages.first!)
  }

  func testSafetensorsKeepsValidFiles() throws {
    let values: [Double] = [1.5, -2, .infinity, 0]
    let file = SafetensorsFile(
      tensors: [
        ("b", StoredTensor(shape: [2, 2], dtype: .float64, values: values)),
        ("a", StoredTensor(shape: [0], dtype: .float32, values: [])),
      ],
      metadata: ["k": "v \"quoted\" ü"])
    let parsed = try SafetensorsFile.parse(try file.serialized(), path: "t")
    XCTAssertEqual(parsed.metadata, file.metadata)
    XCTAssertEqual(parsed["b"], file["b"])
    XCTAssertEqual(parsed["a"]?.shape, [0])
  }

  func testNPYSizesAreOverflowChecked() {
    expectFileError(
      try NPY.parse(npy("{'descr': '<f8', 'fortran_order': False, 'shape': (\(Int.max / 2), 4), }"), path: "t"),
      "more elements than can be addressed")
    expectFileError(
      try NPY.parse(npy("{'descr': '<f8', 'fortran_order': False, 'shape': (\(Int.max / 4),), }"), path: "t"),
      "more elements")
    expectFileError(
      try NPY.parse(npy("{'descr': '<f8', 'fortran_order': False, 'shape': (99999999999999999999,), }"), path: "t"),
      "too large")
    expectFileError(
      try NPY.parse(npy("{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }", data: [0, 0, 0]), path: "t"),
      "truncated")
    var bytes = npy("{'descr': '<f8', 'fortran_order': False, 'shape': (1,), }", major: 2)
    bytes[10] = 0xFF
    expectFileError(try NPY.parse(bytes, path: "t"), "header length")
  }

  func testNPYHeaderIsStrict() {
    let eight = [UInt8](repeating: 0, count: 8)
    let cases: [(header: String, error: String)] = [
      ("{'descr': '<f8', 'fortran_order': False, 'shape': )1,(, }", "malformed"),
      ("{'descr': '<f8', 'fortran_order': Maybe, 'shape': (1,), }", "malformed"),
      ("{'descr': '<f8', 'fortran_order': 1, 'shape': (1,), }", "fortran_order"),
      ("{'descr': '<f8', 'descr': '<f8', 'fortran_order': False, 'shape': (1,), }", "duplicate key"),
      ("{'descr': '<f8', 'fortran_order': False, 'shape': (1.5,), }", "malformed"),
      ("{'descr': '>f8', 'fortran_order': False, 'shape': (1,), }", "not supported"),
      ("{'descr': '<f8', 'fortran_order': False, 'shape': (1,), 'x': 1}", "unknown header key"),
      ("{'descr': '<f8', 'shape': (1,), }", "no fortran_order"),
    ]
    for c in cases { expectFileError(try NPY.parse(npy(c.header, data: eight), path: "t"), c.error) }
  }

  /// numpy may write double-quoted headers; key order and trailing commas vary.
  func testNPYAcceptsWhatNumpyWrites() throws {
    var eight = [UInt8]()
    withUnsafeBytes(of: (2.5).bitPattern.littleEndian) { eight.append(contentsOf: $0) }
    for header in [
      "{\"descr\": \"<f8\", \"fortran_order\": False, \"shape\": (1,), }",
      "{'shape': (1,), 'fortran_order': False, 'descr': '<f8'}",
      "{'descr': '<f8', 'fortran_order': True, 'shape': (1L,)}   ",
    ] {
      let t = try NPY.parse(npy(header, data: eight), path: "t")
      XCTAssertEqual(t.shape, [1])
      XCTAssertEqual(t.values, [2.5])
    }
    let v3 = try NPY.parse(
      npy("{'descr': '<f8', 'fortran_order': False, 'shape': (), }", data: eight, major: 3), path: "t")
    XCTAssertEqual(v3.shape, [])
    XCTAssertEqual(v3.values, [2.5])
  }

  func testCSVLinesCountEveryLine() {
    expectFileError(try CSV.parse(Array("a,b\n1,2\n\n\n# c\n3,x\n".utf8), path: "t"), "line 6, column 2")
    expectFileError(try CSV.parse(Array("1,2\r\n3\r\n".utf8), path: "t"), "line 2 has 1 fields")
    expectFileError(try CSV.parse([0xFF, 0xFE], path: "t"), "not UTF-8")
    expectFileError(try CSV.parse([], path: "t"), "no data rows")
  }

  /// Every committed fuzz seed and every crasher found so far parses or is
  /// rejected with an `NSDEError` (never a trap), and what parses round-trips.
  func testFuzzCorpusAndRegressions() throws {
    let root = here.deletingLastPathComponent().deletingLastPathComponent()
    var dirs = ["safetensors", "npy", "csv", "sequences"].map { root.appendingPathComponent("Fuzz/corpus/\($0)") }
    dirs.append(here.appendingPathComponent("Regressions"))
    var seen = 0
    for dir in dirs {
      for name in try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted() {
        let bytes = [UInt8](try Data(contentsOf: dir.appendingPathComponent(name)))
        seen += 1
        do {
          if name.hasSuffix(".safetensors") || dir.lastPathComponent == "safetensors" {
            let f = try SafetensorsFile.parse(bytes, path: name)
            XCTAssertEqual(try SafetensorsFile.parse(try f.serialized()).tensors.map(\.name), f.tensors.map(\.name))
          } else if name.hasSuffix(".npy") || dir.lastPathComponent == "npy" {
            let t = try NPY.parse(bytes, path: name)
            XCTAssertEqual(try NPY.parse(try NPY.serialize(t)).shape, t.shape)
          } else if dir.lastPathComponent == "sequences" {
            if name.hasSuffix(".csv") {
              let data = try SequenceFile.parseCSV(bytes, path: name)
              XCTAssertTrue(try SequenceFile.parseCSV(Array(SequenceFile.csv(data).utf8)).same(as: data), name)
            }
          } else {
            _ = try CSV.parse(bytes, path: name)
          }
        } catch is NSDEError {
          // rejected cleanly
        }
      }
    }
    XCTAssertGreaterThan(seen, 10)
  }
}
