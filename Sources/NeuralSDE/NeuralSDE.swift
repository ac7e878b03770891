// NeuralSDE: neural stochastic differential equations on the CPU at BLAS speed.
//
// The umbrella module re-exports the linear algebra (`Matrix`, `BLAS`,
// `LAPACK`, `BLASScalar`, `Threading`, `NSDEError`).
@_exported import NSDELinearAlgebra
