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

  /// `train-sequences` trains on a sequence file, writes its outputs and
  /// reports held-out −log p; a malformed file stops it before training.
  func testTrainSequences() throws {
    let dir = NSTemporaryDirectory() + "train-sequences-cli-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let data = dir + "/ou.csv"
    XCTAssertEqual(try Bench.run(["sequences", "--dataset", "ou", "--count", "12", "--out", data]).status, 0)
    let out = dir + "/run"
    let r = try Bench.run([
      "train-sequences", "--sequences", data, "--train-steps", "20", "--batch-size", "4", "--output-dir", out,
      "--evaluation-paths", "16", "--json",
    ])
    XCTAssertEqual(r.status, 0, r.stderr)
    let e = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as! [String: Any]
    XCTAssertEqual(e["sequences_trained"] as? Int, 10)
    for key in [
      "negative_log_likelihood_per_value", "forecast_negative_log_likelihood_per_value",
      "gp_negative_log_likelihood_per_value", "gp_forecast_negative_log_likelihood_per_value",
      "paths_convergence_gap_per_sequence",
    ] {
      XCTAssertTrue((e[key] as? Double)?.isFinite ?? false, key)
    }
    for f in ["checkpoint.safetensors", "loss.csv", "evaluation.json"] {
      XCTAssertTrue(FileManager.default.fileExists(atPath: out + "/" + f), f)
    }
    // evaluate reads static models and says so for a sequence checkpoint.
    let evaluated = try Bench.run([
      "evaluate", "--checkpoint", out + "/checkpoint.safetensors", "--dataset", "two-moons",
    ])
    XCTAssertEqual(evaluated.status, 1)
    XCTAssertTrue(evaluated.stderr.contains("holds a sequence model"), evaluated.stderr)
    let bad = dir + "/bad.csv"
    try "sequence,time,a\ns,1,2\ns,inf,3\n".write(toFile: bad, atomically: true, encoding: .utf8)
    let rejected = try Bench.run(["train-sequences", "--sequences", bad, "--output-dir", dir + "/bad"])
    XCTAssertEqual(rejected.status, 1)
    XCTAssertTrue(rejected.stderr.contains("line 3, column 2: time inf is not finite"), rejected.stderr)
  }

  /// `train --dequantize` says which integer-valued columns it dequantises.
  func testTrainDequantizesIntegerColumns() throws {
    let dir = NSTemporaryDirectory() + "dequantize-cli-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let data = dir + "/ints.csv"
    try (0..<40).map { "\($0 % 5),\(Double($0) * 0.1),\($0 % 3)" }.joined(separator: "\n")
      .write(toFile: data, atomically: true, encoding: .utf8)
    let r = try Bench.run([
      "train", "--data-file", data, "--dequantize", "--train-steps", "2", "--evaluate-every", "0",
      "--evaluation-paths-per-point", "4", "--samples", "20", "--output-dir", dir + "/run",
    ])
    XCTAssertEqual(r.status, 0, r.stderr)
    XCTAssertTrue(r.stderr.contains("--dequantize: U[0, 1) noise on the 2 integer-valued column(s) 1, 3"), r.stderr)
  }
}
