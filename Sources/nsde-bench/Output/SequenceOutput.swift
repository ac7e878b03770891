import Foundation
import NeuralSDE

/// The JSON of a sequence evaluation (the keys of `train-sequences` and `evaluate --sequences`).
func sequenceEvaluationJSON(_ e: SequenceEvaluation) -> [String: Any] {
  var out: [String: Any] = [
    "sequences_held_out": e.sequences, "observed_values": e.values, "forecast_values": e.forecastValues,
    "paths_per_sequence": e.paths, "free_energy_per_sequence": e.freeEnergyPerSequence,
    "paths_convergence_gap_per_sequence": e.pathsConvergenceGap,
    "paths_convergence_gap_standard_error": e.pathsConvergenceGapStandardError,
    "forecast_effective_sample_size": e.forecastEffectiveSampleSize,
  ]
  func add(_ prefix: String, _ s: SequenceScores) {
    out[prefix + "negative_log_likelihood_per_sequence"] = s.negativeLogLikelihoodPerSequence
    out[prefix + "negative_log_likelihood_per_sequence_standard_error"] = s.standardError
    out[prefix + "negative_log_likelihood_per_value"] = s.negativeLogLikelihoodPerValue
    out[prefix + "forecast_negative_log_likelihood_per_value"] = s.forecastNegativeLogLikelihoodPerValue
    out[prefix + "forecast_crps"] = s.forecastCRPS
  }
  add("", e.model)
  if let gp = e.gaussianProcess { add("gp_", gp) }
  if let truth = e.truth { add("true_", truth) }
  return out
}

/// The evaluation as text: one table row per predictive law.
func printSequenceEvaluation(_ e: SequenceEvaluation, truthName: String?) {
  var rows: [[String]] = []
  func row(_ name: String, _ s: SequenceScores) {
    rows.append([
      name, "\(fmt(s.negativeLogLikelihoodPerSequence, 3)) ± \(fmt(s.standardError, 3))",
      fmt(s.negativeLogLikelihoodPerValue, 4), fmt(s.forecastNegativeLogLikelihoodPerValue, 4),
      fmt(s.forecastCRPS, 4),
    ])
  }
  row("model (importance weighting, \(e.paths) paths)", e.model)
  if let gp = e.gaussianProcess { row("Gaussian process per channel", gp) }
  if let truth = e.truth { row("\(truthName ?? "the data") itself (exact)", truth) }
  print(
    "\(e.sequences) held-out sequences, \(e.values) observed values; forecasts of the last 20 % (\(e.forecastValues) values) given the rest"
  )
  print(
    Table(
      header: ["", "−log p per sequence", "per value", "forecast −log p per value", "forecast CRPS"], rows: rows
    ).render())
  print(
    "F̂ = \(fmt(e.freeEnergyPerSequence, 3)) nats per sequence; the estimate from \(Swift.max(1, e.paths / 10)) paths is \(fmt(e.pathsConvergenceGap, 3)) ± \(fmt(e.pathsConvergenceGapStandardError, 3)) above it (converged when within its error); forecast draws' effective sample size \(fmt(e.forecastEffectiveSampleSize, 1)) of \(e.paths) paths"
  )
}

/// Reads a sequence file: a long CSV, or `TIMES.npy,VALUES.npy`.
func readSequences(_ path: String) throws -> SequenceData {
  let parts = path.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
  return parts.count == 2 ? try SequenceFile.read(times: parts[0], values: parts[1]) : try SequenceFile.read(csv: path)
}

/// The input files of a `--sequences` value (for `AtomicFile.checkDistinct`).
func sequenceInputs(_ flag: String, _ path: String?) -> [(String, String)] {
  (path?.split(separator: ",").map { (flag, String($0)) }) ?? []
}

/// SVG panels of forecasts: per sequence a row, per channel a panel with the
/// observed points, the hidden truth (when given), and the draws' median and 5–95 % band.
struct ForecastPlot {
  var forecasts: [SequenceForecast]
  var observed: SequenceData
  /// The held-out truth at the query times (nil: none).
  var truth: SequenceData?
  var title: String

  let panelWidth = 300.0
  let panelHeight = 200.0
  let pad = 45.0

  /// The plot of every forecast as one SVG (`top`: space above for other content).
  func render(top: Double = 30, header: String = "") -> String {
    let d = observed.dimension
    let width = Double(d) * (panelWidth + 10) + 10
    let height = top + Double(forecasts.count) * (panelHeight + 30) + 10
    var out = """
      <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(Int(height))" font-family="sans-serif" font-size="11">
      <rect width="100%" height="100%" fill="white"/>
      <text x="10" y="18" font-size="13">\(escape(title))</text>

      """
    out += header
    for (row, forecast) in forecasts.enumerated() {
      guard let s = observed.ids.firstIndex(of: forecast.id) else { continue }
      let y0 = top + Double(row) * (panelHeight + 30)
      for c in 0..<d {
        out += panel(forecast, sequence: s, channel: c, x: 10 + Double(c) * (panelWidth + 10), y: y0)
      }
    }
    return out + "</svg>\n"
  }

  func panel(_ forecast: SequenceForecast, sequence s: Int, channel c: Int, x: Double, y: Double) -> String {
    let d = observed.dimension
    let rows = observed.observations(s)
    let obs = rows.compactMap { r -> (Double, Double)? in
      let v = observed.values[r * d + c]
      return v.isNaN ? nil : (observed.times[r], v)
    }
    let hidden: [(Double, Double)] =
      truth.flatMap { t in
        t.ids.firstIndex(of: forecast.id).map { ts in
          t.observations(ts).compactMap { r -> (Double, Double)? in
            let v = t.values[r * d + c]
            return v.isNaN ? nil : (t.times[r], v)
          }
        }
      } ?? []
    let q = forecast.times.indices
    let bands = q.map { forecast.quantiles([0.05, 0.5, 0.95], query: $0, channel: c) }
    let (lo, mid, hi) = (bands.map { $0[0] }, bands.map { $0[1] }, bands.map { $0[2] })
    let xs = obs.map(\.0) + hidden.map(\.0) + forecast.times
    let ys = obs.map(\.1) + hidden.map(\.1) + lo + hi
    let frame = SVGReport.Frame(
      x: x - 10, top: y - 20, w: panelWidth, h: panelHeight, pad: pad, xr: bounds(xs), yr: bounds(ys))
    var out = frame.axes(xLabel: "time", yLabel: observed.columns[c])
    out += "<text x=\"\(f(x + pad))\" y=\"\(f(y + 5))\">sequence \(escape(forecast.id))</text>\n"
    if forecast.times.count >= 1 {
      let upper = q.map { "\(f(frame.sx(forecast.times[$0]))),\(f(frame.sy(hi[$0])))" }
      let lower = q.reversed().map { "\(f(frame.sx(forecast.times[$0]))),\(f(frame.sy(lo[$0])))" }
      out += "<polygon points=\"\((upper + lower).joined(separator: " "))\" fill=\"#d62728\" fill-opacity=\"0.2\"/>\n"
      let median = q.map { "\(f(frame.sx(forecast.times[$0]))),\(f(frame.sy(mid[$0])))" }
      out +=
        "<polyline fill=\"none\" stroke=\"#d62728\" stroke-width=\"1.5\" points=\"\(median.joined(separator: " "))\"/>\n"
    }
    for (t, v) in obs {
      out += "<circle cx=\"\(f(frame.sx(t)))\" cy=\"\(f(frame.sy(v)))\" r=\"2.2\" fill=\"#1f77b4\"/>\n"
    }
    for (t, v) in hidden {
      out +=
        "<circle cx=\"\(f(frame.sx(t)))\" cy=\"\(f(frame.sy(v)))\" r=\"2.6\" fill=\"none\" stroke=\"#000\" stroke-width=\"1\"/>\n"
    }
    return out
  }

  /// The legend line.
  static let legend =
    "<tspan fill=\"#1f77b4\">● observed</tspan>  <tspan>○ held-out truth</tspan>  <tspan fill=\"#d62728\">— median, ▮ 5–95 % of the forecast draws</tspan>"

  func bounds(_ v: [Double]) -> (Double, Double) { SVGText.bounds(v) }
  func f(_ x: Double) -> String { SVGText.number(x) }
  func escape(_ s: String) -> String { SVGText.escape(s) }
}

/// The forecasts' draws as a long CSV: `sample,sequence,time,<columns…>`.
func forecastCSV(_ forecasts: [SequenceForecast]) -> String {
  guard let first = forecasts.first else { return "sample,sequence,time\n" }
  var out = "sample,sequence,time," + first.columns.map(csvField).joined(separator: ",") + "\n"
  for f in forecasts {
    for s in 0..<f.samples {
      for (q, t) in f.times.enumerated() {
        out += "\(s),\(csvField(f.id)),\(t)"
        for c in 0..<f.dimension { out += ",\(f.draws[(s * f.times.count + q) * f.dimension + c])" }
        out += "\n"
      }
    }
  }
  return out
}

/// A CSV field, quoted when it holds a comma, quote or newline.
func csvField(_ s: String) -> String {
  s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" })
    ? "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : s
}

/// The model of a checkpoint written by `train-sequences` and its layout, for `use` (e.g. "forecast").
/// - Throws: `file` naming the checkpoint if it holds a static model or Float parameters.
func sequenceModel(_ checkpoint: String, _ info: Checkpoint.Info, for use: String) throws -> (
  NeuralSDEModel<Double>, SequenceLayout
) {
  guard let layout = info.sequenceLayout else {
    throw NSDEError.file(
      path: checkpoint,
      reason:
        "holds a static model (no sequence_layout in its metadata); \(use) reads sequence models from train-sequences")
  }
  guard info.dtype == Double.dtypeName else {
    throw NSDEError.file(
      path: checkpoint, reason: "field dtype: \(use) runs sequence models in Double, not \(info.dtype)")
  }
  return (try NeuralSDEModel<Double>(checkpoint: checkpoint), layout)
}

/// - Throws: `shapeMismatch` naming `flag` unless the sequences have the model's D columns.
func checkColumns(_ flag: String, _ data: SequenceData, _ model: NeuralSDEModel<Double>) throws {
  guard data.dimension == model.dataDimension else {
    throw NSDEError.shapeMismatch(
      "\(flag) has \(data.dimension) value column(s) but the model's data dimension is \(model.dataDimension)")
  }
}
