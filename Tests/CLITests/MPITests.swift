import Foundation
import NeuralSDE
import XCTest

/// Data parallelism over MPI (Open MPI on loopback TCP, as in CI): 2 ranks
/// against one process, and a failing rank ending the job cleanly.
final class MPITests: XCTestCase {
  var mpirun: URL? {
    ["/usr/bin/mpirun", "/usr/local/bin/mpirun"].map(URL.init(fileURLWithPath:))
      .first { FileManager.default.isExecutableFile(atPath: $0.path) }
  }

  func launch(_ ranks: Int, _ extra: [String] = [], timeout: TimeInterval = 120) throws -> Bench.Outcome {
    let mpirun = try XCTUnwrap(mpirun, "mpirun is missing: scripts/setup installs openmpi-bin")
    return try Bench.run(
      executable: mpirun,
      [
        "--allow-run-as-root", "--oversubscribe", "-np", "\(ranks)", "--mca", "btl", "tcp,self",
        Bench.product("nsde-mpi-check").path,
      ] + extra, timeout: timeout)
  }

  /// Loss and gradient (every objective, DReG too) with 2 ranks equal one process's to
  /// 1e-12; 20 training steps give parameters equal to 1e-10, identical on all ranks.
  func testTwoRanksAgreeWithOneProcess() throws {
    let r = try launch(2)
    XCTAssertEqual(r.status, 0, r.stdout + r.stderr)
    XCTAssertTrue(r.stdout.contains("15 passed, 0 failed"), r.stdout)
  }

  /// Bad input on one rank ends every rank with a clear error, within a bounded time.
  func testFailingRankEndsTheJob() throws {
    let start = Date()
    let r = try launch(2, ["--fail-rank", "1"], timeout: 60)
    XCTAssertNotEqual(r.status, 0)
    XCTAssertTrue(r.stderr.contains("rank 0: error: invalid argument: another MPI rank failed"), r.stderr)
    XCTAssertTrue(r.stderr.contains("rank 1: error: non-finite values"), r.stderr)
    XCTAssertLessThan(Date().timeIntervalSince(start), 30)
  }

  /// A rank killed by SIGKILL ends the whole job (Open MPI aborts the others), within a bounded time.
  func testKilledRankEndsTheJob() throws {
    let start = Date()
    let r = try launch(2, ["--kill-rank", "1"], timeout: 60)
    XCTAssertNotEqual(r.status, 0)
    XCTAssertTrue(r.stderr.contains("signal 9") || r.stderr.contains("Killed"), r.stderr)
    XCTAssertLessThan(Date().timeIntervalSince(start), 30)
  }

  /// `report --mpi` splits a training step into compute and the reduction, on rank 0.
  func testReportMPI() throws {
    let mpirun = try XCTUnwrap(mpirun)
    let r = try Bench.run(
      executable: mpirun,
      [
        "--allow-run-as-root", "--oversubscribe", "-np", "2", "--mca", "btl", "tcp,self", Bench.executable.path,
        "report", "--mpi", "--dtype", "double", "--latent-dim", "3", "--hidden", "8", "--paths", "64", "--solver-steps",
        "5", "--json",
      ])
    XCTAssertEqual(r.status, 0, r.stderr)
    let object = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
    let results = try XCTUnwrap(object?["results"] as? [String: Any])
    let double = try XCTUnwrap(results["double"] as? [String: Any])
    XCTAssertEqual(double["ranks"] as? Int, 2)
    XCTAssertGreaterThan(
      try XCTUnwrap(double["step_ms"] as? Double), try XCTUnwrap(double["communication_ms"] as? Double))
  }

  /// `nsde-bench train` under `mpirun -np 2` (sharded, rank 0 writes) ends with
  /// the parameters of one process; resuming with another rank count continues
  /// the same run.
  func testTrainUnderMPIMatchesOneProcessAndResumesWithOtherRankCounts() throws {
    let scratch = try Scratch()
    defer { scratch.cleanup() }
    let mpirun = try XCTUnwrap(mpirun)
    let options = [
      "train", "--dtype", "double", "--latent-dim", "3", "--hidden", "8", "--solver-steps", "6", "--dataset-points",
      "300", "--batch-size", "32", "--evaluation-paths-per-point", "8", "--samples", "50", "--evaluate-every", "0",
      "--chunks", "1",
    ]
    func mpi(_ ranks: Int, _ args: [String]) throws -> Bench.Outcome {
      try Bench.run(
        executable: mpirun,
        [
          "--allow-run-as-root", "--oversubscribe", "-np", "\(ranks)", "--mca", "btl", "tcp,self",
          Bench.executable.path,
        ]
          + args)
    }
    func parameters(_ dir: String) throws -> [Double] {
      try NeuralSDEModel<Double>(checkpoint: scratch.path(dir) + "/checkpoint.safetensors").parameters.elements
    }
    func relative(_ a: [Double], _ b: [Double]) -> Double {
      let d = zip(a, b).map { ($0 - $1) * ($0 - $1) }.reduce(0, +).squareRoot()
      return d / max(a.map { $0 * $0 }.reduce(0, +).squareRoot(), 1e-300)
    }
    var r = try Bench.run(options + ["--train-steps", "20", "--output-dir", scratch.path("one")])
    XCTAssertEqual(r.status, 0, r.stderr)
    r = try mpi(2, options + ["--train-steps", "20", "--output-dir", scratch.path("two")])
    XCTAssertEqual(r.status, 0, r.stderr)
    XCTAssertTrue(r.stderr.contains("2 MPI ranks"), r.stderr)
    XCTAssertLessThan(relative(try parameters("two"), try parameters("one")), 1e-10)
    // 10 of the 20 steps on 2 ranks, then resumed to 20 on 1 process.
    r = try mpi(2, options + ["--train-steps", "20", "--stop-at", "10", "--output-dir", scratch.path("half")])
    XCTAssertEqual(r.status, 0, r.stderr)
    r = try Bench.run(
      options + [
        "--train-steps", "20", "--output-dir", scratch.path("resumed"), "--resume",
        scratch.path("half") + "/checkpoint.safetensors",
      ])
    XCTAssertEqual(r.status, 0, r.stderr)
    XCTAssertLessThan(relative(try parameters("resumed"), try parameters("one")), 1e-10)
    // Evaluation shared by 2 ranks equals one process's.
    let evaluate = [
      "evaluate", "--checkpoint", scratch.path("one") + "/checkpoint.safetensors", "--dataset", "two-moons",
      "--points", "40", "--paths-per-point", "50", "--max-paths-per-solve", "400", "--samples", "50", "--json",
      "--chunks", "1",
    ]
    let single = try Bench.run(evaluate)
    let shared = try mpi(2, evaluate)
    XCTAssertEqual(single.status, 0, single.stderr)
    XCTAssertEqual(shared.status, 0, shared.stderr)
    func nll(_ o: Bench.Outcome) throws -> Double {
      let object = try JSONSerialization.jsonObject(with: Data(o.stdout.utf8)) as? [String: Any]
      let e = try XCTUnwrap(object?["evaluation"] as? [String: Any])
      return try XCTUnwrap(e["negative_log_likelihood"] as? Double)
    }
    XCTAssertEqual(try nll(shared), try nll(single), accuracy: 1e-12 * abs(try nll(single)))
  }

  /// `train-sequences` under mpirun shards each minibatch's sequences over
  /// the ranks: the checkpoint equals one process's to 1e-10, rank 0 alone writes.
  func testTrainSequencesUnderMPIMatchesOneProcess() throws {
    let scratch = try Scratch()
    defer { scratch.cleanup() }
    let mpirun = try XCTUnwrap(mpirun)
    let options = [
      "train-sequences", "--dataset", "ou", "--count", "24", "--hidden", "8", "--train-steps", "6", "--batch-size", "5",
      "--paths-per-point", "2", "--steps-per-interval", "1", "--evaluation-paths", "4", "--json",
    ]
    let one = try Bench.run(options + ["--output-dir", scratch.path("one")])
    XCTAssertEqual(one.status, 0, one.stderr)
    let two = try Bench.run(
      executable: mpirun,
      ["--allow-run-as-root", "--oversubscribe", "-np", "2", "--mca", "btl", "tcp,self", Bench.executable.path]
        + options + ["--output-dir", scratch.path("two")])
    XCTAssertEqual(two.status, 0, two.stderr)
    XCTAssertTrue(two.stderr.contains("2 MPI ranks"), two.stderr)
    let a = try NeuralSDEModel<Double>(checkpoint: scratch.path("one") + "/checkpoint.safetensors").parameters.elements
    let b = try NeuralSDEModel<Double>(checkpoint: scratch.path("two") + "/checkpoint.safetensors").parameters.elements
    let diff = zip(a, b).map { ($0 - $1) * ($0 - $1) }.reduce(0, +).squareRoot()
    XCTAssertLessThan(diff / a.map { $0 * $0 }.reduce(0, +).squareRoot(), 1e-10)
  }
}
