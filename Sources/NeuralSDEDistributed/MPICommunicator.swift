import CMPI
import Foundation
import NeuralSDE

/// The MPI world of this process (Open MPI): rank, size and the few
/// collectives data-parallel training needs, with results that do not depend
/// on the reduction algorithm (sums are taken on rank 0 in rank order and
/// broadcast).
public final class MPICommunicator: @unchecked Sendable {
  /// This process's rank, `0 ..< size`.
  public let rank: Int
  /// Number of processes.
  public let size: Int

  /// True if this process was started by `mpirun`/`mpiexec` (Open MPI's environment).
  public static var isLaunchedByMPI: Bool { ProcessInfo.processInfo.environment["OMPI_COMM_WORLD_SIZE"] != nil }

  /// Initialises MPI (once per process).
  /// - Throws: `invalidArgument` if MPI cannot start.
  public init() throws {
    var provided: Int32 = 0
    var initialized: Int32 = 0
    MPI_Initialized(&initialized)
    if initialized == 0 {
      guard MPI_Init_thread(nil, nil, Int32(MPI_THREAD_FUNNELED), &provided) == nsde_mpi_success() else {
        throw NSDEError.invalidArgument("MPI could not be initialised")
      }
    }
    var r: Int32 = 0
    var s: Int32 = 0
    MPI_Comm_rank(nsde_mpi_comm_world(), &r)
    MPI_Comm_size(nsde_mpi_comm_world(), &s)
    rank = Int(r)
    size = Int(s)
  }

  /// Ends MPI (call once, on every rank, at the end).
  public func finalize() { MPI_Finalize() }

  /// Waits for every rank.
  public func barrier() { MPI_Barrier(nsde_mpi_comm_world()) }

  /// Ends every rank with `code` (after a fatal error on one rank: no hang).
  public func abort(_ code: Int32) -> Never {
    MPI_Abort(nsde_mpi_comm_world(), code)
    exit(code)
  }

  /// Seconds spent in `orderedSum` so far (communication and waiting for other ranks).
  public private(set) var communicationSeconds = 0.0

  /// `Σ_r values_r` over the ranks, added on rank 0 in rank order and sent to
  /// every rank: the same result for the same contributions, whatever the
  /// network or the reduction algorithm.
  public func orderedSum(_ values: [Double]) -> [Double] {
    let clock = ContinuousClock()
    let start = clock.now
    defer { communicationSeconds += (clock.now - start).seconds }
    let n = values.count
    var all = [Double](repeating: 0, count: rank == 0 ? n * size : 0)
    var mine = values
    mine.withUnsafeMutableBufferPointer { m in
      all.withUnsafeMutableBufferPointer { a in
        _ = MPI_Gather(
          m.baseAddress, Int32(n), nsde_mpi_double(), rank == 0 ? a.baseAddress : nil, Int32(n), nsde_mpi_double(), 0,
          nsde_mpi_comm_world())
      }
    }
    var sum = [Double](repeating: 0, count: n)
    if rank == 0 { for r in 0..<size { for j in 0..<n { sum[j] += all[r * n + j] } } }
    sum.withUnsafeMutableBufferPointer { s in
      _ = MPI_Bcast(s.baseAddress, Int32(n), nsde_mpi_double(), 0, nsde_mpi_comm_world())
    }
    return sum
  }

  /// The largest of `value` over the ranks (e.g. an error flag).
  public func maximum(_ value: Int32) -> Int32 {
    var v = value
    var out: Int32 = 0
    MPI_Allreduce(&v, &out, 1, nsde_mpi_int(), nsde_mpi_max(), nsde_mpi_comm_world())
    return out
  }
}
