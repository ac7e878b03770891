import Foundation
import XCTest
import _NSDETestSupport

/// Uniform dequantisation of integer-valued columns.
final class DequantizationTests: XCTestCase {
  func testOnlyIntegerColumnsGetUniformNoise() throws {
    let data = Matrix<Double>(rows: 500, cols: 3) { r, c in c == 1 ? Double(r % 7) + 0.5 : Double((r * 3 + c) % 11) }
    XCTAssertEqual(Dequantization.integerColumns(data), [0, 2])
    let a = Dequantization.dequantized(data, columns: [0, 2], seed: 4)
    XCTAssertTrue(a.elements == Dequantization.dequantized(data, columns: [0, 2], seed: 4).elements)
    var noise: [Double] = []
    for r in 0..<500 {
      XCTAssertEqual(a[r, 1], data[r, 1])
      for c in [0, 2] {
        let u = a[r, c] - data[r, c]
        XCTAssertTrue(u >= 0 && u < 1)
        noise.append(u)
      }
    }
    // Uniform on [0, 1): mean ½, variance 1/12 (within sampling error of 1000 draws).
    let mean = noise.reduce(0, +) / Double(noise.count)
    let variance = noise.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(noise.count)
    XCTAssertEqual(mean, 0.5, accuracy: 0.04)
    XCTAssertEqual(variance, 1.0 / 12, accuracy: 0.01)
  }
}
