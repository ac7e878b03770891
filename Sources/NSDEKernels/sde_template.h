// Instantiated per precision by sde.c: REAL, SUFFIX(name).

// Step sizes (every kernel taking `h, hs, group`): row r's step size is
// `hs[r / group]` when `hs` is non-null (per-point grids: each data point's
// `group` = K consecutive paths share one), else `h` for every row.
#define STEP_SIZE(r) (hs ? hs[(r) / group] : h)

NSDE_CLONES
void SUFFIX(nsde_add_products_diagonal)(ptrdiff_t rows, ptrdiff_t d, const REAL *restrict x, const REAL *restrict b,
                                        const REAL *restrict sigma, const REAL *restrict dw, REAL h,
                                        const REAL *restrict hs, ptrdiff_t group, REAL *restrict out) {
  if (!hs) {
    const ptrdiff_t n = rows * d;
    for (ptrdiff_t i = 0; i < n; i++) out[i] = x[i] + h * b[i] + sigma[i] * dw[i];
    return;
  }
  for (ptrdiff_t r = 0; r < rows; r++) {
    const REAL hr = hs[r / group];
    const ptrdiff_t o = r * d;
    for (ptrdiff_t j = 0; j < d; j++) out[o + j] = x[o + j] + hr * b[o + j] + sigma[o + j] * dw[o + j];
  }
}

NSDE_CLONES
void SUFFIX(nsde_add_products_additive)(ptrdiff_t rows, ptrdiff_t d, const REAL *restrict x, const REAL *restrict b,
                                        const REAL *restrict sigma, const REAL *restrict dw, REAL h,
                                        const REAL *restrict hs, ptrdiff_t group, REAL *restrict out) {
  for (ptrdiff_t r = 0; r < rows; r++) {
    const REAL hr = STEP_SIZE(r);
    const ptrdiff_t o = r * d;
    for (ptrdiff_t j = 0; j < d; j++) out[o + j] = x[o + j] + hr * b[o + j] + sigma[j] * dw[o + j];
  }
}

NSDE_CLONES
void SUFFIX(nsde_add_products_general)(ptrdiff_t rows, ptrdiff_t d, ptrdiff_t m, const REAL *restrict x,
                                       const REAL *restrict b, const REAL *restrict sigma, const REAL *restrict dw,
                                       REAL h, const REAL *restrict hs, ptrdiff_t group, REAL *restrict out) {
  for (ptrdiff_t r = 0; r < rows; r++) {
    const REAL hr = STEP_SIZE(r);
    const REAL *s = sigma + r * d * m;
    const REAL *w = dw + r * m;
    for (ptrdiff_t j = 0; j < d; j++) {
      REAL acc = x[r * d + j] + hr * b[r * d + j];
      for (ptrdiff_t l = 0; l < m; l++) acc += s[j * m + l] * w[l];
      out[r * d + j] = acc;
    }
  }
}

NSDE_CLONES
void SUFFIX(nsde_scaled_rows)(ptrdiff_t rows, ptrdiff_t cols, REAL h, const REAL *restrict hs, ptrdiff_t group,
                              const REAL *restrict x, REAL *restrict out) {
  if (!hs) {
    const ptrdiff_t n = rows * cols;
    for (ptrdiff_t i = 0; i < n; i++) out[i] = h * x[i];
    return;
  }
  for (ptrdiff_t r = 0; r < rows; r++) {
    const REAL hr = hs[r / group];
    for (ptrdiff_t c = 0; c < cols; c++) out[r * cols + c] = hr * x[r * cols + c];
  }
}

NSDE_CLONES
void SUFFIX(nsde_apply_control)(ptrdiff_t points, ptrdiff_t k, ptrdiff_t m, const REAL *restrict u,
                                REAL *restrict dw, REAL h, const REAL *restrict hs, ptrdiff_t group,
                                double *restrict kl, double *restrict logw) {
  for (ptrdiff_t q = 0; q < points; q++) {
    const REAL hq = STEP_SIZE(q * k);
    const REAL *uq = u + q * m;
    REAL sq = 0;
    for (ptrdiff_t l = 0; l < m; l++) sq += uq[l] * uq[l];
    const double half = (double)(hq * sq) / 2;
    kl[q] += half;
    for (ptrdiff_t p = q * k; p < (q + 1) * k; p++) {
      REAL *w = dw + p * m;
      REAL dot = 0;
      for (ptrdiff_t l = 0; l < m; l++) {
        dot += uq[l] * w[l];
        w[l] += hq * uq[l];
      }
      logw[p] -= (double)dot + half;
    }
  }
}

NSDE_CLONES
void SUFFIX(nsde_mul)(ptrdiff_t n, const REAL *x, const REAL *y, REAL *out) {
#pragma clang loop vectorize(assume_safety)
  for (ptrdiff_t i = 0; i < n; i++) out[i] = x[i] * y[i];
}

NSDE_CLONES
void SUFFIX(nsde_row_outer)(ptrdiff_t rows, ptrdiff_t d, ptrdiff_t m, const REAL *restrict a, const REAL *restrict b,
                            REAL *restrict out) {
  for (ptrdiff_t r = 0; r < rows; r++) {
    for (ptrdiff_t j = 0; j < d; j++) {
      const REAL aj = a[r * d + j];
      REAL *o = out + (r * d + j) * m;
      for (ptrdiff_t l = 0; l < m; l++) o[l] = aj * b[r * m + l];
    }
  }
}

NSDE_CLONES
void SUFFIX(nsde_row_transpose_apply)(ptrdiff_t rows, ptrdiff_t d, ptrdiff_t m, const REAL *restrict s,
                                      const REAL *restrict v, REAL *restrict out) {
  for (ptrdiff_t r = 0; r < rows; r++) {
    REAL *o = out + r * m;
    for (ptrdiff_t l = 0; l < m; l++) o[l] = 0;
    for (ptrdiff_t j = 0; j < d; j++) {
      const REAL vj = v[r * d + j];
      const REAL *sr = s + (r * d + j) * m;
      for (ptrdiff_t l = 0; l < m; l++) o[l] += sr[l] * vj;
    }
  }
}

NSDE_CLONES
void SUFFIX(nsde_control_gradient)(ptrdiff_t points, ptrdiff_t k, ptrdiff_t m, REAL a_per_h, const REAL *restrict u,
                                   REAL h, const REAL *restrict hs, ptrdiff_t group, const REAL *restrict v,
                                   const double *restrict c, const REAL *restrict w, REAL *restrict out) {
  for (ptrdiff_t q = 0; q < points; q++) {
    const REAL hq = STEP_SIZE(q * k);
    const REAL a = hq * a_per_h;
    REAL *o = out + q * m;
    for (ptrdiff_t l = 0; l < m; l++) o[l] = a * u[q * m + l];
    for (ptrdiff_t p = q * k; p < (q + 1) * k; p++) {
      const REAL *vp = v + p * m;
      for (ptrdiff_t l = 0; l < m; l++) o[l] += hq * vp[l];
      if (c) {
        const REAL cp = (REAL)c[p];
        const REAL *wp = w + p * m;
        for (ptrdiff_t l = 0; l < m; l++) o[l] += cp * wp[l];
      }
    }
  }
}

NSDE_CLONES
void SUFFIX(nsde_broadcast_rows)(ptrdiff_t rows, ptrdiff_t cols, const REAL *restrict row, REAL *restrict out) {
  for (ptrdiff_t r = 0; r < rows; r++) {
    REAL *o = out + r * cols;
    for (ptrdiff_t c = 0; c < cols; c++) o[c] = row[c];
  }
}

// out[j] += Σ_r a[r, j]. Columns run in blocks of up to four 64-byte vectors
// whose sums stay in registers over all rows (a plain row loop reloads and
// stores `out` for every row); each column is still summed row by row, in
// the same order as the plain loop, so the result is the same bit for bit.
NSDE_CLONES
void SUFFIX(nsde_column_sums)(ptrdiff_t rows, ptrdiff_t cols, const REAL *restrict a, ptrdiff_t lda,
                              REAL *restrict out) {
  typedef REAL uvec __attribute__((vector_size(64), aligned(sizeof(REAL))));
  enum { L = 64 / (int)sizeof(REAL) };
  ptrdiff_t j0 = 0;
  for (; j0 + 4 * L <= cols; j0 += 4 * L) {
    uvec s0 = *(const uvec *)(out + j0), s1 = *(const uvec *)(out + j0 + L);
    uvec s2 = *(const uvec *)(out + j0 + 2 * L), s3 = *(const uvec *)(out + j0 + 3 * L);
    for (ptrdiff_t r = 0; r < rows; r++) {
      const REAL *row = a + r * lda + j0;
      s0 += *(const uvec *)row;
      s1 += *(const uvec *)(row + L);
      s2 += *(const uvec *)(row + 2 * L);
      s3 += *(const uvec *)(row + 3 * L);
    }
    *(uvec *)(out + j0) = s0;
    *(uvec *)(out + j0 + L) = s1;
    *(uvec *)(out + j0 + 2 * L) = s2;
    *(uvec *)(out + j0 + 3 * L) = s3;
  }
  for (; j0 + L <= cols; j0 += L) {
    uvec s = *(const uvec *)(out + j0);
    for (ptrdiff_t r = 0; r < rows; r++) s += *(const uvec *)(a + r * lda + j0);
    *(uvec *)(out + j0) = s;
  }
  if (j0 < cols) {
    for (ptrdiff_t r = 0; r < rows; r++) {
      const REAL *row = a + r * lda;
      for (ptrdiff_t j = j0; j < cols; j++) out[j] += row[j];
    }
  }
}

// Copies n values to memory that will not be read again soon (the backprop
// tape): 64-byte non-temporal vector stores once `out` is aligned, so the
// tape's cache lines are not first read from memory (no read-for-ownership).
NSDE_CLONES
void SUFFIX(nsde_stream_copy)(ptrdiff_t n, const REAL *restrict x, REAL *restrict out) {
  typedef REAL vec __attribute__((vector_size(64), aligned(64)));
  typedef REAL uvec __attribute__((vector_size(64), aligned(sizeof(REAL))));
  enum { L = 64 / (int)sizeof(REAL) };
  ptrdiff_t i = 0;
  while (i < n && ((uintptr_t)(out + i) & 63) != 0) { out[i] = x[i]; i++; }
  if (((uintptr_t)(out + i) & (sizeof(REAL) - 1)) == 0) {
    for (; i + L <= n; i += L) {
      uvec v = *(const uvec *)(x + i);
      __builtin_nontemporal_store((vec)v, (vec *)(out + i));
    }
  }
  for (; i < n; i++) out[i] = x[i];
#if defined(__x86_64__)
  __builtin_ia32_sfence();
#endif
}
