/// A contiguous row-major `rows × cols` matrix that owns its storage.
///
/// Element `(r, c)` lives at `base[r * cols + c]`. The storage is allocated
/// once and never moves, so hot code works on `base` (or a `MatrixView`)
/// without copies; `Matrix` is a class so workspaces can be shared by
/// reference. Subscripts are bounds-checked and meant for set-up and tests,
/// not for inner loops.
public final class Matrix<Scalar: BLASScalar>: @unchecked Sendable {
  /// Number of rows.
  public let rows: Int
  /// Number of columns.
  public let cols: Int
  /// The first element; `rows * cols` elements follow contiguously.
  public let base: UnsafeMutablePointer<Scalar>

  /// A zero-filled matrix.
  public init(rows: Int, cols: Int) {
    check(rows >= 0 && cols >= 0, "Matrix shape must be non-negative, got \(rows)×\(cols)")
    let (elements, overflow) = rows.multipliedReportingOverflow(by: cols)
    check(!overflow, "Matrix \(rows)×\(cols) has more elements than can be addressed")
    self.rows = rows
    self.cols = cols
    let count = Swift.max(elements, 1)
    base = .allocate(capacity: count)
    base.setZero(count: count)
  }

  /// A matrix with the given row-major elements.
  /// - Throws: `NSDEError.shapeMismatch` if `elements.count != rows * cols`.
  public convenience init(rows: Int, cols: Int, elements: [Scalar]) throws {
    guard rows >= 0, cols >= 0 else {
      throw NSDEError.invalidArgument("matrix shape must be non-negative, got \(rows)×\(cols)")
    }
    guard elements.count == rows * cols else {
      throw NSDEError.shapeMismatch(
        "\(elements.count) elements given for a \(rows)×\(cols) matrix (\(rows * cols) expected)")
    }
    self.init(rows: rows, cols: cols)
    elements.withUnsafeBufferPointer { base.copyElements(from: $0.baseAddress!, count: rows * cols) }
  }

  /// A matrix whose element `(r, c)` is `f(r, c)`.
  public convenience init(rows: Int, cols: Int, _ f: (Int, Int) -> Scalar) {
    self.init(rows: rows, cols: cols)
    for r in 0..<rows { for c in 0..<cols { base[r * cols + c] = f(r, c) } }
  }

  deinit { base.deallocate() }

  /// `rows · cols`.
  public var count: Int { rows * cols }
  /// `(rows, cols)`.
  public var shape: (rows: Int, cols: Int) { (rows, cols) }
  /// "rows×cols", for messages.
  public var shapeDescription: String { "\(rows)×\(cols)" }

  /// Element `(r, c)` (bounds-checked; for set-up and tests, not inner loops).
  public subscript(r: Int, c: Int) -> Scalar {
    get {
      check(r >= 0 && r < rows && c >= 0 && c < cols, "index (\(r), \(c)) outside \(rows)×\(cols)")
      return base[r * cols + c]
    }
    set {
      check(r >= 0 && r < rows && c >= 0 && c < cols, "index (\(r), \(c)) outside \(rows)×\(cols)")
      base[r * cols + c] = newValue
    }
  }

  /// The elements in row-major order (a copy).
  public var elements: [Scalar] { Array(UnsafeBufferPointer(start: base, count: count)) }

  /// A view of the whole matrix.
  public var view: MatrixView<Scalar> { MatrixView(base: base, rows: rows, cols: cols, ld: cols) }

  /// A view of rows `range` (no copy).
  public func rows(_ range: Range<Int>) -> MatrixView<Scalar> { view.rows(range) }

  /// Sets every element to `value`.
  public func fill(_ value: Scalar) { base.update(repeating: value, count: count) }

  /// A deep copy.
  public func copy() -> Matrix<Scalar> {
    let m = Matrix(rows: rows, cols: cols)
    m.base.copyElements(from: base, count: count)
    return m
  }
}

/// A non-owning row-major view: element `(r, c)` at `base[r * ld + c]`.
///
/// Views never copy; the owner (a `Matrix` or a workspace) must outlive them.
public struct MatrixView<Scalar: BLASScalar> {
  /// The first element; row r starts at `base + r·ld`.
  public let base: UnsafeMutablePointer<Scalar>
  /// Number of rows.
  public let rows: Int
  /// Number of columns.
  public let cols: Int
  /// Row stride in elements (`ld ≥ cols`).
  public let ld: Int

  /// A view of `rows × cols` elements at `base` with row stride `ld` (default `cols`).
  public init(base: UnsafeMutablePointer<Scalar>, rows: Int, cols: Int, ld: Int? = nil) {
    self.base = base
    self.rows = rows
    self.cols = cols
    self.ld = ld ?? cols
    check(self.ld >= cols, "leading dimension \(self.ld) < cols \(cols)")
  }

  /// True if the rows follow each other without gaps (`ld == cols`).
  public var isContiguous: Bool { ld == cols || rows <= 1 }
  /// `"rows×cols"`, for messages.
  public var shapeDescription: String { "\(rows)×\(cols)" }

  /// Element `(r, c)` (bounds-checked; for set-up and tests, not inner loops).
  public subscript(r: Int, c: Int) -> Scalar {
    get { base[r * ld + c] }
    nonmutating set { base[r * ld + c] = newValue }
  }

  /// Rows `range` of this view.
  public func rows(_ range: Range<Int>) -> MatrixView<Scalar> {
    check(range.lowerBound >= 0 && range.upperBound <= rows, "rows \(range) outside \(rows) rows")
    return MatrixView(base: base + range.lowerBound * ld, rows: range.count, cols: cols, ld: ld)
  }

  /// Columns `range` of this view (strided).
  public func columns(_ range: Range<Int>) -> MatrixView<Scalar> {
    check(range.lowerBound >= 0 && range.upperBound <= cols, "columns \(range) outside \(cols) columns")
    return MatrixView(base: base + range.lowerBound, rows: rows, cols: range.count, ld: ld)
  }

  /// Copies the elements into a new contiguous matrix.
  public func copy() -> Matrix<Scalar> {
    let m = Matrix<Scalar>(rows: rows, cols: cols)
    for r in 0..<rows { (m.base + r * cols).copyElements(from: base + r * ld, count: cols) }
    return m
  }
}

/// Stops with `message` unless `condition` holds. Unlike `precondition`, the
/// message survives optimised builds, so a misuse names the index and shape.
@inline(__always)
@usableFromInline
func check(_ condition: Bool, _ message: @autoclosure () -> String, file: StaticString = #file, line: UInt = #line) {
  if !condition { fatalError(message(), file: file, line: line) }
}
