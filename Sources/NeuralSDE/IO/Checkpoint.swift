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
  ///   - tensors: named tensors (parameter names as in `ParameterVector.slices`).
  ///   - ignoringPrefixes: tensor names with these prefixes are skipped (e.g. optimiser state).
  ///   - source: the file or origin named in errors.
  /// - Throws: `shapeMismatch` naming the tensor and both shapes; `invalidArgument`
  ///   for missing or unknown tensors; `nonFinite` for NaN/Inf values.
  public func loadParameters(
    from tensors: [(name: String, tensor: StoredTensor)], ignoringPrefixes: [String] = ["optimizer."],
    source: String = "file"
  ) throws {
    switch ParameterTensorProblem.first(in: tensors, layout: parameters.slices, ignoringPrefixes: ignoringPrefixes) {
    case .missing(let s):
      throw NSDEError.invalidArgument("\(source) has no tensor \(s.name) (shape \(s.shape)) needed by the model")
    case .shape(let s, let found):
      throw NSDEError.shapeMismatch("tensor \(s.name) has shape \(found) in \(source) but the model needs \(s.shape)")
    case .nonFinite(let s):
      throw NSDEError.nonFinite("tensor \(s.name) in \(source) contains NaN/Inf")
    case .unknown(let name):
      throw NSDEError.invalidArgument(
        "\(source) has a tensor \(name) that the model does not have (known: \(parameters.slices.map(\.name).joined(separator: ", ")))"
      )
    case nil: break
    }
    var byName: [String: StoredTensor] = [:]
    for (n, t) in tensors { byName[n] = t }
    for s in parameters.slices {
      let values = byName[s.name]!.values
      for i in 0..<s.count { parameters.base[s.offset + i] = Scalar(values[i]) }
    }
  }
}

extension Checkpoint {
  /// Writes a checkpoint of `model` (and `optimizer`'s step and, for Adam,
  /// its moments, if given; and the solver `grid` it is used with) to `path`, atomically.
  ///
  /// With `selection`, the metadata records which step's parameters the file
  /// holds (`selection.step`, `selection.held_out_nll`, `selection.paths_per_point`);
  /// with `sequenceLayout`, how a sequence model lays sequences out on grids (`sequence_layout`);
  /// with `standardization`, the affine map the model was trained behind (`data_standardization`).
  /// - Throws: `invalidArgument` for a layout or map that a reader would reject.
  public static func write<Scalar: SDEScalar>(
    model: NeuralSDEModel<Scalar>, optimizer: (any Optimizer<Scalar>)?, step: Int, grid: TimeGrid? = nil,
    selection: Selection? = nil, sequenceLayout: SequenceLayout? = nil,
    standardization: DataStandardization? = nil, to path: String
  ) throws {
    var tensors = model.parameterTensors()
    if let adam = optimizer as? Adam<Scalar>, adam.firstMoment.count == model.parameterCount {
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
    if let optimizer { metadata["optimizer.step"] = String(optimizer.step) }
    if let grid { metadata["grid"] = String(decoding: try JSONEncoder().encode(grid), as: UTF8.self) }
    if let sequenceLayout {
      try sequenceLayout.validate()
      metadata["sequence_layout"] = String(decoding: try JSONEncoder().encode(sequenceLayout), as: UTF8.self)
    }
    if let standardization {
      if let problem = standardization.problem(dimension: model.dataDimension) {
        throw NSDEError.invalidArgument("the data standardisation \(problem)")
      }
      metadata["data_standardization"] = String(
        decoding: try JSONEncoder().encode(standardization), as: UTF8.self)
    }
    if let selection {
      metadata["selection.step"] = String(selection.step)
      metadata["selection.held_out_nll"] = String(selection.heldOutNegativeLogLikelihood)
      metadata["selection.paths_per_point"] = String(selection.pathsPerPoint)
    }
    try SafetensorsFile(tensors: tensors, metadata: metadata).write(to: path)
  }

  /// Reads a checkpoint into `model` (and an `Adam` optimizer's step and
  /// moments); returns the training step.
  /// The whole file is validated (`Info`) and must have been written for
  /// `model.configuration`; nothing is changed unless it is.
  @discardableResult
  public static func read<Scalar: SDEScalar>(
    _ path: String, into model: NeuralSDEModel<Scalar>, optimizer: (any Optimizer<Scalar>)? = nil
  ) throws -> Int {
    let file = try SafetensorsFile.read(path)
    let info = try Info(file: file, path: path)
    guard info.configuration == model.configuration else {
      throw NSDEError.file(
        path: path,
        reason:
          "field configuration: written for a different model: \(differences(info.configuration, model.configuration))"
      )
    }
    try load(file, info: info, path: path, into: model, optimizer: optimizer as? Adam<Scalar>)
    return info.step
  }

  /// Loads a validated file's parameters (and Adam state) into a model of its configuration.
  static func load<Scalar: SDEScalar>(
    _ file: SafetensorsFile, info: Info, path: String, into model: NeuralSDEModel<Scalar>, optimizer: Adam<Scalar>?
  ) throws {
    var m: [Double] = []
    var v: [Double] = []
    if optimizer != nil, file.tensors.contains(where: { $0.name.hasPrefix("optimizer.adam.m.") }) {
      for s in model.parameters.slices {
        m += file["optimizer.adam.m.\(s.name)"]!.values
        v += file["optimizer.adam.v.\(s.name)"]!.values
      }
    }
    try model.loadParameters(from: file.tensors, source: path)
    if let adam = optimizer, !m.isEmpty {
      try adam.restore(step: info.optimizerStep ?? 0, firstMoment: m, secondMoment: v)
    }
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
    let file = try SafetensorsFile.read(path)
    let info = try Checkpoint.Info(file: file, path: path)
    guard info.dtype == Scalar.dtypeName else {
      throw NSDEError.file(path: path, reason: "field dtype: holds \(info.dtype) parameters, not \(Scalar.dtypeName)")
    }
    try self.init(info.configuration)
    try Checkpoint.load(file, info: info, path: path, into: self, optimizer: nil)
  }
}
