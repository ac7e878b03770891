import Foundation
import NSDELinearAlgebra
import XCTest
import _NSDETestSupport

final class GEMMTests: XCTestCase {
  /// GEMM agrees with the triple loop for every transpose combination and
  /// non-square / degenerate shapes.
  func checkGEMM<T: BLASScalar>(_: T.Type, tolerance: Double) throws {
    let shapes: [(Int, Int, Int)] = [
      (5, 7, 3), (1, 1, 1), (17, 64, 9), (0, 4, 3), (4, 0, 3), (4, 3, 0), (1, 9, 1), (33, 1, 65),
    ]
    var seed: UInt64 = 1
    for (m, n, k) in shapes {
      for transA in [false, true] {
        for transB in [false, true] {
          seed += 1
          let a: Matrix<T> = transA ? randomMatrix(k, m, seed: seed) : randomMatrix(m, k, seed: seed)
          let b: Matrix<T> = transB ? randomMatrix(n, k, seed: seed + 100) : randomMatrix(k, n, seed: seed + 100)
          let c0: Matrix<T> = randomMatrix(m, n, seed: seed + 200)
          let c = c0.copy()
          try BLAS.gemm(a.view, transposeA: transA, b.view, transposeB: transB, into: c.view, alpha: 2, beta: 0.5)
          let ref = naiveProduct(a, transposeA: transA, b, transposeB: transB)
          let expected = zip(ref, c0.elements).map { 2 * $0 + 0.5 * Double($1) }
          let err = relativeError(c.elements.map(Double.init), expected)
          XCTAssertLessThanOrEqual(
            err, tolerance, "\(T.self) gemm m=\(m) n=\(n) k=\(k) transA=\(transA) transB=\(transB)")
        }
      }
    }
  }

  func testGEMMDouble() throws { try checkGEMM(Double.self, tolerance: 1e-14) }
  func testGEMMFloat() throws { try checkGEMM(Float.self, tolerance: 1e-6) }

  /// Views with a leading dimension larger than the column count (sub-blocks).
  func testGEMMOnStridedViews() throws {
    let big: Matrix<Double> = randomMatrix(8, 10, seed: 3)
    let a = big.view.columns(2..<6).rows(1..<7)  // 6×4 with ld 10
    let b: Matrix<Double> = randomMatrix(4, 5, seed: 4)
    let c = Matrix<Double>(rows: 6, cols: 5)
    try BLAS.gemm(a, b.view, into: c.view)
    let ref = naiveProduct(a.copy(), transposeA: false, b, transposeB: false)
    XCTAssertLessThan(relativeError(c.elements, ref), 1e-14)
  }

  func testShapeMismatchNamesBothShapes() {
    let a = Matrix<Double>(rows: 3, cols: 4)
    let b = Matrix<Double>(rows: 5, cols: 2)
    let c = Matrix<Double>(rows: 3, cols: 2)
    XCTAssertNil(expectError(containing: ["3×4", "5×2"]) { try BLAS.gemm(a.view, b.view, into: c.view) })
    let b2 = Matrix<Double>(rows: 4, cols: 2)
    let c2 = Matrix<Double>(rows: 2, cols: 2)
    XCTAssertNil(expectError(containing: ["3×2", "2×2"]) { try BLAS.gemm(a.view, b2.view, into: c2.view) })
    XCTAssertNil(
      expectError(containing: ["5 elements", "2×2"]) {
        _ = try Matrix<Double>(rows: 2, cols: 2, elements: [1, 2, 3, 4, 5])
      })
  }

  func testLevel1And2() {
    let x: [Double] = [1, 2, 3]
    var y: [Double] = [4, 5, 6]
    XCTAssertEqual(Double.dot(n: 3, x: x, incx: 1, y: y, incy: 1), 32)
    XCTAssertEqual(Double.nrm2(n: 3, x: x, incx: 1), Double(14).squareRoot(), accuracy: 1e-15)
    Double.axpy(n: 3, alpha: 2, x: x, incx: 1, y: &y, incy: 1)
    XCTAssertEqual(y, [6, 9, 12])
    Double.scal(n: 3, alpha: 0.5, x: &y, incx: 1)
    XCTAssertEqual(y, [3, 4.5, 6])
    // [[1,2,3],[4,5,6]] · [1,1,1]
    let a: [Double] = [1, 2, 3, 4, 5, 6]
    var out: [Double] = [0, 0]
    Double.gemv(trans: false, m: 2, n: 3, alpha: 1, a: a, lda: 3, x: x, incx: 1, beta: 0, y: &out, incy: 1)
    XCTAssertEqual(out, [14, 32])
  }

  func testPartitionCoversRowsInOrder() {
    for (n, k) in [(10, 3), (4096, 2), (1, 2), (0, 2), (7, 7)] {
      let parts = Threading.partition(n, into: k)
      XCTAssertEqual(parts.first?.lowerBound, 0)
      XCTAssertEqual(parts.last?.upperBound, n)
      for i in 1..<parts.count { XCTAssertEqual(parts[i - 1].upperBound, parts[i].lowerBound) }
      XCTAssertLessThanOrEqual((parts.map(\.count).max() ?? 0) - (parts.map(\.count).min() ?? 0), 1)
    }
  }
}
