import Foundation

/// A training checkpoint in safetensors format: the model parameters (interchange
/// names), the Adam moments (`optimizer.adam.m.<name>`, `optimizer.adam.v.<name>`),
/// and metadata: `format`, `step`, `configuration` (JSON), `dtype`, `optimizer.step`
/// with the moments, the solver grid `grid` (JSON) when given, a sequence
/// model's `sequence_layout` (JSON, `SequenceLayout`), and the affine map the
/// model was trained behind, `data_standardization` (JSON,
/// `DataStandardization`). Written atomically.
///
/// A checkpoint is untrusted input (it may come from someone else): reading one
/// validates every metadata field and every tensor against the configuration
/// and estimates the model's memory before anything is built (`Info`).
public enum Checkpoint {
  /// The `format` metadata value of checkpoints written by this version.
  public static let format = "neuralsde-checkpoint-\(formatVersion)"
  /// The format version this version writes and reads.
  public static let formatVersion = 1
  /// The largest `step` / `optimizer.step` a checkpoint may record.
  public static let maximumStep = 1_000_000_000
  /// The most steps a checkpoint's solver grid may have (the range of `--solver-steps`).
  public static let maximumGridSteps = 100_000

  /// Model selection's record: the file holds the parameters of `step`, the
  /// evaluation step with the lowest held-out importance-weighted `−log p̂`.
  public struct Selection: Sendable, Equatable {
    /// The step whose parameters were kept.
    public var step: Int
    /// Its held-out `−log p̂`, nats per point.
    public var heldOutNegativeLogLikelihood: Double
    /// Paths per held-out point of that estimate.
    public var pathsPerPoint: Int

    /// A record of the kept step.
    public init(step: Int, heldOutNegativeLogLikelihood: Double, pathsPerPoint: Int) {
      self.step = step
      self.heldOutNegativeLogLikelihood = heldOutNegativeLogLikelihood
      self.pathsPerPoint = pathsPerPoint
    }
  }

  /// What a checkpoint says about itself, validated, without building a model.
  ///
  /// `init(file:path:)` checks, in order, and throws `NSDEError.file` naming the
  /// path and the field at the first problem: `format` (a known version; a
  /// newer one is named as such), `dtype`, `step` and `optimizer.step`
  /// (integers in `0…maximumStep`), `configuration` (JSON, every field in its
  /// range and the networks' widths consistent), `grid` (≥ 2 finite, strictly
  /// increasing times, at most `maximumGridSteps` steps), `sequence_layout`
  /// (every field in range), `data_standardization` (one finite mean and
  /// one finite positive scale per data column), the model's memory
  /// against `MemoryLimit`, then the tensors: every parameter of the
  /// configuration present with its shape and finite values, no unknown
  /// tensor, and the Adam moments all present or all absent (finite, second
  /// moments ≥ 0).
  public struct Info: Sendable {
    /// The model configuration the checkpoint was written for.
    public var configuration: NeuralSDEConfiguration
    /// The model's precision: `Float` or `Double` (`SDEScalar.dtypeName`).
    public var dtype: String
    /// Training steps done.
    public var step: Int
    /// Adam's step count (nil when the file has no optimizer state).
    public var optimizerStep: Int?
    /// The solver grid the model was trained with (nil for files written without it).
    public var grid: TimeGrid?
    /// How a sequence model lays sequences out on grids (nil for static models).
    public var sequenceLayout: SequenceLayout?
    /// The affine map the model was trained behind (nil: the model sees the data as given).
    public var dataStandardization: DataStandardization?
    /// Which step's parameters the file holds, when training selected them (nil: the last step's).
    public var selection: Selection?
    /// Number of model parameters.
    public var parameterCount: Int
    /// Bytes the model needs once built: its parameters in `dtype`, a
    /// gradient and Adam's two moments in Double (≈; solves need more).
    public var estimatedModelBytes: Int

    /// Validates a parsed checkpoint file (see the type's documentation).
    /// - Parameters:
    ///   - file: the parsed safetensors file.
    ///   - path: the file's name, for messages.
    public init(file: SafetensorsFile, path: String) throws {
      func fail(_ field: String, _ reason: String) -> NSDEError {
        .file(path: path, reason: "field \(field): \(reason)")
      }
      let meta = file.metadata
      // format
      guard let format = meta["format"] else {
        throw NSDEError.file(path: path, reason: "no `format` in the metadata: not a NeuralSDE checkpoint")
      }
      let prefix = "neuralsde-checkpoint-"
      guard format == Checkpoint.format else {
        if format.hasPrefix(prefix), let v = Int(format.dropFirst(prefix.count)), v > Checkpoint.formatVersion {
          throw fail(
            "format",
            "\"\(format)\" was written by a newer NeuralSDE (format version \(v)); this version reads version \(Checkpoint.formatVersion)"
          )
        }
        throw fail(
          "format", "\"\(Self.clip(format))\" is not a NeuralSDE checkpoint format (expected \"\(Checkpoint.format)\")")
      }
      // dtype
      let dtypes = ["Float", "Double"]
      guard let dtype = meta["dtype"] else { throw fail("dtype", "is missing (Float or Double)") }
      guard dtypes.contains(dtype) else {
        throw fail("dtype", "\"\(Self.clip(dtype))\" is not a model precision (Float or Double)")
      }
      self.dtype = dtype
      // step, optimizer.step
      func count(_ key: String) throws -> Int? {
        guard let text = meta[key] else { return nil }
        guard let v = Int(text), (0...Checkpoint.maximumStep).contains(v) else {
          throw fail(key, "\"\(Self.clip(text))\" is not an integer in 0…\(Checkpoint.maximumStep)")
        }
        return v
      }
      guard let step = try count("step") else { throw fail("step", "is missing (the training steps done)") }
      self.step = step
      optimizerStep = try count("optimizer.step")
      if let selected = try count("selection.step") {
        guard selected <= step else { throw fail("selection.step", "\(selected) is after the file's step \(step)") }
        guard let text = meta["selection.held_out_nll"], let nll = Double(text), nll.isFinite else {
          throw fail("selection.held_out_nll", "is missing or not a finite number")
        }
        guard let paths = try count("selection.paths_per_point"), paths >= 1 else {
          throw fail("selection.paths_per_point", "is missing or not a positive integer")
        }
        selection = Selection(step: selected, heldOutNegativeLogLikelihood: nll, pathsPerPoint: paths)
      } else {
        selection = nil
      }
      // configuration
      guard let json = meta["configuration"] else {
        throw NSDEError.file(path: path, reason: "no `configuration` in the metadata: not a NeuralSDE checkpoint")
      }
      do {
        configuration = try JSONDecoder().decode(NeuralSDEConfiguration.self, from: Data(json.utf8))
      } catch {
        throw NSDEError.file(path: path, reason: StrictDecoding.describe(error, prefix: ["configuration"]))
      }
      // grid
      if let g = meta["grid"] {
        let decoded: TimeGrid
        do { decoded = try JSONDecoder().decode(TimeGrid.self, from: Data(g.utf8)) } catch {
          throw NSDEError.file(path: path, reason: StrictDecoding.describe(error, prefix: ["grid"]))
        }
        guard decoded.steps <= Checkpoint.maximumGridSteps else {
          throw fail("grid.times", "\(decoded.steps) steps; at most \(Checkpoint.maximumGridSteps) are supported")
        }
        grid = decoded
      } else {
        grid = nil
      }
      // sequence_layout
      if let text = meta["sequence_layout"] {
        let decoded: SequenceLayout
        do { decoded = try JSONDecoder().decode(SequenceLayout.self, from: Data(text.utf8)) } catch {
          throw NSDEError.file(path: path, reason: StrictDecoding.describe(error, prefix: ["sequence_layout"]))
        }
        do { try decoded.validate() } catch NSDEError.invalidArgument(let reason) {
          throw fail("sequence_layout", reason)
        }
        sequenceLayout = decoded
      } else {
        sequenceLayout = nil
      }
      // data_standardization
      if let text = meta["data_standardization"] {
        let decoded: DataStandardization
        do { decoded = try JSONDecoder().decode(DataStandardization.self, from: Data(text.utf8)) } catch {
          throw NSDEError.file(path: path, reason: StrictDecoding.describe(error, prefix: ["data_standardization"]))
        }
        if let problem = decoded.problem(dimension: configuration.dataDimension) {
          throw fail("data_standardization", problem)
        }
        dataStandardization = decoded
      } else {
        dataStandardization = nil
      }
      // memory, before any tensor is compared or a model built
      let scalarBytes = dtype == "Float" ? 4 : 8
      let layout = configuration.parameterLayout()
      let p = layout.reduce(0) { $0 + $1.count }
      guard let bytes = SizeArithmetic.product(p, scalarBytes + 24) else {
        throw fail("configuration", "the model it describes has more parameters than can be addressed")
      }
      parameterCount = p
      estimatedModelBytes = bytes
      let limit = MemoryLimit.available
      guard bytes <= limit else {
        throw fail(
          "configuration",
          "the model it describes has \(p) parameters and would need ≈ \(MemoryLimit.describe(bytes)) but only \(MemoryLimit.describe(limit)) are available (set --max-memory or NSDE_MAX_MEMORY to change the limit)"
        )
      }
      try Self.checkTensors(file, layout: layout, hasOptimizerStep: optimizerStep != nil, path: path)
    }

    /// The tensors against the configuration's layout (names, shapes, values).
    static func checkTensors(_ file: SafetensorsFile, layout: [ParameterSlice], hasOptimizerStep: Bool, path: String)
      throws
    {
      func fail(_ reason: String) -> NSDEError { .file(path: path, reason: reason) }
      let moments = ["optimizer.adam.m.", "optimizer.adam.v."]
      switch ParameterTensorProblem.first(in: file.tensors, layout: layout, ignoringPrefixes: moments) {
      case .missing(let s): throw fail("has no tensor \(s.name) (shape \(s.shape)) that its configuration needs")
      case .shape(let s, let found):
        throw fail("tensor \(s.name) has shape \(found) but its configuration needs \(s.shape)")
      case .nonFinite(let s): throw fail("tensor \(s.name) contains NaN/Inf")
      case .unknown(let name): throw fail("has a tensor \(Self.clip(name)) that its configuration does not have")
      case nil: break
      }
      // Adam's moments: none, or both of every parameter (finite; second moments ≥ 0).
      var byName: [String: StoredTensor] = [:]
      for (n, t) in file.tensors { byName[n] = t }
      let hasMoments = file.tensors.contains { t in moments.contains { t.name.hasPrefix($0) } }
      guard hasMoments else { return }
      for s in layout {
        for (k, prefix) in moments.enumerated() {
          let name = prefix + s.name
          guard let m = byName[name], m.shape == s.shape else {
            throw fail(
              "optimizer state \(name) is \(byName[name].map { "of shape \($0.shape)" } ?? "missing"); the model needs \(s.shape)"
            )
          }
          guard m.values.allSatisfy({ $0.isFinite && (k == 0 || $0 >= 0) }) else {
            throw fail("optimizer state \(name) has \(k == 0 ? "non-finite values" : "negative or non-finite values")")
          }
        }
      }
      if !hasOptimizerStep { throw fail("field optimizer.step: is missing though the file holds Adam moments") }
      let known = Set(layout.flatMap { s in moments.map { $0 + s.name } })
      if let unknown = file.tensors.map(\.name).first(where: {
        moments.contains(where: $0.hasPrefix) && !known.contains($0)
      }) {
        throw fail("has a tensor \(Self.clip(unknown)) that its configuration does not have")
      }
    }

    /// At most 60 characters of a file's text, for messages.
    static func clip(_ s: String) -> String { s.count <= 60 ? s : String(s.prefix(57)) + "…" }
  }

  /// Reads and validates a checkpoint's metadata and tensors (see `Info`).
  /// - Throws: `file` naming the path and the field at the first problem.
  public static func info(_ path: String) throws -> Info {
    try Info(file: try SafetensorsFile.read(path), path: path)
  }
}
