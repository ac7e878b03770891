import ArgumentParser
import Foundation
import NeuralSDE
import NeuralSDEDistributed

/// Held-out evaluation of a trained model.
struct Evaluate: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract:
      "Evaluates a checkpoint on held-out data: importance-weighted −log p with many paths per point, F̂, energy distance with its noise floor, against a one-Gaussian baseline and (built-in datasets) the data's own density.",
    discussion: """
      With --dataset, the held-out points are a fresh draw of --points from the built-in distribution \
      (independent of any training draw), the Gaussian baseline is fitted to another fresh draw of 4500 points, \
      and the energy distance compares --samples model samples with as many fresh draws, beside its null \
      (pairs of independent draws of that size) and the z-score against it. \
      With --data-file, the file's rows are evaluated, the baseline is fitted to --train-file (or, without it, \
      to the evaluated rows themselves), and the energy distance compares half as many model samples as rows \
      with a random half of the rows, its null the other half against the same one (20 random splits). \
      With --sequences F (a sequence model from train-sequences), the held-out sequences of F are evaluated: \
      importance-weighted −log p per sequence and per observed value (--paths-per-point paths per sequence), F̂, \
      the paths' convergence, and forecasts of each sequence's last 20 % of observations given the rest \
      (−log p and the CRPS of draws), beside a Gaussian process per channel fitted on --train-sequences and, \
      with --sequence-dataset ou, the data's own law.
      """)

  @Option(help: "The checkpoint written by `nsde-bench train`.") var checkpoint: String
  @Option(help: "Built-in dataset (\(ToyDataset.allCases.map(\.rawValue).joined(separator: ", "))).")
  var dataset: ToyDataset?
  @Option(help: "Held-out data (.npy [count, D] or .csv).") var dataFile: String?
  @Flag(
    help:
      "Add noise uniform over one grid cell to the columns recorded on a grid (as train --dequantize did; found in --train-file if given, else in --data-file): −log p of the dequantised data."
  )
  var dequantize = false
  @Option(help: "Training data for the Gaussian baseline (.npy or .csv; with --data-file).") var trainFile: String?
  @Option(help: "Held-out sequences for a sequence model: a long CSV, or TIMES.npy,VALUES.npy.") var sequences: String?
  @Option(help: "Training sequences for the Gaussian-process baseline (with --sequences).") var trainSequences: String?
  @Option(help: "The built-in set --sequences was drawn from (ou: its exact law is scored too).")
  var sequenceDataset: SequenceDataset?
  @Option(parsing: .unconditional, help: "Held-out points drawn from --dataset (2…1000000).") var points = 500
  @Option(parsing: .unconditional, help: "Paths per point of the importance-weighted −log p (1…100000).")
  var pathsPerPoint = 1000
  @Option(
    parsing: .unconditional,
    help:
      "Model samples for the energy distance with --dataset, compared with as many fresh draws (2…100000); with --data-file the model draws half the rows' count and is compared with half the rows."
  )
  var samples = 5000
  @Option(
    parsing: .unconditional,
    help: "Paths per solve: points are evaluated in chunks of this many paths (memory bound; ≥ 1).")
  var maxPathsPerSolve = 65536
  @Option(parsing: .unconditional, help: "Euler–Maruyama steps (default: the checkpoint's training grid; 1…100000).")
  var solverSteps: Int?
  @Option(parsing: .unconditional, help: "Seed for the held-out draw, noise and samples.") var seed: UInt64 = 0
  @Option(parsing: .unconditional, help: "Row chunks run concurrently (default: one per core; 1…256).") var chunks: Int?
  @Option(
    help:
      "Write each held-out point's importance-weighted −log p (nats) to this file (.npy [B] or .csv with a header), in the order of the evaluated rows, for paired comparisons."
  )
  var perPointOut: String?
  @Flag(help: "Print machine-readable JSON instead of a table.") var json = false
  @Option(help: "Memory the run may allocate, e.g. 512MiB (default: NSDE_MAX_MEMORY, else the available memory).")
  var maxMemory: String?

  func validate() throws {
    try applyMemoryLimit(maxMemory)
    guard [dataset != nil, dataFile != nil, sequences != nil].filter({ $0 }).count == 1 else {
      throw ValidationError("give exactly one of --dataset, --data-file and --sequences")
    }
    if sequences == nil && (trainSequences != nil || sequenceDataset != nil) {
      throw ValidationError("--train-sequences and --sequence-dataset only apply with --sequences")
    }
    if trainFile != nil && dataFile == nil { throw ValidationError("--train-file only applies with --data-file") }
    try checkRange("points", points, 2, 1_000_000)
    try checkRange("paths-per-point", pathsPerPoint, 1, 100_000)
    try checkRange("samples", samples, 2, 100_000)
    try checkRange("max-paths-per-solve", maxPathsPerSolve, 1, 100_000_000)
    if let n = solverSteps { try checkRange("solver-steps", n, 1, 100_000) }
    if let c = chunks { try checkRange("chunks", c, 1, 256) }
  }

  func run() throws {
    try runReportingErrors {
      if let out = perPointOut {
        let inputs =
          [("--checkpoint", checkpoint)]
          + [("--data-file", dataFile), ("--train-file", trainFile)].compactMap {
            n, v in v.map { (n, $0) }
          } + sequenceInputs("--sequences", sequences) + sequenceInputs("--train-sequences", trainSequences)
        try AtomicFile.checkDistinct(outputs: [("--per-point-out", out)], inputs: inputs)
      }
      let info = try Checkpoint.info(checkpoint)
      if let sequences {
        try evaluateSequences(sequences, info)
        return
      }
      guard info.configuration.lookahead == 0 else {
        throw NSDEError.file(
          path: checkpoint,
          reason:
            "holds a sequence model (its control reads \(info.configuration.lookahead) observations ahead); evaluate it with --sequences F"
        )
      }
      if info.dtype == Float.dtypeName { try evaluate(Float.self, info) } else { try evaluate(Double.self, info) }
    }
  }

  func evaluate<T: SDEScalar>(_: T.Type, _ info: Checkpoint.Info) throws {
    // Under mpirun the importance-weighted solves are shared by the ranks; rank 0 prints.
    let mpi = MPICommunicator.isLaunchedByMPI ? try MPICommunicator() : nil
    defer { mpi?.finalize() }
    let isRoot = (mpi?.rank ?? 0) == 0
    func note(_ s: String) { if isRoot { nsdeBenchNote(s) } }
    let partition = mpi.map { c in ModelEvaluation.Partition(rank: c.rank, size: c.size, sum: { c.orderedSum($0) }) }
    let chunks = self.chunks ?? (mpi == nil ? nil : 1)
    let model = try NeuralSDEModel<T>(checkpoint: checkpoint)
    let grid = try solverSteps.map { try TimeGrid(uniformSteps: $0) } ?? info.grid ?? TimeGrid(uniformSteps: 50)
    let heldOut: Matrix<T>
    let training: Matrix<T>
    let reference: ModelEvaluation.Reference
    if let set = dataset {
      heldOut = set.sample(count: points, seed: SeedHash.mix(seed, 1, 0xE7A1), as: T.self)
      training = set.sample(count: 4500, seed: SeedHash.mix(seed, 2, 0xE7A1), as: T.self)
      reference = .dataset(set)
    } else {
      let file = try DataFile.readMatrix(dataFile!, as: T.self)
      let trainingFile = try trainFile.map { try DataFile.readMatrix($0, as: T.self) }
      for (flag, path, m) in [("--data-file", dataFile!, file)]
        + (trainingFile.map { [("--train-file", trainFile!, $0)] } ?? [])
      where m.cols != model.dataDimension {
        throw NSDEError.shapeMismatch(
          "\(flag) \(path) has \(m.cols) column(s) but the model's data dimension is \(model.dataDimension)")
      }
      let columns = dequantize ? Dequantization.gridColumns(trainingFile ?? file) : []
      if dequantize {
        note(
          columns.isEmpty
            ? "--dequantize: no column recorded on a grid"
            : "--dequantize: noise U[0, h) on the column(s) \(Dequantization.describe(columns)); the grid values' −log P per point is at most −log p + \(String(format: "%.4g", Dequantization.cellLogVolumePenalty(columns))) nats"
        )
      }
      heldOut = Dequantization.dequantized(file, columns: columns, seed: seed &+ 13)
      training = trainingFile.map { Dequantization.dequantized($0, columns: columns, seed: seed &+ 14) } ?? heldOut
      reference = .data
      if trainFile == nil { note("no --train-file: the Gaussian baseline is fitted to the evaluated data itself") }
    }
    guard heldOut.cols == model.dataDimension, training.cols == model.dataDimension else {
      throw NSDEError.shapeMismatch(
        "the data have \(heldOut.cols) column(s) but the model's data dimension is \(model.dataDimension)")
    }
    // A model trained behind a standardisation sees the data through it; results return in the data's units.
    let map = info.dataStandardization
    if let map { note("the checkpoint's model sees \(map.summary); −log p in the data's units") }
    let paths = Double(heldOut.rows) * Double(pathsPerPoint)
    note(
      "evaluating \(checkpoint) (step \(info.step), \(info.dtype), \(model.configuration.posteriorControl) control, N = \(grid.steps)) on \(heldOut.rows) points × \(pathsPerPoint) paths = \(Int(paths)) paths …"
    )
    let progress = isRoot ? FractionProgress("importance-weighted −log p") : nil
    let evaluated = try ModelEvaluation.evaluate(
      model, heldOut: map.map { $0.standardized(heldOut) } ?? heldOut,
      training: map.map { $0.standardized(training) } ?? training, reference: map == nil ? reference : .data,
      grid: grid,
      options: .init(
        pathsPerPoint: pathsPerPoint, samples: samples, seed: seed, maxPathsPerSolve: maxPathsPerSolve,
        chunks: chunks, partition: partition, progress: progress.map { p in { p.update($0) } }))
    let e = map.map { evaluated.inOriginalUnits(of: $0) } ?? evaluated
    guard isRoot else { return }
    progress?.finish()
    if let out = perPointOut { try writePerPoint(e.perPointNegativeLogLikelihood, to: out) }
    if json {
      let data = try JSONSerialization.data(
        withJSONObject: [
          "checkpoint": checkpoint, "step": info.step, "dtype": info.dtype, "solver_steps": grid.steps,
          "data": dataFile ?? dataset!.rawValue, "evaluation": try evaluationObject(e),
        ], options: [.prettyPrinted, .sortedKeys])
      print(String(decoding: data, as: UTF8.self))
    } else {
      print(
        "\(checkpoint): step \(info.step), \(model.configuration.posteriorControl) control, N = \(grid.steps); \(e.points) held-out points of \(dataFile ?? dataset!.rawValue); \(Train.duration(e.seconds))"
      )
      print(evaluationTable(e).render())
      print(
        "null: mean ± sd of the energy distance over \(e.noiseFloorReplicates) \(e.noiseFloorMethod) (\(e.samples) points each)"
      )
    }
  }

  /// `evaluate --sequences`: a sequence model on held-out sequences (`SequenceEvaluation`).
  func evaluateSequences(_ path: String, _ info: Checkpoint.Info) throws {
    let (model, layout) = try sequenceModel(checkpoint, info, for: "evaluate --sequences")
    let held = try readSequences(path)
    let training = try trainSequences.map(readSequences)
    try checkColumns("--sequences", held, model)
    if let training { try checkColumns("--train-sequences", training, model) }
    if training == nil { nsdeBenchNote("no --train-sequences: the Gaussian-process baseline is not fitted") }
    var options = SequenceEvaluation.Options()
    options.paths = pathsPerPoint
    options.seed = seed
    let clock = ContinuousClock()
    let start = clock.now
    let e = try SequenceEvaluation.evaluate(
      model, heldOut: held, training: training, layout: layout, truth: sequenceDataset?.process, options: options,
      progress: { nsdeBenchNote($0 + " …") })
    if let out = perPointOut { try writePerPoint(e.model.perSequence, names: held.ids, to: out) }
    if json {
      var result = sequenceEvaluationJSON(e)
      result["checkpoint"] = checkpoint
      result["step"] = info.step
      result["sequences"] = path
      result["seconds"] = (clock.now - start).seconds
      try printJSON(result)
    } else {
      print("\(checkpoint): step \(info.step), sequence model; \(path); \(Train.duration((clock.now - start).seconds))")
      printSequenceEvaluation(e, truthName: sequenceDataset?.process == nil ? nil : sequenceDataset!.rawValue)
    }
  }

  /// `--per-point-out`: each point's (or sequence's, named) −log p as `.npy [B]` or a CSV with a header.
  func writePerPoint(_ values: [Double], names: [String]? = nil, to out: String) throws {
    if out.lowercased().hasSuffix(".npy") {
      try NPY.write(StoredTensor(shape: [values.count], dtype: .float64, values: values), to: out)
    } else if let names {
      try AtomicFile.write(
        text: "sequence,negative_log_likelihood\n"
          + zip(names, values).map { "\(csvField($0)),\($1)" }.joined(separator: "\n") + "\n", to: out)
    } else {
      try AtomicFile.write(
        text: "negative_log_likelihood\n" + values.map { "\($0)" }.joined(separator: "\n") + "\n", to: out)
    }
  }
}
