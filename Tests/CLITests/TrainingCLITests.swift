import Foundation
import NeuralSDE
import XCTest

/// `train` on user data as a user runs it: model selection on a validation
/// file (the kept step in the checkpoint), the dimension-scaled defaults,
/// and `evaluate --per-point-out` matching its own mean.
final class TrainingCLITests: XCTestCase {
  var scratch: Scratch!
  override func setUpWithError() throws { scratch = try Scratch() }
  override func tearDown() { scratch.cleanup() }

  /// A 12-dimensional table: 3 latent factors plus noise.
  func table(rows: Int, seed: UInt64) -> Matrix<Double> {
    var rng = SplitMix64(seed: seed)
    let m = Matrix<Double>(rows: rows, cols: 12)
    for r in 0..<rows {
      let z = (0..<3).map { _ in rng.nextNormal() }
      for c in 0..<12 { m[r, c] = z[c % 3] * Double(1 + c % 4) * 0.5 + 0.3 * rng.nextNormal() }
    }
    return m
  }

  func testValidationFileSelectionAndPerPointOutput() throws {
    let train = scratch.path("train.npy")
    let validation = scratch.path("validation.npy")
    let test = scratch.path("test.csv")
    try NPY.write(table(rows: 200, seed: 1), to: train)
    try NPY.write(table(rows: 40, seed: 2), to: validation)
    try CSV.write(table(rows: 30, seed: 3), header: (0..<12).map { "x\($0)" }, to: test)
    let out = scratch.path("run")
    let r = try Bench.run([
      "train", "--data-file", train, "--validation-file", validation, "--output-dir", out, "--train-steps", "60",
      "--evaluate-every", "10", "--patience", "2", "--solver-steps", "4", "--batch-size", "32",
      "--evaluation-paths-per-point", "16", "--selection-paths-per-point", "8", "--samples", "50", "--hidden", "16",
    ])
    XCTAssertEqual(r.status, 0, r.stderr)
    // The default latent dimension follows the data (max(8, D) = 12); 200 training rows, 40 held out.
    XCTAssertTrue(r.stderr.contains("d = 12, H = 16"), r.stderr)
    XCTAssertTrue(r.stderr.contains("200 points of dimension 12 (40 held out)"), r.stderr)
    XCTAssertTrue(r.stderr.contains("kept the parameters of step"), r.stderr)
    let info = try Checkpoint.info(out + "/checkpoint.safetensors")
    let selection = try XCTUnwrap(info.selection)
    XCTAssertLessThanOrEqual(selection.step, info.step)
    XCTAssertEqual(selection.pathsPerPoint, 8)
    XCTAssertEqual(info.configuration.latentDimension, 12)
    // loss.csv's held-out curve has its minimum at the kept step.
    let curve = try String(contentsOfFile: out + "/loss.csv", encoding: .utf8).split(separator: "\n").dropFirst()
    let held = curve.compactMap { line -> (Int, Double)? in
      let f = line.split(separator: ",", omittingEmptySubsequences: false)
      guard f.count == 5, let v = Double(f[4]) else { return nil }
      return (Int(f[0])!, v)
    }
    XCTAssertEqual(held.min { $0.1 < $1.1 }?.0, selection.step, "\(held)")
    XCTAssertEqual(held.min { $0.1 < $1.1 }!.1, selection.heldOutNegativeLogLikelihood, accuracy: 1e-9)
    // Per-point output: one value per test row, whose mean is the reported −log p.
    let perPoint = scratch.path("per-point.npy")
    let e = try Bench.run([
      "evaluate", "--checkpoint", out + "/checkpoint.safetensors", "--data-file", test, "--train-file", train,
      "--paths-per-point", "50", "--samples", "50", "--per-point-out", perPoint, "--json",
    ])
    XCTAssertEqual(e.status, 0, e.stderr)
    let values = try NPY.read(perPoint).values
    XCTAssertEqual(values.count, 30)
    let object = try JSONSerialization.jsonObject(with: Data(e.stdout.utf8)) as! [String: Any]
    let evaluation = object["evaluation"] as! [String: Any]
    XCTAssertEqual(
      values.reduce(0, +) / 30, evaluation["negative_log_likelihood"] as! Double, accuracy: 1e-9)
    XCTAssertEqual(evaluation["data_dimension"] as? Int, 12)
    XCTAssertNotNil(evaluation["paths_convergence_gap"] as? Double)
    // The per-point file never replaces an input.
    let refused = try Bench.run([
      "evaluate", "--checkpoint", out + "/checkpoint.safetensors", "--data-file", test, "--per-point-out", test,
    ])
    XCTAssertEqual(refused.status, 1, refused.stderr)
    XCTAssertTrue(refused.stderr.contains("refusing to overwrite an input"), refused.stderr)
    // A validation file of another width is named.
    try NPY.write(Matrix<Double>(rows: 5, cols: 3), to: validation)
    let bad = try Bench.run(["train", "--data-file", train, "--validation-file", validation, "--output-dir", out])
    XCTAssertEqual(bad.status, 1, bad.stderr)
    XCTAssertTrue(bad.stderr.contains("--validation-file") && bad.stderr.contains("3 column(s)"), bad.stderr)
  }
}
