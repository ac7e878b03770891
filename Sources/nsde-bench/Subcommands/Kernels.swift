import ArgumentParser
import Foundation
import NSDEBenchmarks
import NeuralSDE

/// The MLP and elementwise-kernel report.
struct Kernels: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract:
      "MLP forward vs its GEMMs alone, forward + VJP on the fused kernels vs CBLAS, and the tanh kernel vs one hidden-layer GEMM."
  )

  @OptionGroup var problem: ProblemOptions
  @OptionGroup var output: OutputOptions

  func run() throws {
    try runReportingErrors {
      let arch = MLPArchitecture(
        inputs: problem.latentDim, timeInput: true, widths: [problem.hidden, problem.hidden, problem.latentDim],
        hiddenActivation: problem.activation)
      var rows: [[String]] = []
      var json: [String: Any] = [:]
      func go<T: SDEScalar>(_: T.Type) throws {
        for chunks in [1, problem.chunks ?? Threading.availableCores] {
          let r = try MLPBenchmark<T>(architecture: arch, rows: problem.paths, chunks: chunks)
            .run(repetitions: output.repetitions)
          json["\(T.dtypeName.lowercased())_chunks\(chunks)"] =
            [
              "forward_ms": r.forward.median, "gemm_ms": r.gemmFloor.median,
              "forward_over_gemm": r.forwardOverGEMMFloor,
              "tanh_with_derivative_ms": r.tanhWithDerivative.median, "hidden_gemm_ms": r.hiddenGEMM.median,
              "tanh_over_gemm": r.tanhOverGEMM, "rows": r.rows, "chunks": r.chunks,
              "fused_passes_ms": r.fusedPasses.median, "cblas_passes_ms": r.cblasPasses.median,
              "fused_over_cblas": r.fusedOverCBLAS, "kernels": MLPKernels.preferred(for: arch).rawValue,
              "isa_level": MLPKernels.instructionSetLevel,
            ] as [String: Any]
          rows.append([
            T.dtypeName, "\(r.chunks)", fmt(r.forward.median, 3), fmt(r.gemmFloor.median, 3),
            fmt(r.forwardOverGEMMFloor),
            fmt(r.tanhWithDerivative.median, 3), fmt(r.hiddenGEMM.median, 3), fmt(r.tanhOverGEMM),
            fmt(r.fusedPasses.median, 3), fmt(r.cblasPasses.median, 3), fmt(r.fusedOverCBLAS),
          ])
        }
      }
      // The tile product alone, one core, on each layer's shapes.
      var tileRows: [[String]] = []
      func tiles<T: SDEScalar>(_: T.Type) throws {
        let peak = Roofline.peakFLOPRate(T.self)
        let shapes = try TileProductBenchmark<T>(architecture: arch).run(peak: peak, repetitions: output.repetitions)
        json["\(T.dtypeName.lowercased())_tile_products"] =
          [
            "fma_peak_gflops": peak / 1e9,
            "shapes": shapes.map {
              [
                "pass": $0.pass, "rows": $0.rows, "cols": $0.cols, "k": $0.k, "gflops": $0.gflops,
                "fraction_of_peak": $0.fractionOfPeak,
              ] as [String: Any]
            },
          ] as [String: Any]
        for shape in shapes {
          tileRows.append([
            T.dtypeName, shape.pass, "\(shape.rows)×\(shape.k) · \(shape.k)×\(shape.cols)", fmt(shape.gflops, 1),
            "\(fmt(100 * shape.fractionOfPeak, 0)) %",
          ])
        }
      }
      for type in problem.dtype.scalarTypes {
        try go(type)
        if type == Double.self { try tiles(Double.self) } else { try tiles(Float.self) }
      }
      let header = [
        "dtype", "chunks", "forward (ms)", "GEMMs (ms)", "ratio", "tanh+φ' (ms)", "H×H GEMM (ms)", "ratio",
        "fwd+VJP fused (ms)", "fwd+VJP CBLAS (ms)", "ratio",
      ]
      let title =
        "MLP [x,t] \(problem.latentDim + 1) → \(problem.hidden) → \(problem.hidden) → \(problem.latentDim), M = \(problem.paths) rows; default kernels \(MLPKernels.preferred(for: arch).rawValue), ISA level \(MLPKernels.instructionSetLevel)"
      try emit(
        json: output.json, problem: problem, results: json, title: title, table: Table(header: header, rows: rows))
      if !output.json {
        print("\nTile products of the fused kernels alone (one core, ISA level \(MLPKernels.instructionSetLevel)):")
        print(Table(header: ["dtype", "pass", "product", "GFLOP/s", "of FMA peak"], rows: tileRows).render())
      }
    }
  }
}
