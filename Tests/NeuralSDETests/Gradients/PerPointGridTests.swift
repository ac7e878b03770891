import Foundation
import XCTest
import _NSDETestSupport

/// Per-point grids in one batch (docs/MODEL.md §7): each data point's K paths
/// step with its own step sizes, so sequences observed at their own times share
/// every GEMM.
final class PerPointGridTests: XCTestCase {
  /// Three points on grids of 6 steps with different, irregular times; the
  /// networks do not read the time.
  struct Fixture {
    let model: NeuralSDEModel<Double>
    let data: Matrix<Double>
    let noise: PhiloxBrownianIncrements<Double>
    let grids: [TimeGrid]
    let observations: PathObservations<Double>
    let k = 3

    init(noise type: NoiseType, posterior: PosteriorControl, lookahead: Int = 0) throws {
      var config = NeuralSDEConfiguration.reference(
        latentDimension: 3, dataDimension: 2, hidden: 5, noise: type, posterior: posterior)
      config.initialState = .learned([0.2, -0.1, 0.3])
      config.likelihood = .gaussianLearnedStd(initialStd: 0.7)
      config.drift.timeInput = false
      config.diffusion.timeInput = false
      config.posteriorDrift.timeInput = false
      config.lookahead = lookahead
      config.posteriorDrift.inputs = config.posteriorInputs
      model = try NeuralSDEModel<Double>(config, seed: 2)
      var rng = SplitMix64(seed: 77)
      for i in 0..<model.parameterCount { model.parameters.base[i] += 0.3 * rng.nextNormal() }
      data = randomMatrix(3, 2, seed: 8)
      noise = PhiloxBrownianIncrements(seed: 4, dimension: model.noiseDimension)
      grids = try [
        [0, 0.1, 0.3, 0.45, 0.6, 0.8, 1.0], [0, 0.05, 0.5, 0.55, 0.9, 1.4, 1.5], [0, 0.3, 0.35, 0.4, 1.2, 1.25, 2.0],
      ].map { try TimeGrid(times: $0) }
      // Observations at steps 2, 4, 6 of each point's own grid; point 1 misses its first.
      let schedule = try ObservationSchedule(steps: [2, 4, 6], gridSteps: 6)
      let data = self.data
      let values = (0..<3).map { j in Matrix<Double>(rows: 3, cols: 2) { r, c in data[r, c] + 0.25 * Double(j) } }
      values[0][1, 0] = .nan
      values[0][1, 1] = .nan
      observations = try PathObservations(schedule: schedule, values: values)
    }

    /// Both estimators agree (loss 1e-13, gradient 1e-10) and the backprop
    /// gradient matches central differences with common random numbers (1e-6)
    /// over the parameters `finiteDifferences` (all by default); returns the backprop result.
    @discardableResult
    func checkEstimators(
      _ objective: TrainingObjective, label: String, finiteDifferences indices: Range<Int>? = nil
    ) throws -> GradientResult {
      let a = try gradient(BackpropThroughSolver(chunks: 2), objective)
      let b = try gradient(ForwardPathwise(blockSize: 8, chunks: 2), objective)
      XCTAssertLessThan(relativeError(a.loss, b.loss), 1e-13, label)
      XCTAssertLessThanOrEqual(relativeError(a.gradient, b.gradient), 1e-10, label)
      let fd = try parameterDifferences(model, indices: indices) {
        try gradient(BackpropThroughSolver(chunks: 2), objective).loss
      }
      let range = indices ?? 0..<model.parameterCount
      let checked = Set(objective.differencedIndices(model))
      let kept = range.filter { checked.contains($0) }
      XCTAssertLessThan(
        relativeError(kept.map { a.gradient[$0] }, kept.map { fd[$0 - range.lowerBound] }), 1e-6, label)
      return a
    }

    func gradient(
      _ estimator: any ObservingGradientEstimator, _ objective: TrainingObjective, grid: BatchGrid? = nil
    ) throws -> GradientResult {
      try estimator.gradient(
        of: model, data: data, noise: noise, grid: grid ?? BatchGrid(perPoint: grids), pathsPerPoint: k,
        objective: objective, observations: observations)
    }
  }

  /// Both estimators agree and match central differences with common random
  /// numbers, for diagonal and general noise, each control and objective
  /// (additive σ(t) reads the time, so it cannot step on per-point grids).
  func testBothEstimatorsAgreeAndMatchFiniteDifferences() throws {
    for noise in [NoiseType.diagonal, .general(noiseDimension: 2)] {
      for control in [PosteriorControl.meanField, .feedback] {
        let f = try Fixture(noise: noise, posterior: control)
        for objective in TrainingObjective.allCases {
          try f.checkEstimators(objective, label: "\(noise), \(control), \(objective)")
        }
      }
    }
  }

  /// The batch gives each sequence what it gets alone (on its own grid,
  /// shared, with its own paths of the same noise): the batch's loss and
  /// gradient are the mean of the alone ones, to 1e-12.
  func testBatchEqualsEachSequenceAlone() throws {
    for control in [PosteriorControl.meanField, .feedback] {
      let f = try Fixture(noise: .general(noiseDimension: 2), posterior: control)
      for objective in TrainingObjective.allCases {
        let batch = try f.gradient(BackpropThroughSolver(chunks: 2), objective)
        var loss = 0.0
        var gradient = [Double](repeating: 0, count: f.model.parameterCount)
        for b in 0..<3 {
          let alone = try PathObservations(
            schedule: f.observations.schedule, values: f.observations.values.map { $0.rows(b..<(b + 1)).copy() },
            masks: f.observations.masks.map { $0?.rows(b..<(b + 1)).copy() })
          let r = try BackpropThroughSolver(chunks: 1).gradient(
            of: f.model, data: f.data.rows(b..<(b + 1)).copy(),
            noise: ShiftedBrownianIncrements(f.noise, pathOffset: b * f.k), grid: BatchGrid(shared: f.grids[b]),
            pathsPerPoint: f.k, objective: objective, observations: alone)
          loss += r.loss / 3
          for j in gradient.indices { gradient[j] += r.gradient[j] / 3 }
        }
        XCTAssertLessThan(relativeError(batch.loss, loss), 1e-12, "\(control), \(objective)")
        XCTAssertLessThan(relativeError(batch.gradient, gradient), 1e-12, "\(control), \(objective)")
      }
    }
  }

  /// A control that reads the next J observations (values, masks, time to
  /// each) on per-point grids: both estimators agree and match central
  /// differences, for each control and objective.
  func testLookaheadControlIsDifferentiatedExactly() throws {
    for control in [PosteriorControl.meanField, .feedback] {
      for j in [1, 2] {
        let f = try Fixture(noise: .general(noiseDimension: 2), posterior: control, lookahead: j)
        XCTAssertEqual(f.model.configuration.posteriorInputs, (control == .feedback ? 3 : 0) + j * 5)
        for objective in TrainingObjective.allCases {
          let label = "\(control), J \(j), \(objective)"
          let range = f.model.parameterGroups.first { $0.name == "posterior" }!.range
          let a = try f.checkEstimators(objective, label: label, finiteDifferences: range)
          // The solver's estimates on the same inputs give the same loss.
          let est = try f.model.variationalEstimates(
            data: f.data, observations: f.observations, noise: f.noise, grid: BatchGrid(perPoint: f.grids),
            pathsPerPoint: f.k, chunks: 2)
          let solverLoss = objective == .freeEnergy ? est.freeEnergy.mean : est.importanceWeighted.mean
          XCTAssertEqual(solverLoss, a.loss, accuracy: 1e-12 * abs(a.loss), label)
        }
      }
    }
  }

  /// The context holds the next J observations' values (0 where unobserved),
  /// masks and times to them, in each point's own grid, and zeros past the last.
  func testContextHoldsTheObservationsToCome() throws {
    let f = try Fixture(noise: .diagonal, posterior: .meanField, lookahead: 2)
    let context = ObservationContext(
      observations: f.observations, grid: try BatchGrid(perPoint: f.grids), lookahead: 2)
    var row = [Double](repeating: -1, count: 10)
    // Point 1 at step 1 (t = 0.05): observations at steps 2 (t = 0.5, unobserved) and 4 (t = 0.9).
    context.write(step: 1, point: 1, into: &row)
    let y = f.observations.values
    XCTAssertEqual(row[0..<5], [0, 0, 0, 0, 0.45])
    XCTAssertEqual(row[5], y[1][1, 0])
    XCTAssertEqual(row[6], y[1][1, 1])
    XCTAssertEqual(Array(row[7..<9]), [1, 1])
    XCTAssertEqual(row[9], 0.9 - 0.05, accuracy: 1e-15)
    // Point 2 at step 4 (t = 1.2): only the observation at step 6 (t = 2.0) is to come.
    context.write(step: 4, point: 2, into: &row)
    XCTAssertEqual(row[0], y[2][2, 0])
    XCTAssertEqual(row[4], 0.8, accuracy: 1e-15)
    XCTAssertEqual(Array(row[5..<10]), [0, 0, 0, 0, 0])
  }

  /// The lookahead is kept in the configuration's JSON (absent for static
  /// models, whose files are unchanged) and checked when decoded.
  func testLookaheadInTheConfiguration() throws {
    let f = try Fixture(noise: .diagonal, posterior: .feedback, lookahead: 3)
    let json = try JSONEncoder().encode(f.model.configuration)
    XCTAssertEqual(try JSONDecoder().decode(NeuralSDEConfiguration.self, from: json), f.model.configuration)
    let staticJSON = String(decoding: try JSONEncoder().encode(NeuralSDEConfiguration.reference()), as: UTF8.self)
    XCTAssertFalse(staticJSON.contains("lookahead"))
    let bad = String(decoding: json, as: UTF8.self).replacingOccurrences(
      of: "\"lookahead\":3", with: "\"lookahead\":300")
    XCTAssertThrowsError(try JSONDecoder().decode(NeuralSDEConfiguration.self, from: Data(bad.utf8))) {
      XCTAssertTrue(StrictDecoding.describe($0).contains("lookahead"), StrictDecoding.describe($0))
    }
  }

  /// Per-point grids that are all the same give the shared grid's result.
  func testEqualGridsGiveTheSharedResult() throws {
    let f = try Fixture(noise: .diagonal, posterior: .feedback)
    let grid = f.grids[1]
    for objective in TrainingObjective.allCases {
      let shared = try f.gradient(BackpropThroughSolver(chunks: 2), objective, grid: BatchGrid(shared: grid))
      let each = try f.gradient(
        BackpropThroughSolver(chunks: 2), objective, grid: BatchGrid(perPoint: [grid, grid, grid]))
      XCTAssertEqual(shared.loss, each.loss, accuracy: 1e-14 * abs(shared.loss))
      XCTAssertLessThan(relativeError(shared.gradient, each.gradient), 1e-13)
    }
  }

  /// Networks that read the time cannot step on per-point grids; grids of different lengths are named.
  func testRejectsTimedNetworksAndUnequalGrids() throws {
    let f = try GradientFixture(noise: .diagonal)
    let grids = [f.grid, f.grid, f.grid]
    XCTAssertThrowsError(
      try BackpropThroughSolver().gradient(
        of: f.model, data: f.data, noise: f.noise, grid: BatchGrid(perPoint: grids), pathsPerPoint: f.k,
        objective: .freeEnergy, observations: .terminal(f.data, steps: f.grid.steps))
    ) { XCTAssertTrue("\($0)".contains("do not read the time, but drift, diffusion, posterior do"), "\($0)") }
    XCTAssertThrowsError(try BatchGrid(perPoint: [f.grid, TimeGrid(uniformSteps: 3)])) {
      XCTAssertTrue("\($0)".contains("grid 1 has 3 and grid 0 6"), "\($0)")
    }
  }
}
