// A short probe of the core's fused multiply–add throughput (the roofline's
// compute ceiling), compiled for each x86-64 level like the other kernels.
#include "nsde_kernels.h"
#include "clones.h"

// 12 independent vector accumulators per lane group (enough to cover the FMA
// latency on two ports); the loop vectorises to FMAs at the widest level.
#define PROBE(REAL, NAME, LANES)                                                        \
  NSDE_CLONES                                                                           \
  REAL NAME(long iterations, REAL a, REAL b) {                                          \
    REAL acc[LANES];                                                                    \
    for (int j = 0; j < LANES; j++) acc[j] = (REAL)j * (REAL)1e-3;                      \
    for (long it = 0; it < iterations; it++) {                                          \
      _Pragma("clang loop vectorize(enable) interleave(enable)")                        \
      for (int j = 0; j < LANES; j++) acc[j] = acc[j] * a + b;                         \
    }                                                                                   \
    REAL s = 0;                                                                         \
    for (int j = 0; j < LANES; j++) s += acc[j];                                        \
    return s;                                                                           \
  }

PROBE(double, nsde_fma_probe_f64, NSDE_FMA_PROBE_LANES_F64)
PROBE(float, nsde_fma_probe_f32, NSDE_FMA_PROBE_LANES_F32)
