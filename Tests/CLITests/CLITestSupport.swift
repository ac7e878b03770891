import Foundation
import XCTest

/// Runs the `nsde-bench` built next to this test bundle.
struct Bench {
  struct Outcome {
    var status: Int32
    var stdout: String
    var stderr: String
    /// Terminated by a signal (a trap or an abort), not an exit.
    var crashed: Bool
  }

  static var executable: URL { product("nsde-bench") }

  /// A product built next to this test bundle.
  static func product(_ name: String) -> URL {
    var dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    // The xctest bundle may be a directory (…/X.xctest/…) or a file next to the products.
    while !FileManager.default.fileExists(atPath: dir.appendingPathComponent(name).path), dir.path != "/" {
      dir = dir.deletingLastPathComponent()
    }
    return dir.appendingPathComponent(name)
  }

  /// Runs nsde-bench with `args`.
  @discardableResult
  static func run(_ args: [String], environment: [String: String] = [:], timeout: TimeInterval = 120) throws -> Outcome
  {
    try run(executable: executable, args, environment: environment, timeout: timeout)
  }

  /// Runs any executable with `args`, draining its output, ending it after `timeout`.
  @discardableResult
  static func run(
    executable: URL, _ args: [String], environment: [String: String] = [:], timeout: TimeInterval = 120
  ) throws -> Outcome {
    let p = Process()
    p.executableURL = executable
    p.arguments = args
    var env = ProcessInfo.processInfo.environment
    env["SWIFT_BACKTRACE"] = "enable=no"
    for (k, v) in environment { env[k] = v }
    p.environment = env
    let out = Pipe()
    let err = Pipe()
    p.standardOutput = out
    p.standardError = err
    try p.run()
    // Drain both pipes while the process runs (large outputs would block it).
    final class Box: @unchecked Sendable { var data = Data() }
    let outBox = Box()
    let errBox = Box()
    let group = DispatchGroup()
    group.enter()
    DispatchQueue.global().async {
      outBox.data = out.fileHandleForReading.readDataToEndOfFile()
      group.leave()
    }
    group.enter()
    DispatchQueue.global().async {
      errBox.data = err.fileHandleForReading.readDataToEndOfFile()
      group.leave()
    }
    let deadline = Date().addingTimeInterval(timeout)
    while p.isRunning && Date() < deadline { usleep(20_000) }
    if p.isRunning {
      p.terminate()
      XCTFail("nsde-bench \(args.joined(separator: " ")) did not finish in \(timeout) s")
    }
    p.waitUntilExit()
    group.wait()
    return Outcome(
      status: p.terminationStatus, stdout: String(decoding: outBox.data, as: UTF8.self),
      stderr: String(decoding: errBox.data, as: UTF8.self), crashed: p.terminationReason == .uncaughtSignal)
  }
}

/// A fresh temporary directory, removed by `cleanup()`.
final class Scratch {
  let url: URL
  init() throws {
    url = FileManager.default.temporaryDirectory.appendingPathComponent("nsde-cli-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
  }
  func path(_ name: String) -> String { url.appendingPathComponent(name).path }
  func cleanup() { try? FileManager.default.removeItem(at: url) }
}
