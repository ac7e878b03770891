import Foundation
import XCTest
import _NSDETestSupport

/// Backprop within a memory budget: the tape holds segments of the solve, the
/// segment starts are kept, and each segment is re-run before its backward
/// pass. Same noise, same kernels: the gradient equals the full tape's bit for bit.
final class CheckpointedBackpropTests: XCTestCase {
  func testBitwiseEqualToFullTape() throws {
    for posterior in PosteriorControl.allCases {
      for noise in [NoiseType.diagonal, .additive, .general(noiseDimension: 2)] {
        for objective in TrainingObjective.allCases {
          let f = try GradientFixture(noise: noise, posterior: posterior)
          let full = BackpropThroughSolver(chunks: 2)
          let reference = try full.gradient(
            of: f.model, data: f.data, noise: f.noise, grid: f.grid, pathsPerPoint: f.k, objective: objective)
          let fullBytes = try XCTUnwrap(
            full.estimatedWorkspaceBytes(model: f.model, points: f.data.rows, pathsPerPoint: f.k, steps: f.grid.steps))
          // Budgets of segments of 1, 2, 3 and 5 of the 6 steps: the estimator picks the
          // largest segment that fits (checkpointing has its own overhead, so a
          // budget may admit a longer segment or the full tape).
          var checkpointed = 0
          for segment in [1, 2, 3, 5] {
            let budget = try XCTUnwrap(
              full.estimatedWorkspaceBytes(
                model: f.model, points: f.data.rows, pathsPerPoint: f.k, steps: f.grid.steps, segment: segment))
            XCTAssertLessThan(budget, fullBytes + 1_000_000)
            let estimator = BackpropThroughSolver(chunks: 2, memoryBudget: budget)
            let chosen = try estimator.segmentLength(
              model: f.model, points: f.data.rows, pathsPerPoint: f.k, steps: f.grid.steps)
            XCTAssertGreaterThanOrEqual(chosen, segment)
            if chosen < f.grid.steps { checkpointed += 1 }
            let r = try estimator.gradient(
              of: f.model, data: f.data, noise: f.noise, grid: f.grid, pathsPerPoint: f.k, objective: objective)
            XCTAssertEqual(r.loss.bitPattern, reference.loss.bitPattern, "\(posterior), \(noise), S = \(segment)")
            XCTAssertTrue(
              zip(r.gradient, reference.gradient).allSatisfy { $0.bitPattern == $1.bitPattern },
              "\(posterior), \(noise), \(objective), S = \(segment): max diff \(zip(r.gradient, reference.gradient).map { abs($0 - $1) }.max()!)"
            )
            XCTAssertLessThanOrEqual(r.diagnostics.peakWorkspaceBytes, budget)
          }
          XCTAssertGreaterThanOrEqual(checkpointed, 2, "budgets must force checkpointing")
        }
      }
    }
  }

  /// A budget too small for one-step segments is a clear error; a large one is the full tape.
  func testBudgetLimits() throws {
    let f = try GradientFixture(noise: .diagonal)
    XCTAssertNil(
      expectError(containing: ["needs at least", "memory budget of 1000 bytes"]) {
        _ = try BackpropThroughSolver(memoryBudget: 1000).gradient(
          of: f.model, data: f.data, noise: f.noise, grid: f.grid, pathsPerPoint: f.k, objective: .freeEnergy)
      })
    XCTAssertEqual(
      try BackpropThroughSolver(memoryBudget: 1 << 40).segmentLength(
        model: f.model, points: f.data.rows, pathsPerPoint: f.k, steps: f.grid.steps), f.grid.steps)
  }
}
