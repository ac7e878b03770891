extension NPY {
  /// Reads a 2-D array as a matrix (a 1-D array becomes one column).
  public static func readMatrix<T: SDEScalar>(_ path: String, as: T.Type = T.self) throws -> Matrix<T> {
    let t = try read(path)
    switch t.shape.count {
    case 1: return try Matrix(rows: t.shape[0], cols: 1, elements: t.values.map { T($0) })
    case 2: return try Matrix(rows: t.shape[0], cols: t.shape[1], elements: t.values.map { T($0) })
    default: throw NSDEError.file(path: path, reason: "expected a 1-D or 2-D array, got shape \(t.shape)")
    }
  }

  /// Writes a matrix as a 2-D array of its own precision.
  public static func write<T: SDEScalar>(_ m: Matrix<T>, to path: String) throws {
    try write(
      StoredTensor(
        shape: [m.rows, m.cols], dtype: T.self == Float.self ? .float32 : .float64, values: m.elements.map(Double.init)),
      to: path)
  }
}
