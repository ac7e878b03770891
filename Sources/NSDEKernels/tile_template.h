// Register-blocked tile products, instantiated by tile.c once per precision
// and instruction-set level. Expects: REAL, VL (lanes per vector), TARGET
// (a function attribute, may be empty), FN(name) (the level's suffix).
//
// C[r, n] = init[r, n] + Σ_k A[r, k]·B[k, n] for r < rows, n < cols, where
// A[r, k] = a[r·ars + k·aks] (any strides: rows of a matrix or of its
// transpose), B is row-major (ldb), and init is the bias row, C itself
// (accumulate) or 0. Blocks of MR rows × NV vectors are held in NV·MR
// separate accumulator registers (6 × 2 or 8 × 1: 12 FMAs per k against
// one or two vector loads and 6–8 broadcasts), bias and C loaded once per
// block. Column panels are the outer loop so a panel of B stays in L1 while
// the rows stream by; a partial last panel is copied, zero padded, to the
// stack once (in slices of KSLICE rows when deeper) so every vector load
// stays in bounds. Full row blocks are addressed directly; only a last
// partial row block goes through per-row pointer tables.

typedef REAL FN(vec) __attribute__((vector_size(VL * sizeof(REAL)), aligned(sizeof(REAL))));

#define VEC FN(vec)
#define KSLICE 128

static inline __attribute__((always_inline)) TARGET VEC FN(load)(const REAL *p) {
  VEC v;
  __builtin_memcpy(&v, p, sizeof v);
  return v;
}
static inline __attribute__((always_inline)) TARGET void FN(store)(REAL *p, VEC v) {
  __builtin_memcpy(p, &v, sizeof v);
}
static inline __attribute__((always_inline)) TARGET VEC FN(splat)(REAL s) {
  VEC one = {0};
  one += (REAL)1;
  return one * s; // s·1 = s exactly, so this folds to a broadcast
}

// One block of MR rows × NV vectors: acc ← init rows, acc += Σ_k A[r, k]·B[k, :],
// stored to the out rows. Every pointer is valid for NV·VL values (the panel
// routes partial rows and columns through padded buffers).
#define FN_BLOCK(MR, NV, NAME)                                                                     \
  static inline __attribute__((always_inline)) TARGET void NAME(                                   \
      ptrdiff_t kc, const REAL *const *ar, ptrdiff_t aks, const REAL *b, ptrdiff_t ldb,            \
      const REAL *const *init, REAL *const *out) {                                                 \
    VEC acc[MR][NV];                                                                               \
    _Pragma("clang loop unroll(full)") for (int r = 0; r < MR; r++)                                \
        _Pragma("clang loop unroll(full)") for (int v = 0; v < NV; v++) acc[r][v] =                \
            FN(load)(init[r] + v * VL);                                                            \
    for (ptrdiff_t k = 0; k < kc; k++) {                                                           \
      VEC bv[NV];                                                                                  \
      _Pragma("clang loop unroll(full)") for (int v = 0; v < NV; v++) bv[v] =                      \
          FN(load)(b + k * ldb + v * VL);                                                          \
      _Pragma("clang loop unroll(full)") for (int r = 0; r < MR; r++) {                            \
        VEC s = FN(splat)(ar[r][k * aks]);                                                         \
        _Pragma("clang loop unroll(full)") for (int v = 0; v < NV; v++) acc[r][v] += s * bv[v];    \
      }                                                                                            \
    }                                                                                              \
    _Pragma("clang loop unroll(full)") for (int r = 0; r < MR; r++)                                \
        _Pragma("clang loop unroll(full)") for (int v = 0; v < NV; v++)                            \
            FN(store)(out[r] + v * VL, acc[r][v]);                                                 \
  }

FN_BLOCK(6, 2, FN(block6x2))
FN_BLOCK(8, 1, FN(block8x1))

// A full block (MR rows, NV vectors in bounds) addressed directly: rows of A
// at a + r·ars, rows of C at c + r·ldc, accumulators initialised from `init`
// (the bias vectors, zero) or from C (accumulate).
#define FN_DIRECT(MR, NV, NAME)                                                                    \
  static inline __attribute__((always_inline)) TARGET void NAME(                                   \
      ptrdiff_t kc, const REAL *a, ptrdiff_t ars, ptrdiff_t aks, const REAL *b, ptrdiff_t ldb,     \
      const VEC *init, int accumulate, REAL *c, ptrdiff_t ldc) {                                   \
    VEC acc[MR][NV];                                                                               \
    _Pragma("clang loop unroll(full)") for (int r = 0; r < MR; r++)                                \
        _Pragma("clang loop unroll(full)") for (int v = 0; v < NV; v++) acc[r][v] =                \
            accumulate ? FN(load)(c + r * ldc + v * VL) : init[v];                                 \
    for (ptrdiff_t k = 0; k < kc; k++) {                                                           \
      VEC bv[NV];                                                                                  \
      _Pragma("clang loop unroll(full)") for (int v = 0; v < NV; v++) bv[v] =                      \
          FN(load)(b + k * ldb + v * VL);                                                          \
      _Pragma("clang loop unroll(full)") for (int r = 0; r < MR; r++) {                            \
        VEC s = FN(splat)(a[r * ars + k * aks]);                                                   \
        _Pragma("clang loop unroll(full)") for (int v = 0; v < NV; v++) acc[r][v] += s * bv[v];    \
      }                                                                                            \
    }                                                                                              \
    _Pragma("clang loop unroll(full)") for (int r = 0; r < MR; r++)                                \
        _Pragma("clang loop unroll(full)") for (int v = 0; v < NV; v++)                            \
            FN(store)(c + r * ldc + v * VL, acc[r][v]);                                            \
  }

FN_DIRECT(6, 2, FN(direct6x2))
FN_DIRECT(8, 1, FN(direct8x1))

// A column panel (cols ≤ NV·VL) over all rows, in blocks of MR rows.
#define FN_PANEL(MR, NV, NAME, BLOCK, DIRECT)                                                              \
  static TARGET void NAME(ptrdiff_t rows, ptrdiff_t cols, ptrdiff_t kc, const REAL *a, ptrdiff_t ars, \
                          ptrdiff_t aks, const REAL *b, ptrdiff_t ldb, const REAL *bias, int accumulate, \
                          REAL *c, ptrdiff_t ldc) {                                                \
    enum { NR = NV * VL };                                                                         \
    const int full = cols == NR;                                                                   \
    REAL pad[KSLICE * NR];                                                                         \
    REAL zero[NR], biasRow[NR], inRows[MR][NR], outRows[MR][NR];                                   \
    for (int j = 0; j < NR; j++) zero[j] = 0;                                                      \
    for (int j = 0; j < NR; j++) biasRow[j] = bias && j < cols ? bias[j] : 0;                      \
    const REAL *ar[MR];                                                                            \
    const REAL *init[MR];                                                                          \
    REAL *out[MR];                                                                                 \
    ptrdiff_t r0 = 0;                                                                              \
    if (full || kc <= KSLICE) {                                                                    \
      /* Full row blocks directly; a partial panel is padded once, its    */                       \
      /* blocks computed into `outRows` and their valid columns copied.   */                       \
      const REAL *bp = b;                                                                          \
      ptrdiff_t ldbp = ldb;                                                                        \
      if (!full) {                                                                                 \
        for (ptrdiff_t k = 0; k < kc; k++)                                                         \
          for (int j = 0; j < NR; j++) pad[k * NR + j] = j < cols ? b[k * ldb + j] : 0;            \
        bp = pad;                                                                                  \
        ldbp = NR;                                                                                 \
      }                                                                                            \
      VEC initv[NV];                                                                               \
      for (int v = 0; v < NV; v++) initv[v] = FN(load)(biasRow + v * VL);                          \
      const int acc = !bias && accumulate;                                                         \
      for (; r0 + MR <= rows; r0 += MR) {                                                          \
        if (full) {                                                                                \
          DIRECT(kc, a + r0 * ars, ars, aks, bp, ldbp, initv, acc, c + r0 * ldc, ldc);             \
        } else {                                                                                   \
          if (acc)                                                                                 \
            for (int r = 0; r < MR; r++)                                                           \
              for (int j = 0; j < NR; j++) outRows[r][j] = j < cols ? c[(r0 + r) * ldc + j] : 0;   \
          DIRECT(kc, a + r0 * ars, ars, aks, bp, ldbp, initv, acc, &outRows[0][0], NR);            \
          for (int r = 0; r < MR; r++)                                                             \
            for (int j = 0; j < cols; j++) c[(r0 + r) * ldc + j] = outRows[r][j];                  \
        }                                                                                          \
      }                                                                                            \
    }                                                                                              \
    for (; r0 < rows; r0 += MR) {                                                                  \
      const ptrdiff_t mr = rows - r0 < MR ? rows - r0 : MR;                                        \
      for (int r = 0; r < MR; r++) {                                                               \
        const int valid = r < mr;                                                                  \
        REAL *cr = c + (r0 + (valid ? r : 0)) * ldc;                                               \
        ar[r] = a + (r0 + (valid ? r : mr - 1)) * ars;                                             \
        out[r] = valid && full ? cr : outRows[r];                                                  \
        if (bias) {                                                                                \
          init[r] = biasRow;                                                                       \
        } else if (accumulate && valid) {                                                          \
          if (full) {                                                                              \
            init[r] = cr;                                                                          \
          } else {                                                                                 \
            for (int j = 0; j < NR; j++) inRows[r][j] = j < cols ? cr[j] : 0;                      \
            init[r] = inRows[r];                                                                   \
          }                                                                                        \
        } else {                                                                                   \
          init[r] = zero;                                                                          \
        }                                                                                          \
      }                                                                                            \
      if (full) {                                                                                  \
        BLOCK(kc, ar, aks, b, ldb, init, out);                                                     \
      } else {                                                                                     \
        for (ptrdiff_t k0 = 0; k0 < kc || k0 == 0; k0 += KSLICE) {                                 \
          const ptrdiff_t ks = kc - k0 < KSLICE ? kc - k0 : KSLICE;                                \
          for (ptrdiff_t k = 0; k < ks; k++)                                                       \
            for (int j = 0; j < NR; j++) pad[k * NR + j] = j < cols ? b[(k0 + k) * ldb + j] : 0;   \
          const REAL *as[MR];                                                                      \
          for (int r = 0; r < MR; r++) as[r] = ar[r] + k0 * aks;                                   \
          BLOCK(ks, as, aks, pad, NR, init, out);                                                  \
          for (int r = 0; r < MR; r++) init[r] = out[r];                                           \
        }                                                                                          \
      }                                                                                            \
      if (!full)                                                                                   \
        for (int r = 0; r < mr; r++)                                                               \
          for (int j = 0; j < cols; j++) c[(r0 + r) * ldc + j] = outRows[r][j];                    \
    }                                                                                              \
  }

FN_PANEL(6, 2, FN(panel6x2), FN(block6x2), FN(direct6x2))
FN_PANEL(8, 1, FN(panel8x1), FN(block8x1), FN(direct8x1))

static TARGET void FN(gemm_tile)(ptrdiff_t rows, ptrdiff_t cols, ptrdiff_t kc, const REAL *a, ptrdiff_t ars,
                                 ptrdiff_t aks, const REAL *b, ptrdiff_t ldb, const REAL *bias, int accumulate,
                                 REAL *c, ptrdiff_t ldc) {
  ptrdiff_t n0 = 0;
  // Two-vector panels while at least VL + 1 columns remain, a one-vector
  // panel for the last ≤ VL columns.
  while (cols - n0 > VL) {
    const ptrdiff_t nc = cols - n0 < 2 * VL ? cols - n0 : 2 * VL;
    FN(panel6x2)(rows, nc, kc, a, ars, aks, b + n0, ldb, bias ? bias + n0 : 0, accumulate, c + n0, ldc);
    n0 += nc;
  }
  if (n0 < cols)
    FN(panel8x1)(rows, cols - n0, kc, a, ars, aks, b + n0, ldb, bias ? bias + n0 : 0, accumulate, c + n0, ldc);
}

#undef VEC
#undef KSLICE
#undef FN_BLOCK
#undef FN_PANEL
#undef FN_DIRECT
