import Foundation
import XCTest

/// `nsde-bench sequences`: a built-in set written as a long CSV reads back
/// the same, and a malformed file is one line naming the line and column.
final class SequencesCLITests: XCTestCase {
  func testWritesReadsAndRejects() throws {
    let dir = NSTemporaryDirectory() + "sequences-cli-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let path = dir + "/ou.csv"
    let written = try Bench.run([
      "sequences", "--dataset", "ou", "--count", "20", "--seed", "7", "--out", path, "--json",
    ])
    XCTAssertEqual(written.status, 0, written.stderr)
    let read = try Bench.run(["sequences", "--sequences", path, "--dataset", "ou", "--json"])
    XCTAssertEqual(read.status, 0, read.stderr)
    let a = try JSONSerialization.jsonObject(with: Data(written.stdout.utf8)) as! [String: Any]
    let b = try JSONSerialization.jsonObject(with: Data(read.stdout.utf8)) as! [String: Any]
    XCTAssertEqual(a["sequences"] as? Int, 20)
    XCTAssertEqual(a["observations"] as? Int, b["observations"] as? Int)
    // The file holds the exact values: the data's own −log p is the same read back.
    XCTAssertEqual(
      a["true_negative_log_likelihood_per_value"] as? Double, b["true_negative_log_likelihood_per_value"] as? Double)

    let bad = dir + "/bad.csv"
    try "sequence,time,a,b\ns,0,1,2\ns,0.5,,\n".write(toFile: bad, atomically: true, encoding: .utf8)
    let rejected = try Bench.run(["sequences", "--sequences", bad])
    XCTAssertEqual(rejected.status, 1)
    XCTAssertFalse(rejected.crashed)
    XCTAssertEqual(
      rejected.stderr.trimmingCharacters(in: .newlines),
      "error: \(bad): line 3: every value is missing (leave the row out instead)")
  }
}
