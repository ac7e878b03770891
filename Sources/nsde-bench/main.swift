import NeuralSDE

// Stub front end: prints the BLAS configuration. The full tool (reference
// report, simulate, gradient, scaling, train) is built on top of this.
Threading.setBLASThreads(1)
print("nsde-bench (NeuralSDE)")
print("BLAS:        \(Threading.blasConfiguration)")
print("BLAS core:   \(Threading.blasCoreName)")
print("BLAS threads: \(Threading.blasThreads) (rows are split across \(Threading.availableCores) cores instead)")
