import Foundation
import NeuralSDE

/// Measures one MLP's forward pass against the GEMMs it contains (the "GEMM
/// floor"), forward + VJP on the fused kernels against the CBLAS path, and the
/// elementwise tanh kernel against one layer's GEMM, in one interleaved run.
public struct MLPBenchmark<Scalar: SDEScalar> {
  public struct Result: Sendable, Codable {
    public var dtype: String
    public var rows: Int
    public var chunks: Int
    public var forward: TimingSummary
    public var gemmFloor: TimingSummary
    public var tanhWithDerivative: TimingSummary
    public var hiddenGEMM: TimingSummary
    /// Forward + VJP (input and parameter gradients) on `MLPKernels.fused` and on `.blas`.
    public var fusedPasses: TimingSummary
    public var cblasPasses: TimingSummary
    public var forwardOverGEMMFloor: Double { forward.median / gemmFloor.median }
    public var fusedOverCBLAS: Double { fusedPasses.median / cblasPasses.median }
    public var tanhOverGEMM: Double { tanhWithDerivative.median / hiddenGEMM.median }
  }

  public let architecture: MLPArchitecture
  public let rows: Int
  /// Row chunks run concurrently (1 = single core).
  public let chunks: Int

  public init(architecture: MLPArchitecture, rows: Int, chunks: Int = 1) {
    self.architecture = architecture
    self.rows = rows
    self.chunks = chunks
  }

  public func run(repetitions: Int = 20) throws -> Result {
    let mlp = try MLP<Scalar>(architecture)
    let theta = [Scalar](repeating: 0, count: mlp.parameterCount)
    var params = theta
    try params.withUnsafeMutableBufferPointer { try mlp.initialize($0, seed: 1) }
    let x = Matrix<Scalar>(rows: rows, cols: architecture.inputs) { r, c in
      Scalar(Double((r * 7 + c * 3) % 11) / 11 - 0.5)
    }
    let parts = Threading.partition(rows, into: chunks)
    let workspaces = parts.map { mlp.makeWorkspace(rows: $0.count) }
    // GEMM-only: the same products on the same shapes.
    let floors = parts.map { MLPGEMMFloor(mlp, rows: $0.count) }
    let hidden = architecture.widths.first ?? 1
    let h = Matrix<Scalar>(rows: rows, cols: hidden) { r, c in Scalar(Double((r + c) % 13) / 6.5 - 1) }
    let hOut = Matrix<Scalar>(rows: rows, cols: hidden)
    let hDer = Matrix<Scalar>(rows: rows, cols: hidden)
    let wHH = Matrix<Scalar>(rows: hidden, cols: hidden) { r, c in Scalar(Double((r * c) % 5) / 5) }
    let outputGradient = Matrix<Scalar>(rows: rows, cols: mlp.outputs) { r, c in Scalar(Double((r + 2 * c) % 7) / 7) }
    let inputGradient = Matrix<Scalar>(rows: rows, cols: architecture.inputs)
    let parameterGradients = parts.map { _ in Matrix<Scalar>(rows: 1, cols: mlp.parameterCount) }
    let preferred = mlp.kernels
    defer { mlp.kernels = preferred }

    return try params.withUnsafeBufferPointer { tp in
      let forward: () throws -> Void = {
        Threading.concurrentPerform(parts.count) { i in
          mlp.forwardUnchecked(tp.baseAddress!, input: x.rows(parts[i]), time: 0.5, workspace: workspaces[i])
        }
      }
      let floor: () throws -> Void = {
        Threading.concurrentPerform(parts.count) { i in floors[i].run(tp.baseAddress!) }
      }
      let tanhBody: () throws -> Void = {
        Scalar.activation(Activation.tanh.kernelKind, n: h.count, x: h.base, y: hOut.base, dy: hDer.base, d2y: nil)
      }
      let gemmBody: () throws -> Void = {
        Scalar.gemm(
          transA: false, transB: true, m: rows, n: hidden, k: hidden, alpha: 1, a: h.base, lda: hidden,
          b: wHH.base, ldb: hidden, beta: 0, c: hOut.base, ldc: hidden)
      }
      func passes(_ kernels: MLPKernels) -> () throws -> Void {
        {
          mlp.kernels = kernels
          Threading.concurrentPerform(parts.count) { i in
            mlp.forwardUnchecked(tp.baseAddress!, input: x.rows(parts[i]), time: 0.5, workspace: workspaces[i])
            mlp.vjpUnchecked(
              tp.baseAddress!, workspace: workspaces[i], outputGradient: outputGradient.rows(parts[i]),
              inputGradient: inputGradient.rows(parts[i]), parameterGradient: parameterGradients[i].base)
          }
          mlp.kernels = preferred
        }
      }
      let t = try measureInterleaved(
        repetitions: repetitions, [forward, floor, tanhBody, gemmBody, passes(.fused), passes(.blas)])
      return Result(
        dtype: Scalar.dtypeName, rows: rows, chunks: parts.count, forward: t[0], gemmFloor: t[1],
        tanhWithDerivative: t[2], hiddenGEMM: t[3], fusedPasses: t[4], cblasPasses: t[5])
    }
  }
}

/// The fused kernels' tile product alone on one core, on the shapes of an
/// MLP's layers (forward `A·Wᵀ`, VJP `gzᵀ·a` and `gz·W` over one tile), as a
/// share of the core's measured FMA peak.
public struct TileProductBenchmark<Scalar: SDEScalar> {
  public struct Shape: Sendable, Codable {
    /// `C[rows × cols] (+)= A[rows × k]·B[k × cols]`; `transposedA`: A read column-wise.
    public var pass: String
    public var rows: Int
    public var cols: Int
    public var k: Int
    public var transposedA: Bool
    public var gflops: Double
    public var fractionOfPeak: Double
  }

  public let architecture: MLPArchitecture
  public init(architecture: MLPArchitecture) { self.architecture = architecture }

  /// Each layer's three products over one tile of the fused passes, timed on
  /// the calling thread (hot cache, weights packed), against `peak` FLOP/s.
  public func run(peak: Double, repetitions: Int = 20) throws -> [Shape] {
    let mlp = try MLP<Scalar>(architecture)
    let tile = mlp.tileRows
    var inputs = architecture.inputs
    var shapes: [Shape] = []
    for width in architecture.widths {
      for (pass, rows, cols, k, transposed) in [
        ("forward", tile, width, inputs, false), ("VJP ∂W", width, inputs, tile, true),
        ("VJP g_in", tile, inputs, width, false),
      ] where rows > 0 && cols > 0 && k > 0 {
        let a = Matrix<Scalar>(rows: transposed ? k : rows, cols: transposed ? rows : k) { r, c in
          Scalar(Double((r * 3 + c) % 7) / 7 - 0.5)
        }
        let b = Matrix<Scalar>(rows: k, cols: cols) { r, c in Scalar(Double((r + 5 * c) % 11) / 11 - 0.5) }
        let c = Matrix<Scalar>(rows: rows, cols: cols)
        let bias = Matrix<Scalar>(rows: 1, cols: cols)
        let flops = 2 * Double(rows * cols * k)
        // Enough products per timed repetition to last ~1 ms.
        let inner = Swift.max(1, Int(1e-3 * peak / flops))
        let t = try measure(warmup: 2, repetitions: repetitions) {
          for _ in 0..<inner {
            Scalar.gemmTile(
              rows: rows, cols: cols, k: k, a: a.base, ars: transposed ? 1 : k, aks: transposed ? rows : 1,
              b: b.base, ldb: cols, bias: transposed ? nil : bias.base, accumulate: transposed, c: c.base, ldc: cols)
          }
        }
        let rate = flops * Double(inner) / (t.median / 1e3)
        shapes.append(
          Shape(
            pass: pass, rows: rows, cols: cols, k: k, transposedA: transposed, gflops: rate / 1e9,
            fractionOfPeak: rate / peak))
      }
      inputs = width
    }
    return shapes
  }
}
