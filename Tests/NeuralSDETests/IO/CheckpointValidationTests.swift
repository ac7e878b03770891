import Foundation
import XCTest
import _NSDETestSupport

/// Decoding validates: the checkpoint fuzzer's seed corpus loads, its
/// regression fixtures (the rows of the untrusted-checkpoint report) are each
/// rejected naming the field, and the model-describing types refuse invalid
/// values when decoded, not only when built.
final class CheckpointValidationTests: XCTestCase {
  let corpus = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fuzz/corpus/checkpoint")

  func testCorpusSeedsLoadAndRegressionsNameTheField() throws {
    let expected: [String: [String]] = [
      "report-widths": ["field configuration.drift.widths[0]", "out of range 1…1048576"],
      "report-step": ["field step", "\"-5\""],
      "report-grid-one": ["field grid.times", "at least 2 times"],
      "report-grid-order": ["field grid.times", "t[2] = 0.4 ≤ t[1] = 0.5"],
      "report-format": ["field format", "newer NeuralSDE (format version 999)"],
      "report-activation": ["field configuration.drift.hiddenActivation", "\"relu6\" is not an activation"],
      "report-layout": ["field sequence_layout", "leadInSteps must be in 1…1000, got 0"],
      "report-standardization": ["field data_standardization", "scale of column 1 is -0.5"],
      "report-axes": ["field data_standardization", "the axes are not orthonormal"],
    ]
    var seeds = 0
    for name in try FileManager.default.contentsOfDirectory(atPath: corpus.path).sorted() {
      let path = corpus.appendingPathComponent(name).path
      let stem = String(name.dropLast(".safetensors".count))
      if let fragments = expected[stem] {
        XCTAssertThrowsError(try Checkpoint.info(path), name) { e in
          guard case NSDEError.file(let p, let reason) = e else { return XCTFail("\(e)") }
          XCTAssertEqual(p, path)
          for f in fragments { XCTAssertTrue(reason.contains(f), "\(reason) lacks \(f)") }
        }
      } else {
        let info = try Checkpoint.info(path)
        XCTAssertEqual(info.parameterCount, info.configuration.parameterLayout().map(\.count).reduce(0, +))
        if info.dtype == "Float" {
          XCTAssertEqual(try NeuralSDEModel<Float>(checkpoint: path).parameterCount, info.parameterCount)
        } else {
          XCTAssertEqual(try NeuralSDEModel<Double>(checkpoint: path).parameterCount, info.parameterCount)
        }
        seeds += 1
      }
    }
    XCTAssertGreaterThanOrEqual(seeds, 4)
  }

  /// A sequence model's checkpoint records its layout (read back equal); a
  /// static model's has none; `write` refuses a layout out of range.
  func testSequenceLayoutRoundTrips() throws {
    let model = try NeuralSDEModel<Double>(
      .sequence(latentDimension: 1, dataDimension: 2, hidden: 3, lookahead: 1), seed: 1)
    let layout = SequenceLayout(leadIn: 0.25, leadInSteps: 3, stepsPerInterval: 5, timeScale: 60)
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("nsde-layout-\(getpid())")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    let path = dir.appendingPathComponent("c.safetensors").path
    try Checkpoint.write(model: model, optimizer: nil, step: 7, sequenceLayout: layout, to: path)
    XCTAssertEqual(try Checkpoint.info(path).sequenceLayout, layout)
    try Checkpoint.write(model: model, optimizer: nil, step: 7, to: path)
    XCTAssertNil(try Checkpoint.info(path).sequenceLayout)
    var bad = layout
    bad.timeScale = .infinity
    XCTAssertThrowsError(try Checkpoint.write(model: model, optimizer: nil, step: 7, sequenceLayout: bad, to: path)) {
      XCTAssertTrue("\($0)".contains("timeScale"), "\($0)")
    }
  }

  /// A checkpoint records the data standardisation its model was trained
  /// behind (read back equal); `write` refuses one that does not fit the model.
  func testDataStandardizationRoundTrips() throws {
    let model = try NeuralSDEModel<Double>(.reference(latentDimension: 2, hidden: 3), seed: 1)
    let map = DataStandardization(mean: [5, -2.5], scale: [1000, 0.5])
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("nsde-standardization-\(getpid())")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    let path = dir.appendingPathComponent("c.safetensors").path
    try Checkpoint.write(model: model, optimizer: nil, step: 3, standardization: map, to: path)
    XCTAssertEqual(try Checkpoint.info(path).dataStandardization, map)
    XCTAssertEqual(map.logJacobian, log(1000) + log(0.5), accuracy: 1e-14)
    // With principal axes and their factors (a rotation by 0.3 rad).
    let (c, s) = (cos(0.3), sin(0.3))
    let rotated = DataStandardization(
      mean: [5, -2.5], scale: [1000, 0.5], axes: [c, -s, s, c], axisScales: [2, 0.5])
    try Checkpoint.write(model: model, optimizer: nil, step: 3, standardization: rotated, to: path)
    XCTAssertEqual(try Checkpoint.info(path).dataStandardization, rotated)
    XCTAssertEqual(rotated.logJacobian, log(1000) + log(0.5) - log(2) - log(0.5), accuracy: 1e-14)
    try Checkpoint.write(model: model, optimizer: nil, step: 3, to: path)
    XCTAssertNil(try Checkpoint.info(path).dataStandardization)
    for (bad, fragment) in [
      (DataStandardization(mean: [0, 0, 0], scale: [1, 1, 1]), "3 columns, the model 2"),
      (DataStandardization(mean: [0, .nan], scale: [1, 1]), "mean of column 1"),
      (DataStandardization(mean: [0, 0], scale: [0, 1]), "scale of column 0 is 0.0"),
      (DataStandardization(mean: [0, 0], scale: [1, 1], axes: [1, 0, 0, 1]), "both or neither"),
      (
        DataStandardization(mean: [0, 0], scale: [1, 1], axes: [2, 0, 0, 1], axisScales: [1, 1]),
        "axis 0 has squared norm 4"
      ),
    ] {
      XCTAssertThrowsError(try Checkpoint.write(model: model, optimizer: nil, step: 3, standardization: bad, to: path))
      {
        XCTAssertTrue("\($0)".contains(fragment), "\($0)")
      }
    }
    // The map itself: fitted mean and deviation per column, its inverse, and a constant column's scale 1.
    let data = Matrix<Double>(rows: 4, cols: 2) { r, c in c == 0 ? Double(r) * 10 + 3 : 7 }
    let fitted = DataStandardization(fitting: data)
    XCTAssertEqual(fitted.mean, [18, 7])
    XCTAssertEqual(fitted.scale[0], (125.0).squareRoot(), accuracy: 1e-12)
    XCTAssertEqual(fitted.scale[1], 1)
    let z = fitted.standardized(data)
    XCTAssertEqual(z[0, 0], -15 / (125.0).squareRoot(), accuracy: 1e-14)
    XCTAssertEqual(z[2, 1], 0)
    let back = fitted.original(z)
    for r in 0..<4 { for c in 0..<2 { XCTAssertEqual(back[r, c], data[r, c], accuracy: 1e-12) } }
  }

  /// The configuration's layout is the model's: names, shapes and offsets.
  func testConfigurationLayoutIsTheModelsLayout() throws {
    for config in [
      NeuralSDEConfiguration.reference(latentDimension: 3, hidden: 5, posterior: .feedback),
      .reference(latentDimension: 2, dataDimension: 3, hidden: 4, noise: .general(noiseDimension: 3)),
      .reference(latentDimension: 2, hidden: 4, noise: .additive),
    ] {
      var c = config
      c.initialState = .learned([0.1] + [Double](repeating: 0, count: c.latentDimension - 1))
      c.likelihood = .gaussianLearnedStd(initialStd: 0.3)
      let model = try NeuralSDEModel<Double>(c)
      XCTAssertEqual(c.parameterLayout(), model.parameters.slices)
      XCTAssertEqual(c.parameterCount, model.parameterCount)
    }
  }

  /// Decoding runs the validation the initialisers run, naming the field.
  func testDecodingValidates() throws {
    let good = try JSONEncoder().encode(NeuralSDEConfiguration.reference(latentDimension: 3, hidden: 5))
    func decodeEdited(_ edit: (inout [String: Any]) -> Void) -> String? {
      var object = try! JSONSerialization.jsonObject(with: good) as! [String: Any]
      edit(&object)
      let data = try! JSONSerialization.data(withJSONObject: object)
      do {
        _ = try JSONDecoder().decode(NeuralSDEConfiguration.self, from: data)
        return nil
      } catch {
        return StrictDecoding.describe(error)
      }
    }
    func drift(_ key: String, _ value: Any) -> (inout [String: Any]) -> Void {
      { o in
        var d = o["drift"] as! [String: Any]
        d[key] = value
        o["drift"] = d
      }
    }
    XCTAssertNil(decodeEdited { _ in })
    let cases: [((inout [String: Any]) -> Void, String)] = [
      (drift("widths", [64, 0, 3]), "field drift.widths[1]: 0 is out of range"),
      (drift("widths", [Int]()), "field drift.widths: a network needs at least one layer"),
      (drift("widths", [Int](repeating: 3, count: 65)), "more than 64 layers"),
      (drift("inputs", -1), "field drift.inputs: -1 is out of range"),
      (drift("hiddenActivation", "relu"), "field drift.hiddenActivation: \"relu\" is not an activation"),
      (drift("widths", "64"), "field drift.widths: expected an array"),
      ({ $0["latentDimension"] = 0 }, "field latentDimension: 0 is out of range 1…1048576"),
      ({ $0["posteriorControl"] = "greedy" }, "\"greedy\" is not a posterior control"),
      ({ $0.removeValue(forKey: "decoder") }, "field decoder: is missing"),
      ({ $0["latentDimension"] = 4 }, "the drift takes 3 inputs but needs 4"),
      ({ $0["likelihood"] = ["gaussian": ["std": -1]] }, "standard deviation must be positive"),
      ({ $0["initialState"] = ["fixed": ["_0": [0, 0]]] }, "x_0 has 2 values but the latent dimension is 3"),
    ]
    for (edit, fragment) in cases {
      let message = decodeEdited(edit)
      XCTAssertNotNil(message, fragment)
      XCTAssertTrue(message?.contains(fragment) == true, "\(message ?? "accepted") lacks \(fragment)")
    }
    // Grids.
    for (json, fragment) in [
      (#"{"times":[0]}"#, "at least 2 times"), (#"{"times":[0,1,1]}"#, "strictly increasing"),
      (#"{"times":[0,1e999]}"#, "grid"), (#"{"times":"x"}"#, "field times: expected an array"),
    ] {
      XCTAssertThrowsError(try JSONDecoder().decode(TimeGrid.self, from: Data(json.utf8))) { e in
        let m = StrictDecoding.describe(e)
        XCTAssertTrue(m.contains(fragment) || fragment == "grid", "\(m) lacks \(fragment)")
      }
    }
    XCTAssertEqual(try JSONDecoder().decode(TimeGrid.self, from: Data(#"{"times":[0,0.5,1]}"#.utf8)).steps, 2)
  }
}
