import Foundation

extension UnsafeMutablePointer where Pointee: BLASScalar {
  /// Sets `count` elements to zero with `memset` (fast even in unspecialised
  /// generic code, where `update(repeating:)` copies element by element).
  @inlinable
  public func setZero(count: Int) {
    if count > 0 { memset(UnsafeMutableRawPointer(self), 0, count * MemoryLayout<Pointee>.stride) }
  }

  /// Copies `count` elements from `source` with `memcpy` (the regions must not overlap).
  @inlinable
  public func copyElements(from source: UnsafePointer<Pointee>, count: Int) {
    if count > 0 {
      memcpy(UnsafeMutableRawPointer(self), UnsafeRawPointer(source), count * MemoryLayout<Pointee>.stride)
    }
  }
}
