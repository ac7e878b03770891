import Foundation

/// A minimal SVG writer for the training report: a scatter plot of data vs
/// samples and a line plot of the loss curve, side by side.
struct SVGReport {
  var data: [(Double, Double)]
  var samples: [(Double, Double)]
  var losses: [Double]
  var title: String

  func render() -> String {
    let w = 420.0
    let h = 400.0
    let pad = 40.0
    var out = """
      <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(2 * w + 20))" height="\(Int(h + 40))" font-family="sans-serif" font-size="12">
      <rect width="100%" height="100%" fill="white"/>
      <text x="10" y="18" font-size="14">\(escape(title))</text>

      """
    // Scatter.
    let all = data + samples
    let xs = all.map(\.0)
    let ys = all.map(\.1)
    let (x0, x1) = bounds(xs)
    let (y0, y1) = bounds(ys)
    func sx(_ x: Double) -> Double { pad + (x - x0) / (x1 - x0) * (w - 2 * pad) }
    func sy(_ y: Double) -> Double { 30 + h - pad - (y - y0) / (y1 - y0) * (h - 2 * pad) }
    out +=
      "<rect x=\"\(pad)\" y=\"\(30 + pad)\" width=\"\(w - 2 * pad)\" height=\"\(h - 2 * pad)\" fill=\"none\" stroke=\"#999\"/>\n"
    for (x, y) in data {
      out += "<circle cx=\"\(f(sx(x)))\" cy=\"\(f(sy(y)))\" r=\"1.6\" fill=\"#1f77b4\" fill-opacity=\"0.6\"/>\n"
    }
    for (x, y) in samples {
      out += "<circle cx=\"\(f(sx(x)))\" cy=\"\(f(sy(y)))\" r=\"1.6\" fill=\"#d62728\" fill-opacity=\"0.6\"/>\n"
    }
    out +=
      "<text x=\"\(pad)\" y=\"\(30 + pad - 8)\"><tspan fill=\"#1f77b4\">● data</tspan>  <tspan fill=\"#d62728\">● samples</tspan></text>\n"
    // Loss curve.
    let ox = w + 20
    let finite = losses.filter(\.isFinite)
    if finite.count >= 2 {
      let (l0, l1) = bounds(finite)
      func lx(_ i: Int) -> Double { ox + pad + Double(i) / Double(losses.count - 1) * (w - 2 * pad) }
      func ly(_ v: Double) -> Double { 30 + h - pad - (v - l0) / (l1 - l0) * (h - 2 * pad) }
      out +=
        "<rect x=\"\(ox + pad)\" y=\"\(30 + pad)\" width=\"\(w - 2 * pad)\" height=\"\(h - 2 * pad)\" fill=\"none\" stroke=\"#999\"/>\n"
      let points = losses.enumerated().filter { $0.element.isFinite }.map { "\(f(lx($0.offset))),\(f(ly($0.element)))" }
      out +=
        "<polyline fill=\"none\" stroke=\"#333\" stroke-width=\"1\" points=\"\(points.joined(separator: " "))\"/>\n"
      out +=
        "<text x=\"\(ox + pad)\" y=\"\(30 + pad - 8)\">loss per step (\(String(format: "%.3g", l0)) … \(String(format: "%.3g", l1)))</text>\n"
      out += "<text x=\"\(ox + w / 2 - 20)\" y=\"\(30 + h - 10)\">step</text>\n"
    }
    return out + "</svg>\n"
  }

  func bounds(_ v: [Double]) -> (Double, Double) {
    guard let lo = v.min(), let hi = v.max() else { return (0, 1) }
    let span = hi - lo
    return span > 0 ? (lo - 0.05 * span, hi + 0.05 * span) : (lo - 1, hi + 1)
  }
  func f(_ x: Double) -> String { String(format: "%.1f", x) }
  func escape(_ s: String) -> String {
    s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
  }
}
