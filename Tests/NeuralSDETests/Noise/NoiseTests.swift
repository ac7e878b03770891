import Foundation
import NSDEKernels
import XCTest
import _NSDETestSupport

final class NoiseTests: XCTestCase {
  /// Known-answer vectors of Random123's kat_vectors for Philox4x32-10.
  func testPhiloxKnownAnswers() {
    let cases: [([UInt32], [UInt32], [UInt32])] = [
      ([0, 0, 0, 0], [0, 0], [0x6627_e8d5, 0xe169_c58d, 0xbc57_ac4c, 0x9b00_dbd8]),
      ([.max, .max, .max, .max], [.max, .max], [0x408f_276d, 0x41c8_3b0e, 0xa20b_c7c6, 0x6d54_51fd]),
      (
        [0x243f_6a88, 0x85a3_08d3, 0x1319_8a2e, 0x0370_7344], [0xa409_3822, 0x299f_31d0],
        [0xd16c_fe09, 0x94fd_cceb, 0x5001_e420, 0x2412_6ea1]
      ),
    ]
    for (ctr, key, want) in cases {
      var out = [UInt32](repeating: 0, count: 4)
      nsde_philox4x32_10(ctr, key, &out)
      XCTAssertEqual(out, want)
    }
  }

  /// Every normal equals the documented mapping computed here independently
  /// (Philox block → two 53-bit uniforms → Box–Muller with Foundation's log,
  /// sin and cos) to 1e-13, for odd dimensions, paths beyond 2³² and a path
  /// count that is not a multiple of the kernel's vector or chunk widths.
  func testNormalsFollowTheDocumentedMapping() {
    let seed: UInt64 = 0x1234_5678_9abc_def0
    let step = 7
    let m = 5
    let path0 = (1 << 32) - 300
    let count = 613
    let out = Matrix<Double>(rows: count, cols: m + 1)
    Double.normals(
      seed: seed, step: step, firstPath: path0, paths: count, dimension: m, scale: 0.5, into: out.base, ld: m + 1)
    var worst = 0.0
    for p in 0..<count {
      let path = UInt64(path0 + p)
      for q in 0..<((m + 1) / 2) {
        var block = [UInt32](repeating: 0, count: 4)
        nsde_philox4x32_10(
          [UInt32(q), UInt32(truncatingIfNeeded: path), UInt32(step), UInt32(truncatingIfNeeded: path >> 32)],
          [UInt32(truncatingIfNeeded: seed), UInt32(truncatingIfNeeded: seed >> 32)], &block)
        let a = (UInt64(block[0]) << 21) ^ UInt64(block[1] >> 11)
        let b = (UInt64(block[2]) << 21) ^ UInt64(block[3] >> 11)
        let u1 = Double(a + 1) * 0x1p-53
        let u2 = Double(b) * 0x1p-53
        let r = (-2 * Foundation.log(u1)).squareRoot() * 0.5
        let z = [r * Foundation.cos(2 * Double.pi * u2), r * Foundation.sin(2 * Double.pi * u2)]
        for (i, j) in [2 * q, 2 * q + 1].enumerated() where j < m {
          worst = Swift.max(worst, abs(out[p, j] - z[i]) / Swift.max(abs(z[i]), 1))
        }
      }
    }
    XCTAssertLessThan(worst, 1e-13)
  }

  /// The increment is a pure function of (seed, step, path, component):
  /// any split of the paths, any order, gives the same values.
  func testIncrementsDoNotDependOnSplitOrOrder() {
    let noise = PhiloxBrownianIncrements<Double>(seed: 11, dimension: 5)
    let whole = Matrix<Double>(rows: 1024, cols: 5)
    noise.fill(step: 3, paths: 0..<1024, stepSize: 0.02, into: whole.base, ld: 5)
    let pieces = Matrix<Double>(rows: 1024, cols: 5)
    for range in Threading.partition(1024, into: 4).reversed() {
      noise.fill(step: 3, paths: range, stepSize: 0.02, into: pieces.base + range.lowerBound * 5, ld: 5)
    }
    XCTAssertTrue(whole.elements == pieces.elements, "split changes the increments")
    // Strided output and a single path.
    let wide = Matrix<Double>(rows: 3, cols: 9)
    noise.fill(step: 3, paths: 100..<103, stepSize: 0.02, into: wide.base + 2, ld: 9)
    for r in 0..<3 { for j in 0..<5 { XCTAssertEqual(wide[r, 2 + j], whole[100 + r, j]) } }
    // Different steps and seeds differ.
    let other = Matrix<Double>(rows: 1024, cols: 5)
    noise.fill(step: 4, paths: 0..<1024, stepSize: 0.02, into: other.base, ld: 5)
    XCTAssertFalse(other.elements == whole.elements, "steps 3 and 4 have the same increments")
    // Float increments are the Double ones rounded.
    let f = Matrix<Float>(rows: 1024, cols: 5)
    PhiloxBrownianIncrements<Float>(seed: 11, dimension: 5).fill(
      step: 3, paths: 0..<1024, stepSize: 0.02, into: f.base, ld: 5)
    XCTAssertEqual(zip(f.elements, whole.elements).filter { $0 != Float($1) }.count, 0, "Float ≠ rounded Double")
  }

  /// Per-point grids draw every data point's K paths with its own step size in
  /// one call: bit for bit what one `fill` per point gives, in both
  /// precisions, across the kernel's 256-path chunks and the 512-group
  /// batches, for Philox, a shifted view and the default (recorded noise).
  func testGroupedFillEqualsOneFillPerGroup() {
    func check<N: BrownianIncrements>(_ noise: N, paths: Range<Int>, group: Int, ld: Int) {
      let groups = (paths.count + group - 1) / group
      let sizes = (0..<groups).map { 0.001 + 0.01 * Double(($0 * 7) % 13) }
      let once = Matrix<N.Scalar>(rows: paths.count, cols: ld)
      sizes.withUnsafeBufferPointer {
        noise.fill(step: 2, paths: paths, stepSizes: $0.baseAddress!, groupRows: group, into: once.base, ld: ld)
      }
      let each = Matrix<N.Scalar>(rows: paths.count, cols: ld)
      for g in 0..<groups {
        let start = paths.lowerBound + g * group
        let range = start..<min(start + group, paths.upperBound)
        noise.fill(step: 2, paths: range, stepSize: sizes[g], into: each.base + g * group * ld, ld: ld)
      }
      XCTAssertTrue(once.elements == each.elements, "\(N.self) paths \(paths) group \(group): grouped ≠ per group")
    }
    for (paths, group) in [(0..<12, 4), (5..<1300, 4), (3..<2051, 1), (0..<700, 64), (10..<17, 3)] {
      check(PhiloxBrownianIncrements<Double>(seed: 5, dimension: 3), paths: paths, group: group, ld: 4)
      check(PhiloxBrownianIncrements<Float>(seed: 5, dimension: 4), paths: paths, group: group, ld: 4)
      check(
        ShiftedBrownianIncrements(PhiloxBrownianIncrements<Double>(seed: 5, dimension: 2), pathOffset: 9),
        paths: paths, group: group, ld: 2)
    }
    let recorded = try! RecordedBrownianIncrements<Double>(
      steps: 3, paths: 40, dimension: 2, values: (0..<240).map { Double($0) / 7 })
    check(recorded, paths: 4..<40, group: 6, ld: 2)
  }

  /// Moments of the normals: mean 0, variance h, kurtosis 3, and no correlation
  /// between neighbouring components, paths or steps (4 standard errors).
  func testIncrementMoments() {
    let m = 6
    let paths = 20000
    let h = 0.01
    let noise = PhiloxBrownianIncrements<Double>(seed: 5, dimension: m)
    let a = Matrix<Double>(rows: paths, cols: m)
    let b = Matrix<Double>(rows: paths, cols: m)
    noise.fill(step: 0, paths: 0..<paths, stepSize: h, into: a.base, ld: m)
    noise.fill(step: 1, paths: 0..<paths, stepSize: h, into: b.base, ld: m)
    let z = a.elements.map { $0 / h.squareRoot() }
    let n = Double(z.count)
    let mean = z.reduce(0, +) / n
    let variance = z.map { $0 * $0 }.reduce(0, +) / n
    let kurtosis = z.map { $0 * $0 * $0 * $0 }.reduce(0, +) / n
    XCTAssertLessThan(abs(mean), 4 / n.squareRoot())
    XCTAssertLessThan(abs(variance - 1), 4 * (2 / n).squareRoot())
    XCTAssertLessThan(abs(kurtosis - 3), 4 * (96 / n).squareRoot())
    var cComp = 0.0
    var cStep = 0.0
    var cPath = 0.0
    for p in 0..<(paths - 1) {
      cComp += a[p, 0] * a[p, 1]
      cStep += a[p, 2] * b[p, 2]
      cPath += a[p, 3] * a[p + 1, 3]
    }
    for c in [cComp, cStep, cPath] { XCTAssertLessThan(abs(c / Double(paths) / h), 4 / Double(paths).squareRoot()) }
  }

  func testRecordedIncrementsValidateAndCoarsen() throws {
    XCTAssertNil(
      expectError(containing: ["5 values", "[2, 2, 2]"]) {
        _ = try RecordedBrownianIncrements<Double>(steps: 2, paths: 2, dimension: 2, values: [1, 2, 3, 4, 5])
      })
    XCTAssertNil(
      expectError(containing: ["NaN"]) {
        _ = try RecordedBrownianIncrements<Double>(steps: 1, paths: 1, dimension: 2, values: [1, .nan])
      })
    let grid = try TimeGrid(uniformSteps: 8)
    let rec = try RecordedBrownianIncrements(
      from: PhiloxBrownianIncrements<Double>(seed: 1, dimension: 2), grid: grid, paths: 3)
    let coarse = try rec.coarsened(by: 4)
    XCTAssertEqual(coarse.steps, 2)
    XCTAssertEqual(coarse.values[0], (0..<4).map { rec.values[$0 * 6] }.reduce(0, +), accuracy: 1e-15)
    XCTAssertNil(
      expectError(containing: ["[8, 3, 2]", "[8, 4, 2]"]) { try rec.validate(steps: 8, paths: 4, dimension: 2) })
  }
}
