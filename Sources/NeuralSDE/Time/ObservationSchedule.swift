/// The steps of the grid at which the likelihood is read: `y ~ p_θ(y | X_j)`
/// for each observation step j (docs/MODEL.md §7). The static model of the
/// paper observes its path once, at the last step (`terminal`).
///
/// The solve loop keeps the state at each observation step (outside the tape,
/// `O(observations·M·d)`), so checkpoint segments need not align with it; the
/// backward loop injects each observation's cotangent `∂L/∂X_j` when it
/// reaches step j, and the tangent loop reads `S_j` there.
package struct ObservationSchedule: Sendable, Equatable {
  /// Increasing step indices in `0…N`.
  package let steps: [Int]

  /// The last step only: the static model `y ~ p_θ(y | X_N)`.
  package static func terminal(steps n: Int) -> ObservationSchedule { ObservationSchedule(unchecked: [n]) }

  /// Observations at `steps` of an N-step grid.
  /// - Throws: `invalidArgument` unless the steps are strictly increasing, in `0…N`, and at least one.
  package init(steps: [Int], gridSteps n: Int) throws {
    guard !steps.isEmpty else { throw NSDEError.invalidArgument("an observation schedule needs at least one step") }
    for (a, b) in zip(steps, steps.dropFirst()) where b <= a {
      throw NSDEError.invalidArgument("observation steps must increase strictly, but \(b) follows \(a)")
    }
    guard steps.first! >= 0, steps.last! <= n else {
      throw NSDEError.invalidArgument("observation steps \(steps.first!)…\(steps.last!) are outside the grid's 0…\(n)")
    }
    self.steps = steps
  }

  private init(unchecked steps: [Int]) { self.steps = steps }

  /// The index of the observation at `step`, if one is there.
  func observation(at step: Int) -> Int? {
    // Schedules are short and the last step is the usual one.
    steps.lastIndex(of: step)
  }
}
