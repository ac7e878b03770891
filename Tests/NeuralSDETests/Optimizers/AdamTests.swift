import Foundation
import XCTest
import _NSDETestSupport

final class AdamTests: XCTestCase {
  func vector(_ values: [Double]) throws -> ParameterVector<Double> {
    let p = try ParameterVector<Double>(layout: [ParameterSlice(name: "theta", offset: 0, shape: [values.count])])
    try p.assign(values)
    return p
  }

  /// The first three AdamW updates on ½ Σ a_i (θ_i − c_i)² equal the values of
  /// the reference script `adam_reference.py` beside this file.
  func testFirstThreeUpdatesMatchReference() throws {
    let a = [1.0, 10.0, 0.1]
    let c = [0.0, 1.0, -1.0]
    let p = try vector([1.0, -2.0, 0.5])
    let adam = Adam<Double>(learningRate: 0.1, weightDecay: 0.01)
    let expected: [[Double]] = [
      [0.899000001, -1.8980000000333332, 0.3995000066666662],
      [0.7985190281887788, -1.7962070942968442, 0.2993411191262353],
      [0.6989111847156934, -1.6946961371337572, 0.19970960352914746],
    ]
    for t in 0..<3 {
      let g = (0..<3).map { a[$0] * (p.base[$0] - c[$0]) }
      try adam.update(p, gradient: g)
      for i in 0..<3 { XCTAssertEqual(p.base[i], expected[t][i], accuracy: 1e-15, "step \(t + 1), θ[\(i)]") }
    }
    XCTAssertEqual(adam.step, 3)
  }

  /// Adam converges on the Rosenbrock function from (−1.5, 2).
  func testConvergesOnRosenbrock() throws {
    let p = try vector([-1.5, 2])
    let adam = Adam<Double>(learningRate: 0.02, schedule: .cosine(totalSteps: 20000, minimumFactor: 0.01))
    for _ in 0..<20000 {
      let x = p.base[0]
      let y = p.base[1]
      try adam.update(p, gradient: [-2 * (1 - x) - 400 * x * (y - x * x), 200 * (y - x * x)])
    }
    XCTAssertEqual(p.base[0], 1, accuracy: 1e-3)
    XCTAssertEqual(p.base[1], 1, accuracy: 2e-3)
  }

  func testClippingSGDAndErrors() throws {
    let p = try vector([0, 0])
    let adam = Adam<Double>(learningRate: 1, gradientClipNorm: 1)
    try adam.update(p, gradient: [30, 40])
    XCTAssertEqual(adam.lastGradientNorm, 50)
    // First Adam step moves every coordinate by lr (sign of g) whatever the scale.
    XCTAssertEqual(p.base[0], -1, accuracy: 1e-6)
    XCTAssertNil(expectError(containing: ["NaN", "unchanged"]) { try adam.update(p, gradient: [.nan, 1]) })
    XCTAssertEqual(p.base[1], -1, accuracy: 1e-6)
    XCTAssertNil(expectError(containing: ["3 values", "2"]) { try adam.update(p, gradient: [1, 2, 3]) })
    let sgd = SGD<Double>(learningRate: 0.5, momentum: 0.9)
    let q = try vector([1, 1])
    try sgd.update(q, gradient: [1, 2])
    try sgd.update(q, gradient: [1, 2])
    // v1 = g, v2 = 0.9 g + g = 1.9 g → θ = 1 − 0.5 (1 + 1.9) g
    XCTAssertEqual(q.base[0], 1 - 0.5 * 2.9 * 1, accuracy: 1e-15)
    XCTAssertEqual(q.base[1], 1 - 0.5 * 2.9 * 2, accuracy: 1e-15)
    XCTAssertEqual(LearningRateSchedule.cosine(totalSteps: 100, warmupSteps: 10).factor(step: 5), 0.5, accuracy: 1e-15)
    XCTAssertEqual(LearningRateSchedule.cosine(totalSteps: 100, warmupSteps: 10).factor(step: 100), 0, accuracy: 1e-15)
  }
}
