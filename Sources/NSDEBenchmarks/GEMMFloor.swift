import Foundation
import NeuralSDE

/// The matrix products of an MLP forward pass alone, on the same shapes and
/// BLAS: the "GEMM floor" a pass is compared against.
final class MLPGEMMFloor<Scalar: SDEScalar>: @unchecked Sendable {
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
final class SolveGEMMFloor<Scalar: SDEScalar>: @unchecked Sendable {
  /// Per network (storage order): its bound parameters and its GEMM floor.
  let floors: [(network: BoundNetwork<Scalar>, floor: MLPGEMMFloor<Scalar>)]
  /// Scratch parameter gradient for the backward products.
  let gradient: Matrix<Scalar>
  /// Whether each network's backward pass needs its input gradient.
  let inputGradients: [Bool]

  init(model: NeuralSDEModel<Scalar>, points: Int, pathsPerPoint k: Int) {
    let rows = model.networkRows(points: points, paths: points * k)
    floors = zip(model.networks, rows).map { ($0, MLPGEMMFloor($0.mlp, rows: $1)) }
    inputGradients = model.needsInputGradient
    gradient = Matrix(rows: 1, cols: model.parameterCount)
  }

  /// Per solver step the drift, diffusion and control products, then the
  /// decoder's; with `backward`, every product of the backprop gradient too.
  func run(steps: Int, backward: Bool) {
    let stepping = floors.prefix(3)
    let decoder = floors[3]
    for _ in 0..<steps { for (n, f) in stepping { f.run(n.theta) } }
    decoder.floor.run(decoder.network.theta)
    guard backward else { return }
    let g = gradient.base
    decoder.floor.runBackward(decoder.network.theta, gradient: g + decoder.network.offset, inputGradient: true)
    for _ in 0..<steps {
      for (i, (n, f)) in stepping.enumerated() {
        f.runBackward(n.theta, gradient: g + n.offset, inputGradient: inputGradients[i])
      }
    }
  }
}
