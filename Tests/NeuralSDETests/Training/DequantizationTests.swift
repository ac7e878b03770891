import Foundation
import XCTest
import _NSDETestSupport

/// Uniform dequantisation of columns recorded on a grid.
final class DequantizationTests: XCTestCase {
  /// Integer columns get step 1, a repeating 0.1 cm column step 0.1; distinct
  /// values off the integers and values on no decimal grid are left alone.
  func testGridColumnsAndTheirSteps() throws {
    let data = Matrix<Double>(rows: 60, cols: 5) { r, c in
      switch c {
      case 0: return Double((r * 3) % 11)  // integers
      case 1: return Double(r % 7) + 0.5  // 0.1 grid (and 0.5), repeats: step 0.1
      case 2: return 4.3 + Double(r % 9) / 10  // a 0.1 cm measurement, repeats
      case 3: return Double(r) * 0.01  // a 0.01 grid, every value distinct
      default: return sin(Double(r))  // continuous
      }
    }
    XCTAssertEqual(
      Dequantization.gridColumns(data),
      [
        .init(column: 0, step: 1), .init(column: 1, step: 0.1), .init(column: 2, step: 0.1),
      ])
    // Read as Float, the decimals are rounded in binary: the same grid.
    let float = Matrix<Float>(rows: 60, cols: 5) { r, c in Float(data[r, c]) }
    XCTAssertEqual(Dequantization.gridColumns(float).map(\.column), [0, 1, 2])
    XCTAssertEqual(Dequantization.gridColumns(float).map(\.step), [1, 0.1, 0.1])
    // A 0.001 grid with repeats, and a column off every grid up to 10^-6 that repeats.
    XCTAssertEqual(Dequantization.gridStep([0.125, 0.125, 0.002]), 0.001)
    XCTAssertNil(Dequantization.gridStep([1.0 / 3, 1.0 / 3, 0.25]))
    XCTAssertEqual(
      Dequantization.cellLogVolumePenalty([.init(column: 0, step: 1), .init(column: 2, step: 0.1)]), log(10),
      accuracy: 1e-15)
  }

  /// The noise is uniform over one grid cell `[0, h)` of each grid column,
  /// reproducible from the seed, and leaves the other columns alone.
  func testNoiseIsUniformOverOneCell() throws {
    let data = Matrix<Double>(rows: 500, cols: 3) { r, c in c == 1 ? sin(Double(r)) : Double((r * 3 + c) % 11) }
    let columns: [Dequantization.GridColumn] = [.init(column: 0, step: 1), .init(column: 2, step: 0.1)]
    let a = Dequantization.dequantized(data, columns: columns, seed: 4)
    XCTAssertTrue(a.elements == Dequantization.dequantized(data, columns: columns, seed: 4).elements)
    XCTAssertFalse(a.elements == Dequantization.dequantized(data, columns: columns, seed: 5).elements)
    for g in columns {
      var noise: [Double] = []
      for r in 0..<500 {
        XCTAssertEqual(a[r, 1], data[r, 1])
        let u = (a[r, g.column] - data[r, g.column]) / g.step
        XCTAssertTrue(u >= 0 && u < 1, "column \(g.column): u = \(u)")
        noise.append(u)
      }
      // U[0, 1) in cell units: mean ½ (standard error 0.013), variance 1/12 (standard error 0.0034).
      let mean = noise.reduce(0, +) / Double(noise.count)
      let variance = noise.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(noise.count)
      XCTAssertEqual(mean, 0.5, accuracy: 0.05)
      XCTAssertEqual(variance, 1.0 / 12, accuracy: 0.014)
    }
  }
}
