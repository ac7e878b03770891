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
/// and metadata (`format`, `step`, `configuration` as JSON). Written atomically.
public enum Checkpoint {
  public static let format = "neuralsde-checkpoint-1"

  /// Writes a checkpoint of `model` (and `optimizer`, if given) to `path`, atomically.
  public static func write<Scalar: BLASScalar>(
    model: NeuralSDEModel<Scalar>, optimizer: Adam<Scalar>?, step: Int, to path: String
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
    try SafetensorsFile(tensors: tensors, metadata: metadata).write(to: path)
  }

  /// Reads a checkpoint into `model` (and `optimizer`); returns the training step.
  /// Nothing is changed unless the whole file is valid for this model.
  @discardableResult
  public static func read<Scalar: BLASScalar>(
    _ path: String, into model: NeuralSDEModel<Scalar>, optimizer: Adam<Scalar>? = nil
  ) throws -> Int {
    let file = try SafetensorsFile.read(path)
    if let json = file.metadata["configuration"] {
      let config = try JSONDecoder().decode(NeuralSDEConfiguration.self, from: Data(json.utf8))
      guard config == model.configuration else {
        throw NSDEError.invalidArgument("\(path) was written for a different model configuration")
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
}
