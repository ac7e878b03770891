import Foundation
import NeuralSDE
import XCTest

/// The hostile-input report, case by case: each input now gets a clear error
/// (exit 1, or 64 for a bad option) or a correct result, never a crash, and
/// no file the user did not ask to write is touched (docs/RELIABILITY.md).
final class ReliabilityCLITests: XCTestCase {
  var scratch: Scratch!
  let small = ["--latent-dim", "2", "--hidden", "4", "--paths", "8", "--steps", "3", "--dtype", "double"]

  override func setUpWithError() throws { scratch = try Scratch() }
  override func tearDown() { scratch.cleanup() }

  func expectError(_ args: [String], status: Int32 = 1, mentioning fragments: [String], line: UInt = #line) throws {
    let r = try Bench.run(args)
    XCTAssertFalse(r.crashed, "crashed: \(args)\n\(r.stderr)", line: line)
    XCTAssertEqual(r.status, status, "\(args)\n\(r.stderr)", line: line)
    for f in fragments { XCTAssertTrue(r.stderr.contains(f), "\"\(r.stderr)\" lacks \"\(f)\"", line: line) }
  }

  /// The seeded reference inputs of the small problem, for file mode.
  func exportedInputs() throws -> (params: String, data: String, noise: String) {
    let dir = scratch.path("inputs")
    let r = try Bench.run(["gradient"] + small + ["--export-dir", dir])
    XCTAssertEqual(r.status, 0, r.stderr)
    return (dir + "/params.safetensors", dir + "/data.npy", dir + "/noise.npy")
  }

  func fileMode(_ i: (params: String, data: String, noise: String)) -> [String] {
    ["gradient"] + small + ["--params", i.params, "--data", i.data, "--noise", i.noise]
  }

  func testCorruptReadersGiveErrors() throws {
    let inputs = try exportedInputs()
    // A safetensors header whose shape product overflows.
    let header =
      "{\"drift.0.weight\": {\"dtype\": \"F64\", \"shape\": [4611686018427387903, 4], \"data_offsets\": [0, 8]}}"
    var bytes = [UInt8]()
    withUnsafeBytes(of: UInt64(header.utf8.count).littleEndian) { bytes.append(contentsOf: $0) }
    bytes += Array(header.utf8) + [UInt8](repeating: 0, count: 8)
    let bad = scratch.path("bad.safetensors")
    try Data(bytes).write(to: URL(fileURLWithPath: bad))
    var args = fileMode(inputs)
    args[args.firstIndex(of: "--params")! + 1] = bad
    try expectError(args, mentioning: ["bad.safetensors", "more elements than can be addressed"])
    // An .npy header with ')' before '('.
    let npy = scratch.path("bad.npy")
    var h = Array("{'descr': '<f8', 'fortran_order': False, 'shape': )2,(, }\n".utf8)
    while (10 + h.count) % 64 != 0 { h.insert(0x20, at: h.count - 1) }
    try Data([0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59, 1, 0, UInt8(h.count), 0] + h).write(to: URL(fileURLWithPath: npy))
    args = fileMode(inputs)
    args[args.firstIndex(of: "--data")! + 1] = npy
    try expectError(args, mentioning: ["bad.npy", "malformed"])
  }

  func testJSONNeverTraps() throws {
    let inputs = try exportedInputs()
    // Finite but huge noise: the loss overflows; the answer is an error or valid JSON.
    let w = try NPY.read(inputs.noise)
    try NPY.write(StoredTensor(shape: w.shape, dtype: w.dtype, values: w.values.map { $0 * 1e150 }), to: inputs.noise)
    let r = try Bench.run(fileMode(inputs) + ["--json"])
    XCTAssertFalse(r.crashed, r.stderr)
    if r.status == 0 {
      XCTAssertNoThrow(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)), r.stdout)
    } else {
      XCTAssertEqual(r.status, 1)
      XCTAssertTrue(r.stderr.contains("error:"), r.stderr)
    }
    try expectError(["simulate", "--per-path-sample", "0", "--json"], status: 64, mentioning: ["--per-path-sample"])
  }

  func testHugeRequestsFailBeforeAllocating() throws {
    try expectError(["gradient", "--paths", "10000000", "--dtype", "double"], mentioning: ["would need", "available"])
    try expectError(["gradient", "--steps", "100000", "--dtype", "float"], mentioning: ["would need"])
    try expectError(["check", "--paths", "1000000000000"], status: 64, mentioning: ["--paths must be in"])
    try expectError(["check", "--paths", "3"], status: 64, mentioning: ["--paths must be in 4"])
    try expectError(
      ["report", "--latent-dim", "-1"], status: 64, mentioning: ["--latent-dim must be in 1…4096, got -1"])
    try expectError(["gradient", "--max-memory", "lots"], status: 64, mentioning: ["--max-memory"])
    try expectError(
      ["train", "--output-dir", scratch.path("t"), "--batch-size", "1000000", "--paths-per-point", "1000000"],
      mentioning: ["would need", "available"])
    try expectError(
      ["gradient", "--export-dir", "/dev/null/x"] + small, mentioning: ["/dev/null/x", "Not a directory"])
  }

  func testOutputsNeverDestroyInputsOrDevices() throws {
    let inputs = try exportedInputs()
    let before = try Data(contentsOf: URL(fileURLWithPath: inputs.params))
    try expectError(
      fileMode(inputs) + ["--gradient-out", inputs.params], mentioning: ["refusing to overwrite an input"])
    try expectError(fileMode(inputs) + ["--gradient-out", inputs.data], mentioning: ["refusing to overwrite an input"])
    XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: inputs.params)), before)
    try expectError(fileMode(inputs) + ["--gradient-out", "/dev/null"], mentioning: ["not a regular file"])
    var st = stat()
    XCTAssertEqual(stat("/dev/null", &st), 0)
    XCTAssertEqual(st.st_mode & S_IFMT, S_IFCHR, "/dev/null must still be a device")
    try expectError(fileMode(inputs) + ["--gradient-out", scratch.path("")], mentioning: ["not a regular file"])
    try expectError(fileMode(inputs) + ["--gradient-out", ""], mentioning: ["empty"])
    // train --data-file D/samples.npy --output-dir D
    let d = scratch.path("run")
    try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
    try NPY.write(ToyDataset.twoMoons.sample(count: 50, seed: 1, as: Double.self), to: d + "/samples.npy")
    let data = try Data(contentsOf: URL(fileURLWithPath: d + "/samples.npy"))
    try expectError(
      ["train", "--data-file", d + "/samples.npy", "--output-dir", d, "--train-steps", "2"],
      mentioning: ["refusing to overwrite an input"])
    XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: d + "/samples.npy")), data)
    // An output directory that cannot be created fails before any training step.
    let r = try Bench.run(["train", "--output-dir", "/dev/null/x", "--train-steps", "100000"], timeout: 20)
    XCTAssertEqual(r.status, 1, r.stderr)
    XCTAssertTrue(r.stderr.contains("/dev/null/x") && r.stderr.contains("cannot create"), r.stderr)
    XCTAssertFalse(r.stderr.contains("step 1/"), "no training before the output check")
  }

  func testTrainingFaults() throws {
    let d = scratch.path("train")
    let quick = [
      "train", "--output-dir", d, "--latent-dim", "2", "--hidden", "8", "--solver-steps", "4", "--dataset-points",
      "200",
      "--batch-size", "32", "--evaluation-paths-per-point", "8", "--samples", "50", "--evaluate-every", "0",
    ]
    // Divergence: a learning rate of 1e10 stops with an error naming the step.
    try expectError(quick + ["--train-steps", "200", "--learning-rate", "1e10"], mentioning: ["diverged", "at step"])
    // Periodic checkpoints, stale temporaries of killed writers removed, resume semantics.
    try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
    let stale = d + "/.checkpoint.safetensors.tmp-999999999-42"
    XCTAssertTrue(FileManager.default.createFile(atPath: stale, contents: Data([1, 2, 3])))
    var r = try Bench.run(quick + ["--train-steps", "30", "--checkpoint-every", "10", "--json"])
    XCTAssertEqual(r.status, 0, r.stderr)
    XCTAssertFalse(FileManager.default.fileExists(atPath: stale), "stale temporary file left behind")
    XCTAssertEqual(try Checkpoint.info(d + "/checkpoint.safetensors").step, 30)
    // Resuming at the total: nothing to do, honest JSON (final_loss null), no trap.
    r = try Bench.run(quick + ["--train-steps", "30", "--resume", d + "/checkpoint.safetensors", "--json"])
    XCTAssertEqual(r.status, 0, r.stderr)
    XCTAssertTrue(r.stderr.contains("no training steps to run"), r.stderr)
    let object = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
    XCTAssertTrue(object?["final_loss"] is NSNull, r.stdout)
    let names = try FileManager.default.contentsOfDirectory(atPath: d)
    XCTAssertFalse(names.contains { $0.contains(".tmp-") }, "\(names)")
  }

  /// Training within a memory budget says how it fits (micro-batches and/or
  /// checkpoints) and trains; a budget no plan fits is a clear error.
  func testTrainingWithinAMemoryBudget() throws {
    let d = scratch.path("budget")
    let quick = [
      "train", "--output-dir", d, "--latent-dim", "2", "--hidden", "8", "--solver-steps", "4", "--dataset-points",
      "200", "--batch-size", "32", "--evaluation-paths-per-point", "8", "--samples", "50", "--evaluate-every", "0",
      "--train-steps", "3",
    ]
    let r = try Bench.run(quick + ["--memory-budget", "40KiB"])
    XCTAssertEqual(r.status, 0, r.stderr)
    XCTAssertTrue(r.stderr.contains("backprop within 40KiB: ") && r.stderr.contains("micro-batches"), r.stderr)
    try expectError(quick + ["--memory-budget", "1KiB"], mentioning: ["needs at least", "memory budget of 1.0 KiB"])
  }

  /// A checkpoint is untrusted input: each field edited alone (everything else
  /// valid) gives one line naming the file and the field, exit status 1, from
  /// `evaluate` and `train --resume` alike, and nothing is allocated beyond the
  /// estimate (the commands run under a 4 GiB address-space limit: a huge
  /// allocation attempt would crash them).
  func testUntrustedCheckpointFieldsGiveOneLineErrors() throws {
    let d = scratch.path("base")
    let quick = [
      "--latent-dim", "2", "--hidden", "8", "--solver-steps", "4", "--dataset-points", "200", "--batch-size", "32",
      "--evaluation-paths-per-point", "8", "--samples", "50", "--evaluate-every", "0",
    ]
    let r = try Bench.run(["train", "--output-dir", d, "--train-steps", "5"] + quick)
    XCTAssertEqual(r.status, 0, r.stderr)
    let base = try SafetensorsFile.read(d + "/checkpoint.safetensors")
    func edited(_ name: String, _ edit: (inout [String: String]) throws -> Void) throws -> String {
      var file = base
      try edit(&file.metadata)
      let path = scratch.path(name + ".safetensors")
      try file.write(to: path)
      return path
    }
    func configuration(_ edit: @escaping (inout [String: Any]) -> Void) -> (inout [String: String]) throws -> Void {
      { meta in
        var c = try JSONSerialization.jsonObject(with: Data(meta["configuration"]!.utf8)) as! [String: Any]
        edit(&c)
        meta["configuration"] = String(decoding: try JSONSerialization.data(withJSONObject: c), as: UTF8.self)
      }
    }
    func drift(_ key: String, _ value: Any) -> (inout [String: String]) throws -> Void {
      configuration { c in
        var drift = c["drift"] as! [String: Any]
        drift[key] = value
        c["drift"] = drift
      }
    }
    let evaluate = { (path: String) in ["evaluate", "--checkpoint", path, "--dataset", "two-moons", "--points", "20"] }
    let resume = { (path: String) in
      ["train", "--output-dir", self.scratch.path("resumed"), "--train-steps", "10", "--resume", path] + quick
    }
    func expectOneLine(_ args: [String], _ fragments: [String], line: UInt = #line) throws {
      let run = try Bench.run(
        executable: URL(fileURLWithPath: "/bin/sh"),
        ["-c", "ulimit -v 4194304; exec \"$0\" \"$@\"", Bench.executable.path] + args)
      XCTAssertFalse(run.crashed, "crashed: \(args)\n\(run.stderr)", line: line)
      XCTAssertEqual(run.status, 1, "\(args)\n\(run.stderr)", line: line)
      let lines = run.stderr.split(separator: "\n").filter { $0.hasPrefix("error:") }
      XCTAssertEqual(lines.count, 1, run.stderr, line: line)
      let message = String(lines.first ?? "")
      for f in fragments { XCTAssertTrue(message.contains(f), "\"\(message)\" lacks \"\(f)\"", line: line) }
      XCTAssertFalse(message.contains("DecodingError") || message.contains("Data was corrupted"), message, line: line)
    }
    // The rows of the report, each through both commands.
    let cases: [(String, (inout [String: String]) throws -> Void, [String])] = [
      ("widths", drift("widths", [1_000_000_000, 64, 8]), ["configuration.drift.widths[0]", "out of range"]),
      ("step", { $0["step"] = "-5" }, ["field step", "\"-5\""]),
      ("grid1", { $0["grid"] = #"{"times":[0]}"# }, ["field grid.times", "at least 2 times"]),
      (
        "grid-order", { $0["grid"] = #"{"times":[0,0.5,0.4,1]}"# }, ["field grid.times", "strictly increasing", "t[2]"]
      ),
      (
        "grid-long",
        { $0["grid"] = "{\"times\":[" + (0...3_000_000).map { String($0) }.joined(separator: ",") + "]}" },
        ["field grid.times", "3000000 steps", "at most 100000"]
      ),
      ("format", { $0["format"] = "neuralsde-checkpoint-999" }, ["field format", "newer NeuralSDE", "version 999"]),
      (
        "activation", drift("hiddenActivation", "relu6"),
        ["field configuration.drift.hiddenActivation", "\"relu6\"", "tanh"]
      ),
      // Beyond the report: a model too large for memory, a missing field, a wrong type, an unknown dtype.
      (
        "huge", drift("widths", [1_000_000, 1_000_000, 2]),
        ["field configuration", "would need", "available"]
      ),
      ("missing", drift("widths", NSNull()), ["configuration.drift.widths"]),
      ("no-format", { $0.removeValue(forKey: "format") }, ["format", "not a NeuralSDE checkpoint"]),
      ("dtype", { $0["dtype"] = "Float16" }, ["field dtype", "Float16"]),
      ("inputs", drift("inputs", 3), ["configuration", "drift takes 3 inputs but needs 2"]),
    ]
    for (name, edit, fragments) in cases {
      let path = try edited(name, edit)
      try expectOneLine(evaluate(path), [path] + fragments)
      try expectOneLine(resume(path), [path] + fragments)
      XCTAssertThrowsError(try NeuralSDEModel<Float>(checkpoint: path), name) { e in
        XCTAssertTrue("\(e)".contains(path) && fragments.allSatisfy { "\(e)".contains($0) }, "\(e)")
      }
    }
    // Adam moments that are not valid, and a tensor the configuration does not have.
    var file = base
    let i = file.tensors.firstIndex { $0.name.hasPrefix("optimizer.adam.v.") }!
    file.tensors[i].tensor.values[0] = -1
    try file.write(to: scratch.path("adam.safetensors"))
    try expectOneLine(resume(scratch.path("adam.safetensors")), ["optimizer state", "negative"])
    file = base
    file.tensors.append(("drift.7.weight", StoredTensor(shape: [1], dtype: .float32, values: [0])))
    try file.write(to: scratch.path("extra.safetensors"))
    try expectOneLine(evaluate(scratch.path("extra.safetensors")), ["drift.7.weight", "does not have"])
  }
}
