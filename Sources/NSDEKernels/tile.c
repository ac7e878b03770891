// Register-blocked tile products (see tile_template.h and
// include/nsde_kernels.h), compiled for AVX-512, AVX2 + FMA and the
// baseline with vectors of the level's width, and dispatched once by CPUID:
// no build flags needed.
#include "nsde_kernels.h"

#if defined(__x86_64__) && defined(__clang__)
#define NSDE_TILE_X86 1
#define TARGET_V4 __attribute__((target("avx512f,avx512vl,avx512dq,avx512bw,avx2,fma,bmi2")))
#define TARGET_V3 __attribute__((target("avx2,fma,bmi2")))
#else
#define NSDE_TILE_X86 0
#endif

#define REAL double
#define TARGET
#define VL 2
#define FN(name) name##_f64_base
#include "tile_template.h"
#undef VL
#undef FN
#undef TARGET
#undef REAL

#define REAL float
#define TARGET
#define VL 4
#define FN(name) name##_f32_base
#include "tile_template.h"
#undef VL
#undef FN
#undef TARGET
#undef REAL

#if NSDE_TILE_X86
#define REAL double
#define TARGET TARGET_V3
#define VL 4
#define FN(name) name##_f64_v3
#include "tile_template.h"
#undef VL
#undef FN
#undef TARGET
#undef REAL

#define REAL float
#define TARGET TARGET_V3
#define VL 8
#define FN(name) name##_f32_v3
#include "tile_template.h"
#undef VL
#undef FN
#undef TARGET
#undef REAL

#define REAL double
#define TARGET TARGET_V4
#define VL 8
#define FN(name) name##_f64_v4
#include "tile_template.h"
#undef VL
#undef FN
#undef TARGET
#undef REAL

#define REAL float
#define TARGET TARGET_V4
#define VL 16
#define FN(name) name##_f32_v4
#include "tile_template.h"
#undef VL
#undef FN
#undef TARGET
#undef REAL
#endif

static int nsde_detected_level = -1;

static int detect_level(void) {
#if NSDE_TILE_X86
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
      __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("fma") &&
      __builtin_cpu_supports("avx2"))
    return 4;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return 3;
#endif
  return 1;
}

static int level(void) {
  int l = __atomic_load_n(&nsde_detected_level, __ATOMIC_RELAXED);
  if (l < 0) {
    l = detect_level();
    __atomic_store_n(&nsde_detected_level, l, __ATOMIC_RELAXED);
  }
  return l;
}

int nsde_tile_isa_level(void) { return level(); }

int nsde_tile_set_isa_level(int requested) {
  int best = detect_level();
  int l = requested <= 0 || requested > best ? best : requested < 3 ? 1 : requested;
  __atomic_store_n(&nsde_detected_level, l, __ATOMIC_RELAXED);
  return l;
}

#define DISPATCH(SUF, REAL)                                                                        \
  void nsde_gemm_tile_##SUF(ptrdiff_t rows, ptrdiff_t cols, ptrdiff_t k, const REAL *a, ptrdiff_t ars,  \
                            ptrdiff_t aks, const REAL *b, ptrdiff_t ldb, const REAL *bias, int accumulate, \
                            REAL *c, ptrdiff_t ldc) {                                              \
    if (rows <= 0 || cols <= 0) return;                                                            \
    switch (level()) {                                                                             \
    X86_CASES(SUF)                                                                                 \
    default:                                                                                       \
      gemm_tile_##SUF##_base(rows, cols, k, a, ars, aks, b, ldb, bias, accumulate, c, ldc);        \
    }                                                                                              \
  }

#if NSDE_TILE_X86
#define X86_CASES(SUF)                                                                             \
  case 4:                                                                                          \
    gemm_tile_##SUF##_v4(rows, cols, k, a, ars, aks, b, ldb, bias, accumulate, c, ldc);            \
    break;                                                                                         \
  case 3:                                                                                          \
    gemm_tile_##SUF##_v3(rows, cols, k, a, ars, aks, b, ldb, bias, accumulate, c, ldc);            \
    break;
#else
#define X86_CASES(SUF)
#endif

DISPATCH(f64, double)
DISPATCH(f32, float)
