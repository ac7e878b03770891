import ArgumentParser
import NeuralSDE

@main
struct NSDEBench: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "nsde-bench",
    abstract: "Benchmarks, checks and trains latent neural SDEs (NeuralSDE).",
    discussion: """
      Without a subcommand, runs the reference-problem report (docs/REFERENCE-PROBLEM.md): forward and gradient times \
      against their GEMM floors, both gradient estimators, batched vs per-path throughput and memory, for Float \
      and Double. Every subcommand accepts --json for machine-readable output.
      """,
    subcommands: [
      Report.self, Simulate.self, Gradient.self, Scaling.self, Train.self, Evaluate.self, Sequences.self,
      TrainSequences.self, Forecast.self, Kernels.self,
      Check.self,
    ],
    defaultSubcommand: Report.self)
}
