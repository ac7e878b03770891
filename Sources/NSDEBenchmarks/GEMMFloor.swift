import Foundation
import NeuralSDE

/// The matrix products of an MLP forward pass alone, on the same shapes and
/// BLAS: the "GEMM floor" a pass is compared against.
final class MLPGEMMFloor<Scalar: BLASScalar>: @unchecked Sendable {
  let mlp: MLP<Scalar>
  let rows: Int
  let input: Matrix<Scalar>
  let scratchA: Matrix<Scalar>
  let scratchB: Matrix<Scalar>

  init(_ mlp: MLP<Scalar>, rows: Int) {
    self.mlp = mlp
    self.rows = rows
    input = Matrix(rows: rows, cols: Swift.max(mlp.inputs, 1)) { r, c in Scalar(Double((r + 3 * c) % 7) / 7) }
    let w = Swift.max(mlp.maxWidth, mlp.inputs, 1)
    scratchA = Matrix(rows: rows, cols: w)
    scratchB = Matrix(rows: rows, cols: w)
  }

  /// Runs the forward GEMMs with parameters `theta`.
  func run(_ theta: UnsafePointer<Scalar>) {
    var a = UnsafePointer(input.base)
    var lda = input.cols
    var flip = false
    for l in mlp.layers where l.inputs > 0 {
      let out = (flip ? scratchB : scratchA).base
      flip.toggle()
      Scalar.gemm(
        transA: false, transB: true, m: rows, n: l.outputs, k: l.inputs, alpha: 1, a: a, lda: lda,
        b: theta + l.weightOffset, ldb: l.weightStride, beta: 0, c: out, ldc: l.outputs)
      a = UnsafePointer(out)
      lda = l.outputs
    }
  }

  /// Runs the backward-pass GEMMs of a VJP: per layer the weight-gradient
  /// product (`out × in × rows`) and, where needed, the input-gradient product
  /// (`rows × in × out`; layer 0 only if `inputGradient`).
  func runBackward(_ theta: UnsafePointer<Scalar>, gradient: UnsafeMutablePointer<Scalar>, inputGradient: Bool) {
    for (k, l) in mlp.layers.enumerated() where l.inputs > 0 {
      let g = UnsafePointer(scratchA.base)
      let a = UnsafePointer(k == 0 ? input.base : scratchB.base)
      Scalar.gemm(
        transA: true, transB: false, m: l.outputs, n: l.inputs, k: rows, alpha: 1, a: g, lda: l.outputs, b: a,
        ldb: l.inputs, beta: 1, c: gradient + l.weightOffset, ldc: l.weightStride)
      if k > 0 || inputGradient {
        Scalar.gemm(
          transA: false, transB: false, m: rows, n: l.inputs, k: l.outputs, alpha: 1, a: g, lda: l.outputs,
          b: theta + l.weightOffset, ldb: l.weightStride, beta: 0, c: scratchB.base, ldc: l.inputs)
      }
    }
  }
}

/// The GEMM floor of a whole solve over one chunk: per step the posterior
/// drift (one row per data point, or per path with feedback control), drift
/// and diffusion forward products, then the decoder; with `backward`, also
/// every product of the backprop gradient.
final class SolveGEMMFloor<Scalar: BLASScalar>: @unchecked Sendable {
  let model: NeuralSDEModel<Scalar>
  let drift: MLPGEMMFloor<Scalar>
  let diffusion: MLPGEMMFloor<Scalar>
  let posterior: MLPGEMMFloor<Scalar>
  let decoder: MLPGEMMFloor<Scalar>
  /// Scratch parameter gradient for the backward products.
  let gradient: Matrix<Scalar>
  let additive: Bool
  let feedback: Bool

  init(model: NeuralSDEModel<Scalar>, points: Int, pathsPerPoint k: Int) {
    self.model = model
    additive = model.configuration.noise == .additive
    drift = MLPGEMMFloor(model.drift, rows: points * k)
    diffusion = MLPGEMMFloor(model.diffusion, rows: additive ? 1 : points * k)
    feedback = model.configuration.posteriorControl == .feedback
    posterior = MLPGEMMFloor(model.posteriorDrift, rows: feedback ? points * k : points)
    decoder = MLPGEMMFloor(model.decoder, rows: points * k)
    gradient = Matrix(rows: 1, cols: model.parameterCount)
  }

  func run(steps: Int, backward: Bool) {
    let theta = UnsafePointer(model.parameters.base)
    let g = gradient.base
    for _ in 0..<steps {
      posterior.run(theta + model.posteriorOffset)
      drift.run(theta + model.driftOffset)
      diffusion.run(theta + model.diffusionOffset)
    }
    decoder.run(theta + model.decoderOffset)
    guard backward else { return }
    decoder.runBackward(theta + model.decoderOffset, gradient: g + model.decoderOffset, inputGradient: true)
    for _ in 0..<steps {
      posterior.runBackward(
        theta + model.posteriorOffset, gradient: g + model.posteriorOffset, inputGradient: feedback)
      drift.runBackward(theta + model.driftOffset, gradient: g + model.driftOffset, inputGradient: true)
      diffusion.runBackward(
        theta + model.diffusionOffset, gradient: g + model.diffusionOffset, inputGradient: !additive)
    }
  }
}
