// NeuralSDE: neural stochastic differential equations on the CPU at BLAS speed.
//
// The umbrella module re-exports the linear algebra (`Matrix`, `BLAS`,
// `LAPACK`, `SDEScalar`, `Threading`, `NSDEError`).
@_exported import NSDELinearAlgebra
