import Foundation
import XCTest

/// Help output and option validation of every subcommand, as a user meets them.
final class OptionsCLITests: XCTestCase {
  let subcommands = ["report", "simulate", "gradient", "scaling", "train", "evaluate", "kernels", "check"]

  /// Every subcommand's help exits 0 and documents its options; `train`
  /// offers only what it uses (no --paths, --data-dim or --dtype both).
  func testHelp() throws {
    let top = try Bench.run(["--help"])
    XCTAssertEqual(top.status, 0)
    for s in subcommands { XCTAssertTrue(top.stdout.contains(s), "top-level help lacks \(s)") }
    for s in subcommands {
      let r = try Bench.run([s, "--help"])
      XCTAssertEqual(r.status, 0, s)
      XCTAssertTrue(r.stdout.contains("OVERVIEW:") && r.stdout.contains("OPTIONS:"), s)
    }
    let train = try Bench.run(["train", "--help"]).stdout
    for option in ["--train-steps", "--solver-steps", "--posterior", "--checkpoint-every", "--on-divergence"] {
      XCTAssertTrue(train.contains(option), "train --help lacks \(option)")
    }
    for option in ["--paths <", "--data-dim", "--steps <"] {
      XCTAssertFalse(train.contains(option), "train --help offers \(option), which it does not use")
    }
    XCTAssertTrue(try Bench.run(["report", "--help"]).stdout.contains("--solver-steps, --steps"))
  }

  /// Out-of-range or unknown values name the option (exit 64); kebab-case enum values.
  func testValidation() throws {
    let cases: [([String], String)] = [
      (["train", "--train-steps", "0"], "--train-steps must be in"),
      (["train", "--objective", "freeEnergy"], "freeEnergy"),
      (["train", "--held-out-fraction", "1"], "--held-out-fraction"),
      (["train", "--decoder-std", "-2"], "--decoder-std"),
      (["train", "--decoder-std", "0.1", "--decoder-tails", "scale-mixture"], "needs --decoder-std learned"),
      (["report", "--solver-steps", "0"], "--solver-steps must be in"),
      (["report", "--paths", "10", "--paths-per-point", "4"], "multiple of --paths-per-point"),
      (["report", "--noise-dim", "3"], "--noise-dim only applies"),
      (["evaluate", "--checkpoint", "c", "--dataset", "two-moons", "--data-file", "x"], "exactly one of"),
      (["gradient", "--chunks", "0"], "--chunks must be in"),
      (["gradient", "--memory-budget", "12x"], "--memory-budget must be a positive size"),
      (["train", "--memory-budget", "0MiB"], "--memory-budget must be a positive size"),
      (["train", "--average-decay", "1"], "--average-decay must be in [0, 1)"),
      (["train", "--average-decay", "0.99", "--resume", "c"], "checkpoints do not keep the average"),
    ]
    for (args, fragment) in cases {
      let r = try Bench.run(args)
      XCTAssertEqual(r.status, 64, "\(args): \(r.stderr)")
      XCTAssertTrue(r.stderr.contains(fragment), "\(args): \"\(r.stderr)\" lacks \"\(fragment)\"")
    }
    let ok = try Bench.run(["train", "--objective", "free-energy", "--help"])
    XCTAssertEqual(ok.status, 0)
  }
}
