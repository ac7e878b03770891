import Foundation
import XCTest
import _NSDETestSupport

/// The observation schedule of the solve, backward and tangent loops: the
/// likelihood read at several steps, each with its own values and a mask, is
/// differentiated exactly by both estimators.
final class ObservationScheduleTests: XCTestCase {
  /// Observations at `steps`: the fixture's data shifted by 0.3·j at observation j,
  /// about a third of the entries unobserved (a 0 in the mask or NaN), but never a whole row.
  func observations(_ f: GradientFixture, _ steps: [Int]) throws -> PathObservations<Double> {
    let schedule = try ObservationSchedule(steps: steps, gridSteps: f.grid.steps)
    var rng = SplitMix64(seed: UInt64(steps.count * 31 + steps[0]))
    var masks: [Matrix<Double>] = []
    let values = steps.indices.map { j in
      let v = Matrix<Double>(rows: f.data.rows, cols: f.data.cols) { r, c in f.data[r, c] + 0.3 * Double(j) }
      let mask = Matrix<Double>(rows: f.data.rows, cols: f.data.cols) { _, c in c == 0 || rng.nextUnit() > 0.66 ? 1 : 0
      }
      // A NaN value counts as unobserved, like a 0 in the mask.
      if mask[0, 1] == 0 { v[0, 1] = .nan }
      masks.append(mask)
      return v
    }
    return try PathObservations(schedule: schedule, values: values, masks: masks)
  }

  /// Loss of backprop with `observations` (its loss is the forward solve's).
  func loss(_ f: GradientFixture, _ schedule: PathObservations<Double>, _ objective: TrainingObjective) throws -> Double
  {
    try BackpropThroughSolver(chunks: 2).gradient(
      of: f.model, data: f.data, noise: f.noise, grid: BatchGrid(shared: f.grid), pathsPerPoint: f.k,
      objective: objective,
      observations: schedule
    ).loss
  }

  /// Both estimators agree to round-off and match central differences with
  /// common random numbers, for schedules with an observation at x_0, in the
  /// middle and not at the end, for each noise type, control and objective.
  func testBothEstimatorsAgreeAndMatchFiniteDifferences() throws {
    let schedules = [[0, 3, 6], [2, 4], [1, 2, 3, 4, 5, 6]]
    for noise in [NoiseType.diagonal, .additive, .general(noiseDimension: 2)] {
      for control in [PosteriorControl.meanField, .feedback] {
        let f = try GradientFixture(noise: noise, posterior: control)
        for steps in schedules {
          let schedule = try observations(f, steps)
          for objective in TrainingObjective.allCases {
            let a = try BackpropThroughSolver(chunks: 2).gradient(
              of: f.model, data: f.data, noise: f.noise, grid: BatchGrid(shared: f.grid), pathsPerPoint: f.k,
              objective: objective,
              observations: schedule)
            let b = try ForwardPathwise(blockSize: 9, chunks: 2).gradient(
              of: f.model, data: f.data, noise: f.noise, grid: BatchGrid(shared: f.grid), pathsPerPoint: f.k,
              objective: objective,
              observations: schedule)
            let label = "\(noise), \(control), \(steps), \(objective)"
            XCTAssertLessThan(relativeError(a.loss, b.loss), 1e-13, label)
            XCTAssertLessThanOrEqual(relativeError(a.gradient, b.gradient), 1e-10, label)
            // Several observations give a different objective from the terminal one.
            let terminal = try loss(f, .terminal(f.data, steps: f.grid.steps), objective)
            XCTAssertGreaterThan(abs(a.loss - terminal), 1e-3, label)
            if noise == .diagonal {
              let fd = try parameterDifferences(f.model) { try loss(f, schedule, objective.differentiatedLoss) }
              let checked = objective.differencedIndices(f.model)
              XCTAssertLessThan(relativeError(checked.map { a.gradient[$0] }, checked.map { fd[$0] }), 1e-6, label)
            }
          }
        }
      }
    }
  }

  /// With the scale-mixture likelihood (2D + Q learned parameters, each
  /// observation's per-path rows summed) at several masked observations,
  /// both estimators agree and match central differences.
  func testScaleMixtureAtSeveralObservations() throws {
    let f = try GradientFixture(
      noise: .diagonal, likelihood: .gaussianScaleMixture(initialStd: 0.4), posterior: .feedback)
    let schedule = try observations(f, [0, 3, 6])
    for objective in TrainingObjective.allCases {
      let a = try BackpropThroughSolver(chunks: 2).gradient(
        of: f.model, data: f.data, noise: f.noise, grid: BatchGrid(shared: f.grid), pathsPerPoint: f.k,
        objective: objective, observations: schedule)
      let b = try ForwardPathwise(blockSize: 9, chunks: 2).gradient(
        of: f.model, data: f.data, noise: f.noise, grid: BatchGrid(shared: f.grid), pathsPerPoint: f.k,
        objective: objective, observations: schedule)
      XCTAssertLessThan(relativeError(a.loss, b.loss), 1e-13, "\(objective)")
      XCTAssertLessThanOrEqual(relativeError(a.gradient, b.gradient), 1e-10, "\(objective)")
      let fd = try parameterDifferences(f.model) { try loss(f, schedule, objective.differentiatedLoss) }
      let checked = objective.differencedIndices(f.model)
      XCTAssertLessThan(
        relativeError(checked.map { a.gradient[$0] }, checked.map { fd[$0] }), 1e-6, "\(objective)")
    }
  }

  /// A checkpointed tape gives the full tape's gradient bit for bit with
  /// observations inside checkpoint segments.
  func testCheckpointedTapeWithObservations() throws {
    let f = try GradientFixture(noise: .diagonal)
    let schedule = try observations(f, [1, 3, 4])
    let full = try BackpropThroughSolver(chunks: 1).gradient(
      of: f.model, data: f.data, noise: f.noise, grid: BatchGrid(shared: f.grid), pathsPerPoint: f.k,
      objective: .freeEnergy,
      observations: schedule)
    let budget = full.diagnostics.peakWorkspaceBytes * 3 / 4
    let checkpointed = try BackpropThroughSolver(chunks: 1, memoryBudget: budget, allowsMicroBatches: false)
      .gradient(
        of: f.model, data: f.data, noise: f.noise, grid: BatchGrid(shared: f.grid), pathsPerPoint: f.k,
        objective: .freeEnergy,
        observations: schedule)
    XCTAssertLessThan(checkpointed.diagnostics.peakWorkspaceBytes, full.diagnostics.peakWorkspaceBytes)
    XCTAssertEqual(full.loss.bitPattern, checkpointed.loss.bitPattern)
    XCTAssertEqual(full.gradient.map(\.bitPattern), checkpointed.gradient.map(\.bitPattern))
  }

  /// An observation with every entry masked contributes nothing: the loss
  /// and gradient are those without it (to round-off, both estimators).
  func testUnobservedEntriesContributeNothing() throws {
    let f = try GradientFixture(noise: .general(noiseDimension: 2), posterior: .feedback)
    let shifted = Matrix<Double>(rows: 3, cols: 2) { r, c in f.data[r, c] - 0.4 }
    let with = try PathObservations(
      schedule: ObservationSchedule(steps: [2, 6], gridSteps: 6), values: [shifted, f.data],
      masks: [Matrix(rows: 3, cols: 2), nil])
    let without = PathObservations.terminal(f.data, steps: 6)
    for objective in TrainingObjective.allCases {
      let a = try BackpropThroughSolver(chunks: 2).gradient(
        of: f.model, data: f.data, noise: f.noise, grid: BatchGrid(shared: f.grid), pathsPerPoint: f.k,
        objective: objective,
        observations: with)
      let b = try BackpropThroughSolver(chunks: 2).gradient(
        of: f.model, data: f.data, noise: f.noise, grid: BatchGrid(shared: f.grid), pathsPerPoint: f.k,
        objective: objective,
        observations: without)
      let c = try ForwardPathwise(chunks: 2).gradient(
        of: f.model, data: f.data, noise: f.noise, grid: BatchGrid(shared: f.grid), pathsPerPoint: f.k,
        objective: objective,
        observations: with)
      XCTAssertEqual(a.loss, b.loss, accuracy: 1e-13)
      XCTAssertLessThan(relativeError(a.gradient, b.gradient), 1e-13)
      XCTAssertLessThan(relativeError(c.gradient, b.gradient), 1e-10)
    }
  }

  /// Bad schedules and observations are named.
  func testRejectsBadSchedules() throws {
    let f = try GradientFixture(noise: .diagonal)
    let schedule = try ObservationSchedule(steps: [2, 4], gridSteps: 6)
    XCTAssertThrowsError(try PathObservations(schedule: schedule, values: [f.data])) {
      XCTAssertTrue("\($0)".contains("2 observation steps but 1 value"), "\($0)")
    }
    let badMask = Matrix<Double>(rows: 3, cols: 2) { _, _ in 0.5 }
    XCTAssertThrowsError(try PathObservations(schedule: schedule, values: [f.data, f.data], masks: [nil, badMask])) {
      XCTAssertTrue("\($0)".contains("mask 1 entry 0,0 is 0.5"), "\($0)")
    }
    let infinite = f.data.copy()
    infinite[2, 1] = .infinity
    XCTAssertThrowsError(try PathObservations(schedule: schedule, values: [f.data, infinite])) {
      XCTAssertTrue("\($0)".contains("observation 1 entry 2,1"), "\($0)")
    }
    XCTAssertThrowsError(try ObservationSchedule(steps: [], gridSteps: 4))
    XCTAssertThrowsError(try ObservationSchedule(steps: [2, 2], gridSteps: 4)) {
      XCTAssertTrue("\($0)".contains("increase strictly"), "\($0)")
    }
    XCTAssertThrowsError(try ObservationSchedule(steps: [1, 5], gridSteps: 4)) {
      XCTAssertTrue("\($0)".contains("outside"), "\($0)")
    }
  }
}
