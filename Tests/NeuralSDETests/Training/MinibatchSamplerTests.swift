import Foundation
import XCTest
import _NSDETestSupport

final class MinibatchSamplerTests: XCTestCase {
  /// Every training row is drawn exactly once per epoch; consecutive batches
  /// within an epoch share no row; epochs differ.
  func testEpochsCoverEveryRowOnce() throws {
    for (count, b) in [(1800, 64), (10, 3), (7, 7), (5, 9), (1, 1)] {
      var sampler = try MinibatchSampler(count: count, batchSize: b, seed: 42)
      let perEpoch = sampler.batchesPerEpoch
      XCTAssertEqual(perEpoch, (count + min(b, count) - 1) / min(b, count))
      var epochs: [[Int]] = []
      for e in 0..<3 {
        var seen: [Int] = []
        var previous = Set<Int>()
        for j in 0..<perEpoch {
          let rows = Array(sampler.rows(ofBatch: e * perEpoch + j))
          XCTAssertTrue(Set(rows).isDisjoint(with: previous), "count \(count), B \(b), epoch \(e), batch \(j)")
          XCTAssertEqual(Set(rows).count, rows.count)
          previous = Set(rows)
          seen += rows
        }
        XCTAssertEqual(seen.sorted(), Array(0..<count), "count \(count), B \(b), epoch \(e)")
        epochs.append(seen)
      }
      if count > 3 { XCTAssertNotEqual(epochs[0], epochs[1]) }
    }
  }

  /// The same seed gives the same batches (also when batches are asked for
  /// out of order, as after resuming); another seed gives others.
  func testReproducible() throws {
    var a = try MinibatchSampler(count: 100, batchSize: 16, seed: 7)
    var b = try MinibatchSampler(count: 100, batchSize: 16, seed: 7)
    var c = try MinibatchSampler(count: 100, batchSize: 16, seed: 8)
    let forward = (0..<30).map { Array(a.rows(ofBatch: $0)) }
    let backward = (0..<30).reversed().map { Array(b.rows(ofBatch: $0)) }.reversed()
    XCTAssertEqual(forward, Array(backward))
    XCTAssertNotEqual(forward[0], Array(c.rows(ofBatch: 0)))
  }

  /// Batches of 64 over 1800 rows in 300 steps draw every row (the old
  /// seed + s·φ sampler drew only 324 distinct rows).
  func testManyDistinctRows() throws {
    var s = try MinibatchSampler(count: 1800, batchSize: 64, seed: 0)
    var seen = Set<Int>()
    for i in 0..<300 { seen.formUnion(s.rows(ofBatch: i)) }
    XCTAssertEqual(seen.count, 1800)
  }

  /// The split is a shuffled partition of the rows.
  func testSplitIsAShuffledPartition() throws {
    let data = Matrix<Double>(rows: 50, cols: 2) { r, c in Double(r * 2 + c) }
    let split = try DataSplit(data, heldOutFraction: 0.1, seed: 3)
    XCTAssertEqual(split.heldOut.rows, 5)
    XCTAssertEqual(split.training.rows, 45)
    let rows = (0..<5).map { Int(split.heldOut[$0, 0]) / 2 } + (0..<45).map { Int(split.training[$0, 0]) / 2 }
    XCTAssertEqual(rows.sorted(), Array(0..<50))
    XCTAssertNotEqual(Array(rows.prefix(5)), [0, 1, 2, 3, 4])
    XCTAssertThrowsError(try DataSplit(data, heldOutFraction: 1, seed: 0))
  }

  /// Bad training data stops training before the first step, naming row and column.
  func testTrainerRejectsNonFiniteData() throws {
    let model = try NeuralSDEModel<Double>(.reference(latentDimension: 2, hidden: 4), seed: 0)
    let trainer = try Trainer(model: model, configuration: TrainingConfiguration(steps: 3, batchSize: 4))
    let data = Matrix<Double>(rows: 20, cols: 2) { r, c in Double(r + c) }
    data[13, 1] = .nan
    XCTAssertThrowsError(try trainer.train(data: data)) { XCTAssertTrue("\($0)".contains("row 13, column 1"), "\($0)") }
    XCTAssertEqual(trainer.step, 0)
    let good = Matrix<Double>(rows: 20, cols: 2) { r, c in Double(r + c) / 20 }
    let held = Matrix<Double>(rows: 3, cols: 2)
    held[2, 0] = .infinity
    XCTAssertThrowsError(try trainer.train(data: good, heldOut: held)) {
      XCTAssertTrue("\($0)".contains("held-out data row 2, column 0"), "\($0)")
    }
  }

  /// A NaN in a CSV file is named by its line (counting blank and comment lines) and column.
  func testDataFileNamesLineAndColumn() throws {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("nsde-datafile-\(getpid())")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    let csv = dir.appendingPathComponent("d.csv").path
    try "x,y\n1,2\n\n# comment\n3,nan\n".write(toFile: csv, atomically: true, encoding: .utf8)
    XCTAssertThrowsError(try DataFile.readMatrix(csv, as: Double.self)) {
      XCTAssertTrue("\($0)".contains("line 5, column 2"), "\($0)")
    }
    try "1,2\n3,1e300\n".write(toFile: csv, atomically: true, encoding: .utf8)
    XCTAssertNoThrow(try DataFile.readMatrix(csv, as: Double.self))
    XCTAssertThrowsError(try DataFile.readMatrix(csv, as: Float.self)) {
      XCTAssertTrue("\($0)".contains("line 2, column 2"), "\($0)")
    }
    try "1,2\n3,abc\n".write(toFile: csv, atomically: true, encoding: .utf8)
    XCTAssertThrowsError(try DataFile.readMatrix(csv, as: Double.self)) {
      XCTAssertTrue("\($0)".contains("line 2, column 2"), "\($0)")
    }
    let npy = dir.appendingPathComponent("d.npy").path
    let m = Matrix<Double>(rows: 3, cols: 2)
    m[1, 0] = -.infinity
    try NPY.write(m, to: npy)
    XCTAssertThrowsError(try DataFile.readMatrix(npy, as: Double.self)) {
      XCTAssertTrue("\($0)".contains("element [1, 0]"), "\($0)")
    }
  }
}
