// The fused row-tile passes of `MLP` (`MLPKernels.fused`).
//
// Rows run in tiles of `tileRows` through every layer while the tile's
// activations stay in cache (L2): per layer one register-blocked tile product
// (`SDEScalar.gemmTile`, the bias loaded as the accumulators' initial value)
// then the activation over the tile. The VJP runs tile by tile too:
// `gz = g ⊙ φ'(z)`, `∂W[:, :in] += gzᵀ·a`, `∂c += Σ_rows gz` (and the time
// column `+= t·Σ_rows gz`), `g_in = gz·W[:, :in]`.

import Foundation
import NSDEKernels

/// The kernels an MLP's forward and VJP passes run on.
///
/// - `fused`: row tiles through every layer with the tile's activations in
///   cache (the register-blocked `SDEScalar.gemmTile`, AVX-512 / AVX2 + FMA /
///   baseline chosen at run time); the forward reads the weights transposed,
///   packed once per solve by `MLP.pack` (or per pass when not packed).
/// - `blas`: one CBLAS (OpenBLAS) GEMM per layer over all rows, then one
///   elementwise pass. The general path, and the reference the fused path is
///   tested against.
///
/// JVPs and VJPs with several row groups always use CBLAS.
public enum MLPKernels: String, Sendable, CaseIterable, Codable {
  case fused, blas

  /// Widths up to which the fused kernels are chosen. Measured with
  /// `nsde-bench kernels --hidden H` (forward + VJP, M = 2048, 2-core AMD EPYC
  /// with AVX-512): fused / CBLAS = 0.85–0.92 at H = 64, 0.94–0.98 at 128,
  /// 0.97–1.01 at 256, 1.03–1.10 at 512 (docs/PEERS.md).
  public static let fusedMaxWidth = 256

  /// `fused` on CPUs with AVX2 + FMA or AVX-512 when every layer is at most
  /// `fusedMaxWidth` wide, else `blas` (OpenBLAS's own kernels and cache
  /// blocking beat the baseline-ISA tile code and very wide layers); the
  /// environment variable `NSDE_KERNELS=fused|blas` overrides.
  public static func preferred(for architecture: MLPArchitecture) -> MLPKernels {
    if let forced = environmentOverride { return forced }
    let widest = Swift.max(architecture.inputs, architecture.widths.max() ?? 0)
    return widest <= fusedMaxWidth && instructionSetLevel >= 3 ? .fused : .blas
  }

  /// `NSDE_KERNELS` if set to a known value.
  static let environmentOverride: MLPKernels? = {
    guard let raw = getenv("NSDE_KERNELS") else { return nil }
    return MLPKernels(rawValue: String(cString: raw))
  }()

  /// The instruction-set level the fused kernels run: 4 (AVX-512), 3 (AVX2 + FMA), 1 (baseline).
  public static var instructionSetLevel: Int { Int(nsde_tile_isa_level()) }

  /// Runs the fused kernels' code for a lower level (1 baseline, 3 AVX2 + FMA)
  /// until called with nil, which restores the detected level; returns the
  /// level now in use. For tests and benchmarks: not to be changed while passes run.
  @discardableResult
  package static func forceInstructionSetLevel(_ level: Int?) -> Int {
    Int(nsde_tile_set_isa_level(Int32(level ?? 0)))
  }

  /// The levels this CPU can run (1, then 3 and 4 where supported).
  package static var availableInstructionSetLevels: [Int] {
    let best = forceInstructionSetLevel(nil)
    return [1, 3, 4].filter { $0 <= best }
  }
}

extension MLP {
  /// Rows per tile: a tile's activations of the widest layer take about
  /// 256 KiB (L2; the VJP's weight-gradient products sum over the tile's rows,
  /// so taller tiles amortise their accumulators), 48…1020 rows, a multiple of
  /// the kernel's 6-row blocks. Measured with `nsde-bench kernels`: 32 KiB
  /// tiles (L1) were 5–15 % slower at H = 64–256, 512 KiB no faster.
  static func tileRows(for architecture: MLPArchitecture) -> Int {
    let width = Swift.max(architecture.inputs, architecture.widths.max() ?? 0, 1)
    return Swift.min(Swift.max(6 * ((256 * 1024 / MemoryLayout<Scalar>.stride / width) / 6), 48), 1020)
  }

  /// Packs every layer's weights transposed (`W_lᵀ[:in, :]`, `in_l × w_l`) into
  /// the workspace and keeps them until `unpack`: a solve packs once, every
  /// step's forward pass reads them. Call again after the parameters change.
  package func pack(_ theta: UnsafePointer<Scalar>, workspace ws: MLPWorkspace<Scalar>) {
    guard kernels == .fused else { return }
    var dst = ws.packed.base
    for l in layers {
      let w = theta + l.weightOffset
      for i in 0..<l.inputs {
        for j in 0..<l.outputs { dst[i &* l.outputs &+ j] = w[j &* l.weightStride &+ i] }
      }
      dst += l.inputs * l.outputs
    }
    ws.packedTheta = theta
  }

  /// Forgets the packed weights (the next fused forward packs again).
  package func unpack(_ ws: MLPWorkspace<Scalar>) { ws.packedTheta = nil }

  /// Fused forward (see `MLPKernels.fused`); same contract as `forwardUnchecked`.
  func forwardFused(
    _ theta: UnsafePointer<Scalar>, input: MatrixView<Scalar>, time: Scalar, workspace ws: MLPWorkspace<Scalar>
  ) {
    let m = input.rows
    let packedHere = ws.packedTheta != theta
    if packedHere { pack(theta, workspace: ws) }
    defer { if packedHere { ws.packedTheta = nil } }
    // The first layer's bias with the time folded in (only it reads the time),
    // computed once for all tiles.
    let firstBias = effectiveBias(layers[0], theta, time: time, scratch: ws.vector.base)
    let tile = tileRows
    // On a tape (several slots) the tile runs through the layers in the
    // cache-resident scratch buffers and each layer's result is streamed to
    // its slot (written once, read by the backward pass much later).
    let taped = ws.slots > 1
    var r0 = 0
    while r0 < m {
      let rows = Swift.min(tile, m - r0)
      var a = UnsafePointer(input.base + r0 * input.ld)
      var lda = input.ld
      var p = UnsafePointer(ws.packed.base)
      var useA = true
      for k in 0..<layers.count {
        let l = layers[k]
        // On a tape the layer is computed in scratch and then streamed to its
        // slot; an output kept once for all slots is written in place.
        let onTape = taped && (k < layers.count - 1 || ws.tapesOutput)
        let z = onTape ? (useA ? ws.scratchA : ws.scratchB).base : ws.activation(k) + r0 * l.outputs
        if onTape { useA.toggle() }
        let da: UnsafeMutablePointer<Scalar>? =
          l.activation.storesDerivative ? (onTape ? ws.derivativeScratch.base : ws.derivative(k) + r0 * l.outputs) : nil
        Scalar.gemmTile(
          rows: rows, cols: l.outputs, k: l.inputs, a: a, ars: lda, aks: 1, b: p, ldb: l.outputs,
          bias: k == 0 ? firstBias : theta + l.biasOffset,
          accumulate: false, c: z, ldc: l.outputs)
        if l.activation != .identity {
          Scalar.biasActivation(l.activation.kernelKind, rows: rows, cols: l.outputs, z: z, bias: nil, da: da)
        }
        if onTape && !ws.discardsActivations {
          Scalar.streamCopy(n: rows * l.outputs, from: z, to: ws.activation(k) + r0 * l.outputs)
          if let da { Scalar.streamCopy(n: rows * l.outputs, from: da, to: ws.derivative(k) + r0 * l.outputs) }
        } else if onTape && k == layers.count - 1 {
          // Only the output, read right away by the step.
          (ws.activation(k) + r0 * l.outputs).update(from: z, count: rows * l.outputs)
        }
        p += l.inputs * l.outputs
        a = UnsafePointer(z)
        lda = l.outputs
      }
      r0 += tile
    }
  }

  /// Fused VJP (see `MLPKernels.fused`); same contract as `vjpUnchecked` with one group.
  func vjpFused(
    _ theta: UnsafePointer<Scalar>, workspace ws: MLPWorkspace<Scalar>, input: MatrixView<Scalar>,
    outputGradient: MatrixView<Scalar>, inputGradient: MatrixView<Scalar>?,
    parameterGradient pg: UnsafeMutablePointer<Scalar>?, accumulateInputGradient: Bool
  ) {
    let m = ws.rows
    let tile = tileRows
    let colsum = ws.vector.base + ws.vector.cols
    var r0 = 0
    while r0 < m {
      let rows = Swift.min(tile, m - r0)
      var g = UnsafePointer(outputGradient.base + r0 * outputGradient.ld)
      var ldg = outputGradient.ld
      var useA = true
      for k in stride(from: layers.count - 1, through: 0, by: -1) {
        let l = layers[k]
        let w = theta + l.weightOffset
        let (gz, ldgz) = scaledOutputGradient(k, rows: rows, from: r0, g: g, ldg: ldg, workspace: ws, useA: &useA)
        if let pg {
          // ∂W[:, :in] += gzᵀ·a over the tile's rows (A = gzᵀ: unit row stride).
          let (a, lda) = layerInput(k, from: r0, input: input, workspace: ws)
          if l.inputs > 0 {
            Scalar.gemmTile(
              rows: l.outputs, cols: l.inputs, k: rows, a: gz, ars: 1, aks: ldgz, b: a, ldb: lda, bias: nil,
              accumulate: true, c: pg + l.weightOffset, ldc: l.weightStride)
          }
          // ∂c += column sums of gz; the time column += t·(column sums).
          if l.hasTime {
            colsum.setZero(count: l.outputs)
            Scalar.addColumnSums(rows: rows, cols: l.outputs, a: gz, lda: ldgz, into: colsum)
            let bias = pg + l.biasOffset
            let timeColumn = pg + l.weightOffset + l.inputs
            let t = ws.time
            for j in 0..<l.outputs {
              bias[j] += colsum[j]
              timeColumn[j &* l.weightStride] += t * colsum[j]
            }
          } else {
            Scalar.addColumnSums(rows: rows, cols: l.outputs, a: gz, lda: ldgz, into: pg + l.biasOffset)
          }
        }
        // g_in = gz·W[:, :in] (W row-major [out, stride] is B as stored).
        if k > 0 {
          let dst = (useA ? ws.scratchA : ws.scratchB).base
          useA.toggle()
          Scalar.gemmTile(
            rows: rows, cols: l.inputs, k: l.outputs, a: gz, ars: ldgz, aks: 1, b: w, ldb: l.weightStride,
            bias: nil, accumulate: false, c: dst, ldc: l.inputs)
          g = UnsafePointer(dst)
          ldg = l.inputs
        } else if let gin = inputGradient, l.inputs > 0 {
          Scalar.gemmTile(
            rows: rows, cols: l.inputs, k: l.outputs, a: gz, ars: ldgz, aks: 1, b: w, ldb: l.weightStride,
            bias: nil, accumulate: accumulateInputGradient, c: gin.base + r0 * gin.ld, ldc: gin.ld)
        }
      }
      r0 += tile
    }
  }
}
