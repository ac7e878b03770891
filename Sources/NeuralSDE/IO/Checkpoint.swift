import Foundation

extension NeuralSDEModel {
  /// The parameters as safetensors tensors named by the interchange
  /// conventions (`drift.0.weight` `[out, in]`, …), in `dtype` (default: the model's precision).
  public func parameterTensors(dtype: TensorDType? = nil) -> [(name: String, tensor: StoredTensor)] {
    let type = dtype ?? (Scalar.self == Float.self ? .float32 : .float64)
    return parameters.slices.map { s in
      (
        s.name,
        StoredTensor(
          shape: s.shape, dtype: type, values: (s.offset..<(s.offset + s.count)).map { Double(parameters.base[$0]) })
      )
    }
  }

  /// Loads every parameter from `tensors` (e.g. a safetensors file exported
  /// from PyTorch with the interchange names). All names and shapes are
  /// checked before anything is changed; F32 and F64 are both accepted.
  ///
  /// - Parameters:
  ///   - ignoringPrefixes: tensor names with these prefixes are skipped (e.g. optimiser state).
  /// - Throws: `shapeMismatch` naming the tensor and both shapes; `invalidArgument`
  ///   for missing or unknown tensors; `nonFinite` for NaN/Inf values.
  public func loadParameters(
    from tensors: [(name: String, tensor: StoredTensor)], ignoringPrefixes: [String] = ["optimizer."],
    source: String = "file"
  ) throws {
    var byName: [String: StoredTensor] = [:]
    for (n, t) in tensors where !ignoringPrefixes.contains(where: { n.hasPrefix($0) }) { byName[n] = t }
    for s in parameters.slices {
      guard let t = byName[s.name] else {
        throw NSDEError.invalidArgument("\(source) has no tensor \(s.name) (shape \(s.shape)) needed by the model")
      }
      guard t.shape == s.shape else {
        throw NSDEError.shapeMismatch(
          "tensor \(s.name) has shape \(t.shape) in \(source) but the model needs \(s.shape)")
      }
      guard t.values.allSatisfy(\.isFinite) else {
        throw NSDEError.nonFinite("tensor \(s.name) in \(source) contains NaN/Inf")
      }
    }
    let known = Set(parameters.slices.map(\.name))
    if let unknown = byName.keys.sorted().first(where: { !known.contains($0) }) {
      throw NSDEError.invalidArgument(
        "\(source) has a tensor \(unknown) that the model does not have (known: \(parameters.slices.map(\.name).joined(separator: ", ")))"
      )
    }
    for s in parameters.slices {
      let values = byName[s.name]!.values
      for i in 0..<s.count { parameters.base[s.offset + i] = Scalar(values[i]) }
    }
  }
}

/// A training checkpoint in safetensors format: the model parameters (interchange
/// names), the Adam moments (`optimizer.adam.m.<name>`, `optimizer.adam.v.<name>`),
/// and metadata (`format`, `step`, `configuration` as JSON, `dtype`, and the
/// solver grid `grid` as JSON when given). Written atomically.
public enum Checkpoint {
  /// The `format` metadata value of checkpoints written by this version.
  public static let format = "neuralsde-checkpoint-1"

  /// What a checkpoint says about itself, read without building a model.
  public struct Info: Sendable {
    /// The model configuration the checkpoint was written for.
    public var configuration: NeuralSDEConfiguration
    /// `float32` or `float64`.
    public var dtype: String
    /// Training steps done.
    public var step: Int
    /// The solver grid the model was trained with (nil for files written without it).
    public var grid: TimeGrid?
  }

  /// Reads a checkpoint's metadata.
  /// - Throws: `file` naming the path if it is not a NeuralSDE checkpoint.
  public static func info(_ path: String) throws -> Info {
    let file = try SafetensorsFile.read(path)
    guard let json = file.metadata["configuration"] else {
      throw NSDEError.file(path: path, reason: "no model configuration in the metadata: not a NeuralSDE checkpoint")
    }
    let config: NeuralSDEConfiguration
    do {
      config = try JSONDecoder().decode(NeuralSDEConfiguration.self, from: Data(json.utf8))
    } catch {
      throw NSDEError.file(path: path, reason: "the model configuration in the metadata is invalid: \(error)")
    }
    let grid = try file.metadata["grid"].map { g -> TimeGrid in
      do { return try JSONDecoder().decode(TimeGrid.self, from: Data(g.utf8)) } catch {
        throw NSDEError.file(path: path, reason: "the solver grid in the metadata is invalid: \(error)")
      }
    }
    return Info(
      configuration: config, dtype: file.metadata["dtype"] ?? "float64",
      step: Int(file.metadata["step"] ?? "0") ?? 0, grid: grid)
  }

  /// Writes a checkpoint of `model` (and `optimizer`, if given; and the solver
  /// `grid` it is used with) to `path`, atomically.
  public static func write<Scalar: SDEScalar>(
    model: NeuralSDEModel<Scalar>, optimizer: Adam<Scalar>?, step: Int, grid: TimeGrid? = nil, to path: String
  ) throws {
    var tensors = model.parameterTensors()
    if let adam = optimizer, adam.firstMoment.count == model.parameterCount {
      for s in model.parameters.slices {
        tensors.append(
          (
            "optimizer.adam.m.\(s.name)",
            StoredTensor(shape: s.shape, dtype: .float64, values: Array(adam.firstMoment[s.range]))
          ))
        tensors.append(
          (
            "optimizer.adam.v.\(s.name)",
            StoredTensor(shape: s.shape, dtype: .float64, values: Array(adam.secondMoment[s.range]))
          ))
      }
    }
    let config = String(decoding: try JSONEncoder().encode(model.configuration), as: UTF8.self)
    var metadata = ["format": format, "step": String(step), "configuration": config, "dtype": Scalar.dtypeName]
    if let adam = optimizer { metadata["optimizer.step"] = String(adam.step) }
    if let grid { metadata["grid"] = String(decoding: try JSONEncoder().encode(grid), as: UTF8.self) }
    try SafetensorsFile(tensors: tensors, metadata: metadata).write(to: path)
  }

  /// Reads a checkpoint into `model` (and `optimizer`); returns the training step.
  /// Nothing is changed unless the whole file is valid for this model.
  @discardableResult
  public static func read<Scalar: SDEScalar>(
    _ path: String, into model: NeuralSDEModel<Scalar>, optimizer: Adam<Scalar>? = nil
  ) throws -> Int {
    let file = try SafetensorsFile.read(path)
    if let json = file.metadata["configuration"] {
      let config = try JSONDecoder().decode(NeuralSDEConfiguration.self, from: Data(json.utf8))
      guard config == model.configuration else {
        throw NSDEError.invalidArgument(
          "\(path) was written for a different model configuration: \(differences(config, model.configuration))")
      }
    }
    var m: [Double] = []
    var v: [Double] = []
    if optimizer != nil, file.tensors.contains(where: { $0.name.hasPrefix("optimizer.adam.m.") }) {
      for s in model.parameters.slices {
        guard let mt = file["optimizer.adam.m.\(s.name)"], let vt = file["optimizer.adam.v.\(s.name)"],
          mt.shape == s.shape, vt.shape == s.shape
        else { throw NSDEError.file(path: path, reason: "optimizer state for \(s.name) is missing or mis-shaped") }
        m += mt.values
        v += vt.values
      }
    }
    try model.loadParameters(from: file.tensors, source: path)
    if let adam = optimizer, !m.isEmpty {
      try adam.restore(step: Int(file.metadata["optimizer.step"] ?? "0") ?? 0, firstMoment: m, secondMoment: v)
    }
    return Int(file.metadata["step"] ?? "0") ?? 0
  }

  /// The fields in which two configurations differ, as `name: file value ≠ model value`.
  static func differences(_ a: NeuralSDEConfiguration, _ b: NeuralSDEConfiguration) -> String {
    func fields(_ c: NeuralSDEConfiguration) -> [String: String] {
      guard let data = try? JSONEncoder().encode(c),
        let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
      else { return [:] }
      return object.mapValues { value in
        (try? JSONSerialization.data(withJSONObject: value, options: [.sortedKeys, .fragmentsAllowed]))
          .map { String(decoding: $0, as: UTF8.self) } ?? "\(value)"
      }
    }
    let fa = fields(a)
    let fb = fields(b)
    let keys = Set(fa.keys).union(fb.keys).sorted().filter { fa[$0] != fb[$0] }
    return keys.map { "\($0): file \(fa[$0] ?? "–") ≠ model \(fb[$0] ?? "–")" }.joined(separator: "; ")
  }
}

extension NeuralSDEModel {
  /// Builds the model a checkpoint was written for and loads its parameters.
  /// - Throws: `file` naming the path if it is not a NeuralSDE checkpoint,
  ///   or its dtype is not `Scalar`'s; the reader's errors otherwise.
  public convenience init(checkpoint path: String) throws {
    let info = try Checkpoint.info(path)
    guard info.dtype == Scalar.dtypeName else {
      throw NSDEError.file(path: path, reason: "holds \(info.dtype) parameters, not \(Scalar.dtypeName)")
    }
    try self.init(info.configuration)
    try Checkpoint.read(path, into: self)
  }
}
