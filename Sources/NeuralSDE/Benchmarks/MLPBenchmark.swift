/// Measures one MLP's forward pass against the GEMMs it contains (the "GEMM
/// floor"), and the elementwise tanh kernel against one layer's GEMM, in one
/// interleaved run.
public struct MLPBenchmark<Scalar: BLASScalar> {
  public struct Result: Sendable, Codable {
    public var dtype: String
    public var rows: Int
    public var chunks: Int
    public var forward: TimingSummary
    public var gemmFloor: TimingSummary
    public var tanhWithDerivative: TimingSummary
    public var hiddenGEMM: TimingSummary
    public var forwardOverGEMMFloor: Double { forward.median / gemmFloor.median }
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
    // GEMM-only: the same products into scratch outputs.
    let width = mlp.layers.map(\.outputs).max() ?? 1
    let scratch = parts.map { _ in (Matrix<Scalar>(rows: rows, cols: width), Matrix<Scalar>(rows: rows, cols: width)) }
    let hidden = architecture.widths.first ?? 1
    let h = Matrix<Scalar>(rows: rows, cols: hidden) { r, c in Scalar(Double((r + c) % 13) / 6.5 - 1) }
    let hOut = Matrix<Scalar>(rows: rows, cols: hidden)
    let hDer = Matrix<Scalar>(rows: rows, cols: hidden)
    let wHH = Matrix<Scalar>(rows: hidden, cols: hidden) { r, c in Scalar(Double((r * c) % 5) / 5) }

    return try params.withUnsafeBufferPointer { tp in
      let forward: () throws -> Void = {
        Threading.concurrentPerform(parts.count) { i in
          mlp.forwardUnchecked(tp.baseAddress!, input: x.rows(parts[i]), time: 0.5, workspace: workspaces[i])
        }
      }
      let floor: () throws -> Void = {
        Threading.concurrentPerform(parts.count) { i in
          let m = parts[i].count
          var a = UnsafePointer(x.rows(parts[i]).base)
          var lda = architecture.inputs
          var flip = false
          for l in mlp.layers {
            let out = (flip ? scratch[i].1 : scratch[i].0).base
            flip.toggle()
            Scalar.gemm(
              transA: false, transB: true, m: m, n: l.outputs, k: l.inputs, alpha: 1, a: a, lda: lda,
              b: tp.baseAddress! + l.weightOffset, ldb: l.weightStride, beta: 0, c: out, ldc: l.outputs)
            a = UnsafePointer(out)
            lda = l.outputs
          }
        }
      }
      let tanhBody: () throws -> Void = {
        Scalar.activation(Activation.tanh.kernelKind, n: h.count, x: h.base, y: hOut.base, dy: hDer.base, d2y: nil)
      }
      let gemmBody: () throws -> Void = {
        Scalar.gemm(
          transA: false, transB: true, m: rows, n: hidden, k: hidden, alpha: 1, a: h.base, lda: hidden,
          b: wHH.base, ldb: hidden, beta: 0, c: hOut.base, ldc: hidden)
      }
      let t = try measureInterleaved(repetitions: repetitions, [forward, floor, tanhBody, gemmBody])
      return Result(
        dtype: Scalar.dtypeName, rows: rows, chunks: parts.count, forward: t[0], gemmFloor: t[1],
        tanhWithDerivative: t[2], hiddenGEMM: t[3])
    }
  }
}
