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
          // Budgets of one-level schedules with tapes of 1, 2, 3 steps and a
          // two-level one: the estimator picks the cheapest schedule that fits
          // (it may re-run fewer steps than the one the budget was taken from).
          var checkpointed = 0
          let n = f.grid.steps
          let schedules = try [[1], [2], [3], [4, 2], [2, 1]].map { try CheckpointSchedule(steps: n, levels: $0) }
          for schedule in schedules {
            let budget = try XCTUnwrap(
              full.estimatedWorkspaceBytes(
                model: f.model, points: f.data.rows, pathsPerPoint: f.k, steps: n, schedule: schedule))
            XCTAssertLessThan(budget, fullBytes + 1_000_000)
            let estimator = BackpropThroughSolver(chunks: 2, memoryBudget: budget, allowsMicroBatches: false)
            let chosen = try estimator.checkpointSchedule(
              model: f.model, points: f.data.rows, pathsPerPoint: f.k, steps: n)
            XCTAssertLessThanOrEqual(chosen.recomputedSteps, schedule.recomputedSteps)
            if !chosen.levels.isEmpty { checkpointed += 1 }
            let r = try estimator.gradient(
              of: f.model, data: f.data, noise: f.noise, grid: f.grid, pathsPerPoint: f.k, objective: objective)
            XCTAssertEqual(r.loss.bitPattern, reference.loss.bitPattern, "\(posterior), \(noise), \(schedule)")
            XCTAssertTrue(
              zip(r.gradient, reference.gradient).allSatisfy { $0.bitPattern == $1.bitPattern },
              "\(posterior), \(noise), \(objective), \(schedule): max diff \(zip(r.gradient, reference.gradient).map { abs($0 - $1) }.max()!)"
            )
            XCTAssertLessThanOrEqual(r.diagnostics.peakWorkspaceBytes, budget)
          }
          XCTAssertGreaterThanOrEqual(checkpointed, 2, "budgets must force checkpointing")
        }
      }
    }
  }

  /// Micro-batches: one core's data points run one after another through one
  /// tape (the last batch smaller), their gradients accumulated in order. With
  /// one chunk of b micro-batches that is the same sums in the same order as b
  /// chunks, so the gradient equals the full tape over b chunks bit for bit,
  /// whatever checkpointing the plan adds; the workspace stays in the budget.
  func testMicroBatchesEqualTheFullTapeOverAsManyChunks() throws {
    var batched = 0
    for posterior in PosteriorControl.allCases {
      for noise in [NoiseType.diagonal, .additive, .general(noiseDimension: 2)] {
        for objective in TrainingObjective.allCases {
          let f = try GradientFixture(noise: noise, posterior: posterior)
          let k = 64  // 3 points × 64 paths: batches of 128 and 64 paths
          let one = BackpropThroughSolver(chunks: 1)
          let n = f.grid.steps
          let reference = try one.gradient(
            of: f.model, data: f.data, noise: f.noise, grid: f.grid, pathsPerPoint: k, objective: objective)
          for batches in [2, 3] {
            let budget = try XCTUnwrap(
              one.estimatedWorkspaceBytes(
                model: f.model, points: f.data.rows, pathsPerPoint: k, steps: n, microBatches: batches))
            let estimator = BackpropThroughSolver(chunks: 1, memoryBudget: budget)
            let plan = try estimator.plan(model: f.model, points: f.data.rows, pathsPerPoint: k, steps: n)
            XCTAssertLessThanOrEqual(plan.estimatedBytes, budget)
            if plan.microBatches > 1 { batched += 1 }
            let r = try estimator.gradient(
              of: f.model, data: f.data, noise: f.noise, grid: f.grid, pathsPerPoint: k, objective: objective)
            let same = try BackpropThroughSolver(chunks: plan.microBatches).gradient(
              of: f.model, data: f.data, noise: f.noise, grid: f.grid, pathsPerPoint: k, objective: objective)
            let context = "\(posterior), \(noise), \(objective), \(plan)"
            XCTAssertEqual(r.loss.bitPattern, same.loss.bitPattern, context)
            XCTAssertTrue(zip(r.gradient, same.gradient).allSatisfy { $0.bitPattern == $1.bitPattern }, context)
            XCTAssertLessThanOrEqual(r.diagnostics.peakWorkspaceBytes, budget, context)
            // Against one chunk's full tape: split invariance (round-off only).
            let scale = reference.gradient.map(abs).max()!
            let diff = zip(r.gradient, reference.gradient).map { abs($0 - $1) }.max()!
            XCTAssertLessThanOrEqual(diff, 1e-13 * scale, context)
            XCTAssertEqual(r.loss, reference.loss, accuracy: 1e-13 * abs(reference.loss), context)
          }
        }
      }
    }
    XCTAssertGreaterThan(batched, 0, "some budgets must be met by micro-batches")
  }

  /// The plan's cost model: the full tape costs 1; re-running steps and
  /// smaller passes cost more; without micro-batches the plan is the checkpoint schedule alone.
  func testPlanCostModel() throws {
    let f = try GradientFixture(noise: .diagonal)
    let full = try BackpropThroughSolver(chunks: 1).plan(model: f.model, points: 3, pathsPerPoint: 64, steps: 6)
    XCTAssertEqual(full.relativeCost, 1)
    XCTAssertEqual(full.microBatches, 1)
    XCTAssertEqual(full.schedule, .fullTape(steps: 6))
    let budget = try XCTUnwrap(
      BackpropThroughSolver(chunks: 1).estimatedWorkspaceBytes(
        model: f.model, points: 3, pathsPerPoint: 64, steps: 6, schedule: CheckpointSchedule(steps: 6, levels: [1])))
    let only = try BackpropThroughSolver(chunks: 1, memoryBudget: budget, allowsMicroBatches: false).plan(
      model: f.model, points: 3, pathsPerPoint: 64, steps: 6)
    XCTAssertEqual(only.microBatches, 1)
    XCTAssertGreaterThan(only.relativeCost, 1)
    let any = try BackpropThroughSolver(chunks: 1, memoryBudget: budget).plan(
      model: f.model, points: 3, pathsPerPoint: 64, steps: 6)
    XCTAssertLessThanOrEqual(any.relativeCost, only.relativeCost)
    XCTAssertLessThanOrEqual(any.estimatedBytes, budget)
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
      try BackpropThroughSolver(memoryBudget: 1 << 40).checkpointSchedule(
        model: f.model, points: f.data.rows, pathsPerPoint: f.k, steps: f.grid.steps), .fullTape(steps: f.grid.steps))
  }

  /// Every schedule (one to four levels, any tape length) gives the full
  /// tape's gradient bit for bit on a longer solve, and re-runs the steps its
  /// plan says; invalid levels are named.
  func testMultiLevelSchedulesBitwiseEqual() throws {
    var config = NeuralSDEConfiguration.reference(latentDimension: 3, dataDimension: 2, hidden: 7)
    config.initialState = .learned([0.1, 0.2, -0.3])
    let model = try NeuralSDEModel<Double>(config, seed: 4)
    let data: Matrix<Double> = randomMatrix(3, 2, seed: 5)
    let noise = PhiloxBrownianIncrements<Double>(seed: 6, dimension: model.noiseDimension)
    let grid = try TimeGrid(uniformSteps: 37)
    let reference = try BackpropThroughSolver(chunks: 1).gradient(
      of: model, data: data, noise: noise, grid: grid, pathsPerPoint: 2, objective: .importanceWeighted)
    let full = BackpropThroughSolver(chunks: 1)
    for levels in [[1], [5], [36], [12, 4], [12, 6, 3, 1], [9, 3, 1], [30, 10, 2]] {
      let schedule = try CheckpointSchedule(steps: 37, levels: levels)
      let budget = try XCTUnwrap(
        full.estimatedWorkspaceBytes(model: model, points: 3, pathsPerPoint: 2, steps: 37, schedule: schedule))
      let estimator = BackpropThroughSolver(chunks: 1, memoryBudget: budget, allowsMicroBatches: false)
      let chosen = try estimator.checkpointSchedule(model: model, points: 3, pathsPerPoint: 2, steps: 37)
      let r = try estimator.gradient(
        of: model, data: data, noise: noise, grid: grid, pathsPerPoint: 2, objective: .importanceWeighted)
      XCTAssertEqual(r.loss.bitPattern, reference.loss.bitPattern, "\(chosen)")
      XCTAssertTrue(zip(r.gradient, reference.gradient).allSatisfy { $0.bitPattern == $1.bitPattern }, "\(chosen)")
      XCTAssertLessThanOrEqual(r.diagnostics.peakWorkspaceBytes, budget, "\(chosen)")
      // The chooser tries every one- and two-level schedule.
      if levels.count <= 2 { XCTAssertLessThanOrEqual(chosen.recomputedSteps, schedule.recomputedSteps) }
    }
    // The plan: one forward pass over all steps, then every step differentiated once, in reverse.
    for levels in [[12, 6, 3, 1], [9, 3, 1], [30, 10, 2], [36]] {
      let schedule = try CheckpointSchedule(steps: 37, levels: levels)
      var differentiated: [Int] = []
      for op in schedule.plan.dropFirst() {
        if case .backward(let range, _) = op { differentiated += range.reversed() }
      }
      XCTAssertEqual(differentiated, Array((0..<37).reversed()), "\(levels)")
      XCTAssertEqual(schedule.slots.first, (37 + levels[0] - 1) / levels[0])
    }
    XCTAssertEqual(try CheckpointSchedule(steps: 37, levels: [36]).recomputedSteps, 36)
    XCTAssertEqual(try CheckpointSchedule(steps: 40, levels: [10]).recomputedSteps, 30)
    XCTAssertNil(
      expectError(containing: ["must decrease, each a multiple of the next"]) {
        _ = try CheckpointSchedule(steps: 37, levels: [12, 5])
      })
  }
}
