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

/// Fused bias + activation, in place, over a row-major `rows × cols` block:
/// `z[r,c] ← φ(z[r,c] + bias[c])`, `da[r,c] = φ'(z[r,c] + bias[c])`.
/// `bias` and `da` may be NULL. One pass over memory.
void nsde_bias_activation_f64(int kind, ptrdiff_t rows, ptrdiff_t cols,
                              double *z, const double *bias, double *da);
void nsde_bias_activation_f32(int kind, ptrdiff_t rows, ptrdiff_t cols,
                              float *z, const float *bias, float *da);

/// `out[i] = g[i] · φ'(z[i])` over `n` values, where the derivative is
/// recomputed from the activation value `a = φ(z)` for tanh (`φ' = 1 − a²`)
/// and softplus (`φ' = sigmoid(z) = 1 − e^{−a} = −expm1(−a)`), so no
/// derivative needs storing; read from `d = φ'(z)` for SiLU/LipSwish; and is
/// 1 for identity (`a`, `d` may be NULL where unused). `out` may equal `g`.
void nsde_scale_by_derivative_f64(int kind, ptrdiff_t n, double *out,
                                  const double *g, const double *a,
                                  const double *d);
void nsde_scale_by_derivative_f32(int kind, ptrdiff_t n, float *out,
                                  const float *g, const float *a,
                                  const float *d);

/// Whether an activation's derivative must be stored (1) or can be computed
/// from its value (0: identity, tanh).
static inline int nsde_activation_stores_derivative(int kind) {
  return kind != NSDE_ACTIVATION_IDENTITY && kind != NSDE_ACTIVATION_TANH && kind != NSDE_ACTIVATION_SOFTPLUS;
}

/// Counts the values of `x` (length `n`) that are NaN or ±Inf.
ptrdiff_t nsde_count_nonfinite_f64(ptrdiff_t n, const double *x);
ptrdiff_t nsde_count_nonfinite_f32(ptrdiff_t n, const float *x);

#ifdef __cplusplus
}
#endif
#endif

#ifndef NSDE_KERNELS_NOISE_H
#define NSDE_KERNELS_NOISE_H
#include <stdint.h>
#ifdef __cplusplus
extern "C" {
#endif

/// One Philox4x32-10 block (Salmon et al., SC'11): `out = philox(ctr, key)`.
void nsde_philox4x32_10(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4]);

/// Standard normal values as a pure function of their indices:
/// `out[p·ld + j] = scale · Z(seed, step, path0 + p, j)` for `p < count`,
/// `j < m`. The pair `(Z(…, 2q), Z(…, 2q + 1))` is the Box–Muller transform of
/// the Philox4x32-10 block with counter `(q, path_lo, step, path_hi)` and key
/// `(seed_lo, seed_hi)`: the first 53 bits give `u1 ∈ (0, 1]`, the last 53
/// bits `u2 ∈ [0, 1)`, and `Z = √(−2 log u1)·(cos 2πu2, sin 2πu2)`.
/// Vectorised over paths.
void nsde_normals_f64(uint64_t seed, uint64_t step, int64_t path0, ptrdiff_t count, ptrdiff_t m,
                      double scale, double *out, ptrdiff_t ld);
/// Same values as `nsde_normals_f64`, rounded to Float.
void nsde_normals_f32(uint64_t seed, uint64_t step, int64_t path0, ptrdiff_t count, ptrdiff_t m,
                      double scale, float *out, ptrdiff_t ld);
/// The same with a scale per run of `group` paths: path p (of this call)
/// takes `scales[p / group]` (per-point grids: `√h` of each data point's K
/// paths). Each value equals `nsde_normals_*`'s with that scale, bit for bit.
void nsde_normals_grouped_f64(uint64_t seed, uint64_t step, int64_t path0, ptrdiff_t count, ptrdiff_t m,
                              const double *scales, ptrdiff_t group, double *out, ptrdiff_t ld);
void nsde_normals_grouped_f32(uint64_t seed, uint64_t step, int64_t path0, ptrdiff_t count, ptrdiff_t m,
                              const double *scales, ptrdiff_t group, float *out, ptrdiff_t ld);

#ifdef __cplusplus
}
#endif
#endif

#ifndef NSDE_KERNELS_SDE_H
#define NSDE_KERNELS_SDE_H
#ifdef __cplusplus
extern "C" {
#endif

/// Step sizes: every kernel below that takes `h, hs, group` gives row r the
/// step size `h_r = hs[r / group]` when `hs` is non-null (per-point grids:
/// each data point's `group` = K consecutive paths share one), else `h`.

/// The terms' product with the control (h, ΔW) added to a state, diagonal
/// noise, over `rows × d` values: `out[r] = x[r] + h_r·b[r] + σ[r] ⊙ dw[r]`
/// (a scheme's building block: Euler–Maruyama's whole step, a stage of others).
void nsde_add_products_diagonal_f64(ptrdiff_t rows, ptrdiff_t d, const double *x, const double *b,
                                    const double *sigma, const double *dw, double h, const double *hs,
                                    ptrdiff_t group, double *out);
void nsde_add_products_diagonal_f32(ptrdiff_t rows, ptrdiff_t d, const float *x, const float *b,
                                    const float *sigma, const float *dw, float h, const float *hs,
                                    ptrdiff_t group, float *out);

/// The same, additive noise (`σ` one row of d values shared by all rows):
/// `out[r] = x[r] + h_r·b[r] + σ ⊙ dw[r]` over `rows × d`.
void nsde_add_products_additive_f64(ptrdiff_t rows, ptrdiff_t d, const double *x, const double *b,
                                    const double *sigma, const double *dw, double h, const double *hs,
                                    ptrdiff_t group, double *out);
void nsde_add_products_additive_f32(ptrdiff_t rows, ptrdiff_t d, const float *x, const float *b,
                                    const float *sigma, const float *dw, float h, const float *hs,
                                    ptrdiff_t group, float *out);

/// The same, general noise (`σ` a d×m matrix per row, row-major):
/// `out[r] = x[r] + h_r·b[r] + σ[r]·dw[r]` with `x, b, out` rows × d, `σ` rows × (d·m), `dw` rows × m.
void nsde_add_products_general_f64(ptrdiff_t rows, ptrdiff_t d, ptrdiff_t m, const double *x, const double *b,
                                   const double *sigma, const double *dw, double h, const double *hs,
                                   ptrdiff_t group, double *out);
void nsde_add_products_general_f32(ptrdiff_t rows, ptrdiff_t d, ptrdiff_t m, const float *x, const float *b,
                                   const float *sigma, const float *dw, float h, const float *hs,
                                   ptrdiff_t group, float *out);

/// `out[r] = h_r·x[r]` over `rows × cols` (the drift's cotangent `h λ`).
void nsde_scaled_rows_f64(ptrdiff_t rows, ptrdiff_t cols, double h, const double *hs, ptrdiff_t group,
                          const double *x, double *out);
void nsde_scaled_rows_f32(ptrdiff_t rows, ptrdiff_t cols, float h, const float *hs, ptrdiff_t group,
                          const float *x, float *out);

/// The deterministic control as a shift of the Brownian increment, for
/// `points` data points with `k` contiguous paths each (noise dimension m):
/// `kl[q] += ½ h ‖u_q‖²`; for each path p of point q,
/// `logw[p] −= u_q·dw_p + ½ h ‖u_q‖²` and then `dw_p += h·u_q`.
/// `u` is points × m, `dw` (points·k) × m; `kl`, `logw` are Double accumulators.
/// Control row q takes the step size of its first path, `h_{q·k}`.
void nsde_apply_control_f64(ptrdiff_t points, ptrdiff_t k, ptrdiff_t m, const double *u, double *dw,
                            double h, const double *hs, ptrdiff_t group, double *kl, double *logw);
void nsde_apply_control_f32(ptrdiff_t points, ptrdiff_t k, ptrdiff_t m, const float *u, float *dw,
                            float h, const float *hs, ptrdiff_t group, double *kl, double *logw);


/// `out[i] = x[i]·y[i]` over n values (`out` may equal `x`).
void nsde_mul_f64(ptrdiff_t n, const double *x, const double *y, double *out);
void nsde_mul_f32(ptrdiff_t n, const float *x, const float *y, float *out);

/// Per-row outer products: `out[r, j·m + l] = a[r, j]·b[r, l]` (a rows×d, b rows×m).
void nsde_row_outer_f64(ptrdiff_t rows, ptrdiff_t d, ptrdiff_t m, const double *a, const double *b, double *out);
void nsde_row_outer_f32(ptrdiff_t rows, ptrdiff_t d, ptrdiff_t m, const float *a, const float *b, float *out);

/// Per-row transposed matrix–vector products with a row-major d×m matrix per
/// row: `out[r, l] = Σ_j S[r, j·m + l]·v[r, j]` (S rows×(d·m), v rows×d, out rows×m).
void nsde_row_transpose_apply_f64(ptrdiff_t rows, ptrdiff_t d, ptrdiff_t m, const double *s, const double *v,
                                  double *out);
void nsde_row_transpose_apply_f32(ptrdiff_t rows, ptrdiff_t d, ptrdiff_t m, const float *s, const float *v,
                                  float *out);



/// Gradient with respect to the control of each data point (backprop):
/// `out_q = (h_q·a)·u_q + h_q·Σ_{p∈q} v_p + Σ_{p∈q} c_p·w_p` for `points`
/// points with `k` contiguous paths each, `h_q = h_{q·k}` (`u`, `out`
/// points×m; `v`, `w` (points·k)×m; `c` per path, may be NULL to drop the last term).
void nsde_control_gradient_f64(ptrdiff_t points, ptrdiff_t k, ptrdiff_t m, double a, const double *u, double h,
                               const double *hs, ptrdiff_t group, const double *v, const double *c,
                               const double *w, double *out);
void nsde_control_gradient_f32(ptrdiff_t points, ptrdiff_t k, ptrdiff_t m, float a, const float *u, float h,
                               const float *hs, ptrdiff_t group, const float *v, const double *c, const float *w,
                               float *out);


/// Column sums added to `out`: `out[j] += Σ_r a[r·lda + j]` over `rows × cols`.
void nsde_column_sums_f64(ptrdiff_t rows, ptrdiff_t cols, const double *a, ptrdiff_t lda, double *out);
void nsde_column_sums_f32(ptrdiff_t rows, ptrdiff_t cols, const float *a, ptrdiff_t lda, float *out);

/// `out[i] = x[i]` for n values with non-temporal (streaming) stores where
/// `out` is 64-byte aligned: for data written once and read back much later
/// (the backprop tape), so its cache lines are not read from memory first.
/// Ends with a store fence.
void nsde_stream_copy_f64(ptrdiff_t n, const double *x, double *out);
void nsde_stream_copy_f32(ptrdiff_t n, const float *x, float *out);

/// Copies one row of `cols` values into every row of a contiguous `rows × cols` block.
void nsde_broadcast_rows_f64(ptrdiff_t rows, ptrdiff_t cols, const double *row, double *out);
void nsde_broadcast_rows_f32(ptrdiff_t rows, ptrdiff_t cols, const float *row, float *out);

/// FMA throughput probe: `iterations` rounds of `acc ← acc·a + b` on
/// NSDE_FMA_PROBE_LANES independent lanes (2 flops each); returns the sum of
/// the accumulators (so the work is not optimised away). Time it to get the
/// core's peak FLOP rate for the roofline.
#define NSDE_FMA_PROBE_LANES_F64 96
#define NSDE_FMA_PROBE_LANES_F32 192
double nsde_fma_probe_f64(long iterations, double a, double b);
float nsde_fma_probe_f32(long iterations, float a, float b);

#ifdef __cplusplus
}
#endif
#endif

#ifndef NSDE_KERNELS_TILE_H
#define NSDE_KERNELS_TILE_H
#ifdef __cplusplus
extern "C" {
#endif

/// Register-blocked product of a tile (the fused MLP passes' GEMM):
/// `C[r, n] = init[r, n] + Σ_{j<k} A[r, j]·B[j, n]` for `r < rows`, `n < cols`,
/// with `A[r, j] = a[r·ars + j·aks]` (a row-major matrix: `ars = lda, aks = 1`;
/// its transpose: `ars = 1, aks = lda`), `B` row-major with leading dimension
/// `ldb`, and `init` the row `bias` (cols values) if non-NULL, else `C` itself
/// if `accumulate`, else 0. `C` is row-major with `ldc`; it must not overlap
/// `A` or `B`. Blocks of 6 rows × 2 vectors (8 × 1 for the last ≤ 1 vector of
/// columns) in registers; AVX-512, AVX2 + FMA or baseline code chosen at run
/// time (`nsde_tile_isa_level`). Summation over j is in increasing order per
/// output element, so results do not depend on `rows` or on how rows are tiled.
void nsde_gemm_tile_f64(ptrdiff_t rows, ptrdiff_t cols, ptrdiff_t k, const double *a, ptrdiff_t ars,
                        ptrdiff_t aks, const double *b, ptrdiff_t ldb, const double *bias, int accumulate,
                        double *c, ptrdiff_t ldc);
void nsde_gemm_tile_f32(ptrdiff_t rows, ptrdiff_t cols, ptrdiff_t k, const float *a, ptrdiff_t ars,
                        ptrdiff_t aks, const float *b, ptrdiff_t ldb, const float *bias, int accumulate,
                        float *c, ptrdiff_t ldc);

/// The instruction-set level the tile kernels run: 4 (AVX-512), 3 (AVX2 + FMA)
/// or 1 (baseline), detected once from CPUID.
int nsde_tile_isa_level(void);
/// Forces a lower level (for tests and benchmarks; 0 or anything above the
/// CPU's level restores the detected one); returns the level now in use.
int nsde_tile_set_isa_level(int level);

#ifdef __cplusplus
}
#endif
#endif
