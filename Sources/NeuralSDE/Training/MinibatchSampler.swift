/// Minibatches by epochs: each epoch a seeded permutation of the training
/// rows, cut into consecutive batches of `batchSize` rows (the last batch of
/// an epoch holds the remainder), so every row is drawn exactly once per
/// epoch and the batches of an epoch are disjoint.
///
/// Counter-based: the permutation of epoch `e` depends only on `(seed, e)`
/// (Fisher–Yates driven by SplitMix64 seeded from a hash of both), so the
/// batch of any step can be recomputed directly, e.g. after resuming.
public struct MinibatchSampler: Sendable {
  /// Number of training rows.
  public let count: Int
  /// Rows per batch (capped at `count`).
  public let batchSize: Int
  /// Seeds every epoch's permutation.
  public let seed: UInt64
  /// Batches per epoch: `⌈count / batchSize⌉`.
  public var batchesPerEpoch: Int { (count + batchSize - 1) / batchSize }

  private var cachedEpoch = -1
  private var permutation: [Int] = []

  /// - Throws: `invalidArgument` for `count < 1` or `batchSize < 1`.
  public init(count: Int, batchSize: Int, seed: UInt64) throws {
    guard count >= 1 else { throw NSDEError.invalidArgument("the training set is empty") }
    guard batchSize >= 1 else { throw NSDEError.invalidArgument("batch size must be ≥ 1, got \(batchSize)") }
    self.count = count
    self.batchSize = Swift.min(batchSize, count)
    self.seed = seed
  }

  /// The row permutation of epoch `epoch` (0-based).
  public static func permutation(count: Int, seed: UInt64, epoch: Int) -> [Int] {
    var rng = SplitMix64(seed: SeedHash.mix(seed, UInt64(epoch), 0x5EED_BA7C))
    var p = Array(0..<count)
    var i = count - 1
    while i > 0 {
      let j = Int(rng.next() % UInt64(i + 1))
      p.swapAt(i, j)
      i -= 1
    }
    return p
  }

  /// The training rows of batch `index` (0-based over the whole run):
  /// epoch `index / batchesPerEpoch`, position `index % batchesPerEpoch`.
  public mutating func rows(ofBatch index: Int) -> ArraySlice<Int> {
    let epoch = index / batchesPerEpoch
    let j = index % batchesPerEpoch
    if epoch != cachedEpoch {
      permutation = Self.permutation(count: count, seed: seed, epoch: epoch)
      cachedEpoch = epoch
    }
    return permutation[(j * batchSize)..<Swift.min((j + 1) * batchSize, count)]
  }
}

/// A shuffled split of a data set into training and held-out rows.
public struct DataSplit<Scalar: SDEScalar>: @unchecked Sendable {
  /// The training rows.
  public let training: Matrix<Scalar>
  /// The held-out rows.
  public let heldOut: Matrix<Scalar>

  /// Puts a seeded random `heldOutFraction` of the rows (at least one, and at
  /// least one left for training) into `heldOut`, the rest into `training`,
  /// each in the permuted order.
  /// - Throws: `invalidArgument` for fewer than 2 rows or a fraction outside (0, 1).
  public init(_ data: Matrix<Scalar>, heldOutFraction: Double, seed: UInt64) throws {
    guard data.rows >= 2 else {
      throw NSDEError.invalidArgument("a train/held-out split needs at least 2 rows, got \(data.rows)")
    }
    guard heldOutFraction > 0, heldOutFraction < 1 else {
      throw NSDEError.invalidArgument("the held-out fraction must lie in (0, 1), got \(heldOutFraction)")
    }
    let held = Swift.min(Swift.max(Int((Double(data.rows) * heldOutFraction).rounded()), 1), data.rows - 1)
    // A permutation no training epoch uses (epochs count up from 0).
    let p = MinibatchSampler.permutation(count: data.rows, seed: seed, epoch: Int.max)
    func gather(_ idx: ArraySlice<Int>) -> Matrix<Scalar> {
      let m = Matrix<Scalar>(rows: idx.count, cols: data.cols)
      for (r, src) in idx.enumerated() {
        (m.base + r * data.cols).copyElements(from: data.base + src * data.cols, count: data.cols)
      }
      return m
    }
    heldOut = gather(p[0..<held])
    training = gather(p[held...])
  }

  /// Given training and held-out sets (e.g. a separate validation file).
  public init(training: Matrix<Scalar>, heldOut: Matrix<Scalar>) {
    self.training = training
    self.heldOut = heldOut
  }
}
