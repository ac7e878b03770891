import Foundation
import NeuralSDE

// Temporary front end: BLAS configuration and the MLP kernel report.
Threading.setBLASThreads(1)
print("BLAS: \(Threading.blasConfiguration); core \(Threading.blasCoreName); threads \(Threading.blasThreads)")
print("OPENBLAS_CORETYPE=\(ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"] ?? "(unset)")")
let arch = MLPArchitecture(inputs: 16, timeInput: true, widths: [64, 64, 16])
func report<T: BLASScalar>(_: T.Type, chunks: Int) throws {
  let r = try MLPBenchmark<T>(architecture: arch, rows: 4096, chunks: chunks).run(repetitions: 30)
  print(
    String(
      format: "%@ M=4096 chunks=%d: forward %.3f ms, GEMM floor %.3f ms, ratio %.2f | tanh+deriv 4096×64 %.3f ms vs GEMM 4096×64·64×64 %.3f ms (%.2f)",
      T.dtypeName, chunks, r.forward.median, r.gemmFloor.median, r.forwardOverGEMMFloor, r.tanhWithDerivative.median,
      r.hiddenGEMM.median, r.tanhOverGEMM))
}
for c in [1, 2] {
  try report(Double.self, chunks: c)
  try report(Float.self, chunks: c)
}
