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
      "paths_convergence_gap_per_sequence", "forecast_crps", "gp_forecast_crps",
      "negative_log_likelihood_per_sequence", "gp_negative_log_likelihood_per_sequence",
    ] {
      XCTAssertTrue((e[key] as? Double)?.isFinite ?? false, key)
    }
    for f in ["checkpoint.safetensors", "loss.csv", "evaluation.json", "report.svg"] {
      XCTAssertTrue(FileManager.default.fileExists(atPath: out + "/" + f), f)
    }
    // evaluate --sequences scores the checkpoint on sequences; --dataset says it holds a sequence model.
    let checkpoint = out + "/checkpoint.safetensors"
    let scored = try Bench.run([
      "evaluate", "--checkpoint", checkpoint, "--sequences", data, "--train-sequences", data, "--sequence-dataset",
      "ou", "--paths-per-point", "16", "--json",
    ])
    XCTAssertEqual(scored.status, 0, scored.stderr)
    let se = try JSONSerialization.jsonObject(with: Data(scored.stdout.utf8)) as! [String: Any]
    for key in ["negative_log_likelihood_per_value", "forecast_crps", "gp_forecast_crps", "true_forecast_crps"] {
      XCTAssertTrue((se[key] as? Double)?.isFinite ?? false, key)
    }
    let evaluated = try Bench.run(["evaluate", "--checkpoint", checkpoint, "--dataset", "two-moons"])
    XCTAssertEqual(evaluated.status, 1)
    XCTAssertTrue(evaluated.stderr.contains("holds a sequence model"), evaluated.stderr)
    // forecast writes draws with a sample column and an SVG per sequence, and refuses a time before the start.
    let f = try Bench.run([
      "forecast", "--checkpoint", checkpoint, "--sequences", data, "--hide-last", "0.25", "--samples", "5",
      "--paths", "20", "--max-plots", "2", "--output-dir", dir + "/fc", "--json",
    ])
    XCTAssertEqual(f.status, 0, f.stderr)
    let fj = try JSONSerialization.jsonObject(with: Data(f.stdout.utf8)) as! [String: Any]
    XCTAssertTrue((fj["crps"] as? Double)?.isFinite ?? false, f.stdout)
    let csv = try String(contentsOfFile: dir + "/fc/forecast.csv", encoding: .utf8)
    XCTAssertTrue(csv.hasPrefix("sample,sequence,time,y0,y1\n"), String(csv.prefix(60)))
    XCTAssertEqual(
      csv.split(separator: "\n").count - 1, 5 * (fj["query_times"] as! Int), "one row per draw and query time")
    XCTAssertEqual((fj["written"] as! [String]).count, 3)
    let early = try Bench.run([
      "forecast", "--checkpoint", checkpoint, "--sequences", data, "--query-times", "-5", "--output-dir", dir + "/fc2",
    ])
    XCTAssertEqual(early.status, 1)
    XCTAssertTrue(early.stderr.contains("is before its first observation"), early.stderr)
    let bad = dir + "/bad.csv"
    try "sequence,time,a\ns,1,2\ns,inf,3\n".write(toFile: bad, atomically: true, encoding: .utf8)
    let rejected = try Bench.run(["train-sequences", "--sequences", bad, "--output-dir", dir + "/bad"])
    XCTAssertEqual(rejected.status, 1)
    XCTAssertTrue(rejected.stderr.contains("line 3, column 2: time inf is not finite"), rejected.stderr)
  }

  /// `train --dequantize` says which columns it dequantises and their grid
  /// steps: integers, and a 0.1 grid that repeats values (column 4), not a
  /// 0.1 grid of distinct values (column 2); `evaluate --dequantize` finds the
  /// same columns in the training file and states the cells' log-volume.
  func testTrainDequantizesGridColumns() throws {
    let dir = NSTemporaryDirectory() + "dequantize-cli-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let data = dir + "/ints.csv"
    try (0..<40).map { "\($0 % 5),\(Double($0) * 0.1),\($0 % 3),\(Double($0 % 6) / 10 + 1.3)" }
      .joined(separator: "\n")
      .write(toFile: data, atomically: true, encoding: .utf8)
    let r = try Bench.run([
      "train", "--data-file", data, "--dequantize", "--train-steps", "2", "--evaluate-every", "0",
      "--evaluation-paths-per-point", "4", "--samples", "20", "--output-dir", dir + "/run",
    ])
    XCTAssertEqual(r.status, 0, r.stderr)
    XCTAssertTrue(
      r.stderr.contains(
        "--dequantize: noise U[0, h) on the 3 column(s) recorded on a grid of step h: 1 (h = 1), 3 (h = 1), 4 (h = 0.1)"
      ),
      r.stderr)
    // Without --dequantize, train points the grid columns out.
    let hint = try Bench.run([
      "train", "--data-file", data, "--train-steps", "2", "--evaluate-every", "0", "--evaluation-paths-per-point",
      "4", "--samples", "20", "--output-dir", dir + "/run-plain",
    ])
    XCTAssertEqual(hint.status, 0, hint.stderr)
    XCTAssertTrue(
      hint.stderr.contains("3 column(s) of --data-file are recorded on a grid (1 (h = 1), 3 (h = 1), 4 (h = 0.1))"),
      hint.stderr)
    let e = try Bench.run([
      "evaluate", "--checkpoint", dir + "/run/checkpoint.safetensors", "--data-file", data, "--train-file", data,
      "--dequantize", "--paths-per-point", "4",
    ])
    XCTAssertEqual(e.status, 0, e.stderr)
    XCTAssertTrue(e.stderr.contains("the grid values' −log P per point is at most −log p + 2.303 nats"), e.stderr)
    // A training file of another width is named before any column of it is dequantised.
    let wide = dir + "/wide.csv"
    try (0..<20).map { "\($0 % 5),\($0 % 3),1,2,\($0 % 4),\($0 % 6)" }.joined(separator: "\n").write(
      toFile: wide, atomically: true, encoding: .utf8)
    let bad = try Bench.run([
      "evaluate", "--checkpoint", dir + "/run/checkpoint.safetensors", "--data-file", data, "--train-file", wide,
      "--dequantize", "--paths-per-point", "4",
    ])
    XCTAssertEqual(bad.status, 1, bad.stderr)
    XCTAssertTrue(
      bad.stderr.contains("--train-file \(wide) has 6 column(s) but the model's data dimension is 4"), bad.stderr)
    let narrow = dir + "/narrow.csv"
    try (0..<20).map { "\($0 % 5),\($0 % 3)" }.joined(separator: "\n").write(
      toFile: narrow, atomically: true, encoding: .utf8)
    let badValidation = try Bench.run([
      "train", "--data-file", data, "--validation-file", narrow, "--dequantize", "--train-steps", "2",
      "--output-dir", dir + "/run2",
    ])
    XCTAssertEqual(badValidation.status, 1, badValidation.stderr)
    XCTAssertTrue(
      badValidation.stderr.contains("--validation-file \(narrow) has 2 column(s) but --data-file has 4"),
      badValidation.stderr)
  }

  /// `simulate --per-point-grid` times the per-point grid beside the shared one (a positive, finite ratio).
  func testSimulateTimesPerPointGrids() throws {
    let r = try Bench.run([
      "simulate", "--per-point-grid", "--dtype", "double", "--paths", "64", "--solver-steps", "10", "--repetitions",
      "2", "--json",
    ])
    XCTAssertEqual(r.status, 0, r.stderr)
    let j = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as! [String: Any]
    let results = (j["results"] as? [String: Any]) ?? j
    let grid = results["per_point_grid_double"] as? [String: Any]
    let ratio = grid?["per_point_over_shared"] as? Double
    XCTAssertTrue(ratio.map { $0 > 0 && $0.isFinite } ?? false, r.stdout)
  }
}
