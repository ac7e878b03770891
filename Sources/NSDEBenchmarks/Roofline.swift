import Foundation
import NeuralSDE

/// The roofline of a step: the FLOPs of its matrix products, counted from the
/// networks' shapes, against the core's measured peak FMA rate.
public enum Roofline {
  /// Peak FLOP rate of one core for `Scalar`, measured by a short FMA probe
  /// (the best of `repetitions` runs of about `seconds` each), in FLOP/s.
  public static func peakFLOPRate<Scalar: SDEScalar>(_: Scalar.Type, seconds: Double = 0.05, repetitions: Int = 5)
    -> Double
  {
    let clock = ContinuousClock()
    let iterations = probeIterations(Scalar.self, seconds: seconds)
    var sink: Scalar = 0
    var best = 0.0
    for _ in 0..<Swift.max(repetitions, 1) {
      let t0 = clock.now
      sink += Scalar.fmaProbe(iterations: iterations, a: Scalar(0.999_999), b: Scalar(1e-7))
      let dt = (clock.now - t0).seconds
      best = Swift.max(best, Double(iterations) * Double(Scalar.fmaProbeLanes) * 2 / dt)
    }
    if !sink.isFinite { print("", terminator: "") }  // keep the work observable
    return best
  }

  /// Iterations of `Scalar.fmaProbe` that take about `seconds` on one core:
  /// the run grows 4× until it takes a quarter of that, then is scaled to it.
  static func probeIterations<Scalar: SDEScalar>(_: Scalar.Type, seconds: Double) -> Int {
    let clock = ContinuousClock()
    var iterations = 1 << 12
    var sink: Scalar = 0
    while true {
      let t0 = clock.now
      sink += Scalar.fmaProbe(iterations: iterations, a: Scalar(0.999_999), b: Scalar(1e-7))
      let dt = (clock.now - t0).seconds
      if dt >= seconds / 4 || iterations > 1 << 30 {
        if !sink.isFinite { print("", terminator: "") }  // keep the work observable
        return Swift.max(iterations, Int(Double(iterations) * seconds / Swift.max(dt, 1e-9)))
      }
      iterations *= 4
    }
  }

  /// The FMA probe on several cores at once, as one body of an interleaved
  /// measurement: each of `cores` threads runs the same fixed number of
  /// iterations (about `seconds` on one idle core), and the peak of those
  /// cores is `flops / time`. Timed beside the solves it is compared with
  /// (`measureInterleaved`), it sees the same load: a background process that
  /// takes a core slows both sides of the ratio alike.
  public struct ConcurrentProbe<Scalar: SDEScalar> {
    /// Threads run at once (the solves' chunk count).
    public let cores: Int
    /// Iterations of each thread.
    public let iterations: Int

    /// A probe calibrated on one core to take about `seconds` per run.
    public init(cores: Int, seconds: Double = 0.005) {
      self.cores = Swift.max(cores, 1)
      iterations = Roofline.probeIterations(Scalar.self, seconds: seconds)
    }

    /// FLOPs of one run over all threads (2 per lane and iteration).
    public var flops: Double { Double(cores) * Double(iterations) * Double(Scalar.fmaProbeLanes) * 2 }

    /// One run: every thread its iterations, concurrently.
    public func run() {
      let n = iterations
      let sums = Threading.concurrentMap(cores) { _ in
        Scalar.fmaProbe(iterations: n, a: Scalar(0.999_999), b: Scalar(1e-7))
      }
      if sums.contains(where: { (try? $0.get())?.isFinite != true }) { print("", terminator: "") }
    }
  }

  /// FLOPs of the matrix products of one forward solve (free energy): per step
  /// the drift, diffusion and control networks on their rows, then the decoder.
  public static func forwardFLOPs<Scalar: SDEScalar>(
    model: NeuralSDEModel<Scalar>, points: Int, pathsPerPoint k: Int, steps: Int
  ) -> Double {
    let rows = model.networkRows(points: points, paths: points * k)
    let perStep = zip(model.networks.prefix(3), rows).map { networkFLOPs($0.mlp, rows: $1) }.reduce(0, +)
    return Double(steps) * perStep + networkFLOPs(model.decoder.mlp, rows: rows[3])
  }

  /// FLOPs of the matrix products of the backprop gradient: the forward ones
  /// plus, per layer, the weight-gradient and input-gradient products (twice
  /// the forward's, less the first layers' input gradients that are not needed).
  public static func gradientFLOPs<Scalar: SDEScalar>(
    model: NeuralSDEModel<Scalar>, points: Int, pathsPerPoint k: Int, steps: Int
  ) -> Double {
    let forward = forwardFLOPs(model: model, points: points, pathsPerPoint: k, steps: steps)
    let rows = model.networkRows(points: points, paths: points * k)
    var backward = 0.0
    for ((network, r), input) in zip(zip(model.networks.prefix(3), rows), model.needsInputGradient) {
      let full = 2 * networkFLOPs(network.mlp, rows: r)
      let first = network.mlp.layers.first.map { 2 * Double(r) * Double($0.inputs) * Double($0.outputs) } ?? 0
      backward += Double(steps) * (input ? full : full - first)
    }
    backward += 2 * networkFLOPs(model.decoder.mlp, rows: rows[3])
    return forward + backward
  }

  /// `2·rows·in·out` summed over the layers (multiply–adds of the GEMMs).
  static func networkFLOPs<Scalar: SDEScalar>(_ mlp: MLP<Scalar>, rows: Int) -> Double {
    mlp.layers.map { 2 * Double(rows) * Double($0.inputs) * Double($0.outputs) }.reduce(0, +)
  }
}
