// Counter-based Gaussian noise: Philox4x32-10 + vectorised Box–Muller.
// See include/nsde_kernels.h for the exact mapping from indices to values.
#include "nsde_kernels.h"
#include <string.h>

#include "clones.h"

#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u
#define PHILOX_W1 0xBB67AE85u

static inline __attribute__((always_inline)) void philox_block(uint32_t c[4], uint32_t k0, uint32_t k1) {
  // Words in 64-bit lanes: each product takes its factors' low halves (one
  // vpmuludq), and the high halves the XORs carry along are dropped at the end.
  uint64_t c0 = c[0], c1 = c[1], c2 = c[2], c3 = c[3];
  for (int round = 0; round < 10; round++) {
    if (round > 0) { k0 += PHILOX_W0; k1 += PHILOX_W1; }
    uint64_t p0 = (uint64_t)(uint32_t)c0 * PHILOX_M0;
    uint64_t p1 = (uint64_t)(uint32_t)c2 * PHILOX_M1;
    c0 = (p1 >> 32) ^ c1 ^ k0;
    c1 = p1;
    c2 = (p0 >> 32) ^ c3 ^ k1;
    c3 = p0;
  }
  c[0] = (uint32_t)c0; c[1] = (uint32_t)c1; c[2] = (uint32_t)c2; c[3] = (uint32_t)c3;
}

void nsde_philox4x32_10(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4]) {
  uint32_t c[4] = {ctr[0], ctr[1], ctr[2], ctr[3]};
  philox_block(c, key[0], key[1]);
  memcpy(out, c, sizeof c);
}

static inline uint64_t as_u64(double x) { uint64_t u; memcpy(&u, &x, 8); return u; }
static inline double as_f64(uint64_t u) { double x; memcpy(&x, &u, 8); return x; }

/// log(u) for u in (0, 1] (normal numbers): exponent + atanh series on [√½, √2).
static inline __attribute__((always_inline)) double log_unit(double u) {
  uint64_t bits = as_u64(u);
  uint64_t e = bits >> 52;                                     // biased exponent
  double m = as_f64((bits & 0x000FFFFFFFFFFFFFull) | 0x3FF0000000000000ull);  // [1, 2)
  double big = m > 0x1.6a09e667f3bcdp0 ? 1.0 : 0.0;
  m = big != 0.0 ? m * 0.5 : m;
  double ed = as_f64(0x4330000000000000ull | e) - 0x1p52 - 1023.0 + big;
  double s = (m - 1.0) / (m + 1.0);
  double s2 = s * s;
  // atanh series to s^15 (|s| ≤ 0.172: truncation error < 4e-14 relative).
  double q = 1.0 / 15.0;
  q = q * s2 + 1.0 / 13.0;
  q = q * s2 + 1.0 / 11.0;
  q = q * s2 + 1.0 / 9.0;
  q = q * s2 + 1.0 / 7.0;
  q = q * s2 + 1.0 / 5.0;
  q = q * s2 + 1.0 / 3.0;
  double logm = 2.0 * s + (2.0 * s) * (s2 * q);
  return ed * 0x1.62e42fefa3800p-1 + (ed * 0x1.ef35793c76730p-45 + logm);
}

/// (cos 2πu, sin 2πu) for u in [0, 1): quadrant from round(4u), Taylor
/// polynomials on |φ| ≤ π/4.
static inline __attribute__((always_inline)) void sincos_turn(double u, double *sn, double *cs) {
  double t = 4.0 * u;
  double qd = t + 0x1.8p52;
  uint64_t qi = as_u64(qd);
  qd -= 0x1.8p52;
  double phi = (t - qd) * 0x1.921fb54442d18p0;  // (t − q)·π/2, |φ| ≤ π/4
  double p2 = phi * phi;
  // Taylor polynomials to φ^13 / φ^14 on |φ| ≤ π/4 (truncation error < 3e-15).
  double sp = -1.0 / 1307674368000.0;           // −1/15!
  sp = sp * p2 + 1.0 / 6227020800.0;
  sp = sp * p2 - 1.0 / 39916800.0;
  sp = sp * p2 + 1.0 / 362880.0;
  sp = sp * p2 - 1.0 / 5040.0;
  sp = sp * p2 + 1.0 / 120.0;
  sp = sp * p2 - 1.0 / 6.0;
  double s = phi + phi * (p2 * sp);
  double cp = 1.0 / 87178291200.0;              // 1/14!
  cp = cp * p2 - 1.0 / 479001600.0;
  cp = cp * p2 + 1.0 / 3628800.0;
  cp = cp * p2 - 1.0 / 40320.0;
  cp = cp * p2 + 1.0 / 720.0;
  cp = cp * p2 - 1.0 / 24.0;
  cp = cp * p2 + 0.5;
  double c = 1.0 - p2 * cp;
  uint64_t swap = qi & 1u;
  double sv = swap ? c : s;
  double cv = swap ? s : c;
  *sn = (qi & 2u) ? -sv : sv;
  *cs = ((qi + 1u) & 2u) ? -cv : cv;
}

#define CHUNK 256

NSDE_CLONES
static void normal_pairs(uint32_t k0, uint32_t k1, uint32_t q, uint32_t step_lo, int64_t path0, ptrdiff_t n,
                         const double *restrict scale, double *restrict z0, double *restrict z1) {
  // Four vectors of paths in flight hide the polynomials' latency: 3.1e8 →
  // 3.9e8 normals/s on one AVX-512 core (`nsde-bench simulate`), same values;
  // Philox's words in 64-bit lanes (one vpmuludq per product, no 32/64-bit
  // shuffles) then 3.6e8 → 4.9e8 in a C loop of 2048 paths × 16, same values.
  _Pragma("clang loop interleave_count(4)")
  for (ptrdiff_t p = 0; p < n; p++) {
    uint64_t path = (uint64_t)(path0 + p);
    uint32_t c[4] = {q, (uint32_t)path, step_lo, (uint32_t)(path >> 32)};
    philox_block(c, k0, k1);
    uint64_t a = ((uint64_t)c[0] << 21) ^ (uint64_t)(c[1] >> 11);   // 53 bits
    uint64_t b = ((uint64_t)c[2] << 21) ^ (uint64_t)(c[3] >> 11);
    double u1 = (double)(int64_t)(a + 1) * 0x1p-53;                 // (0, 1]
    double u2 = (double)(int64_t)b * 0x1p-53;                       // [0, 1)
    double r = __builtin_elementwise_sqrt(-2.0 * log_unit(u1)) * scale[p];
    double sn, cs;
    sincos_turn(u2, &sn, &cs);
    z0[p] = r * cs;
    z1[p] = r * sn;
  }
}

// Path p of the call takes scales[p / group] (group ≥ count: one scale).
#define NORMALS_BODY(REAL)                                                           \
  uint32_t k0 = (uint32_t)seed, k1 = (uint32_t)(seed >> 32);                         \
  uint32_t step_lo = (uint32_t)step;                                                 \
  double z0[CHUNK], z1[CHUNK], sc[CHUNK];                                            \
  for (ptrdiff_t p0 = 0; p0 < count; p0 += CHUNK) {                                  \
    ptrdiff_t n = count - p0 < CHUNK ? count - p0 : CHUNK;                           \
    ptrdiff_t g = p0 / group, left = group - p0 % group;                             \
    for (ptrdiff_t p = 0; p < n; p++) {                                              \
      sc[p] = scales[g];                                                             \
      if (--left == 0) { g++; left = group; }                                        \
    }                                                                                \
    for (ptrdiff_t j = 0; j < m; j += 2) {                                           \
      normal_pairs(k0, k1, (uint32_t)(j / 2), step_lo, path0 + p0, n, sc, z0, z1);   \
      REAL *o = out + p0 * ld + j;                                                   \
      if (j + 1 < m) {                                                               \
        for (ptrdiff_t p = 0; p < n; p++) { o[p * ld] = (REAL)z0[p]; o[p * ld + 1] = (REAL)z1[p]; } \
      } else {                                                                       \
        for (ptrdiff_t p = 0; p < n; p++) o[p * ld] = (REAL)z0[p];                   \
      }                                                                              \
    }                                                                                \
  }

void nsde_normals_grouped_f64(uint64_t seed, uint64_t step, int64_t path0, ptrdiff_t count, ptrdiff_t m,
                              const double *scales, ptrdiff_t group, double *out, ptrdiff_t ld) {
  NORMALS_BODY(double)
}

void nsde_normals_grouped_f32(uint64_t seed, uint64_t step, int64_t path0, ptrdiff_t count, ptrdiff_t m,
                              const double *scales, ptrdiff_t group, float *out, ptrdiff_t ld) {
  NORMALS_BODY(float)
}

void nsde_normals_f64(uint64_t seed, uint64_t step, int64_t path0, ptrdiff_t count, ptrdiff_t m, double scale,
                      double *out, ptrdiff_t ld) {
  nsde_normals_grouped_f64(seed, step, path0, count, m, &scale, count > 0 ? count : 1, out, ld);
}

void nsde_normals_f32(uint64_t seed, uint64_t step, int64_t path0, ptrdiff_t count, ptrdiff_t m, double scale,
                      float *out, ptrdiff_t ld) {
  nsde_normals_grouped_f32(seed, step, path0, count, m, &scale, count > 0 ? count : 1, out, ld);
}
