import Foundation
import XCTest
import _NSDETestSupport

/// The linear-Gaussian model observed along the path at irregular times with
/// a mask (docs/MODEL.md §7): the solver's observations against closed forms.
final class SequenceOracleTests: XCTestCase {
  /// Observation times (irregular; multiples of 1/20, so nodes of uniform grids of 20·j steps).
  let times = [0.1, 0.25, 0.3, 0.55, 0.8, 1.0]

  /// Two sequences observed at `times` on an N-step uniform grid; the
  /// second coordinate is unobserved at the second and fifth times.
  func sequences(steps n: Int) -> [[OracleObservation]] {
    let values: [[[Double]]] = [
      [[0.4, -0.2], [0.7, 0.1], [0.5, 0.3], [-0.1, 0.6], [0.2, 0.2], [0.8, -0.4]],
      [[-0.3, 0.5], [-0.6, 0.2], [-0.2, 0.0], [0.3, -0.5], [0.1, 0.4], [-0.5, 0.3]],
    ]
    return values.map { seq in
      times.enumerated().map { j, t in
        OracleObservation(node: Int((t * Double(n)).rounded()), y: seq[j], observed: [true, j != 1 && j != 4])
      }
    }
  }

  /// The library's observations of the same sequences (NaN where unobserved).
  func pathObservations(_ seqs: [[OracleObservation]], steps n: Int) throws -> PathObservations<Double> {
    let schedule = try ObservationSchedule(steps: seqs[0].map(\.node), gridSteps: n)
    let values = seqs[0].indices.map { j in
      Matrix<Double>(rows: seqs.count, cols: 2) { q, c in seqs[q][j].observed[c] ? seqs[q][j].y[c] : .nan }
    }
    return try PathObservations(schedule: schedule, values: values)
  }

  func oracle(general: Bool) throws -> LinearGaussianOracle { try .example(general: general, std: 0.3) }

  /// The Kalman filter equals the joint Gaussian of all observed entries (a
  /// computation without a filter) on a tiny case, with an observation at x_0.
  func testKalmanFilterEqualsJointGaussian() throws {
    for general in [true, false] {
      let o = try oracle(general: general)
      let grid = try TimeGrid(times: [0, 0.2, 0.35, 0.7, 1.0])
      let seq = [
        OracleObservation(node: 0, y: [0.3, -0.1], observed: [true, false]),
        OracleObservation(node: 2, y: [0.5, 0.2], observed: [true, true]),
        OracleObservation(node: 3, y: [-0.2, 0.4], observed: [false, true]),
        OracleObservation(node: 4, y: [0.6, -0.3], observed: [true, true]),
      ]
      let kalman = try o.kalmanNegativeLogLikelihood(sequence: seq, grid: grid)
      let joint = try o.jointGaussianNegativeLogLikelihood(sequence: seq, grid: grid)
      XCTAssertEqual(kalman, joint, accuracy: 1e-11 * abs(joint), "general \(general)")
    }
  }

  /// One observation at t = 1: the sequence oracle's control is the static
  /// oracle's (two derivations: information filter vs Φ, Q, S).
  func testOneTerminalObservationIsTheStaticControl() throws {
    let o = try oracle(general: true)
    let y = [0.8, -0.4]
    let n = 10
    let seq = [OracleObservation(node: n, y: y, observed: [true, true])]
    let grid = try TimeGrid(uniformSteps: n)
    let a = try o.optimalControl(sequences: [seq], grid: grid)
    let b = try o.optimalFeedbackControl(y: y, steps: n)
    for i in 0..<n {
      for j in 0..<a.gains[i].count { XCTAssertEqual(a.gains[i].base[j], b.gains[i].base[j], accuracy: 1e-10) }
      for j in 0..<a.offsets[i].count { XCTAssertEqual(a.offsets[i].base[j], b.offsets[i].base[j], accuracy: 1e-10) }
    }
  }

  /// Monte Carlo F̂ of the solver observing the path under the optimal
  /// control equals its closed form `F^N(u*)` within 4 standard errors, per
  /// sequence (general m = 3 ≠ d and additive noise).
  func testMonteCarloFreeEnergyMatchesClosedForm() throws {
    for general in [true, false] {
      let o = try oracle(general: general)
      let model = try o.model(general: general)
      for n in [20, 60] {
        let seqs = sequences(steps: n)
        let grid = try TimeGrid(uniformSteps: n)
        let control = try o.optimalControl(sequences: seqs, grid: grid)
        let est = try model.variationalEstimates(
          data: Matrix(rows: 2, cols: 2), observations: pathObservations(seqs, steps: n),
          noise: PhiloxBrownianIncrements(seed: UInt64(5 + n), dimension: o.m), grid: BatchGrid(shared: grid),
          pathsPerPoint: 20000,
          affineControl: control)
        let exact = try (0..<2).map {
          try o.discreteFreeEnergy(sequence: seqs[$0], point: $0, grid: grid, control: control)
        }
        let mc = est.freeEnergy.mean
        let expected = exact.reduce(0, +) / 2
        XCTAssertLessThan(
          abs(mc - expected), 4 * est.freeEnergy.standardError,
          "general \(general), N \(n): MC \(mc) ± \(est.freeEnergy.standardError) vs \(expected)")
        XCTAssertGreaterThan(est.freeEnergy.standardError, 0)
      }
    }
  }

  /// `F^N(u*) − (−log p^N(y_{1:n}))` is positive and shrinks like 1/N
  /// (log–log slope −1 ± 0.15 over four N).
  func testGapShrinksLikeOneOverN() throws {
    for general in [true, false] {
      let o = try oracle(general: general)
      let ns = [40, 80, 160, 320]
      var gaps: [Double] = []
      for n in ns {
        let seqs = sequences(steps: n)
        let grid = try TimeGrid(uniformSteps: n)
        let control = try o.optimalControl(sequences: seqs, grid: grid)
        let f = try o.discreteFreeEnergy(sequence: seqs[0], point: 0, grid: grid, control: control)
        let nll = try o.kalmanNegativeLogLikelihood(sequence: seqs[0], grid: grid)
        XCTAssertGreaterThan(f - nll, 0, "N \(n)")
        gaps.append(f - nll)
      }
      let slope = logLogSlope(ns.map(Double.init), gaps)
      print("sequence oracle gaps (general \(general)): \(gaps), slope \(slope)")
      XCTAssertEqual(slope, -1, accuracy: 0.15, "general \(general): gaps \(gaps)")
    }
  }

  /// Importance weighting with many paths under the optimal control
  /// converges to the discrete chain's Kalman `−log p^N`: over 8 independent
  /// solves of 20 000 paths the mean is within 4 standard errors of it, and
  /// far closer than `F̂` is.
  func testImportanceWeightingConvergesToKalman() throws {
    let o = try oracle(general: true)
    let model = try o.model(general: true)
    let n = 40
    let seqs = sequences(steps: n)
    let grid = try TimeGrid(uniformSteps: n)
    let control = try o.optimalControl(sequences: seqs, grid: grid)
    let observations = try pathObservations(seqs, steps: n)
    let kalman = try (0..<2).map { try o.kalmanNegativeLogLikelihood(sequence: seqs[$0], grid: grid) }
    for q in 0..<2 {
      var iw: [Double] = []
      var fe: [Double] = []
      for r in 0..<8 {
        let est = try model.variationalEstimates(
          data: Matrix(rows: 2, cols: 2), observations: observations,
          noise: PhiloxBrownianIncrements(seed: UInt64(100 + r), dimension: o.m), grid: BatchGrid(shared: grid),
          pathsPerPoint: 20000,
          affineControl: control)
        iw.append(est.importanceWeighted.perDataPoint[q])
        fe.append(est.freeEnergy.perDataPoint[q])
      }
      let mean = iw.reduce(0, +) / 8
      let se = (iw.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / 7 / 8).squareRoot()
      let feMean = fe.reduce(0, +) / 8
      print("sequence \(q): IW \(mean) ± \(se), F̂ \(feMean), Kalman \(kalman[q])")
      XCTAssertLessThan(abs(mean - kalman[q]), 4 * se + 1e-4, "sequence \(q)")
      XCTAssertLessThan(abs(mean - kalman[q]), 0.5 * (feMean - kalman[q]), "sequence \(q)")
    }
  }
}
