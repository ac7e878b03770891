// swift-tools-version:6.0
import PackageDescription

let package = Package(
  name: "NeuralSDE",
  products: [
    // MARK: public products
    .library(name: "NeuralSDE", targets: ["NeuralSDE"]),
    .library(name: "NeuralSDEDistributed", targets: ["NeuralSDEDistributed"]),
    .executable(name: "nsde-bench", targets: ["nsde-bench"]),
  ],
  dependencies: [
    .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    .package(url: "https://github.com/apple/swift-numerics", from: "1.0.0"),
    // `swift package generate-documentation` (DocC); build-time plugin only.
    .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.4.0"),
  ],
  targets: [
    // MARK: system libraries
    .systemLibrary(
      name: "CBLAS", path: "Modules/CBLAS", pkgConfig: "openblas",
      providers: [.apt(["libopenblas-dev"])]),
    .systemLibrary(
      name: "CLAPACKE", path: "Modules/CLAPACKE", pkgConfig: "lapacke",
      providers: [.apt(["liblapacke-dev"])]),
    // Open MPI, used only by NeuralSDEDistributed (the core library does not link it).
    .systemLibrary(
      name: "CMPI", path: "Modules/CMPI", pkgConfig: "ompi-c", providers: [.apt(["libopenmpi-dev", "openmpi-bin"])]),

    // MARK: internal targets
    // Vectorised elementwise kernels (activations, noise) in C, compiled for
    // several x86 levels at once with target_clones: no build flags needed.
    .target(name: "NSDEKernels", path: "Sources/NSDEKernels"),
    // File formats (safetensors, .npy, CSV tables, atomic files) and errors:
    // Foundation only, so the readers build alone for the fuzzers (scripts/fuzz).
    .target(name: "NSDEFormats"),
    // The only target that imports CBLAS / CLAPACKE.
    .target(
      name: "NSDELinearAlgebra",
      dependencies: [
        "CBLAS", "CLAPACKE", "NSDEKernels", "NSDEFormats",
        .product(name: "RealModule", package: "swift-numerics"),
      ]),
    .target(name: "NeuralSDE", dependencies: ["NSDELinearAlgebra", "NSDEKernels"]),
    // Data parallelism over MPI (a separate product: only its users link MPI).
    .target(name: "NeuralSDEDistributed", dependencies: ["NeuralSDE", "CMPI"]),
    .executableTarget(name: "nsde-mpi-check", dependencies: ["NeuralSDEDistributed", "NSDEBenchmarks"]),
    // Benchmarks and their statistics, for nsde-bench and the tests (not a product).
    .target(name: "NSDEBenchmarks", dependencies: ["NeuralSDE"]),
    .executableTarget(
      name: "nsde-bench",
      dependencies: [
        "NeuralSDE", "NSDEBenchmarks", "NeuralSDEDistributed",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ]),
    .target(name: "_NSDETestSupport", dependencies: ["NeuralSDE", "NSDEBenchmarks"]),

    // MARK: tests
    .testTarget(name: "NSDEFormatsTests", dependencies: ["NSDEFormats"], exclude: ["Regressions"]),
    // Runs the built nsde-bench as a user would: exit codes, messages, files.
    .testTarget(name: "CLITests", dependencies: ["nsde-bench", "nsde-mpi-check", "NeuralSDE"]),
    .testTarget(
      name: "NSDELinearAlgebraTests", dependencies: ["NSDELinearAlgebra", "_NSDETestSupport"]),
    .testTarget(
      name: "NeuralSDETests", dependencies: ["NeuralSDE", "_NSDETestSupport"],
      exclude: ["IO/Fixtures", "Solvers/Fixtures", "Optimizers/adam_reference.py"]),
  ],
  swiftLanguageModes: [.v5]
)
