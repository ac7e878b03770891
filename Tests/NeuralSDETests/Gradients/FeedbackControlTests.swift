import Foundation
import XCTest
import _NSDETestSupport

/// The feedback posterior control `b̃(X_t, y, t; β)` (docs/MODEL.md §6) through
/// both gradient estimators, the free energy and the importance-weighted bound.
final class FeedbackControlTests: XCTestCase {
  let noiseTypes: [NoiseType] = [.diagonal, .additive, .general(noiseDimension: 2), .general(noiseDimension: 4)]

  /// Backprop and pathwise agree to 1e-10 and both match central finite
  /// differences (common random numbers), for every noise type and objective.
  func testEstimatorsAgreeAndMatchFiniteDifferences() throws {
    for type in noiseTypes {
      for objective in TrainingObjective.allCases {
        let f = try GradientFixture(noise: type, posterior: .feedback)
        let a = try BackpropThroughSolver(chunks: 2).gradient(
          of: f.model, data: f.data, noise: f.noise, grid: f.grid, pathsPerPoint: f.k, objective: objective)
        let b = try ForwardPathwise(blockSize: 7, chunks: 2).gradient(
          of: f.model, data: f.data, noise: f.noise, grid: f.grid, pathsPerPoint: f.k, objective: objective)
        XCTAssertEqual(a.loss, try f.loss(objective), accuracy: 1e-12 * abs(a.loss), "\(type), \(objective)")
        XCTAssertEqual(b.loss, a.loss, accuracy: 1e-12 * abs(a.loss))
        XCTAssertLessThan(relativeError(a.gradient, b.gradient), 1e-10, "\(type), \(objective)")
        let fd = try f.finiteDifferences(objective.differentiatedLoss)
        for (name, range) in f.model.parameterGroups
        where objective.differencedIndices(f.model).contains(range.lowerBound) {
          XCTAssertLessThan(
            relativeError(Array(a.gradient[range]), Array(fd[range])), 1e-6, "\(type), \(objective), \(name)")
        }
      }
    }
  }

  /// With the state columns of the control's first layer set to zero, the
  /// feedback control is the mean-field control: same loss, same estimates and
  /// the same gradient (the state-column entries aside) to round-off.
  func testZeroStateColumnsEqualMeanField() throws {
    for type in noiseTypes {
      let mf = try GradientFixture(noise: type, posterior: .meanField)
      let fb = try GradientFixture(noise: type, posterior: .feedback)
      let d = mf.model.latentDimension
      let dataDim = mf.model.dataDimension
      // Copy every parameter; the feedback first layer gets [0 (x), W_y, w_t].
      // `map[i]` is the feedback index of mean-field parameter i.
      var map = [Int](repeating: -1, count: mf.model.parameterCount)
      XCTAssertEqual(mf.model.parameters.slices.map(\.name), fb.model.parameters.slices.map(\.name))
      for (ms, fs) in zip(mf.model.parameters.slices, fb.model.parameters.slices) {
        if ms.name == "posterior.0.weight" {
          for r in 0..<ms.shape[0] {
            for j in 0..<d { fb.model.parameters.base[fs.offset + r * (d + dataDim + 1) + j] = 0 }
            for j in 0...dataDim { map[ms.offset + r * (dataDim + 1) + j] = fs.offset + r * (d + dataDim + 1) + d + j }
          }
        } else {
          XCTAssertEqual(ms.count, fs.count, ms.name)
          for i in 0..<ms.count { map[ms.offset + i] = fs.offset + i }
        }
      }
      for (i, j) in map.enumerated() { fb.model.parameters.base[j] = mf.model.parameters.base[i] }
      for objective in TrainingObjective.allCases {
        let a = try BackpropThroughSolver().gradient(
          of: mf.model, data: mf.data, noise: mf.noise, grid: mf.grid, pathsPerPoint: mf.k, objective: objective)
        let b = try BackpropThroughSolver().gradient(
          of: fb.model, data: fb.data, noise: fb.noise, grid: fb.grid, pathsPerPoint: fb.k, objective: objective)
        XCTAssertEqual(a.loss, b.loss, accuracy: 1e-13 * abs(a.loss), "\(type), \(objective)")
        XCTAssertLessThan(relativeError(a.gradient, map.map { b.gradient[$0] }), 1e-12, "\(type), \(objective)")
        let pw = try ForwardPathwise().gradient(
          of: fb.model, data: fb.data, noise: fb.noise, grid: fb.grid, pathsPerPoint: fb.k, objective: objective)
        XCTAssertLessThan(relativeError(a.gradient, map.map { pw.gradient[$0] }), 1e-12, "\(type), \(objective)")
      }
      let ea = try mf.model.variationalEstimates(data: mf.data, noise: mf.noise, grid: mf.grid, pathsPerPoint: 4)
      let eb = try fb.model.variationalEstimates(data: fb.data, noise: fb.noise, grid: fb.grid, pathsPerPoint: 4)
      XCTAssertEqual(ea.importanceWeighted.mean, eb.importanceWeighted.mean, accuracy: 1e-12)
      XCTAssertEqual(ea.freeEnergy.mean, eb.freeEnergy.mean, accuracy: 1e-12)
      XCTAssertEqual(ea.freeEnergy.standardError, eb.freeEnergy.standardError, accuracy: 1e-12)
    }
  }

  /// Chunking does not change the feedback gradient beyond round-off.
  func testChunking() throws {
    let f = try GradientFixture(noise: .diagonal, posterior: .feedback)
    let one = try BackpropThroughSolver(chunks: 1).gradient(
      of: f.model, data: f.data, noise: f.noise, grid: f.grid, pathsPerPoint: f.k, objective: .importanceWeighted)
    let three = try BackpropThroughSolver(chunks: 3).gradient(
      of: f.model, data: f.data, noise: f.noise, grid: f.grid, pathsPerPoint: f.k, objective: .importanceWeighted)
    XCTAssertLessThan(relativeError(one.gradient, three.gradient), 1e-12)
  }

  /// Checkpoints keep the control family; files without it read as mean-field.
  func testConfigurationCoding() throws {
    let config = NeuralSDEConfiguration.reference(latentDimension: 3, hidden: 4, posterior: .feedback)
    let data = try JSONEncoder().encode(config)
    XCTAssertEqual(try JSONDecoder().decode(NeuralSDEConfiguration.self, from: data), config)
    var object = try JSONSerialization.jsonObject(with: data) as! [String: Any]
    XCTAssertEqual(object["posteriorControl"] as? String, "feedback")
    object.removeValue(forKey: "posteriorControl")
    var pre = config
    pre.posteriorControl = .meanField
    pre.posteriorDrift.inputs = 2
    object["posteriorDrift"] = try JSONSerialization.jsonObject(with: JSONEncoder().encode(pre.posteriorDrift))
    let old = try JSONDecoder().decode(
      NeuralSDEConfiguration.self, from: JSONSerialization.data(withJSONObject: object))
    XCTAssertEqual(old.posteriorControl, .meanField)
    XCTAssertNoThrow(try old.validate())
    // A feedback configuration whose control network reads only y is named as wrong.
    var wrong = config
    wrong.posteriorDrift.inputs = 2
    XCTAssertThrowsError(try wrong.validate()) { XCTAssertTrue("\($0)".contains("feedback posterior drift")) }
  }
}

final class FeedbackBenchmarkTests: XCTestCase {
  /// The reference-problem report runs with feedback control (its per-path
  /// solves, GEMM floor and both estimators), and the estimators agree.
  func testReferenceBenchmarkWithFeedback() throws {
    let bench = ReferenceBenchmark<Double>(
      configuration: .reference(latentDimension: 3, hidden: 6, posterior: .feedback), paths: 32, pathsPerPoint: 4,
      steps: 4, chunks: 2, repetitions: 1, pathwiseDirections: 3, perPathSample: 4)
    let r = try bench.run()
    XCTAssertLessThan(r.estimatorsRelativeDifference, 1e-10)
    XCTAssertGreaterThan(r.forward.median, 0)
  }
}
