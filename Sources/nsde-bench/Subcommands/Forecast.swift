import ArgumentParser
import Foundation
import NeuralSDE

/// Forecasts and interpolation with a sequence model (docs/MODEL.md §7).
struct Forecast: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Draws forecasts (or interpolations) of sequences from a sequence model's predictive law.",
    discussion: """
      Reads a checkpoint written by train-sequences and sequences --sequences F, and draws --samples joint draws \
      from p(y(query times) | the observed values) per sequence: --horizon H puts --points query times evenly on \
      (τ_last, τ_last + H] after each sequence's last observation; --query-times a,b,… gives the same times for \
      every sequence (interpolation inside a sequence, forecasts after it; not before its first observation); \
      --hide-last F hides each sequence's last fraction F of observations and forecasts at their times. \
      Draws are resampled from --paths posterior paths per sequence by their importance weights (the effective \
      sample size is printed). Writes forecast.csv (sample,sequence,time,<columns…>) and forecast-<sequence>.svg \
      (observed points, the draws' median and 5–95 % band per channel, the held-out truth of --truth or of \
      --hide-last) to --output-dir; with --hide-last or --truth also scores the draws (CRPS per value).
      """)

  @Option(help: "The checkpoint written by `nsde-bench train-sequences`.") var checkpoint: String
  @Option(help: "Sequences to forecast: a long CSV, or TIMES.npy,VALUES.npy.") var sequences: String
  @Option(help: "Forecast over this span after each sequence's last observation (file time units, > 0).")
  var horizon: Double?
  @Option(help: "Query times per sequence with --horizon (1…10000).") var points = 20
  @Option(parsing: .unconditional, help: "Query times for every sequence, comma-separated (file time units).")
  var queryTimes: String?
  @Option(help: "Hide each sequence's last fraction of observations and forecast them (in (0, 1)).")
  var hideLast: Double?
  @Option(help: "Held-out truth to draw and score (a sequence file with the same sequence names).")
  var truth: String?
  @Option(help: "Draws per sequence S (1…100000).") var samples = 200
  @Option(help: "Posterior paths per sequence K the draws are resampled from (1…1000000).") var paths = 1000
  @Option(help: "Sequences drawn as SVG (0…10000; the first ones).") var maxPlots = 16
  @Option(help: "Seed of the paths, the resampling and the likelihood draws.") var seed: UInt64 = 0
  @Option(help: "Directory for forecast.csv and the SVGs.") var outputDir = "nsde-forecast"
  @Flag(help: "Print machine-readable JSON instead of text.") var json = false

  func validate() throws {
    guard [horizon != nil, queryTimes != nil, hideLast != nil].filter({ $0 }).count == 1 else {
      throw ValidationError("give exactly one of --horizon, --query-times and --hide-last")
    }
    if let horizon, !(horizon > 0 && horizon.isFinite) {
      throw ValidationError("--horizon must be positive and finite, got \(horizon)")
    }
    if let f = hideLast, !(f > 0 && f < 1) { throw ValidationError("--hide-last must be in (0, 1), got \(f)") }
    if truth != nil && hideLast != nil {
      throw ValidationError("--truth and --hide-last both give the truth; give one")
    }
    try checkRange("points", points, 1, 10_000)
    try checkRange("samples", samples, 1, 100_000)
    try checkRange("paths", paths, 1, 1_000_000)
    try checkRange("max-plots", maxPlots, 0, 10_000)
  }

  func run() throws {
    try runReportingErrors {
      let inputs =
        [("--checkpoint", checkpoint)] + sequenceInputs("--sequences", sequences) + sequenceInputs("--truth", truth)
      try AtomicFile.checkDistinct(outputs: [("--output-dir", outputDir + "/forecast.csv")], inputs: inputs)
      let info = try Checkpoint.info(checkpoint)
      let (model, layout) = try sequenceModel(checkpoint, info, for: "forecast")
      let file = try readSequences(sequences)
      try checkColumns("--sequences", file, model)
      var observed = file
      var heldOut: SequenceData?
      var queries: [[Double]]
      if let fraction = hideLast {
        let split = file.forecastSplit(fraction)
        observed = split.past
        heldOut = split.hidden
        queries = split.queries
      } else if let horizon {
        queries = (0..<file.count).map { s in
          let last = file.times[file.observations(s).upperBound - 1]
          return (1...points).map { last + horizon * Double($0) / Double(points) }
        }
      } else {
        let parts = queryTimes!.split(separator: ",", omittingEmptySubsequences: false)
        let times = try parts.map { p -> Double in
          guard let t = Double(p.trimmingCharacters(in: .whitespaces)), t.isFinite else {
            throw NSDEError.invalidArgument("--query-times: \"\(p)\" is not a finite number")
          }
          return t
        }
        queries = Array(repeating: times, count: file.count)
      }
      if let truth {
        let t = try readSequences(truth)
        guard t.columns == file.columns else {
          throw NSDEError.shapeMismatch(
            "--truth has columns \(t.columns.joined(separator: ", ")) but --sequences has \(file.columns.joined(separator: ", "))"
          )
        }
        heldOut = t
      }
      try AtomicFile.prepareDirectory(outputDir)
      var forecaster = SequenceForecaster<Double>(layout: layout)
      forecaster.pathsPerSequence = paths
      forecaster.samples = samples
      forecaster.seed = seed
      note("drawing \(samples) forecasts per sequence for \(file.count) sequences from \(paths) paths each …")
      let forecasts = try forecaster.forecast(model, observed: observed, at: queries)
      try AtomicFile.write(text: forecastCSV(forecasts), to: outputDir + "/forecast.csv")
      // Scores against the held-out truth at the query times.
      var crps: [Double] = []
      if let heldOut {
        for f in forecasts {
          guard let s = heldOut.ids.firstIndex(of: f.id) else { continue }
          for r in heldOut.observations(s) {
            guard let q = f.times.firstIndex(of: heldOut.times[r]) else { continue }
            for c in 0..<f.dimension where !heldOut.values[r * f.dimension + c].isNaN {
              crps.append(
                ContinuousRankedProbabilityScore.samples(
                  f.draws(query: q, channel: c), observation: heldOut.values[r * f.dimension + c]))
            }
          }
        }
      }
      var written: [String] = []
      var usedNames: Set<String> = []
      for f in forecasts.prefix(maxPlots) {
        var name = "forecast-" + String(f.id.map { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" ? $0 : "_" })
        while usedNames.contains(name) { name += "_" }
        usedNames.insert(name)
        let plot = ForecastPlot(
          forecasts: [f], observed: observed, truth: heldOut,
          title: "Sequence \(f.id): \(f.samples) draws from \(paths) paths (effective \(fmt(f.effectiveSampleSize, 1)))"
        )
        try AtomicFile.write(
          text: plot.render(top: 50, header: "<text x=\"10\" y=\"36\">\(ForecastPlot.legend)</text>\n"),
          to: outputDir + "/" + name + ".svg")
        written.append(name + ".svg")
      }
      let ess = forecasts.map(\.effectiveSampleSize)
      var result: [String: Any] = [
        "sequences": forecasts.count, "samples": samples, "paths": paths,
        "query_times": forecasts.map(\.times.count).reduce(0, +),
        "effective_sample_size_mean": ess.reduce(0, +) / Double(Swift.max(1, ess.count)),
        "effective_sample_size_min": ess.min() ?? .nan, "written": ["forecast.csv"] + written,
      ]
      if !crps.isEmpty {
        result["crps"] = crps.reduce(0, +) / Double(crps.count)
        result["scored_values"] = crps.count
      }
      if json {
        try printJSON(result)
        return
      }
      print(
        "\(forecasts.count) sequences, \(result["query_times"]!) query times, \(samples) draws each; importance weights' effective sample size \(fmt(result["effective_sample_size_mean"] as! Double, 1)) of \(paths) paths on average (min \(fmt(result["effective_sample_size_min"] as! Double, 1)))"
      )
      if let c = result["crps"] as? Double {
        print("CRPS of the draws against the held-out truth: \(fmt(c, 4)) (\(crps.count) values)")
      }
      print("wrote \(outputDir)/forecast.csv and \(written.count) SVG(s)")
    }
  }
}
