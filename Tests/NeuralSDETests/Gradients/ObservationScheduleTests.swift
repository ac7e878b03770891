import Foundation
import XCTest
import _NSDETestSupport

/// The observation schedule of the solve, backward and tangent loops: the
/// likelihood read at several steps (the same data at each, here) is
/// differentiated exactly by both estimators.
final class ObservationScheduleTests: XCTestCase {
  /// Loss of backprop with observations at `steps` (its loss is the forward solve's).
  func loss(_ f: GradientFixture, _ schedule: ObservationSchedule, _ objective: TrainingObjective) throws -> Double {
    try BackpropThroughSolver(chunks: 2).gradient(
      of: f.model, data: f.data, noise: f.noise, grid: f.grid, pathsPerPoint: f.k, objective: objective,
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
          let schedule = try ObservationSchedule(steps: steps, gridSteps: f.grid.steps)
          for objective in TrainingObjective.allCases {
            let a = try BackpropThroughSolver(chunks: 2).gradient(
              of: f.model, data: f.data, noise: f.noise, grid: f.grid, pathsPerPoint: f.k, objective: objective,
              observations: schedule)
            let b = try ForwardPathwise(blockSize: 9, chunks: 2).gradient(
              of: f.model, data: f.data, noise: f.noise, grid: f.grid, pathsPerPoint: f.k, objective: objective,
              observations: schedule)
            let label = "\(noise), \(control), \(steps), \(objective)"
            XCTAssertLessThan(relativeError(a.loss, b.loss), 1e-13, label)
            XCTAssertLessThanOrEqual(relativeError(a.gradient, b.gradient), 1e-10, label)
            // Several observations give a different objective from the terminal one.
            let terminal = try loss(f, .terminal(steps: f.grid.steps), objective)
            XCTAssertGreaterThan(abs(a.loss - terminal), 1e-3, label)
            if noise == .diagonal {
              let p = f.model.parameters.base
              let h = 1e-5
              let fd = try (0..<f.model.parameterCount).map { i -> Double in
                let old = p[i]
                p[i] = old + h
                let up = try loss(f, schedule, objective)
                p[i] = old - h
                let down = try loss(f, schedule, objective)
                p[i] = old
                return (up - down) / (2 * h)
              }
              XCTAssertLessThan(relativeError(a.gradient, fd), 1e-6, label)
            }
          }
        }
      }
    }
  }

  /// A checkpointed tape gives the full tape's gradient bit for bit with
  /// observations inside checkpoint segments.
  func testCheckpointedTapeWithObservations() throws {
    let f = try GradientFixture(noise: .diagonal)
    let schedule = try ObservationSchedule(steps: [1, 3, 4], gridSteps: f.grid.steps)
    let full = try BackpropThroughSolver(chunks: 1).gradient(
      of: f.model, data: f.data, noise: f.noise, grid: f.grid, pathsPerPoint: f.k, objective: .freeEnergy,
      observations: schedule)
    let budget = full.diagnostics.peakWorkspaceBytes * 3 / 4
    let checkpointed = try BackpropThroughSolver(chunks: 1, memoryBudget: budget, allowsMicroBatches: false)
      .gradient(
        of: f.model, data: f.data, noise: f.noise, grid: f.grid, pathsPerPoint: f.k, objective: .freeEnergy,
        observations: schedule)
    XCTAssertLessThan(checkpointed.diagnostics.peakWorkspaceBytes, full.diagnostics.peakWorkspaceBytes)
    XCTAssertEqual(full.loss.bitPattern, checkpointed.loss.bitPattern)
    XCTAssertEqual(full.gradient.map(\.bitPattern), checkpointed.gradient.map(\.bitPattern))
  }

  /// Bad schedules are named.
  func testRejectsBadSchedules() {
    XCTAssertThrowsError(try ObservationSchedule(steps: [], gridSteps: 4))
    XCTAssertThrowsError(try ObservationSchedule(steps: [2, 2], gridSteps: 4)) {
      XCTAssertTrue("\($0)".contains("increase strictly"), "\($0)")
    }
    XCTAssertThrowsError(try ObservationSchedule(steps: [1, 5], gridSteps: 4)) {
      XCTAssertTrue("\($0)".contains("outside"), "\($0)")
    }
  }
}
