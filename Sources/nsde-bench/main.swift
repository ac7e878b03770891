import Foundation
import NeuralSDE

// Temporary front end: BLAS configuration, the MLP kernel report and the solver report.
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
func solverReport<T: BLASScalar>(_: T.Type, paths: Int, steps: Int) throws {
  let r = try SolverBenchmark<T>(configuration: .reference(), paths: paths, pathsPerPoint: 4, steps: steps).run(repetitions: 5)
  print(
    String(
      format: "%@ M=%d N=%d: solve %.2f ms, GEMM floor %.2f ms (%.2f×), noise %.1f%%, batched/per-path %.1f×, %.3g path-steps/s",
      T.dtypeName, paths, steps, r.solve.median, r.gemmFloor.median, r.solveOverGEMMFloor, 100 * r.noiseFraction,
      r.batchedOverPerPath, r.pathStepsPerSecond))
}
for c in [1, 2] {
  try report(Double.self, chunks: c)
  try report(Float.self, chunks: c)
}
for m in [1024, 4096] {
  try solverReport(Double.self, paths: m, steps: 50)
  try solverReport(Float.self, paths: m, steps: 50)
}
