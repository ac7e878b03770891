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
    // report.svg: the marginals of the 8 most variable of the 12 columns (scales 2.0 and 1.5 in y3, y7, y11 and
    // y2, y6, y10 lead), data and samples each.
    let svg = try String(contentsOfFile: out + "/report.svg", encoding: .utf8)
    XCTAssertTrue(svg.contains("marginals of the 8 most variable columns"), svg)
    XCTAssertEqual(svg.components(separatedBy: "fill-opacity=\"0.25\"").count - 1, 8)
    for c in [2, 3, 6, 7, 10, 11] { XCTAssertTrue(svg.contains(">y\(c)</text>"), "y\(c) not shown") }
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

  /// `--standardize MODE` (per column, then whitened or conditioned: auto) on 1000·X + 5 against X.
  func checkStandardizationKeepsTheFilesUnits(mode: String) throws {
    let x = table(rows: 120, seed: 4)
    let y = Matrix<Double>(rows: x.rows, cols: x.cols) { r, c in 1000 * x[r, c] + 5 }
    let testX = table(rows: 20, seed: 5)
    let testY = Matrix<Double>(rows: testX.rows, cols: testX.cols) { r, c in 1000 * testX[r, c] + 5 }
    var nll: [String: (train: Double, evaluate: Double)] = [:]
    var samples: [String: [Double]] = [:]
    // The samples pass through the inverse map: with axes, rounding differences
    // of the two runs grow by its condition number (max f / min f) on the
    // columns' scale (1000).
    var condition: Double?
    for (name, train, test) in [("x", x, testX), ("y", y, testY)] {
      try NPY.write(train, to: scratch.path("\(name).npy"))
      try NPY.write(test, to: scratch.path("\(name)-test.npy"))
      let out = scratch.path("run-\(mode)-\(name)")
      let r = try Bench.run([
        "train", "--data-file", scratch.path("\(name).npy"), "--output-dir", out, "--train-steps", "20",
        "--evaluate-every", "0", "--solver-steps", "4", "--batch-size", "16", "--evaluation-paths-per-point", "16",
        "--samples", "30", "--hidden", "8", "--latent-dim", "4", "--dtype", "double", "--standardize", mode, "--json",
      ])
      XCTAssertEqual(r.status, 0, r.stderr)
      XCTAssertTrue(r.stderr.contains("standardised by the training rows"), r.stderr)
      let info = try Checkpoint.info(out + "/checkpoint.safetensors")
      XCTAssertEqual(try XCTUnwrap(info.dataStandardization).columns, 12)
      // D = 12 > 2: `--decoder-tails auto` is the scale mixture, its parameters in the checkpoint.
      XCTAssertEqual(info.configuration.likelihood, .gaussianScaleMixture(initialStd: 0.5))
      XCTAssertEqual(info.parameterCount, info.configuration.parameterCount)
      XCTAssertEqual(info.dataStandardization?.axes != nil, mode != "on")
      if let f = info.dataStandardization?.axisScales { condition = f.max()! / f.min()! }
      let trained = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as! [String: Any]
      let e = try Bench.run([
        "evaluate", "--checkpoint", out + "/checkpoint.safetensors", "--data-file", scratch.path("\(name)-test.npy"),
        "--train-file", scratch.path("\(name).npy"), "--paths-per-point", "40", "--samples", "20", "--json",
      ])
      XCTAssertEqual(e.status, 0, e.stderr)
      let evaluated = try JSONSerialization.jsonObject(with: Data(e.stdout.utf8)) as! [String: Any]
      func value(_ o: [String: Any]) -> Double {
        (o["evaluation"] as! [String: Any])["negative_log_likelihood"] as! Double
      }
      nll[name] = (value(trained), value(evaluated))
      samples[name] = try NPY.read(out + "/samples.npy").values
    }
    let jacobian = 12 * log(1000.0)
    let (nx, ny) = (try XCTUnwrap(nll["x"]), try XCTUnwrap(nll["y"]))
    XCTAssertEqual(ny.train - nx.train, jacobian, accuracy: 1e-6, mode)
    XCTAssertEqual(ny.evaluate - nx.evaluate, jacobian, accuracy: 1e-6, mode)
    let (sx, sy) = (try XCTUnwrap(samples["x"]), try XCTUnwrap(samples["y"]))
    XCTAssertEqual(sx.count, sy.count)
    let tolerance = { (b: Double) in 1e-6 * (condition.map { $0 * 1000 } ?? max(1, abs(b))) }
    for (a, b) in zip(sx, sy) { XCTAssertEqual(b, 1000 * a + 5, accuracy: tolerance(b), mode) }
  }

  /// Standardisation inside the model: training on `Y = 1000·X + 5` gives the
  /// model trained on X (the same standardised data, also when whitened; the
  /// default scale-mixture decoder acts in the standardised units), so samples are
  /// `1000·(X's samples) + 5` and every −log p is X's plus D·log 1000 — the
  /// log-Jacobian — in `train`'s and `evaluate`'s outputs alike.
  func testStandardizationKeepsTheFilesUnits() throws {
    for mode in ["on", "whiten", "auto"] { try checkStandardizationKeepsTheFilesUnits(mode: mode) }
    // Resuming keeps the checkpoint's map; turning it off then is an error naming both.
    let resumed = try Bench.run([
      "train", "--data-file", scratch.path("x.npy"), "--output-dir", scratch.path("resumed"), "--resume",
      scratch.path("run-on-x") + "/checkpoint.safetensors", "--standardize", "off", "--latent-dim", "4", "--hidden",
      "8",
      "--dtype", "double",
    ])
    XCTAssertEqual(resumed.status, 1, resumed.stderr)
    XCTAssertTrue(resumed.stderr.contains("--standardize off, but --resume"), resumed.stderr)
  }
}
