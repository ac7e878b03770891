import Foundation
import XCTest
import _NSDETestSupport

final class RooflineTests: XCTestCase {
  /// The FLOP counts by hand for the reference architecture: per step the
  /// drift (d+1→H→H→d), diagonal diffusion (d+1→H→d) on M rows and the
  /// mean-field control (D+1→H→H→d) on B rows, then the linear decoder.
  func testFLOPCounts() throws {
    let (d, dataDim, h) = (3, 2, 5)
    let model = try NeuralSDEModel<Double>(.reference(latentDimension: d, dataDimension: dataDim, hidden: h), seed: 0)
    let (b, k, n) = (6, 4, 7)
    let m = b * k
    // The time column is a rank-1 bias term, not a GEMM column.
    let drift = 2.0 * Double(m) * Double(d * h + h * h + h * d)
    let diffusion = 2.0 * Double(m) * Double(d * h + h * d)
    let control = 2.0 * Double(b) * Double(dataDim * h + h * h + h * d)
    let decoder = 2.0 * Double(m) * Double(d * dataDim)
    let forward = Double(n) * (drift + diffusion + control) + decoder
    XCTAssertEqual(Roofline.forwardFLOPs(model: model, points: b, pathsPerPoint: k, steps: n), forward)
    // Backward: weight and input gradients (2× forward) but no input gradient of the control's first layer.
    let backward =
      Double(n) * (2 * drift + 2 * diffusion + 2 * control - 2.0 * Double(b) * Double(dataDim * h)) + 2 * decoder
    XCTAssertEqual(Roofline.gradientFLOPs(model: model, points: b, pathsPerPoint: k, steps: n), forward + backward)
  }

  /// The FMA probe measures a positive, plausible rate (between 0.1 and 1000 GFLOP/s per core).
  func testPeakProbe() {
    for rate in [Roofline.peakFLOPRate(Double.self, seconds: 0.01), Roofline.peakFLOPRate(Float.self, seconds: 0.01)] {
      XCTAssertGreaterThan(rate, 1e8)
      XCTAssertLessThan(rate, 1e12)
    }
  }
}
