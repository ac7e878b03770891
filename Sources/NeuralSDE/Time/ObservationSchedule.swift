/// The steps of the grid at which the likelihood is read: `y ~ p_θ(y | X_j)`
/// for each observation step j (docs/MODEL.md §7). The static model of the
/// paper observes its path once, at the last step (`terminal`).
///
/// The solve loop keeps the state at each observation step (outside the tape,
/// `O(observations·M·d)`), so checkpoint segments need not align with it; the
/// backward loop injects each observation's cotangent `∂L/∂X_j` when it
/// reaches step j, and the tangent loop reads `S_j` there.
public struct ObservationSchedule: Sendable, Equatable {
  /// Increasing step indices in `0…N`.
  public let steps: [Int]

  /// The last step only: the static model `y ~ p_θ(y | X_N)`.
  public static func terminal(steps n: Int) -> ObservationSchedule { ObservationSchedule(unchecked: [n]) }

  /// Observations at `steps` of an N-step grid.
  /// - Throws: `invalidArgument` unless the steps are strictly increasing, in `0…N`, and at least one.
  public init(steps: [Int], gridSteps n: Int) throws {
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

/// What is observed along the path (docs/MODEL.md §7): at each step of the
/// schedule, values `y_j` for every data point (`B × D`) and, optionally, a
/// mask (`B × D` of 0 and 1; 0: not observed, contributing nothing to the
/// likelihood or its gradient). The static model is one observation of the
/// data at the last step (`terminal`).
public struct PathObservations<Scalar: SDEScalar>: @unchecked Sendable {
  /// The observation steps.
  public let schedule: ObservationSchedule
  /// `y_j` per observation, `B × D` (unobserved entries hold 0).
  public let values: [Matrix<Scalar>]
  /// The mask per observation (nil: every entry observed).
  public let masks: [Matrix<Scalar>?]

  /// The data observed once, at the last of `steps` steps.
  public static func terminal(_ data: Matrix<Scalar>, steps n: Int) -> PathObservations {
    PathObservations(schedule: .terminal(steps: n), values: [data], masks: [nil])
  }

  private init(schedule: ObservationSchedule, values: [Matrix<Scalar>], masks: [Matrix<Scalar>?]) {
    self.schedule = schedule
    self.values = values
    self.masks = masks
  }

  /// Observations at `schedule`'s steps: `values[j]` (`B × D`) with NaN (or
  /// a 0 in `masks[j]`) where an entry is not observed.
  /// - Throws: `shapeMismatch` naming the observation for a count or shape
  ///   that does not fit, `invalidArgument` for a mask entry other than 0 or 1
  ///   or an infinite value.
  public init(schedule: ObservationSchedule, values: [Matrix<Scalar>], masks: [Matrix<Scalar>?]? = nil) throws {
    let n = schedule.steps.count
    guard values.count == n, masks.map({ $0.count == n }) ?? true else {
      throw NSDEError.shapeMismatch(
        "\(n) observation steps but \(values.count) value matrices and \(masks?.count ?? n) masks")
    }
    guard let first = values.first else { throw NSDEError.invalidArgument("no observations") }
    var cleaned: [Matrix<Scalar>] = []
    var allMasks: [Matrix<Scalar>?] = []
    for (j, v) in values.enumerated() {
      guard v.rows == first.rows, v.cols == first.cols else {
        throw NSDEError.shapeMismatch(
          "observation \(j) is \(v.shapeDescription) but observation 0 is \(first.shapeDescription)")
      }
      let given = masks?[j]
      if let given, given.rows != v.rows || given.cols != v.cols {
        throw NSDEError.shapeMismatch("mask \(j) is \(given.shapeDescription) but its values are \(v.shapeDescription)")
      }
      let mask = Matrix<Scalar>(rows: v.rows, cols: v.cols)
      let value = Matrix<Scalar>(rows: v.rows, cols: v.cols)
      var partial = given != nil
      for i in 0..<v.count {
        var m = given?.base[i] ?? 1
        guard m == 0 || m == 1 else {
          throw NSDEError.invalidArgument(
            "mask \(j) entry \(i / v.cols),\(i % v.cols) is \(m); masks hold 0 or 1")
        }
        if v.base[i].isNaN { m = 0 }
        if m == 1 && !v.base[i].isFinite {
          throw NSDEError.nonFinite("observation \(j) entry \(i / v.cols),\(i % v.cols) is \(v.base[i])")
        }
        if m == 0 { partial = true }
        mask.base[i] = m
        value.base[i] = m == 1 ? v.base[i] : 0
      }
      cleaned.append(value)
      allMasks.append(partial ? mask : nil)
    }
    self.init(schedule: schedule, values: cleaned, masks: allMasks)
  }

  /// The observations of the data points `points` only (a shard of the
  /// batch): the same schedule, those rows of every value matrix and mask.
  public func points(_ points: Range<Int>) -> PathObservations {
    PathObservations(
      schedule: schedule, values: values.map { $0.rows(points).copy() }, masks: masks.map { $0?.rows(points).copy() })
  }

  /// - Throws: `shapeMismatch` unless there are `points` rows of the model's
  ///   data dimension, `invalidArgument` for steps beyond the grid.
  func check<T>(points: Int, model: NeuralSDEModel<T>, gridSteps n: Int) throws {
    guard values[0].rows == points, values[0].cols == model.dataDimension else {
      throw NSDEError.shapeMismatch(
        "the observations are \(values[0].shapeDescription) but there are \(points) data points of dimension \(model.dataDimension)"
      )
    }
    guard schedule.steps.last! <= n else {
      throw NSDEError.invalidArgument("observation step \(schedule.steps.last!) is beyond the grid's \(n) steps")
    }
  }

  /// The rows of observation o for the data points `points`, and its mask's.
  func rows(_ o: Int, _ points: Range<Int>) -> (values: MatrixView<Scalar>, mask: MatrixView<Scalar>?) {
    (values[o].rows(points), masks[o]?.rows(points))
  }
}
