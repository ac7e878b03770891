import Foundation
import XCTest
import _NSDETestSupport

/// The fused row-tile kernels against the CBLAS path and a naive product, at
/// every instruction-set level the CPU offers (AVX-512, AVX2 + FMA, baseline).
final class FusedKernelTests: XCTestCase {
  override func tearDown() {
    MLPKernels.forceInstructionSetLevel(nil)
    super.tearDown()
  }

  /// `gemmTile` equals a naive product for odd shapes, both A layouts, and
  /// each initial value (bias row, accumulate into C, zero); C's padding
  /// columns are left untouched.
  func testTileProductMatchesNaive() {
    for level in MLPKernels.availableInstructionSetLevels {
      MLPKernels.forceInstructionSetLevel(level)
      var seed: UInt64 = 10
      for rows in [1, 5, 6, 7, 13, 50] {
        for cols in [1, 3, 8, 15, 16, 17, 33, 65, 130] {
          for k in [0, 1, 3, 17, 130, 300] {
            for mode in 0..<3 {
              seed += 1
              let transposed = seed % 2 == 0
              let lda = (transposed ? rows : k) + 2
              let a: [Double] = randomVector((transposed ? k : rows) * lda + 1, seed: seed)
              let ldb = cols + 3
              let b: [Double] = randomVector(Swift.max(k, 1) * ldb, seed: seed + 1)
              let bias: [Double] = randomVector(cols, seed: seed + 2)
              let ldc = cols + 1
              var c: [Double] = randomVector(rows * ldc, seed: seed + 3)
              let before = c
              let (ars, aks) = transposed ? (1, lda) : (lda, 1)
              a.withUnsafeBufferPointer { ap in
                b.withUnsafeBufferPointer { bp in
                  bias.withUnsafeBufferPointer { biasp in
                    c.withUnsafeMutableBufferPointer { cp in
                      Double.gemmTile(
                        rows: rows, cols: cols, k: k, a: ap.baseAddress!, ars: ars, aks: aks, b: bp.baseAddress!,
                        ldb: ldb, bias: mode == 0 ? biasp.baseAddress! : nil, accumulate: mode == 1,
                        c: cp.baseAddress!, ldc: ldc)
                    }
                  }
                }
              }
              var worst = 0.0
              for r in 0..<rows {
                for n in 0..<ldc {
                  if n >= cols {
                    XCTAssertEqual(c[r * ldc + n], before[r * ldc + n], "padding written")
                    continue
                  }
                  var sum = mode == 0 ? bias[n] : mode == 1 ? before[r * ldc + n] : 0
                  var scale = abs(sum)
                  for j in 0..<k {
                    let term = a[r * ars + j * aks] * b[j * ldb + n]
                    sum += term
                    scale += abs(term)
                  }
                  worst = Swift.max(worst, abs(c[r * ldc + n] - sum) / Swift.max(scale, 1e-300))
                }
              }
              XCTAssertLessThan(
                worst, 1e-15,
                "level \(level), rows \(rows), cols \(cols), k \(k), mode \(mode), transposed \(transposed)")
            }
          }
        }
      }
    }
  }

  /// Forward, VJP (input gradient, accumulated or not, and parameter gradient)
  /// of the fused kernels equal the CBLAS path within 1e-13 (Double) / 1e-5
  /// (Float) relative, for every activation, odd widths and odd row counts
  /// (1031 rows span several tiles for every architecture here).
  func testFusedMLPMatchesBLAS() throws {
    let widthSets: [[Int]] = [[1], [3, 1], [17, 65, 3], [65, 130, 17], [130, 1]]
    for level in MLPKernels.availableInstructionSetLevels {
      MLPKernels.forceInstructionSetLevel(level)
      for (i, widths) in widthSets.enumerated() {
        for (ai, activation) in Activation.allCases.enumerated() {
          let arch = MLPArchitecture(
            inputs: [1, 3, 17, 2, 0][i], timeInput: i % 2 == 0 || i == 4, widths: widths,
            hiddenActivation: activation, outputActivation: i == 2 ? .softplus : .identity)
          for rows in [1, 7, 97, 203, 1031] {
            let seed = UInt64(1000 * i + 10 * rows + ai)
            let what =
              "level \(level) \(arch.inputs)\(arch.timeInput ? "+t" : "") → \(arch.widths) \(activation) rows \(rows)"
            let double = try passes(Double.self, arch, rows: rows, seed: seed)
            let float = try passes(Float.self, arch, rows: rows, seed: seed)
            for (j, name) in Self.outputs.enumerated() {
              XCTAssertLessThan(relativeError(double.fused[j], double.blas[j]), 1e-13, "Double \(what): \(name)")
              if rows <= 203 {
                XCTAssertLessThan(relativeError(float.fused[j], float.blas[j]), 1e-5, "Float \(what): \(name)")
              } else {
                // Sums over 1031 rows of random-sign gradients cancel: two Float summation
                // orders can differ by more than 1e-5 there, so each is held to the
                // Double result instead — the fused one no worse than CBLAS.
                let fusedError = relativeError(float.fused[j].map(Double.init), double.blas[j])
                let blasError = relativeError(float.blas[j].map(Double.init), double.blas[j])
                XCTAssertLessThan(fusedError, Swift.max(1e-5, 2 * blasError), "Float \(what): \(name)")
              }
            }
          }
        }
      }
    }
  }

  static let outputs = [
    "output", "input gradient", "parameter gradient", "accumulated input gradient", "parameter gradient (2nd)",
  ]

  /// Forward and two VJPs (input gradient overwritten, then accumulated; parameter
  /// gradient added to a nonzero start) on the CBLAS path and the fused kernels,
  /// from inputs drawn in Double and rounded to T.
  private func passes<T: SDEScalar>(
    _: T.Type, _ arch: MLPArchitecture, rows: Int, seed: UInt64
  ) throws -> (blas: [[T]], fused: [[T]]) {
    let mlp = try MLP<T>(arch)
    let theta: [T] = randomVector(mlp.parameterCount, seed: seed, scale: 0.6)
    let input: Matrix<T> = randomMatrix(rows, Swift.max(arch.inputs, 1), seed: seed + 1)
    let view = MatrixView(base: input.base, rows: rows, cols: arch.inputs, ld: input.cols)
    let outGrad: Matrix<T> = randomMatrix(rows, mlp.outputs, seed: seed + 2)
    let inGradStart: Matrix<T> = randomMatrix(rows, Swift.max(arch.inputs, 1), seed: seed + 3)
    var results: [[[T]]] = []
    for kernels in [MLPKernels.blas, .fused] {
      mlp.kernels = kernels
      let ws = mlp.makeWorkspace(rows: rows)
      var out: [T] = []
      var grads: [[T]] = []
      try theta.withUnsafeBufferPointer { tp in
        let o = try mlp.forward(tp, input: view, time: 0.37, workspace: ws)
        out = (0..<rows).flatMap { r in (0..<mlp.outputs).map { o[r, $0] } }
        for accumulate in [false, true] {
          let gin = Matrix<T>(rows: rows, cols: Swift.max(arch.inputs, 1))
          gin.base.update(from: inGradStart.base, count: gin.count)
          let pg = Matrix<T>(rows: 1, cols: mlp.parameterCount)
          pg.base.update(from: theta.map { $0 * 0.5 }, count: pg.count)
          mlp.vjpUnchecked(
            tp.baseAddress!, workspace: ws, outputGradient: outGrad.view,
            inputGradient: MatrixView(base: gin.base, rows: rows, cols: arch.inputs, ld: gin.cols),
            parameterGradient: pg.base, accumulateInputGradient: accumulate)
          grads.append(gin.elements)
          grads.append(pg.elements)
        }
      }
      results.append([out] + grads)
    }
    return (results[0], results[1])
  }

  /// Gradients through the solver with fused kernels equal the CBLAS path for
  /// every noise type and posterior control (and forward solves likewise).
  func testFusedSolverGradientsMatchBLAS() throws {
    let types: [NoiseType] = [.diagonal, .additive, .general(noiseDimension: 2), .general(noiseDimension: 4)]
    for type in types {
      for posterior in [PosteriorControl.meanField, .feedback] {
        let f = try GradientFixture(noise: type, posterior: posterior)
        var results: [(loss: Double, gradient: [Double], final: [Double])] = []
        for kernels in [MLPKernels.blas, .fused] {
          for n in f.model.networks { n.mlp.kernels = kernels }
          let g = try BackpropThroughSolver(chunks: 2).gradient(
            of: f.model, data: f.data, noise: f.noise, grid: f.grid, pathsPerPoint: f.k, objective: .freeEnergy)
          let solve = try EulerMaruyama().solvePosterior(
            f.model, data: f.data, noise: f.noise,
            options: .init(grid: f.grid, pathsPerPoint: f.k, chunks: 2))
          results.append((g.loss, g.gradient, solve.finalStates.elements))
        }
        let label = "\(type), \(posterior)"
        XCTAssertLessThan(relativeError(results[1].loss, results[0].loss), 1e-13, label)
        XCTAssertLessThan(relativeError(results[1].gradient, results[0].gradient), 1e-13, label)
        XCTAssertLessThan(relativeError(results[1].final, results[0].final), 1e-13, label)
      }
    }
  }
}
