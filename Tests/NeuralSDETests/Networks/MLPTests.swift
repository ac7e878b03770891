import Foundation
import XCTest
import _NSDETestSupport

/// One randomly initialised MLP with a batch of inputs.
struct MLPFixture<T: SDEScalar> {
  let mlp: MLP<T>
  var theta: [T]
  var input: [T]
  let rows: Int
  let time: T

  init(_ arch: MLPArchitecture, rows: Int, seed: UInt64, time: T = 0.37) throws {
    mlp = try MLP<T>(arch)
    theta = [T](repeating: 0, count: mlp.parameterCount)
    // Larger than default weights so that the nonlinearity matters.
    theta = randomVector(mlp.parameterCount, seed: seed, scale: 0.6)
    input = randomVector(rows * arch.inputs, seed: seed + 1)
    self.rows = rows
    self.time = time
  }

  /// Runs the forward pass on `theta`, `input`; returns the output (rows × out).
  func forward(theta: [T]? = nil, input: [T]? = nil, workspace: MLPWorkspace<T>) throws -> [T] {
    var x = input ?? self.input
    let th = theta ?? self.theta
    return try x.withUnsafeMutableBufferPointer { xp in
      try th.withUnsafeBufferPointer { tp in
        let view = MatrixView(
          base: xp.baseAddress ?? UnsafeMutablePointer<T>.allocate(capacity: 1), rows: rows, cols: mlp.inputs)
        let out = try mlp.forward(tp, input: view, time: time, workspace: workspace)
        return (0..<rows).flatMap { r in (0..<mlp.outputs).map { out[r, $0] } }
      }
    }
  }

  /// Forward pass, then the JVP with input tangents `du` (`(rows·directions) × in`)
  /// and parameter tangents `dtheta` (`directions × P`); returns `(rows·directions) × out`.
  func jvp(
    inputTangent du: [T], parameterTangent dtheta: [T], directions: Int, workspace ws: MLPWorkspace<T>,
    tangentWorkspace tws: MLPTangentWorkspace<T>
  ) throws -> [T] {
    var x = input
    var du = du
    var dtheta = dtheta
    var out = [T](repeating: 0, count: rows * directions * mlp.outputs)
    try x.withUnsafeMutableBufferPointer { xp in
      try theta.withUnsafeBufferPointer { tp in
        try mlp.forward(
          tp, input: MatrixView(base: xp.baseAddress!, rows: rows, cols: mlp.inputs), time: time, workspace: ws)
        try du.withUnsafeMutableBufferPointer { up in
          try dtheta.withUnsafeMutableBufferPointer { pp in
            try out.withUnsafeMutableBufferPointer { op in
              try mlp.jvp(
                tp, workspace: ws,
                inputTangent: MatrixView(base: up.baseAddress!, rows: rows * directions, cols: mlp.inputs),
                parameterTangent: MatrixView(base: pp.baseAddress!, rows: directions, cols: mlp.parameterCount),
                directions: directions,
                output: MatrixView(base: op.baseAddress!, rows: rows * directions, cols: mlp.outputs),
                tangentWorkspace: tws)
            }
          }
        }
      }
    }
    return out
  }
}

final class MLPTests: XCTestCase {
  let architectures: [MLPArchitecture] = Activation.allCases.flatMap { act -> [MLPArchitecture] in
    [
      MLPArchitecture(
        inputs: 3, timeInput: true, widths: [5, 4, 2], hiddenActivation: act, outputActivation: .identity),
      MLPArchitecture(inputs: 1, timeInput: false, widths: [6, 1], hiddenActivation: act, outputActivation: act),
      MLPArchitecture(inputs: 4, timeInput: true, widths: [1], hiddenActivation: act, outputActivation: act),
      MLPArchitecture(inputs: 2, timeInput: true, widths: [7, 3], hiddenActivation: .tanh, outputActivation: act),
    ]
  }

  /// VJP (input and parameter gradients) against central finite differences of L = ⟨V, f(x; θ)⟩.
  func testVJPMatchesFiniteDifferences() throws {
    for (i, arch) in architectures.enumerated() {
      let rows = 3
      let f = try MLPFixture<Double>(arch, rows: rows, seed: UInt64(10 * i + 1))
      let ws = f.mlp.makeWorkspace(rows: rows)
      let v: [Double] = randomVector(rows * arch.outputs, seed: 777)
      func loss(theta: [Double], input: [Double]) throws -> Double {
        let out = try f.forward(theta: theta, input: input, workspace: ws)
        return zip(out, v).map { $0 * $1 }.reduce(0, +)
      }
      // Analytic.
      _ = try f.forward(workspace: ws)
      var inputGrad = [Double](repeating: 0, count: rows * arch.inputs)
      var paramGrad = [Double](repeating: 0, count: f.mlp.parameterCount)
      var vv = v
      var input = f.input
      try input.withUnsafeMutableBufferPointer { xp in
        _ = try f.theta.withUnsafeBufferPointer { tp in
          try f.mlp.forward(
            tp, input: MatrixView(base: xp.baseAddress!, rows: rows, cols: arch.inputs), time: f.time, workspace: ws)
        }
        try vv.withUnsafeMutableBufferPointer { vp in
          try inputGrad.withUnsafeMutableBufferPointer { gp in
            try paramGrad.withUnsafeMutableBufferPointer { pp in
              try f.theta.withUnsafeBufferPointer { tp in
                try f.mlp.vjp(
                  tp, workspace: ws, outputGradient: MatrixView(base: vp.baseAddress!, rows: rows, cols: arch.outputs),
                  inputGradient: MatrixView(base: gp.baseAddress!, rows: rows, cols: arch.inputs), parameterGradient: pp
                )
              }
            }
          }
        }
      }
      let fdInput = try centralDifferences(f.input, step: 1e-6) { try loss(theta: f.theta, input: $0) }
      let fdParam = try centralDifferences(f.theta, step: 1e-6) { try loss(theta: $0, input: f.input) }
      XCTAssertLessThan(relativeError(inputGrad, fdInput), 1e-7, "input gradient, \(arch)")
      XCTAssertLessThan(relativeError(paramGrad, fdParam), 1e-7, "parameter gradient, \(arch)")
    }
  }

  /// JVP with several input and parameter tangent directions at once against
  /// central finite differences along each direction.
  func testJVPMatchesFiniteDifferences() throws {
    for (i, arch) in architectures.enumerated() {
      let rows = 3
      let directions = 2
      let f = try MLPFixture<Double>(arch, rows: rows, seed: UInt64(10 * i + 2))
      let ws = f.mlp.makeWorkspace(rows: rows)
      let tws = f.mlp.makeTangentWorkspace(rows: rows, directions: directions)
      let du: [Double] = randomVector(rows * directions * arch.inputs, seed: 5)
      let dtheta: [Double] = randomVector(directions * f.mlp.parameterCount, seed: 6)
      _ = try f.forward(workspace: ws)
      let out = try f.jvp(
        inputTangent: du, parameterTangent: dtheta, directions: directions, workspace: ws, tangentWorkspace: tws)
      for tau in 0..<directions {
        // Direction τ in (input, θ) space.
        var uInput = [Double](repeating: 0, count: rows * arch.inputs)
        for r in 0..<rows {
          for c in 0..<arch.inputs { uInput[r * arch.inputs + c] = du[(r * directions + tau) * arch.inputs + c] }
        }
        let uTheta = Array(dtheta[(tau * f.mlp.parameterCount)..<((tau + 1) * f.mlp.parameterCount)])
        let x = f.input + f.theta
        let u = uInput + uTheta
        let fd = try directionalDifference(x, u, step: 1e-6) { z in
          try f.forward(theta: Array(z[f.input.count...]), input: Array(z[..<f.input.count]), workspace: ws)
        }
        var analytic = [Double]()
        for r in 0..<rows {
          for c in 0..<arch.outputs { analytic.append(out[(r * directions + tau) * arch.outputs + c]) }
        }
        XCTAssertLessThan(relativeError(analytic, fd), 1e-7, "JVP direction \(tau), \(arch)")
      }
    }
  }

  /// ⟨v, J u⟩ = ⟨Jᵀ v, u⟩ with J the Jacobian with respect to (input, θ).
  func testAdjointIdentity() throws {
    for (i, arch) in architectures.enumerated() {
      let rows = 5
      let f = try MLPFixture<Double>(arch, rows: rows, seed: UInt64(10 * i + 3))
      let ws = f.mlp.makeWorkspace(rows: rows)
      let tws = f.mlp.makeTangentWorkspace(rows: rows, directions: 1)
      let u: [Double] = randomVector(rows * arch.inputs, seed: 8)
      let ut: [Double] = randomVector(f.mlp.parameterCount, seed: 9)
      var v: [Double] = randomVector(rows * arch.outputs, seed: 10)
      let ju = try f.jvp(inputTangent: u, parameterTangent: ut, directions: 1, workspace: ws, tangentWorkspace: tws)
      var jtvInput = [Double](repeating: 0, count: rows * arch.inputs)
      var jtvTheta = [Double](repeating: 0, count: f.mlp.parameterCount)
      var input = f.input
      try input.withUnsafeMutableBufferPointer { xp in
        try f.theta.withUnsafeBufferPointer { tp in
          try f.mlp.forward(
            tp, input: MatrixView(base: xp.baseAddress!, rows: rows, cols: arch.inputs), time: f.time, workspace: ws)
          try v.withUnsafeMutableBufferPointer { vp in
            try jtvInput.withUnsafeMutableBufferPointer { gp in
              try jtvTheta.withUnsafeMutableBufferPointer { pp in
                try f.mlp.vjp(
                  tp, workspace: ws, outputGradient: MatrixView(base: vp.baseAddress!, rows: rows, cols: arch.outputs),
                  inputGradient: MatrixView(base: gp.baseAddress!, rows: rows, cols: arch.inputs), parameterGradient: pp
                )
              }
            }
          }
        }
      }
      let lhs = zip(v, ju).map { $0 * $1 }.reduce(0, +)
      let rhs = zip(jtvInput, u).map { $0 * $1 }.reduce(0, +) + zip(jtvTheta, ut).map { $0 * $1 }.reduce(0, +)
      XCTAssertLessThan(relativeError(lhs, rhs), 1e-12, "\(arch)")
    }
  }

  /// The per-row input Jacobian against finite differences.
  func testInputJacobian() throws {
    let arch = MLPArchitecture(inputs: 3, timeInput: true, widths: [8, 2], hiddenActivation: .silu)
    let rows = 4
    let f = try MLPFixture<Double>(arch, rows: rows, seed: 31)
    let ws = f.mlp.makeWorkspace(rows: rows)
    _ = try f.forward(workspace: ws)
    var input = f.input
    let jac = try input.withUnsafeMutableBufferPointer { xp in
      try f.theta.withUnsafeBufferPointer { tp -> Matrix<Double> in
        try f.mlp.forward(
          tp, input: MatrixView(base: xp.baseAddress!, rows: rows, cols: 3), time: f.time, workspace: ws)
        return try f.mlp.inputJacobian(tp, workspace: ws)
      }
    }
    XCTAssertEqual(jac.rows, rows)
    XCTAssertEqual(jac.cols, 6)
    for i in 0..<3 {
      var e = [Double](repeating: 0, count: rows * 3)
      for r in 0..<rows { e[r * 3 + i] = 1 }
      let fd = try directionalDifference(f.input, e, step: 1e-6) { try f.forward(input: $0, workspace: ws) }
      for r in 0..<rows {
        for o in 0..<2 { XCTAssertEqual(jac[r, o * 3 + i], fd[r * 2 + o], accuracy: 1e-8) }
      }
    }
  }

  /// Float passes agree with Double passes within Float tolerance.
  func testFloatAgreesWithDouble() throws {
    let arch = MLPArchitecture(inputs: 17 - 1, timeInput: true, widths: [64, 64, 16])
    let rows = 64
    let fd = try MLPFixture<Double>(arch, rows: rows, seed: 41)
    var ff = try MLPFixture<Float>(arch, rows: rows, seed: 41)
    ff.theta = fd.theta.map(Float.init)
    ff.input = fd.input.map(Float.init)
    let outD = try fd.forward(workspace: fd.mlp.makeWorkspace(rows: rows))
    let outF = try ff.forward(workspace: ff.mlp.makeWorkspace(rows: rows))
    XCTAssertLessThan(relativeError(outD, outF.map(Double.init)), 1e-5)
  }

  /// Initialisation is reproducible and within PyTorch's bounds ±1/√fan_in.
  func testInitialization() throws {
    let mlp = try MLP<Double>(MLPArchitecture(inputs: 16, timeInput: true, widths: [64, 64, 16]))
    XCTAssertEqual(mlp.parameterCount, 64 * 17 + 64 + 64 * 64 + 64 + 16 * 64 + 16)
    var a = [Double](repeating: 0, count: mlp.parameterCount)
    var b = a
    try a.withUnsafeMutableBufferPointer { try mlp.initialize($0, seed: 7) }
    try b.withUnsafeMutableBufferPointer { try mlp.initialize($0, seed: 7) }
    XCTAssertEqual(a, b)
    let layout = mlp.parameterLayout(prefix: "drift")
    XCTAssertEqual(
      layout.map(\.name),
      ["drift.0.weight", "drift.0.bias", "drift.1.weight", "drift.1.bias", "drift.2.weight", "drift.2.bias"])
    XCTAssertEqual(layout[0].shape, [64, 17])
    for s in layout {
      let fanIn = s.name.hasPrefix("drift.0") ? 17.0 : 64.0
      let bound = 1 / fanIn.squareRoot()
      XCTAssertTrue(a[s.range].allSatisfy { abs($0) <= bound }, s.name)
      XCTAssertGreaterThan(a[s.range].map(abs).max()!, 0.8 * bound, s.name)
    }
  }

  func testBadInputGivesClearErrors() throws {
    let mlp = try MLP<Double>(MLPArchitecture(inputs: 3, timeInput: true, widths: [4, 2]))
    let ws = mlp.makeWorkspace(rows: 8)
    let theta = [Double](repeating: 0.1, count: mlp.parameterCount)
    let x = Matrix<Double>(rows: 8, cols: 3)
    let wrongCols = Matrix<Double>(rows: 8, cols: 5)
    try theta.withUnsafeBufferPointer { tp in
      XCTAssertNil(
        expectError(containing: ["8×5", "3 input"]) { try mlp.forward(tp, input: wrongCols.view, workspace: ws) })
      let tooMany = Matrix<Double>(rows: 9, cols: 3)
      XCTAssertNil(
        expectError(containing: ["9 rows", "8"]) { try mlp.forward(tp, input: tooMany.view, workspace: ws) })
      x[2, 1] = .nan
      XCTAssertNil(
        expectError(containing: ["input row 2", "NaN"]) { try mlp.forward(tp, input: x.view, workspace: ws) })
      x[2, 1] = 0
      XCTAssertNil(
        expectError(containing: ["time"]) { try mlp.forward(tp, input: x.view, time: .infinity, workspace: ws) })
      try mlp.forward(tp, input: x.view, workspace: ws)
      let g = Matrix<Double>(rows: 8, cols: 3)
      XCTAssertNil(expectError(containing: ["8×3", "8×2"]) { try mlp.vjp(tp, workspace: ws, outputGradient: g.view) })
      let g2 = Matrix<Double>(rows: 8, cols: 2)
      XCTAssertNil(
        expectError(containing: ["groups = 3"]) { try mlp.vjp(tp, workspace: ws, outputGradient: g2.view, groups: 3) })
    }
    let short = [Double](repeating: 0, count: mlp.parameterCount - 1)
    try short.withUnsafeBufferPointer { tp in
      XCTAssertNil(
        expectError(containing: ["\(mlp.parameterCount - 1) elements", "\(mlp.parameterCount) parameters"]) {
          try mlp.forward(tp, input: x.view, workspace: ws)
        })
    }
    XCTAssertNil(
      expectError(containing: ["widths"]) {
        _ = try MLP<Double>(MLPArchitecture(inputs: 3, timeInput: false, widths: [4, 0]))
      })
  }
}
