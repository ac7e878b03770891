// Data-parallel gradients and training over MPI against one process:
//
//   mpirun -np R nsde-mpi-check [--steps 20]
//
// Every rank computes the distributed gradient of a small model (Double),
// then 20 Adam steps with the distributed estimator, and the same for a batch
// of sequences sharded by sequence (per-sequence grids, lookahead control, 5
// steps). Rank 0 also computes the same with one process (no MPI collective)
// and compares: loss and gradient to 1e-12 relative, parameters after
// training to 1e-10. Prints one line per
// check and "N passed, N failed"; exits 1 if a check fails.
import Foundation
import NSDEBenchmarks
import NeuralSDE
import NeuralSDEDistributed

let communicator = try MPICommunicator()
let arguments = CommandLine.arguments
let trainingSteps = arguments.firstIndex(of: "--steps").flatMap { Int(arguments[$0 + 1]) } ?? 20
// Fault injection for the tests: this rank fails computing its shard (bad input on one rank).
let failingRank = arguments.firstIndex(of: "--fail-rank").flatMap { Int(arguments[$0 + 1]) }
// … or dies (SIGKILL) before its first collective: the job must end, not hang.
let killedRank = arguments.firstIndex(of: "--kill-rank").flatMap { Int(arguments[$0 + 1]) }

func makeModel() throws -> NeuralSDEModel<Double> {
  var config = NeuralSDEConfiguration.reference(latentDimension: 3, hidden: 8, posterior: .feedback)
  config.likelihood = .gaussianLearnedStd(initialStd: 0.5)
  return try NeuralSDEModel<Double>(config, seed: 7)
}

/// The first data point of this rank's shard.
func distributedShardStart(points: Int) -> Int { communicator.rank * points / communicator.size }

var passed = 0
var failed = 0
func check(_ name: String, _ value: Double, below bar: Double) {
  guard communicator.rank == 0 else { return }
  let ok = value <= bar
  print("\(ok ? "pass" : "FAIL")  \(name): \(value) (bar \(bar))")
  if ok { passed += 1 } else { failed += 1 }
}

/// `--bench`: training steps at the reference shapes (d = 16, H = 64, N = 50,
/// M = 1024, K = 4, Double), per-step time and the share spent in the
/// gradient reduction, with `--chunks` cores per rank.
func benchmark() throws {
  let chunks = arguments.firstIndex(of: "--chunks").flatMap { Int(arguments[$0 + 1]) } ?? 1
  let t = try DistributedStepTiming.measure(
    Double.self, configuration: .reference(), points: 256, pathsPerPoint: 4, solverSteps: 50, chunksPerRank: chunks,
    communicator: communicator)
  if communicator.rank == 0 {
    print(
      "ranks \(t.ranks) × \(t.chunksPerRank) core(s): \(String(format: "%.1f", t.stepMilliseconds)) ms per training step (mean over ranks), \(String(format: "%.1f", 100 * t.communicationShare)) % in the gradient reduction (\(t.parameters) parameters, \(t.bytesPerRankPerStep) bytes per rank per step)"
    )
  }
}

do {
  if arguments.contains("--bench") {
    try benchmark()
    communicator.finalize()
    exit(0)
  }
  let data = ToyDataset.twoMoons.sample(count: 37, seed: 3, as: Double.self)  // not a multiple of the ranks
  if killedRank == communicator.rank { kill(getpid(), SIGKILL) }
  if failingRank == communicator.rank {
    // A NaN in this rank's shard: its estimator rejects it; every rank must end, none hang.
    data[distributedShardStart(points: 37), 1] = .nan
  }
  let grid = try TimeGrid(uniformSteps: 6)
  let noise = PhiloxBrownianIncrements<Double>(seed: 5, dimension: 3)
  let distributed = DistributedEstimator(inner: BackpropThroughSolver(chunks: 1), communicator: communicator)
  for objective in TrainingObjective.allCases {
    let model = try makeModel()
    let many = try distributed.gradient(
      of: model, data: data, noise: noise, grid: grid, pathsPerPoint: 4, objective: objective)
    if communicator.rank == 0 {
      let one = try BackpropThroughSolver(chunks: 1).gradient(
        of: model, data: data, noise: noise, grid: grid, pathsPerPoint: 4, objective: objective)
      check(
        "\(objective.rawValue) loss, \(communicator.size) ranks vs 1", relativeError(many.loss, one.loss), below: 1e-12)
      check(
        "\(objective.rawValue) gradient, \(communicator.size) ranks vs 1", relativeError(many.gradient, one.gradient),
        below: 1e-12)
    }
  }
  // Sequences (docs/MODEL.md §7): a batch of per-sequence grids, masks and a
  // lookahead control, sharded by sequence.
  let sequences = try SequenceDataset.ou.sample(count: 11, seed: 4)  // not a multiple of the ranks
  let sequenceConfig = NeuralSDEConfiguration.sequence(latentDimension: 2, dataDimension: 2, hidden: 8, lookahead: 2)
  let batch = try SequenceBatch<Double>(
    sequences, sequences: Array(0..<sequences.count), layout: SequenceLayout(stepsPerInterval: 2))
  let sequenceNoise = PhiloxBrownianIncrements<Double>(seed: 9, dimension: 2)
  for objective in TrainingObjective.allCases {
    let model = try NeuralSDEModel<Double>(sequenceConfig, seed: 3)
    let many = try distributed.gradient(
      of: model, data: batch.conditioning, noise: sequenceNoise, grid: batch.grid, pathsPerPoint: 3,
      objective: objective, observations: batch.observations)
    if communicator.rank == 0 {
      let one = try BackpropThroughSolver(chunks: 1).gradient(
        of: model, data: batch.conditioning, noise: sequenceNoise, grid: batch.grid, pathsPerPoint: 3,
        objective: objective, observations: batch.observations)
      check(
        "sequences: \(objective.rawValue) loss, \(communicator.size) ranks vs 1", relativeError(many.loss, one.loss),
        below: 1e-12)
      check(
        "sequences: \(objective.rawValue) gradient, \(communicator.size) ranks vs 1",
        relativeError(many.gradient, one.gradient), below: 1e-12)
    }
  }
  var sequenceTrainer = SequenceTrainer<Double>()
  sequenceTrainer.steps = 5
  sequenceTrainer.batchSize = 7
  sequenceTrainer.pathsPerPoint = 3
  sequenceTrainer.layout = SequenceLayout(stepsPerInterval: 2)
  sequenceTrainer.estimator = distributed
  let sequenceModel = try NeuralSDEModel<Double>(sequenceConfig, seed: 3)
  _ = try sequenceTrainer.train(sequenceModel, on: sequences)
  if communicator.rank == 0 {
    let reference = try NeuralSDEModel<Double>(sequenceConfig, seed: 3)
    sequenceTrainer.estimator = BackpropThroughSolver(chunks: 1)
    _ = try sequenceTrainer.train(reference, on: sequences)
    check(
      "sequences: parameters after 5 training steps, \(communicator.size) ranks vs 1",
      relativeError(sequenceModel.parameters.elements, reference.parameters.elements), below: 1e-10)
  }
  // Training: the same batches and noise on every rank, the same Adam updates.
  let configuration = TrainingConfiguration(
    steps: trainingSteps, batchSize: 16, pathsPerPoint: 4, grid: grid, objective: .importanceWeighted,
    learningRate: 1e-2, seed: 11, evaluationInterval: 0)
  let model = try makeModel()
  _ = try Trainer(model: model, configuration: configuration, estimator: distributed).train(data: data)
  if communicator.rank == 0 {
    let reference = try makeModel()
    _ = try Trainer(model: reference, configuration: configuration, estimator: BackpropThroughSolver(chunks: 1))
      .train(data: data)
    check(
      "parameters after \(trainingSteps) training steps, \(communicator.size) ranks vs 1",
      relativeError(model.parameters.elements, reference.parameters.elements), below: 1e-10)
  }
  // Every rank holds the same parameters.
  let mine = model.parameters.elements
  let sum = communicator.orderedSum(mine)
  check(
    "parameters identical on all ranks",
    relativeError(sum, mine.map { $0 * Double(communicator.size) }), below: 1e-14)
} catch {
  FileHandle.standardError.write(Data("rank \(communicator.rank): error: \(error)\n".utf8))
  communicator.abort(1)
}
if communicator.rank == 0 { print("\(passed) passed, \(failed) failed") }
communicator.finalize()
exit(failed == 0 ? 0 : 1)
