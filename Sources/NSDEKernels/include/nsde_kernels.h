// NSDEKernels: vectorised elementwise kernels for NeuralSDE.
//
// Every function works on contiguous buffers and is compiled for several x86
// instruction-set levels at once (target_clones), so callers get AVX2/AVX-512
// code without special build flags. Accuracy is stated per function and
// checked by the tests against the C library.
#ifndef NSDE_KERNELS_H
#define NSDE_KERNELS_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Activation functions known to the kernels (values are stable: they are
/// used in file formats and on the Swift side).
typedef enum nsde_activation_kind {
  NSDE_ACTIVATION_IDENTITY = 0,
  NSDE_ACTIVATION_TANH = 1,
  NSDE_ACTIVATION_SOFTPLUS = 2,
  NSDE_ACTIVATION_SILU = 3,
  /// LipSwish(x) = 0.909 · SiLU(x), the 1-Lipschitz variant used by torchsde.
  NSDE_ACTIVATION_LIPSWISH = 4,
} nsde_activation_kind;

/// Elementwise activation over `n` values: `y = φ(x)`, `dy = φ'(x)`,
/// `d2y = φ''(x)`. Any output pointer may be NULL (not computed). `y` may
/// alias `x` only if `dy` and `d2y` are NULL, because they are computed
/// from `x`.
void nsde_activation_f64(int kind, ptrdiff_t n, const double *x, double *y,
                         double *dy, double *d2y);
void nsde_activation_f32(int kind, ptrdiff_t n, const float *x, float *y,
                         float *dy, float *d2y);

/// Fused bias + activation over a row-major `rows × cols` block:
/// `z[r,c] += bias[c]`, then `a[r,c] = φ(z[r,c])`, `da[r,c] = φ'(z[r,c])`.
/// `bias` and `da` may be NULL; `a` may equal `z` (then only the activation is
/// kept). One pass over memory.
void nsde_bias_activation_f64(int kind, ptrdiff_t rows, ptrdiff_t cols,
                              double *z, const double *bias, double *a,
                              double *da);
void nsde_bias_activation_f32(int kind, ptrdiff_t rows, ptrdiff_t cols,
                              float *z, const float *bias, float *a,
                              float *da);

/// `x[i] *= y[i]` over `n` values.
void nsde_mul_inplace_f64(ptrdiff_t n, double *x, const double *y);
void nsde_mul_inplace_f32(ptrdiff_t n, float *x, const float *y);

/// Counts the values of `x` (length `n`) that are NaN or ±Inf.
ptrdiff_t nsde_count_nonfinite_f64(ptrdiff_t n, const double *x);
ptrdiff_t nsde_count_nonfinite_f32(ptrdiff_t n, const float *x);

#ifdef __cplusplus
}
#endif
#endif
