import ArgumentParser
import Foundation
import NeuralSDE

extension SequenceDataset: ExpressibleByArgument {}

/// Writes a built-in sequence data set, or reads and describes a sequence file.
struct Sequences: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Writes a built-in sequence data set (long CSV) or checks and describes a sequence file.",
    discussion: """
      With --out, draws --count sequences of --dataset and writes them as a long CSV \
      (sequence,time,<values…>; docs/RELIABILITY.md has the format). With --sequences F (a long CSV, or \
      TIMES.npy,VALUES.npy for the array form), reads F strictly — every malformed file is an error naming the \
      line and column — and describes it. Either way, with --dataset ou, prints the data's own −log p (exact, \
      Kalman filter) per sequence and per observed value.
      """)

  @Option(help: "Built-in data set (ou, lorenz).")
  var dataset: SequenceDataset?
  @Option(help: "Sequences to draw with --out (1…1000000).")
  var count = 200
  @Option(help: "Seed of the drawn sequences.")
  var seed: UInt64 = 0
  @Option(help: "Write the drawn sequences to this long CSV.")
  var out: String?
  @Option(help: "Read this sequence file: a long CSV, or TIMES.npy,VALUES.npy.")
  var sequences: String?
  @Flag(help: "Print machine-readable JSON instead of text.")
  var json = false

  func validate() throws {
    guard (out == nil) != (sequences == nil) else {
      throw ValidationError("give exactly one of --out (write a data set) and --sequences (read a file)")
    }
    guard out == nil || dataset != nil else { throw ValidationError("--out needs --dataset") }
    guard (1...1_000_000).contains(count) else { throw ValidationError("--count must be in 1…1000000, got \(count)") }
  }

  func run() throws {
    try runReportingErrors {
      let data: SequenceData
      if let out, let dataset {
        data = try dataset.sample(count: count, seed: seed)
        try AtomicFile.write(text: SequenceFile.csv(data), to: out)
      } else {
        let path = sequences!
        let parts = path.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        if parts.count == 2 {
          data = try SequenceFile.read(times: parts[0], values: parts[1])
        } else {
          data = try SequenceFile.read(csv: path)
        }
      }
      let lengths = (0..<data.count).map { data.observations($0).count }
      let observed = data.values.filter { !$0.isNaN }.count
      var result: [String: Any] = [
        "sequences": data.count, "columns": data.columns, "observations": data.times.count,
        "observed_values": observed, "missing_values": data.values.count - observed,
        "min_length": lengths.min()!, "max_length": lengths.max()!,
        "time_range": [data.times.min()!, data.times.max()!],
      ]
      if let out { result["written"] = out }
      if let dataset, dataset.process != nil {
        let nll = try dataset.negativeLogLikelihood(data)
        result["true_negative_log_likelihood_per_sequence"] = nll.reduce(0, +) / Double(data.count)
        result["true_negative_log_likelihood_per_value"] = nll.reduce(0, +) / Double(observed)
      }
      if json {
        try printJSON(result)
        return
      }
      print(
        "\(out ?? sequences!): \(data.count) sequences × \(lengths.min()!)–\(lengths.max()!) times (\(data.times.count) in all) of \(data.dimension) columns (\(data.columns.joined(separator: ", "))); \(data.values.count - observed) of \(data.values.count) values missing; times \(data.times.min()!)…\(data.times.max()!)"
      )
      if let perSequence = result["true_negative_log_likelihood_per_sequence"] as? Double,
        let perValue = result["true_negative_log_likelihood_per_value"] as? Double
      {
        print(
          "\(dataset!.rawValue) itself: −log p = \(fmt(perSequence, 3)) nats per sequence, \(fmt(perValue, 4)) per observed value (Kalman filter, exact)"
        )
      }
    }
  }
}
