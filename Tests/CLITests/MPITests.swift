import Foundation
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

  /// Loss and gradient (both objectives) with 2 ranks equal one process's to
  /// 1e-12; 20 training steps give parameters equal to 1e-10, identical on all ranks.
  func testTwoRanksAgreeWithOneProcess() throws {
    let r = try launch(2)
    XCTAssertEqual(r.status, 0, r.stdout + r.stderr)
    XCTAssertTrue(r.stdout.contains("6 passed, 0 failed"), r.stdout)
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
}
