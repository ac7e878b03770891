import Foundation
import XCTest
import _NSDETestSupport

/// Every result of the solver and both estimators, bit for bit, against a
/// record taken before the step seam was introduced (issue "One home for the
/// step"): for each noise type × posterior control × objective (and each
/// likelihood, a checkpointed tape, an affine control and Float), the loss and
/// gradient of backprop and of forward pathwise, the variational estimates and
/// prior samples of the forward solver.
///
/// Bits depend on the kernels the machine selects (the tile kernels' ISA level
/// and `OPENBLAS_CORETYPE`, which `scripts/test` sets). The record names the
/// pair it was taken with; on another pair the values must still agree to
/// 1e-12 relative (a different summation order), and the test says which.
///
/// Re-record (only when a change of results is intended and explained):
/// `NSDE_RECORD_STEP_GOLDEN=1 swift test -c release --filter StepGoldenTests`.
final class StepGoldenTests: XCTestCase {
  /// The objectives of the record (DReG came after it; DoublyReparameterizedTests check it).
  static let recordedObjectives: [TrainingObjective] = [.freeEnergy, .importanceWeighted]

  static let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .appendingPathComponent("Fixtures/step-golden.json")

  /// The machine's kernel signature: tile ISA level and OpenBLAS core type.
  static var signature: String {
    "isa\(MLPKernels.instructionSetLevel)-\(ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"] ?? "auto")"
  }

  /// Every case's values (loss first, then the gradient or solve outputs), by name.
  func computeAll() throws -> [String: [Double]] {
    var out: [String: [Double]] = [:]
    let likelihoods: [(String, Likelihood)] = [
      ("learned-std", .gaussianLearnedStd(initialStd: 0.7)), ("gaussian", .gaussian(std: 0.5)),
      ("bernoulli", .bernoulli),
    ]
    for noise in [NoiseType.diagonal, .additive, .general(noiseDimension: 2)] {
      for control in [PosteriorControl.meanField, .feedback] {
        for (likelihoodName, likelihood) in likelihoods {
          // The learned-std likelihood in every combination; the others on diagonal noise.
          if likelihoodName != "learned-std" && noise != .diagonal { continue }
          let f = try GradientFixture(noise: noise, likelihood: likelihood, posterior: control)
          let base = "\(noise)/\(control.rawValue)/\(likelihoodName)"
          for objective in StepGoldenTests.recordedObjectives {
            let name = "\(base)/\(objective.rawValue)"
            let bp = try BackpropThroughSolver(chunks: 2).gradient(
              of: f.model, data: f.data, noise: f.noise, grid: f.grid, pathsPerPoint: f.k, objective: objective)
            out["backprop/" + name] = [bp.loss] + bp.gradient
            let fw = try ForwardPathwise(blockSize: 7, chunks: 2).gradient(
              of: f.model, data: f.data, noise: f.noise, grid: f.grid, pathsPerPoint: f.k, objective: objective)
            out["forward/" + name] = [fw.loss] + fw.gradient
            if likelihoodName == "learned-std" {
              // A checkpointed tape (bit for bit the full tape's today).
              let full = try BackpropThroughSolver(chunks: 2).estimatedWorkspaceBytes(
                model: f.model, points: f.data.rows, pathsPerPoint: f.k, steps: f.grid.steps)!
              let cp = try BackpropThroughSolver(chunks: 2, memoryBudget: full * 3 / 4, allowsMicroBatches: false)
                .gradient(
                  of: f.model, data: f.data, noise: f.noise, grid: f.grid, pathsPerPoint: f.k, objective: objective)
              out["checkpointed/" + name] = [cp.loss] + cp.gradient
            }
          }
          let est = try f.model.variationalEstimates(
            data: f.data, noise: f.noise, grid: f.grid, pathsPerPoint: f.k, chunks: 2)
          out["estimates/" + base] =
            [
              est.freeEnergy.mean, est.freeEnergy.standardError, est.importanceWeighted.mean,
            ] + est.importanceWeighted.perDataPoint + est.importanceWeighted.perDataPointTenthOfPaths
          if likelihoodName == "learned-std" && control == .meanField {
            let s = try f.model.sample(count: 5, noise: f.noise, grid: f.grid, seed: 9, recordSteps: [2], chunks: 2)
            out["prior/" + base] =
              Array(UnsafeBufferPointer(start: s.latent.base, count: s.latent.count))
              + Array(UnsafeBufferPointer(start: s.observations.base, count: s.observations.count))
              + Array(UnsafeBufferPointer(start: s.trajectory[0].base, count: s.trajectory[0].count))
            // A given affine control in place of the network.
            let d = f.model.latentDimension
            let m = f.model.noiseDimension
            let affine = AffineFeedbackControl(
              gains: (0..<f.grid.steps).map { i in Matrix(rows: m, cols: d) { l, j in 0.1 * Double(i + l - j) } },
              offsets: (0..<f.grid.steps).map { i in Matrix(rows: 1, cols: m) { _, l in 0.05 * Double(l - i) } })
            let a = try f.model.variationalEstimates(
              data: f.data, noise: f.noise, grid: f.grid, pathsPerPoint: f.k, chunks: 2, affineControl: affine)
            out["affine/" + base] = [a.freeEnergy.mean, a.importanceWeighted.mean]
          }
        }
      }
    }
    // Float: the reference configuration, both estimators.
    let config = NeuralSDEConfiguration.reference(latentDimension: 3, dataDimension: 2, hidden: 8)
    let model = try NeuralSDEModel<Float>(config, seed: 4)
    let data = Matrix<Float>(rows: 3, cols: 2) { r, c in Float(r) * 0.3 - Float(c) * 0.2 }
    let noise = PhiloxBrownianIncrements<Float>(seed: 5, dimension: model.noiseDimension)
    let grid = try TimeGrid(uniformSteps: 5)
    for objective in StepGoldenTests.recordedObjectives {
      let bp = try BackpropThroughSolver(chunks: 2).gradient(
        of: model, data: data, noise: noise, grid: grid, pathsPerPoint: 3, objective: objective)
      out["float/backprop/\(objective.rawValue)"] = [bp.loss] + bp.gradient
      let fw = try ForwardPathwise(blockSize: 16, chunks: 2).gradient(
        of: model, data: data, noise: noise, grid: grid, pathsPerPoint: 3, objective: objective)
      out["float/forward/\(objective.rawValue)"] = [fw.loss] + fw.gradient
    }
    return out
  }

  func testResultsAreUnchangedBitForBit() throws {
    let now = try computeAll()
    if ProcessInfo.processInfo.environment["NSDE_RECORD_STEP_GOLDEN"] != nil {
      let record: [String: Any] = [
        "signature": Self.signature,
        "cases": now.mapValues { $0.map { String($0.bitPattern, radix: 16) }.joined(separator: " ") },
      ]
      let json = try JSONSerialization.data(withJSONObject: record, options: [.prettyPrinted, .sortedKeys])
      try FileManager.default.createDirectory(
        at: Self.fixture.deletingLastPathComponent(), withIntermediateDirectories: true)
      try json.write(to: Self.fixture)
      print("recorded \(now.count) cases to \(Self.fixture.path)")
      return
    }
    let object = try JSONSerialization.jsonObject(with: Data(contentsOf: Self.fixture)) as! [String: Any]
    let signature = object["signature"] as! String
    let cases = (object["cases"] as! [String: String]).mapValues {
      $0.split(separator: " ").map { Double(bitPattern: UInt64($0, radix: 16)!) }
    }
    XCTAssertEqual(Set(cases.keys), Set(now.keys), "the set of recorded cases changed")
    let bitwise = signature == Self.signature
    if !bitwise {
      print("StepGoldenTests: recorded on \(signature), running on \(Self.signature): comparing to 1e-12 relative")
    }
    var compared = 0
    for (name, old) in cases.sorted(by: { $0.key < $1.key }) {
      guard let new = now[name] else { continue }
      XCTAssertEqual(old.count, new.count, "\(name): \(old.count) recorded values, \(new.count) now")
      guard old.count == new.count else { continue }
      let scale = old.map(abs).max() ?? 1
      for (j, (a, b)) in zip(old, new).enumerated() {
        if bitwise {
          if a.bitPattern != b.bitPattern {
            XCTFail("\(name)[\(j)]: recorded \(a), now \(b) (difference \(b - a))")
            break
          }
        } else if !(abs(a - b) <= 1e-12 * Swift.max(scale, 1e-300)) {
          XCTFail("\(name)[\(j)]: recorded \(a), now \(b)")
          break
        }
        compared += 1
      }
    }
    XCTAssertGreaterThan(compared, 1000)
  }
}
