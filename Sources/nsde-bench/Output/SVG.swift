import Foundation
import NeuralSDE

/// A minimal SVG writer for the training report: a scatter plot of held-out
/// data vs model samples, and the training loss with the held-out estimate,
/// side by side, both with labelled axes.
struct SVGReport {
  var data: [(Double, Double)]
  var samples: [(Double, Double)]
  var losses: [Double]
  /// (step within this run, held-out importance-weighted −log p).
  var heldOut: [(Int, Double)] = []
  var title: String
  /// Axis labels of the scatter (the data's first two columns, or its principal directions).
  var axisLabels = ("y₀", "y₁")
  /// Paths per point of the held-out curve (for its label).
  var heldOutPathsPerPoint: Int?
  /// The step whose parameters were kept (marked on the curve).
  var selectedStep: Int?
  /// Marginal histograms under the plots: per column, its label and the held-out data's and the samples' values.
  var marginals: [Marginal] = []
  /// What the marginals show, after "marginals" (e.g. which columns).
  var marginalNote = ""

  /// One column's values in the data and in the samples.
  struct Marginal {
    var label: String
    var data: [Double]
    var samples: [Double]
  }

  let w = 460.0
  let h = 420.0
  let pad = 55.0
  let top = 40.0
  /// Marginal panels per row and each panel's height.
  let marginalsPerRow = 4
  let marginalHeight = 150.0

  func render() -> String {
    let marginalRows = (marginals.count + marginalsPerRow - 1) / marginalsPerRow
    let height = h + top + 10 + (marginals.isEmpty ? 0 : 18 + Double(marginalRows) * marginalHeight)
    var out = """
      <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(2 * w + 20))" height="\(Int(height))" font-family="sans-serif" font-size="12">
      <rect width="100%" height="100%" fill="white"/>
      <text x="10" y="20" font-size="13">\(escape(title))</text>

      """
    // Scatter.
    // The frame spans every data point and the central 99 % of the samples in
    // each coordinate (a heavy-tailed model's few far draws would squash the
    // picture); samples outside it are counted, not drawn.
    let finiteData = data.filter { $0.0.isFinite && $0.1.isFinite }
    let finiteSamples = samples.filter { $0.0.isFinite && $0.1.isFinite }
    func central(_ v: [Double]) -> [Double] { Self.centralRange(v).map { [$0.0, $0.1] } ?? [] }
    let xr = bounds(finiteData.map(\.0) + central(finiteSamples.map(\.0)))
    let yr = bounds(finiteData.map(\.1) + central(finiteSamples.map(\.1)))
    let frame = Frame(x: 0, top: top, w: w, h: h, pad: pad, xr: xr, yr: yr)
    out += frame.axes(xLabel: axisLabels.0, yLabel: axisLabels.1)
    for (x, y) in finiteData {
      out +=
        "<circle cx=\"\(f(frame.sx(x)))\" cy=\"\(f(frame.sy(y)))\" r=\"1.6\" fill=\"#1f77b4\" fill-opacity=\"0.6\"/>\n"
    }
    var outside = 0
    for (x, y) in finiteSamples {
      guard (xr.0...xr.1).contains(x), (yr.0...yr.1).contains(y) else {
        outside += 1
        continue
      }
      out +=
        "<circle cx=\"\(f(frame.sx(x)))\" cy=\"\(f(frame.sy(y)))\" r=\"1.6\" fill=\"#d62728\" fill-opacity=\"0.6\"/>\n"
    }
    let outsideNote = outside > 0 ? " (\(outside) outside the frame)" : ""
    out +=
      "<text x=\"\(pad)\" y=\"\(top + 14)\"><tspan fill=\"#1f77b4\">● held-out data</tspan>  <tspan fill=\"#d62728\">● model samples\(outsideNote)</tspan></text>\n"
    // Loss curve and held-out estimate.
    let finite = losses.filter(\.isFinite) + heldOut.map(\.1).filter(\.isFinite)
    if losses.count >= 2, finite.count >= 2 {
      let lr = Self.robustRange(finite)
      let lf = Frame(x: w + 20, top: top, w: w, h: h, pad: pad, xr: (1, Double(losses.count)), yr: lr)
      out += lf.axes(xLabel: "training step", yLabel: "nats")
      out += Self.lossPolyline(losses, frame: lf)
      let held = heldOut.filter { $0.1.isFinite }.map { "\(f(lf.sx(Double($0.0)))),\(f(lf.sy(Swift.min($0.1, lr.1))))" }
      if !held.isEmpty {
        out +=
          "<polyline fill=\"none\" stroke=\"#d62728\" stroke-width=\"2\" points=\"\(held.joined(separator: " "))\"/>\n"
      }
      if let s = selectedStep, let v = heldOut.first(where: { $0.0 == s })?.1, v.isFinite {
        out +=
          "<circle cx=\"\(f(lf.sx(Double(s))))\" cy=\"\(f(lf.sy(Swift.min(v, lr.1))))\" r=\"4\" fill=\"none\" stroke=\"#000\" stroke-width=\"1.5\"/>\n"
      }
      let paths = heldOutPathsPerPoint.map { ", K = \($0)" } ?? ""
      let kept = selectedStep == nil ? "" : "  ○ kept"
      out +=
        "<text x=\"\(w + 20 + pad)\" y=\"\(top + 14)\"><tspan fill=\"#888\">— minibatch loss</tspan>  <tspan fill=\"#d62728\">— held-out −log p (IW\(paths))</tspan>\(kept)</text>\n"
    }
    if !marginals.isEmpty {
      out +=
        "<text x=\"10\" y=\"\(f(h + top + 22))\">marginals\(escape(marginalNote)): <tspan fill=\"#1f77b4\">■ held-out data</tspan>  <tspan fill=\"#d62728\">— model samples</tspan></text>\n"
    }
    for (i, m) in marginals.enumerated() {
      let pw = (2 * w + 20) / Double(marginalsPerRow)
      out += Self.histogram(
        m, x: Double(i % marginalsPerRow) * pw, top: h + top + 28 + Double(i / marginalsPerRow) * marginalHeight,
        w: pw, h: marginalHeight)
    }
    return out + "</svg>\n"
  }

  /// One marginal panel: the densities of the data (blue) and the samples
  /// (red) over 24 common bins spanning the 0.5–99.5 % quantiles of both.
  static func histogram(_ m: Marginal, x: Double, top: Double, w: Double, h: Double) -> String {
    let d = m.data.filter(\.isFinite)
    let s = m.samples.filter(\.isFinite)
    guard d.count + s.count >= 2, var (lo, hi) = centralRange(d + s) else { return "" }
    if hi <= lo { (lo, hi) = (lo - 0.5, lo + 0.5) }
    let bins = 24
    func density(_ v: [Double]) -> [Double] {
      var c = [Double](repeating: 0, count: bins)
      for x in v {
        let b = Int(((x - lo) / (hi - lo) * Double(bins)).rounded(.down))
        if b >= 0 && b < bins { c[b] += 1 }
      }
      return c.map { $0 / Swift.max(Double(v.count), 1) }
    }
    let (dd, sd) = (density(d), density(s))
    let peak = Swift.max(dd.max() ?? 0, sd.max() ?? 0, 1e-300)
    let (left, right, base, ceiling) = (x + 12, x + w - 8, top + h - 22, top + 18)
    func sx(_ b: Int) -> Double { left + Double(b) / Double(bins) * (right - left) }
    func sy(_ v: Double) -> Double { base - v / peak * (base - ceiling) }
    func steps(_ c: [Double]) -> String {
      var pts = ["\(SVGText.number(sx(0))),\(SVGText.number(base))"]
      for b in 0..<bins {
        pts.append("\(SVGText.number(sx(b))),\(SVGText.number(sy(c[b])))")
        pts.append("\(SVGText.number(sx(b + 1))),\(SVGText.number(sy(c[b])))")
      }
      pts.append("\(SVGText.number(sx(bins))),\(SVGText.number(base))")
      return pts.joined(separator: " ")
    }
    return """
      <line x1="\(SVGText.number(left))" y1="\(SVGText.number(base))" x2="\(SVGText.number(right))" y2="\(SVGText.number(base))" stroke="#444"/>
      <polyline fill="#1f77b4" fill-opacity="0.25" stroke="#1f77b4" points="\(steps(dd))"/>
      <polyline fill="none" stroke="#d62728" stroke-width="1.5" points="\(steps(sd))"/>
      <text x="\(SVGText.number(left))" y="\(SVGText.number(top + 12))">\(SVGText.escape(m.label))</text>
      <text x="\(SVGText.number(left))" y="\(SVGText.number(base + 14))" fill="#444">\(String(format: "%.3g", lo))</text>
      <text x="\(SVGText.number(right))" y="\(SVGText.number(base + 14))" fill="#444" text-anchor="end">\(String(format: "%.3g", hi))</text>

      """
  }

  /// Up to `limit` marginals: every column for D ≤ `limit`, else the columns
  /// of largest held-out variance (in column order), labelled by column
  /// (`y0` is the first).
  static func marginals<T: SDEScalar>(data: Matrix<T>, samples: Matrix<T>, limit: Int = 8) -> [Marginal] {
    let cols = data.cols
    guard cols > 0, samples.cols == cols else { return [] }
    func column(_ m: Matrix<T>, _ c: Int) -> [Double] { (0..<m.rows).map { Double(m[$0, c]) } }
    var chosen = Array(0..<cols)
    if cols > limit {
      let variance = (0..<cols).map { c -> Double in
        let v = column(data, c)
        let mean = v.reduce(0, +) / Double(Swift.max(v.count, 1))
        return v.map { ($0 - mean) * ($0 - mean) }.reduce(0, +)
      }
      chosen = Array(chosen.sorted { variance[$0] > variance[$1] }.prefix(limit)).sorted()
    }
    return chosen.map { c in Marginal(label: "y\(c)", data: column(data, c), samples: column(samples, c)) }
  }

  /// The 0.5 % and 99.5 % quantiles of the finite values of `v` (nil for none).
  static func centralRange(_ v: [Double]) -> (Double, Double)? {
    let sorted = v.filter(\.isFinite).sorted()
    guard !sorted.isEmpty else { return nil }
    func q(_ p: Double) -> Double { sorted[Swift.min(sorted.count - 1, Int(p * Double(sorted.count - 1)))] }
    return (q(0.005), q(0.995))
  }

  /// The range of a loss curve: from the lowest value to the 98th percentile
  /// (the first steps' losses can be orders of magnitude larger), widened by 5 %.
  static func robustRange(_ finite: [Double]) -> (Double, Double) {
    let sorted = finite.sorted()
    return SVGText.bounds([sorted.first!, sorted[Swift.min(sorted.count - 1, Int(Double(sorted.count) * 0.98))]])
  }

  /// The minibatch loss as a grey polyline in `frame` (values above its range drawn at its top).
  static func lossPolyline(_ losses: [Double], frame: Frame) -> String {
    let points = losses.enumerated().filter { $0.element.isFinite }.map {
      "\(SVGText.number(frame.sx(Double($0.offset + 1)))),\(SVGText.number(frame.sy(Swift.min($0.element, frame.yr.1))))"
    }
    return "<polyline fill=\"none\" stroke=\"#888\" stroke-width=\"1\" points=\"\(points.joined(separator: " "))\"/>\n"
  }

  /// A plot area with linear scales and tick labels.
  struct Frame {
    var x, top, w, h, pad: Double
    var xr, yr: (Double, Double)
    func sx(_ v: Double) -> Double { x + pad + (v - xr.0) / (xr.1 - xr.0) * (w - pad - 15) }
    func sy(_ v: Double) -> Double { top + h - pad + 20 - (v - yr.0) / (yr.1 - yr.0) * (h - pad - 10) }

    func axes(xLabel: String, yLabel: String) -> String {
      let x0 = x + pad
      let y0 = top + 20 + 10
      let width = w - pad - 15
      let height = h - pad - 10
      var s =
        "<rect x=\"\(x0)\" y=\"\(y0)\" width=\"\(width)\" height=\"\(height)\" fill=\"none\" stroke=\"#999\"/>\n"
      for v in ticks(xr) {
        let px = sx(v)
        s += "<line x1=\"\(px)\" y1=\"\(y0 + height)\" x2=\"\(px)\" y2=\"\(y0 + height + 4)\" stroke=\"#999\"/>\n"
        s += "<text x=\"\(px)\" y=\"\(y0 + height + 16)\" text-anchor=\"middle\">\(label(v))</text>\n"
      }
      for v in ticks(yr) {
        let py = sy(v)
        s += "<line x1=\"\(x0 - 4)\" y1=\"\(py)\" x2=\"\(x0)\" y2=\"\(py)\" stroke=\"#999\"/>\n"
        s += "<text x=\"\(x0 - 6)\" y=\"\(py + 4)\" text-anchor=\"end\">\(label(v))</text>\n"
      }
      s += "<text x=\"\(x0 + width / 2)\" y=\"\(y0 + height + 32)\" text-anchor=\"middle\">\(xLabel)</text>\n"
      s +=
        "<text transform=\"translate(\(x + 14), \(y0 + height / 2)) rotate(-90)\" text-anchor=\"middle\">\(yLabel)</text>\n"
      return s
    }

    /// About five round tick values inside the range.
    func ticks(_ r: (Double, Double)) -> [Double] {
      let span = r.1 - r.0
      guard span > 0, span.isFinite else { return [] }
      let raw = span / 5
      let mag = Double.pow(10, (Double.log10(raw)).rounded(.down))
      let step = [1.0, 2, 5, 10].map { $0 * mag }.first { $0 >= raw } ?? 10 * mag
      var v = (r.0 / step).rounded(.up) * step
      var out: [Double] = []
      while v <= r.1 + 1e-9 * span {
        out.append(v)
        v += step
      }
      return out
    }

    func label(_ v: Double) -> String {
      let a = Swift.abs(v)
      if a == 0 { return "0" }
      if a >= 1e5 || a < 1e-3 { return String(format: "%.0e", v) }
      return a >= 100 ? String(format: "%.0f", v) : String(format: "%g", (v * 1000).rounded() / 1000)
    }
  }

  func bounds(_ v: [Double]) -> (Double, Double) { SVGText.bounds(v) }
  func f(_ x: Double) -> String { SVGText.number(x) }
  func escape(_ s: String) -> String { SVGText.escape(s) }
}

/// The plane a scatter of D-dimensional points is drawn in: the first two
/// columns for D ≤ 2, else the two leading principal directions of the
/// reference points (centred at their mean), labelled with their share of the variance.
struct ScatterProjection {
  let mean: [Double]
  /// Two directions of D values each (nil: the first two columns).
  let directions: [[Double]]?
  let labels: (String, String)

  init<T: SDEScalar>(_ reference: Matrix<T>) throws {
    let dims = reference.cols
    guard dims > 2, reference.rows > 2 else {
      mean = []
      directions = nil
      labels = ("y₀", dims > 1 ? "y₁" : "y₀")
      return
    }
    let g = try GaussianBaseline(fitting: reference, jitter: 1e-12)
    let (values, vectors) = try LAPACK.symmetricEigen(g.covariance)
    let total = values.reduce(0, +)
    mean = g.mean
    var d: [[Double]] = []
    for c in [dims - 1, dims - 2] { d.append((0..<dims).map { vectors[$0, c] }) }
    directions = d
    func share(_ c: Int) -> String { String(format: "%.0f %%", 100 * values[c] / Swift.max(total, 1e-300)) }
    labels = ("1st principal direction (\(share(dims - 1)) of variance)", "2nd (\(share(dims - 2)))")
  }

  /// The first `limit` rows in the plane.
  func project<T: SDEScalar>(_ m: Matrix<T>, limit: Int) -> [(Double, Double)] {
    (0..<Swift.min(m.rows, limit)).map { r in
      guard let directions else { return (Double(m[r, 0]), Double(m[r, Swift.min(1, m.cols - 1)])) }
      var p = (0.0, 0.0)
      for c in 0..<m.cols {
        let v = Double(m[r, c]) - mean[c]
        p.0 += v * directions[0][c]
        p.1 += v * directions[1][c]
      }
      return p
    }
  }
}

/// The helpers of the SVG writers: axis ranges, coordinates, text.
enum SVGText {
  /// The finite values' range widened by 5 % on each side (a unit range around a constant; (0, 1) for none).
  static func bounds(_ v: [Double]) -> (Double, Double) {
    let finite = v.filter(\.isFinite)
    guard let lo = finite.min(), let hi = finite.max() else { return (0, 1) }
    let span = hi - lo
    return span > 0 ? (lo - 0.05 * span, hi + 0.05 * span) : (lo - 1, hi + 1)
  }
  /// A coordinate with one decimal.
  static func number(_ x: Double) -> String { String(format: "%.1f", x) }
  /// Text with `&` and `<` escaped.
  static func escape(_ s: String) -> String {
    s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
  }
}
