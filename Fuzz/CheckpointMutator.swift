// A structure-aware mutator for the checkpoint fuzz target (scripts/fuzz
// checkpoint): most mutations parse the input as safetensors, change one
// metadata value — inside the JSON of `configuration` and `grid` a number,
// string, array or object node: interesting integers and reals, other
// strings and enum names, null, deleted or duplicated elements, missing and
// extra keys — or one tensor's shape or name, and serialise it again; the
// rest are libFuzzer's byte mutations.

import Foundation

@_silgen_name("LLVMFuzzerMutate")
func LLVMFuzzerMutate(_ data: UnsafeMutablePointer<UInt8>, _ size: Int, _ maxSize: Int) -> Int

struct MutatorRandom {
  var state: UInt64
  mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }
  mutating func below(_ n: Int) -> Int { n <= 1 ? 0 : Int(next() % UInt64(n)) }
  mutating func pick<T>(_ a: [T]) -> T { a[below(a.count)] }
}

let interestingNumbers: [Any] = [
  0, 1, -1, 2, 3, -5, 7, 64, 255, 65536, 1 << 20, (1 << 20) + 1, 1_000_000_000, Int.max, Int.min, 0.5, -0.5, 1e-300,
  1e308, -1e308, Double.leastNonzeroMagnitude, 1.0000000001,
]
let interestingStrings: [String] = [
  "", "tanh", "softplus", "identity", "silu", "lipswish", "relu6", "feedback", "mean-field", "Float", "Double",
  "float32", "neuralsde-checkpoint-1", "neuralsde-checkpoint-2", "neuralsde-checkpoint-999", "-5", "0", "1e9",
  "18446744073709551616", "NaN", "{}", "[]", "{\"times\":[0,1]}", "\u{0}", "é",
]

func mutateJSON(_ v: Any, _ r: inout MutatorRandom, depth: Int = 0) -> Any? {
  // Descend into a container most of the time; else replace this node.
  if depth < 12, r.below(4) != 0 {
    if var d = v as? [String: Any], !d.isEmpty {
      let keys = d.keys.sorted()
      switch r.below(8) {
      case 0: d.removeValue(forKey: r.pick(keys))
      case 1: d[r.pick(["extra", "times", "widths", "inputs", "diagonal", "general", "noiseDimension", "std"])] = r.pick(interestingNumbers)
      default:
        let k = r.pick(keys)
        if let m = mutateJSON(d[k]!, &r, depth: depth + 1) { d[k] = m } else { d.removeValue(forKey: k) }
      }
      return d
    }
    if var a = v as? [Any], !a.isEmpty {
      let i = r.below(a.count)
      switch r.below(6) {
      case 0: a.remove(at: i)
      case 1: a.insert(a[i], at: i)
      case 2: a.append(r.pick(interestingNumbers))
      default: if let m = mutateJSON(a[i], &r, depth: depth + 1) { a[i] = m } else { a.remove(at: i) }
      }
      return a
    }
  }
  switch r.below(9) {
  case 0, 1, 2: return r.pick(interestingNumbers)
  case 3: return r.pick(interestingStrings)
  case 4: return NSNull()
  case 5: return [Any]()
  case 6: return [String: Any]()
  case 7: return r.below(2) == 0
  default:
    if let n = v as? NSNumber { return n.doubleValue * Double(r.pick([-1, 2, 10, 1000, 1e6])) + Double(r.below(3)) }
    return nil
  }
}

func mutateCheckpoint(_ bytes: [UInt8], _ r: inout MutatorRandom) -> [UInt8]? {
  guard var file = try? SafetensorsFile.parse(bytes, path: "mutator") else { return nil }
  let keys = file.metadata.keys.sorted()
  switch r.below(10) {
  case 0:
    if let k = keys.isEmpty ? nil : r.pick(keys) { file.metadata.removeValue(forKey: k) }
  case 1:
    file.metadata[r.pick(["format", "dtype", "step", "optimizer.step", "grid", "configuration", "extra"])] =
      r.pick(interestingStrings)
  case 2:
    if !file.tensors.isEmpty {
      let i = r.below(file.tensors.count)
      switch r.below(3) {
      case 0: file.tensors.remove(at: i)
      case 1: file.tensors[i].name = r.pick(["drift.9.weight", "optimizer.adam.m.x0", "x0", "decoder.log_std", "junk"])
      default:
        var t = file.tensors[i].tensor
        if !t.values.isEmpty {
          t.values[r.below(t.values.count)] = r.pick([Double.nan, -1, 1e300, -.infinity])
          file.tensors[i].tensor = t
        }
      }
    }
  default:
    let k = r.pick(["configuration", "configuration", "configuration", "grid", "step", "format", "dtype"])
    guard let text = file.metadata[k] else { return nil }
    if let json = try? JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed]),
      let m = mutateJSON(json, &r),
      let data = try? JSONSerialization.data(withJSONObject: m, options: [.fragmentsAllowed])
    {
      file.metadata[k] = String(decoding: data, as: UTF8.self)
    } else {
      file.metadata[k] = r.pick(interestingStrings)
    }
  }
  return try? file.serialized()
}

@_cdecl("LLVMFuzzerCustomMutator")
public func customMutator(_ data: UnsafeMutablePointer<UInt8>, _ size: Int, _ maxSize: Int, _ seed: UInt32) -> Int {
  var r = MutatorRandom(state: UInt64(seed) &* 0x2545_F491_4F6C_DD1D)
  if r.below(4) != 0, let out = mutateCheckpoint(Array(UnsafeBufferPointer(start: data, count: size)), &r),
    out.count <= maxSize
  {
    out.withUnsafeBufferPointer { data.update(from: $0.baseAddress!, count: out.count) }
    return out.count
  }
  return LLVMFuzzerMutate(data, size, maxSize)
}
