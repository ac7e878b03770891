import Foundation
import XCTest
import _NSDETestSupport

/// The threading model: rows split into chunks, one per core, each with its
/// own workspace. Per-row results must not depend on the split; reductions
/// (parameter gradients) agree with the unsplit result to round-off.
final class RowSplitTests: XCTestCase {
  func gradients(chunks: Int, rows: Int, mlp: MLP<Double>, theta: [Double], x: Matrix<Double>, v: Matrix<Double>)
    -> (output: [Double], gradient: [Double])
  {
    let parts = Threading.partition(rows, into: chunks)
    let out = Matrix<Double>(rows: rows, cols: mlp.outputs)
    let partial = Matrix<Double>(rows: parts.count, cols: mlp.parameterCount)
    let workspaces = parts.map { mlp.makeWorkspace(rows: $0.count) }
    theta.withUnsafeBufferPointer { tp in
      Threading.concurrentPerform(parts.count) { i in
        let range = parts[i]
        let ws = workspaces[i]
        try! mlp.forward(tp, input: x.rows(range), time: 0.25, workspace: ws)
        for r in 0..<range.count { for c in 0..<mlp.outputs { out[range.lowerBound + r, c] = ws.output[r, c] } }
        let pg = UnsafeMutableBufferPointer(start: partial.base + i * mlp.parameterCount, count: mlp.parameterCount)
        try! mlp.vjp(tp, workspace: ws, outputGradient: v.rows(range), parameterGradient: pg)
      }
    }
    var total = [Double](repeating: 0, count: mlp.parameterCount)
    for i in 0..<parts.count { for j in 0..<mlp.parameterCount { total[j] += partial[i, j] } }
    return (out.elements, total)
  }

  func testSplitDoesNotChangeResults() throws {
    Threading.setBLASThreads(1)
    let mlp = try MLP<Double>(MLPArchitecture(inputs: 16, timeInput: true, widths: [64, 64, 16]))
    var theta = [Double](repeating: 0, count: mlp.parameterCount)
    try theta.withUnsafeMutableBufferPointer { try mlp.initialize($0, seed: 3) }
    let rows = 1000
    let x: Matrix<Double> = randomMatrix(rows, 16, seed: 4)
    let v: Matrix<Double> = randomMatrix(rows, 16, seed: 5)
    let whole = gradients(chunks: 1, rows: rows, mlp: mlp, theta: theta, x: x, v: v)
    for chunks in [2, 3, 7] {
      let split = gradients(chunks: chunks, rows: rows, mlp: mlp, theta: theta, x: x, v: v)
      XCTAssertLessThanOrEqual(relativeError(split.output, whole.output), 1e-15, "outputs, \(chunks) chunks")
      XCTAssertLessThanOrEqual(relativeError(split.gradient, whole.gradient), 1e-12, "gradient, \(chunks) chunks")
    }
  }

  /// Per-group parameter gradients sum to the all-rows gradient.
  func testGroupedGradientsSumToTotal() throws {
    let mlp = try MLP<Double>(MLPArchitecture(inputs: 2, timeInput: true, widths: [8, 3]))
    var theta = [Double](repeating: 0, count: mlp.parameterCount)
    try theta.withUnsafeMutableBufferPointer { try mlp.initialize($0, seed: 9) }
    let x: Matrix<Double> = randomMatrix(12, 2, seed: 1)
    let v: Matrix<Double> = randomMatrix(12, 3, seed: 2)
    let ws = mlp.makeWorkspace(rows: 12)
    var total = [Double](repeating: 0, count: mlp.parameterCount)
    var grouped = [Double](repeating: 0, count: 4 * mlp.parameterCount)
    try theta.withUnsafeBufferPointer { tp in
      try mlp.forward(tp, input: x.view, time: 0.5, workspace: ws)
      try total.withUnsafeMutableBufferPointer {
        try mlp.vjp(tp, workspace: ws, outputGradient: v.view, parameterGradient: $0)
      }
      try grouped.withUnsafeMutableBufferPointer {
        try mlp.vjp(tp, workspace: ws, outputGradient: v.view, parameterGradient: $0, groups: 4)
      }
    }
    var summed = [Double](repeating: 0, count: mlp.parameterCount)
    for g in 0..<4 { for j in 0..<mlp.parameterCount { summed[j] += grouped[g * mlp.parameterCount + j] } }
    XCTAssertLessThan(relativeError(summed, total), 1e-14)
    // Group 0 alone equals the gradient of rows 0..<3 alone.
    let ws3 = mlp.makeWorkspace(rows: 3)
    var first = [Double](repeating: 0, count: mlp.parameterCount)
    try theta.withUnsafeBufferPointer { tp in
      try mlp.forward(tp, input: x.rows(0..<3), time: 0.5, workspace: ws3)
      try first.withUnsafeMutableBufferPointer {
        try mlp.vjp(tp, workspace: ws3, outputGradient: v.rows(0..<3), parameterGradient: $0)
      }
    }
    XCTAssertLessThan(relativeError(Array(grouped[0..<mlp.parameterCount]), first), 1e-14)
  }
}
