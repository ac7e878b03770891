/// What the control sees of the observations still to come (docs/MODEL.md
/// §7, option (a)): at step i, for data point b, the next J observations
/// after `t_i` — each as its values (0 where not observed), its mask and the
/// time to it, `t_{b, i(j)} − t_{b, i}` — `J·(2D + 1)` numbers, zeros past the
/// last observation. With J covering every observation this is all the
/// future the optimal control depends on.
package struct ObservationContext<Scalar: SDEScalar>: @unchecked Sendable {
  let observations: PathObservations<Scalar>
  let grid: BatchGrid
  /// J.
  let lookahead: Int

  package init(observations: PathObservations<Scalar>, grid: BatchGrid, lookahead: Int) {
    self.observations = observations
    self.grid = grid
    self.lookahead = lookahead
  }

  /// The context a model's control reads, or nil for a model without a lookahead.
  init?(observations: PathObservations<Scalar>, grid: BatchGrid, model: NeuralSDEModel<Scalar>) {
    let j = model.configuration.lookahead
    guard j > 0 else { return nil }
    self.init(observations: observations, grid: grid, lookahead: j)
  }

  /// Writes point b's context at step i to `out` (`J·(2D + 1)` values).
  package func write(step i: Int, point b: Int, into out: UnsafeMutablePointer<Scalar>) {
    let dims = observations.values[0].cols
    let steps = observations.schedule.steps
    let first = steps.firstIndex { $0 > i } ?? steps.count
    let times = grid.grid(point: b).times
    for slot in 0..<lookahead {
      let base = out + slot * (2 * dims + 1)
      let o = first + slot
      guard o < steps.count else {
        base.update(repeating: 0, count: 2 * dims + 1)
        continue
      }
      let values = observations.values[o].base + b * dims
      let mask = observations.masks[o].map { $0.base + b * dims }
      for c in 0..<dims {
        base[c] = values[c]
        base[dims + c] = mask?[c] ?? 1
      }
      base[2 * dims] = Scalar(times[steps[o]] - times[i])
    }
  }
}
