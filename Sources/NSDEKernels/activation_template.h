// Instantiated twice by activations.c, once per precision. Expects:
//   REAL, UINT (same-width unsigned), SUFFIX(name), DOUBLE_PRECISION (0/1).
// All helpers are branch-free straight-line code so that the loops below
// vectorise; 2^k is built from the exponent bits.

static inline UINT SUFFIX(as_uint)(REAL x) { UINT u; __builtin_memcpy(&u, &x, sizeof u); return u; }
static inline REAL SUFFIX(as_real)(UINT u) { REAL x; __builtin_memcpy(&x, &u, sizeof x); return x; }

#if DOUBLE_PRECISION
#define EXP_SHIFT 0x1.8p52
#define MANT_BITS 52
#define EXP_MIN (-708.0)
#define EXP_MAX (709.0)
#define TANH_CLAMP (20.0)
#define LN2_HI 0x1.62e42fefa3800p-1
#define LN2_LO 0x1.ef35793c76730p-45
#define INV_LN2 0x1.71547652b82fep0
#define LN2 0x1.62e42fefa39efp-1
#define SQRT2 0x1.6a09e667f3bcdp0
#else
#define EXP_SHIFT 0x1.8p23f
#define MANT_BITS 23
#define EXP_MIN (-87.0f)
#define EXP_MAX (88.0f)
#define TANH_CLAMP (10.0f)
#define LN2_HI 0x1.62e4p-1f
#define LN2_LO 0x1.7f7d1cp-20f
#define INV_LN2 0x1.715476p0f
#define LN2 0x1.62e430p-1f
#define SQRT2 0x1.6a09e6p0f
#endif

#define R(c) ((REAL)(c))

/// Range reduction x = k·ln2 + r, |r| ≤ ln2/2; returns r and 2^k, for x
/// already within [EXP_MIN, EXP_MAX].
static inline __attribute__((always_inline)) REAL SUFFIX(reduce_in_range)(REAL x, REAL *scale) {
  REAL kd = x * INV_LN2 + EXP_SHIFT;
  UINT ki = SUFFIX(as_uint)(kd);
  kd -= EXP_SHIFT;
  *scale = SUFFIX(as_real)((UINT)(ki << MANT_BITS) + SUFFIX(as_uint)(R(1)));
  return (x - kd * LN2_HI) - kd * LN2_LO;
}

/// Range reduction x = k·ln2 + r, |r| ≤ ln2/2; returns r and 2^k (x clamped).
static inline __attribute__((always_inline)) REAL SUFFIX(reduce)(REAL x, REAL *scale) {
  x = x < EXP_MIN ? EXP_MIN : x;
  x = x > EXP_MAX ? EXP_MAX : x;
  REAL kd = x * INV_LN2 + EXP_SHIFT;
  UINT ki = SUFFIX(as_uint)(kd);
  kd -= EXP_SHIFT;
  *scale = SUFFIX(as_real)((UINT)(ki << MANT_BITS) + SUFFIX(as_uint)(R(1)));
  return (x - kd * LN2_HI) - kd * LN2_LO;
}

/// expm1(r) for |r| ≤ ln2/2 as r + r²·P(r), with P the Chebyshev
/// (near-minimax) fit of (expm1(r) − r)/r² on that interval: degree 9 for
/// Double (max relative error 4e-17), 4 for Float (2.4e-8).
static inline __attribute__((always_inline)) REAL SUFFIX(expm1_reduced)(REAL r) {
#if DOUBLE_PRECISION
  REAL p = R(2.5100375832561233664e-8);
  p = p * r + R(2.7620075879983366586e-7);
  p = p * r + R(2.7557268480310025526e-6);
  p = p * r + R(0.000024801521322368693266);
  p = p * r + R(0.00019841269863040545271);
  p = p * r + R(0.0013888888917196719077);
  p = p * r + R(0.0083333333333300644495);
  p = p * r + R(0.041666666666624161903);
  p = p * r + R(0.16666666666666667452);
  p = p * r + R(0.50000000000000010211);
#else
  REAL p = R(0.0013926176119935578823);
  p = p * r + R(0.0083631730745137109028);
  p = p * r + R(0.041666554662050533983);
  p = p * r + R(0.1666657702559798819);
  p = p * r + R(0.5);
#endif
  return r + (r * r) * p;
}

static inline __attribute__((always_inline)) REAL SUFFIX(expm1)(REAL x) {
  REAL scale;
  REAL r = SUFFIX(reduce)(x, &scale);
  REAL p = SUFFIX(expm1_reduced)(r);
  return scale * p + (scale - R(1));
}

static inline __attribute__((always_inline)) REAL SUFFIX(exp)(REAL x) {
  REAL scale;
  REAL r = SUFFIX(reduce)(x, &scale);
  REAL p = SUFFIX(expm1_reduced)(r);
  return scale * p + scale;
}

/// log1p(e) for e in [0, 1].
static inline __attribute__((always_inline)) REAL SUFFIX(log1p_unit)(REAL e) {
  REAL w = R(1) + e;
  REAL c = (e - (w - R(1))) / w;            // rounding lost in 1 + e
  REAL big = w > SQRT2 ? R(1) : R(0);
  REAL wr = big != R(0) ? w * R(0.5) : w;
  REAL s = (wr - R(1)) / (wr + R(1));
  REAL s2 = s * s;
#if DOUBLE_PRECISION
  REAL q = R(1.0 / 23.0);
  q = q * s2 + R(1.0 / 21.0);
  q = q * s2 + R(1.0 / 19.0);
  q = q * s2 + R(1.0 / 17.0);
  q = q * s2 + R(1.0 / 15.0);
  q = q * s2 + R(1.0 / 13.0);
  q = q * s2 + R(1.0 / 11.0);
  q = q * s2 + R(1.0 / 9.0);
  q = q * s2 + R(1.0 / 7.0);
  q = q * s2 + R(1.0 / 5.0);
  q = q * s2 + R(1.0 / 3.0);
#else
  REAL q = R(1.0 / 11.0);
  q = q * s2 + R(1.0 / 9.0);
  q = q * s2 + R(1.0 / 7.0);
  q = q * s2 + R(1.0 / 5.0);
  q = q * s2 + R(1.0 / 3.0);
#endif
  REAL logw = R(2) * s + (R(2) * s) * (s2 * q);
  return (big * LN2 + logw) + c;
}

/// Value, first and second derivative of one activation at x.
static inline __attribute__((always_inline)) void SUFFIX(eval)(int kind, REAL x, REAL *y, REAL *dy, REAL *d2y) {
  switch (kind) {
  case NSDE_ACTIVATION_TANH: {
    // tanh|x| = expm1(2|x|) / (expm1(2|x|) + 2), 2|x| ≤ 2·TANH_CLAMP (no
    // clamping in the range reduction); the sign is copied back bitwise.
    UINT sign = SUFFIX(as_uint)(x) & (SUFFIX(as_uint)(R(-0.0)));
    REAL ax = SUFFIX(as_real)(SUFFIX(as_uint)(x) ^ sign);
    ax = ax > TANH_CLAMP ? TANH_CLAMP : ax;
    REAL scale;
    REAL r = SUFFIX(reduce_in_range)(R(2) * ax, &scale);
    REAL em = scale * SUFFIX(expm1_reduced)(r) + (scale - R(1));
    REAL t = em / (em + R(2));
    REAL a = SUFFIX(as_real)(SUFFIX(as_uint)(t) | sign);
    REAL d = R(1) - a * a;
    *y = a; *dy = d; *d2y = R(-2) * a * d;
    break;
  }
  case NSDE_ACTIVATION_SOFTPLUS:
  case NSDE_ACTIVATION_SILU:
  case NSDE_ACTIVATION_LIPSWISH: {
    REAL ax = x < R(0) ? -x : x;
    REAL e = SUFFIX(exp)(-ax);               // in [0, 1]
    e = -ax < EXP_MIN ? R(0) : e;            // underflow: exp clamps its input
    REAL inv = R(1) / (R(1) + e);
    REAL s = x < R(0) ? e * inv : inv;       // sigmoid(x), no overflow
    REAL sp = s * (R(1) - s);                // sigmoid'(x)
    if (kind == NSDE_ACTIVATION_SOFTPLUS) {
      REAL pos = x > R(0) ? x : R(0);
      *y = pos + SUFFIX(log1p_unit)(e); *dy = s; *d2y = sp;
    } else {
      REAL g = kind == NSDE_ACTIVATION_LIPSWISH ? R(0.909) : R(1);
      *y = g * (x * s);
      *dy = g * (s + x * sp);
      *d2y = g * (sp * (R(2) + x * (R(1) - R(2) * s)));
    }
    break;
  }
  default:
    *y = x; *dy = R(1); *d2y = R(0);
  }
}

// One loop per kind, so the switch is outside the vectorised loop.
#define NSDE_LOOP_BODY(KIND)                                                  \
  _Pragma("clang loop interleave_count(4)")                                   \
  for (ptrdiff_t i = 0; i < n; i++) {                                         \
    REAL a, d, d2;                                                            \
    SUFFIX(eval)(KIND, x[i], &a, &d, &d2);                                    \
    if (want_y) y[i] = a;                                                     \
    if (want_dy) dy[i] = d;                                                   \
    if (want_d2y) d2y[i] = d2;                                                \
  }

static inline __attribute__((always_inline)) void SUFFIX(activation_loop)(
    int kind, ptrdiff_t n, const REAL *restrict x, REAL *restrict y, REAL *restrict dy,
    REAL *restrict d2y, int want_y, int want_dy, int want_d2y) {
  switch (kind) {
  case NSDE_ACTIVATION_TANH: NSDE_LOOP_BODY(NSDE_ACTIVATION_TANH) break;
  case NSDE_ACTIVATION_SOFTPLUS: NSDE_LOOP_BODY(NSDE_ACTIVATION_SOFTPLUS) break;
  case NSDE_ACTIVATION_SILU: NSDE_LOOP_BODY(NSDE_ACTIVATION_SILU) break;
  case NSDE_ACTIVATION_LIPSWISH: NSDE_LOOP_BODY(NSDE_ACTIVATION_LIPSWISH) break;
  default: NSDE_LOOP_BODY(NSDE_ACTIVATION_IDENTITY) break;
  }
}

NSDE_CLONES
static void SUFFIX(activation_y)(int kind, ptrdiff_t n, const REAL *restrict x, REAL *restrict y) {
  SUFFIX(activation_loop)(kind, n, x, y, 0, 0, 1, 0, 0);
}
NSDE_CLONES
static void SUFFIX(activation_y_dy)(int kind, ptrdiff_t n, const REAL *restrict x, REAL *restrict y, REAL *restrict dy) {
  SUFFIX(activation_loop)(kind, n, x, y, dy, 0, 1, 1, 0);
}
NSDE_CLONES
static void SUFFIX(activation_all)(int kind, ptrdiff_t n, const REAL *restrict x, REAL *restrict y, REAL *restrict dy, REAL *restrict d2y) {
  SUFFIX(activation_loop)(kind, n, x, y, dy, d2y, 1, 1, 1);
}

// In-place variants (elementwise, so aliasing is safe: each x[i] is read
// before it is written).
static inline __attribute__((always_inline)) void SUFFIX(inplace_loop)(int kind, ptrdiff_t n, REAL *x, REAL *restrict dy,
                                                                      int want_dy) {
#pragma clang loop vectorize(assume_safety) interleave_count(4)
  for (ptrdiff_t i = 0; i < n; i++) {
    REAL a, d, d2;
    SUFFIX(eval)(kind, x[i], &a, &d, &d2);
    x[i] = a;
    if (want_dy) dy[i] = d;
  }
}

// The kind is a compile-time constant inside each loop, so only its own
// formula is vectorised (a runtime kind would if-convert all of them).
#define NSDE_DISPATCH(CALL)                                                   \
  switch (kind) {                                                             \
  case NSDE_ACTIVATION_TANH: CALL(NSDE_ACTIVATION_TANH); break;               \
  case NSDE_ACTIVATION_SOFTPLUS: CALL(NSDE_ACTIVATION_SOFTPLUS); break;       \
  case NSDE_ACTIVATION_SILU: CALL(NSDE_ACTIVATION_SILU); break;               \
  case NSDE_ACTIVATION_LIPSWISH: CALL(NSDE_ACTIVATION_LIPSWISH); break;       \
  default: CALL(NSDE_ACTIVATION_IDENTITY); break;                             \
  }

// In-place variants (elementwise, so aliasing is safe: each x[i] is read
// before it is written).
NSDE_CLONES
static void SUFFIX(activation_inplace)(int kind, ptrdiff_t n, REAL *x) {
#define CALL(K) SUFFIX(inplace_loop)(K, n, x, 0, 0)
  NSDE_DISPATCH(CALL)
#undef CALL
}
NSDE_CLONES
static void SUFFIX(activation_inplace_dy)(int kind, ptrdiff_t n, REAL *x, REAL *restrict dy) {
#define CALL(K) SUFFIX(inplace_loop)(K, n, x, dy, 1)
  NSDE_DISPATCH(CALL)
#undef CALL
}

void SUFFIX(nsde_activation)(int kind, ptrdiff_t n, const REAL *x, REAL *y, REAL *dy, REAL *d2y) {
  if (n <= 0) return;
  if (y == x) {  // in place, values only (contract: no derivative outputs)
    SUFFIX(activation_inplace)(kind, n, (REAL *)x);
    return;
  }
  REAL buf[256];
  if (y && dy && d2y) { SUFFIX(activation_all)(kind, n, x, y, dy, d2y); return; }
  if (y && dy) { SUFFIX(activation_y_dy)(kind, n, x, y, dy); return; }
  if (y && !d2y) { SUFFIX(activation_y)(kind, n, x, y); return; }
  // Some outputs missing: compute in chunks with scratch for the missing ones.
  for (ptrdiff_t i = 0; i < n; i += 256) {
    ptrdiff_t len = n - i < 256 ? n - i : 256;
    REAL b1[256], b2[256];
    if (d2y) {
      SUFFIX(activation_all)(kind, len, x + i, y ? y + i : buf, dy ? dy + i : b1, d2y + i);
    } else if (dy) {
      SUFFIX(activation_y_dy)(kind, len, x + i, buf, dy + i);
    }
    (void)b2;
  }
}

NSDE_CLONES
static void SUFFIX(add_bias_rows)(ptrdiff_t rows, ptrdiff_t cols, REAL *restrict z, const REAL *restrict bias) {
  for (ptrdiff_t r = 0; r < rows; r++) {
    REAL *zr = z + r * cols;
    for (ptrdiff_t c = 0; c < cols; c++) zr[c] += bias[c];
  }
}

void SUFFIX(nsde_bias_activation)(int kind, ptrdiff_t rows, ptrdiff_t cols, REAL *z, const REAL *bias, REAL *da) {
  if (rows <= 0 || cols <= 0) return;
  // Row blocks small enough to stay in L1 between the bias pass and the
  // activation pass.
  ptrdiff_t block = cols >= 512 ? 1 : 512 / cols;
  for (ptrdiff_t r0 = 0; r0 < rows; r0 += block) {
    ptrdiff_t nr = rows - r0 < block ? rows - r0 : block;
    REAL *zb = z + r0 * cols;
    if (bias) SUFFIX(add_bias_rows)(nr, cols, zb, bias);
    if (kind == NSDE_ACTIVATION_IDENTITY) {
      if (da) for (ptrdiff_t i = 0; i < nr * cols; i++) da[r0 * cols + i] = R(1);
    } else if (da) {
      SUFFIX(activation_inplace_dy)(kind, nr * cols, zb, da + r0 * cols);
    } else {
      SUFFIX(activation_inplace)(kind, nr * cols, zb);
    }
  }
}

NSDE_CLONES
void SUFFIX(nsde_scale_by_derivative)(int kind, ptrdiff_t n, REAL *out, const REAL *g, const REAL *a,
                                      const REAL *d) {
  if (kind == NSDE_ACTIVATION_IDENTITY) {
    if (out != g) for (ptrdiff_t i = 0; i < n; i++) out[i] = g[i];
  } else if (kind == NSDE_ACTIVATION_TANH) {
#pragma clang loop vectorize(assume_safety)
    for (ptrdiff_t i = 0; i < n; i++) out[i] = g[i] * (R(1) - a[i] * a[i]);
  } else if (kind == NSDE_ACTIVATION_SOFTPLUS) {
    // sigmoid(z) = 1 − e^{−a} with a = softplus(z) ≥ 0; expm1 keeps small a accurate.
#pragma clang loop vectorize(assume_safety)
    for (ptrdiff_t i = 0; i < n; i++) out[i] = g[i] * -SUFFIX(expm1)(-a[i]);
  } else {
#pragma clang loop vectorize(assume_safety)
    for (ptrdiff_t i = 0; i < n; i++) out[i] = g[i] * d[i];
  }
}

ptrdiff_t SUFFIX(nsde_count_nonfinite)(ptrdiff_t n, const REAL *x) {
  ptrdiff_t count = 0;
  for (ptrdiff_t i = 0; i < n; i++) {
    REAL v = x[i];
    count += (v - v) != R(0) ? 1 : 0;  // NaN for NaN and ±Inf
  }
  return count;
}

#undef R
#undef EXP_SHIFT
#undef MANT_BITS
#undef EXP_MIN
#undef EXP_MAX
#undef TANH_CLAMP
#undef LN2_HI
#undef LN2_LO
#undef INV_LN2
#undef LN2
#undef SQRT2
#undef NSDE_LOOP_BODY
#undef NSDE_DISPATCH
