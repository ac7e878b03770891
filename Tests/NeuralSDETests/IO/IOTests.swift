import Foundation
import XCTest
import _NSDETestSupport

final class IOTests: XCTestCase {
  let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures").path
  var tmp: String = ""

  override func setUpWithError() throws {
    tmp = NSTemporaryDirectory() + "nsde-io-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: tmp, withIntermediateDirectories: true)
  }

  override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: tmp) }

  func tinyModel<T: SDEScalar>(_: T.Type) throws -> NeuralSDEModel<T> {
    try NeuralSDEModel<T>(.reference(latentDimension: 2, dataDimension: 2, hidden: 3), seed: 1)
  }

  /// Weights written by the reference safetensors writer (as PyTorch exports
  /// them) with the interchange names load directly.
  func testLoadsReferenceSafetensors() throws {
    let file = try SafetensorsFile.read(fixtures + "/tiny_reference_f32.safetensors")
    XCTAssertEqual(file.metadata["source"], "numpy")
    let model = try tinyModel(Double.self)
    try model.loadParameters(from: file.tensors)
    // Sorted names: decoder.0.bias is tensor 0, decoder.0.weight 1, diffusion.* 2–5, drift.0.bias 6, drift.0.weight 7.
    let w = try model.parameters.values("drift.0.weight")
    XCTAssertEqual(w[0], Double(Float(7)), accuracy: 0)
    XCTAssertEqual(w[4], Double(Float(0.04) + 7), accuracy: 0)  // row 1, column 1 of [3, 3]
    let b = try model.parameters.values("decoder.0.bias")
    XCTAssertEqual(Array(b), [0, Double(Float(0.01))])
  }

  func testReadsReferenceNPY() throws {
    let a = try NPY.readMatrix(fixtures + "/matrix_f8.npy", as: Double.self)
    XCTAssertEqual(a.shapeDescription, "3×2")
    XCTAssertEqual(a.elements, [1.5, -2.0, 3.25, 4.0, 0.0, -0.125])
    let f = try NPY.read(fixtures + "/matrix_f4_fortran.npy")
    XCTAssertEqual(f.shape, [2, 3])
    XCTAssertEqual(f.dtype, .float32)
    XCTAssertEqual(f.values, [1, 2, 3, 4, 5, 6])
    let noise = try NPY.read(fixtures + "/noise_f8.npy")
    XCTAssertEqual(noise.shape, [2, 3, 2])
    XCTAssertEqual(noise.values[7], 0.7)
  }

  /// Checkpoints (parameters + Adam state + step) round-trip bit-exactly, Float and Double.
  func testCheckpointRoundTripsBitExactly() throws {
    func roundTrip<T: SDEScalar>(_: T.Type) throws {
      let model = try NeuralSDEModel<T>(.reference(latentDimension: 3, dataDimension: 2, hidden: 4), seed: 3)
      let adam = Adam<T>(learningRate: 0.01)
      var rng = SplitMix64(seed: 1)
      try adam.update(model.parameters, gradient: (0..<model.parameterCount).map { _ in rng.nextNormal() })
      let path = tmp + "/ckpt-\(T.self).safetensors"
      try Checkpoint.write(model: model, optimizer: adam, step: 17, to: path)
      let other = try NeuralSDEModel<T>(.reference(latentDimension: 3, dataDimension: 2, hidden: 4), seed: 99)
      let adam2 = Adam<T>(learningRate: 0.01)
      XCTAssertEqual(try Checkpoint.read(path, into: other, optimizer: adam2), 17)
      XCTAssertTrue(other.parameters.elements == model.parameters.elements, "\(T.self) parameters differ")
      XCTAssertTrue(adam2.firstMoment == adam.firstMoment && adam2.secondMoment == adam.secondMoment)
      XCTAssertEqual(adam2.step, 1)
    }
    try roundTrip(Double.self)
    try roundTrip(Float.self)
    // npy round trip
    let m: Matrix<Double> = randomMatrix(5, 3, seed: 2)
    try NPY.write(m, to: tmp + "/m.npy")
    XCTAssertTrue(try NPY.readMatrix(tmp + "/m.npy", as: Double.self).elements == m.elements)
    let mf: Matrix<Float> = randomMatrix(4, 1, seed: 3)
    try NPY.write(mf, to: tmp + "/mf.npy")
    XCTAssertTrue(try NPY.readMatrix(tmp + "/mf.npy", as: Float.self).elements == mf.elements)
    try CSV.write(m, header: ["a", "b", "c"], to: tmp + "/m.csv")
    XCTAssertTrue(try CSV.readMatrix(tmp + "/m.csv", as: Double.self).elements == m.elements)
  }

  /// A scale-mixture decoder's parameters (`decoder.log_std`, `decoder.center`,
  /// `decoder.scale_logits`) and likelihood survive a checkpoint: the model
  /// rebuilt from the file has the configuration, the parameters bit for bit
  /// and so the same −log p.
  func testScaleMixtureCheckpointRoundTrips() throws {
    var config = NeuralSDEConfiguration.reference(latentDimension: 3, dataDimension: 4, hidden: 5)
    config.likelihood = .gaussianScaleMixture(initialStd: 0.3)
    let model = try NeuralSDEModel<Double>(config, seed: 4)
    var rng = SplitMix64(seed: 5)
    for i in 0..<model.parameterCount { model.parameters.base[i] += 0.2 * rng.nextNormal() }
    let names = Set(config.parameterLayout().map(\.name))
    XCTAssertTrue(names.isSuperset(of: ["decoder.log_std", "decoder.center", "decoder.scale_logits"]))
    XCTAssertEqual(
      model.likelihoodParameterCount, 2 * 4 + Likelihood.scaleMixtureScales.count)
    let path = tmp + "/mixture.safetensors"
    try Checkpoint.write(model: model, optimizer: nil, step: 2, to: path)
    let loaded = try NeuralSDEModel<Double>(checkpoint: path)
    XCTAssertEqual(loaded.configuration, config)
    XCTAssertTrue(loaded.parameters.elements == model.parameters.elements)
    let data: Matrix<Double> = randomMatrix(3, 4, seed: 6)
    let noise = PhiloxBrownianIncrements<Double>(seed: 7, dimension: model.noiseDimension)
    let grid = try TimeGrid(uniformSteps: 5)
    let a = try model.importanceWeightedNegativeLogLikelihood(data: data, noise: noise, grid: grid, pathsPerPoint: 8)
    let b = try loaded.importanceWeightedNegativeLogLikelihood(data: data, noise: noise, grid: grid, pathsPerPoint: 8)
    XCTAssertEqual(a.mean, b.mean)
  }

  /// Truncated or corrupted files, wrong names, shapes and dtypes give clear
  /// errors and leave an existing checkpoint intact.
  func testBadFilesGiveClearErrorsAndKeepExistingCheckpoint() throws {
    let model = try tinyModel(Double.self)
    let path = tmp + "/good.safetensors"
    try Checkpoint.write(model: model, optimizer: nil, step: 1, to: path)
    let good = try AtomicFile.read(path)
    // Truncated.
    try AtomicFile.write(Array(good.prefix(good.count - 5)), to: tmp + "/trunc.safetensors")
    XCTAssertNil(
      expectError(containing: ["trunc.safetensors", "truncated"]) {
        _ = try SafetensorsFile.read(self.tmp + "/trunc.safetensors")
      })
    try AtomicFile.write(Array(good.prefix(20)), to: tmp + "/trunc2.safetensors")
    XCTAssertNil(
      expectError(containing: ["header length", "truncated"]) {
        _ = try SafetensorsFile.read(self.tmp + "/trunc2.safetensors")
      })
    // Corrupted header.
    var bad = good
    bad[9] = 0x7B
    bad[10] = 0x7B
    try AtomicFile.write(bad, to: tmp + "/corrupt.safetensors")
    XCTAssertNil(
      expectError(containing: ["corrupt.safetensors"]) {
        _ = try SafetensorsFile.read(self.tmp + "/corrupt.safetensors")
      })
    XCTAssertNil(
      expectError(containing: ["no such file"]) { _ = try SafetensorsFile.read(self.tmp + "/missing.safetensors") })
    // Wrong shape / name / dtype.
    var tensors = model.parameterTensors()
    tensors[0].tensor.shape = [tensors[0].tensor.shape[0] * tensors[0].tensor.shape[1]]
    XCTAssertNil(expectError(containing: [tensors[0].name, "shape"]) { try model.loadParameters(from: tensors) })
    tensors = model.parameterTensors()
    tensors[1].name = "drift.9.bias"
    XCTAssertNil(expectError(containing: ["no tensor"]) { try model.loadParameters(from: tensors) })
    let f16Header = #"{"x":{"dtype":"F16","shape":[1],"data_offsets":[0,2]}}"#
    var f16 = [UInt8]()
    withUnsafeBytes(of: UInt64(f16Header.utf8.count).littleEndian) { f16.append(contentsOf: $0) }
    f16 += Array(f16Header.utf8) + [0, 0]
    XCTAssertNil(expectError(containing: ["F16", "only F32 and F64"]) { _ = try SafetensorsFile.parse(f16) })
    // A failed load changed nothing; a failed write leaves the old file.
    let before = model.parameters.elements
    XCTAssertTrue(model.parameters.elements == before)
    XCTAssertThrowsError(
      try Checkpoint.write(model: model, optimizer: nil, step: 2, to: tmp + "/no-such-dir/x.safetensors"))
    XCTAssertEqual(try AtomicFile.read(path), good)
    // npy errors.
    try AtomicFile.write(Array(try AtomicFile.read(fixtures + "/matrix_f8.npy").dropLast(3)), to: tmp + "/t.npy")
    XCTAssertNil(expectError(containing: ["t.npy", "truncated"]) { _ = try NPY.read(self.tmp + "/t.npy") })
    try AtomicFile.write(Array("hello world".utf8), to: tmp + "/h.npy")
    XCTAssertNil(expectError(containing: ["magic"]) { _ = try NPY.read(self.tmp + "/h.npy") })
  }
}
