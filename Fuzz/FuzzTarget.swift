// libFuzzer entry point for one NSDEFormats reader, chosen at compile time
// with -D FUZZ_SAFETENSORS, -D FUZZ_NPY, -D FUZZ_CSV, -D FUZZ_SEQUENCES or -D FUZZ_CHECKPOINT
// (scripts/fuzz; the checkpoint target also compiles the Foundation-only
// model-description files of NeuralSDE, and has a structure-aware mutator in
// CheckpointMutator.swift). A reader may reject its input with an NSDEError;
// anything else (a trap, an unexpected error type, a leak, a timeout) is a finding.

import Foundation

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
  let bytes = Array(UnsafeBufferPointer(start: data, count: size))
  do {
    #if FUZZ_SAFETENSORS
      let file = try SafetensorsFile.parse(bytes, path: "fuzz")
      // Whatever parses must serialise and parse back to the same file.
      let again = try SafetensorsFile.parse(try file.serialized(), path: "fuzz-roundtrip")
      precondition(
        again.metadata == file.metadata && again.tensors.count == file.tensors.count
          && zip(again.tensors, file.tensors).allSatisfy { $0.name == $1.name && same($0.tensor, $1.tensor) },
        "safetensors round trip changed the file")
    #elseif FUZZ_NPY
      let tensor = try NPY.parse(bytes, path: "fuzz")
      let again = try NPY.parse(try NPY.serialize(tensor), path: "fuzz-roundtrip")
      precondition(same(again, tensor), "npy round trip changed the array")
    #elseif FUZZ_CSV
      let table = try CSV.parse(bytes, path: "fuzz")
      precondition(table.values.count == table.rows * table.columns && table.lines.count == table.rows)
    #elseif FUZZ_SEQUENCES
      // A first byte 0xFF: the array form, from S, L, D (one byte each, 1…4) and
      // doubles (a byte each: small integers, NaN, ±inf); otherwise a long CSV.
      let data: SequenceData
      if bytes.first == 0xFF && bytes.count >= 4 {
        let (s, l, d) = (Int(bytes[1] % 4) + 1, Int(bytes[2] % 4) + 1, Int(bytes[3] % 4) + 1)
        var stream = bytes.dropFirst(4).makeIterator()
        func next() -> Double {
          guard let b = stream.next() else { return .nan }
          switch b {
          case 0xF0...0xF9: return .nan
          case 0xFA: return .infinity
          case 0xFB: return -.infinity
          default: return Double(Int(b) - 100) / 8
          }
        }
        let times = StoredTensor(shape: [s, l], dtype: .float64, values: (0..<(s * l)).map { _ in next() })
        let values = StoredTensor(shape: [s, l, d], dtype: .float64, values: (0..<(s * l * d)).map { _ in next() })
        data = try SequenceFile.fromArrays(times: times, values: values)
      } else {
        data = try SequenceFile.parseCSV(bytes, path: "fuzz")
        let again = try SequenceFile.parseCSV(Array(SequenceFile.csv(data).utf8), path: "fuzz-roundtrip")
        precondition(again.same(as: data), "sequence CSV round trip changed the data")
      }
      // What parses is consistent: offsets partition the rows, every sequence has an
      // observation, times are finite and strictly increasing within a sequence, and no
      // row is all missing.
      precondition(data.offsets.count == data.count + 1 && data.offsets.first == 0 && data.offsets.last == data.times.count)
      precondition(data.values.count == data.times.count * data.dimension && data.dimension >= 1)
      for q in 0..<data.count {
        let r = data.observations(q)
        precondition(!r.isEmpty, "an empty sequence was accepted")
        precondition(r.allSatisfy { data.times[$0].isFinite }, "a non-finite time was accepted")
        precondition(zip(r, r.dropFirst()).allSatisfy { data.times[$0] < data.times[$1] }, "times do not increase")
        for row in r {
          let v = data.values[(row * data.dimension)..<((row + 1) * data.dimension)]
          precondition(v.contains { !$0.isNaN } && !v.contains { $0.isInfinite }, "a bad row was accepted")
        }
      }
    #elseif FUZZ_CHECKPOINT
      // Models above 64 MiB are refused by the memory estimate (and so never laid out here).
      MemoryLimit.override = 64 << 20
      let file = try SafetensorsFile.parse(bytes, path: "fuzz")
      let info = try Checkpoint.Info(file: file, path: "fuzz")
      // What validates can be built: a consistent layout within the estimate, and a
      // configuration that encodes and decodes to itself.
      let layout = info.configuration.parameterLayout()
      precondition(
        zip(layout, layout.dropFirst()).allSatisfy { $0.offset + $0.count == $1.offset }
          && layout.reduce(0) { $0 + $1.count } == info.parameterCount,
        "the layout is not contiguous or does not add up to the parameter count")
      precondition(info.estimatedModelBytes <= 64 << 20, "a model over the memory limit was accepted")
      precondition((try? info.configuration.validate()) != nil, "a decoded configuration does not validate")
      let again = try JSONDecoder().decode(NeuralSDEConfiguration.self, from: JSONEncoder().encode(info.configuration))
      precondition(again == info.configuration, "configuration round trip changed it")
      if let g = info.grid {
        precondition(g.steps >= 1 && g.steps <= Checkpoint.maximumGridSteps && zip(g.times, g.times.dropFirst()).allSatisfy { $0 < $1 })
      }
    #else
      #error("define FUZZ_SAFETENSORS, FUZZ_NPY, FUZZ_CSV, FUZZ_SEQUENCES or FUZZ_CHECKPOINT")
    #endif
  } catch is NSDEError {
    // A clear rejection.
  } catch {
    preconditionFailure("unexpected error type: \(error)")
  }
  return 0
}

/// Equal shapes and dtypes, and values equal or both NaN (NaN payloads may change).
func same(_ a: StoredTensor, _ b: StoredTensor) -> Bool {
  a.shape == b.shape && a.dtype == b.dtype && a.values.count == b.values.count
    && zip(a.values, b.values).allSatisfy { $0 == $1 || ($0.isNaN && $1.isNaN) }
}
