// Elementwise Euler–Maruyama updates and the control shift; see
// include/nsde_kernels.h.
#include "nsde_kernels.h"

#if defined(__x86_64__) && defined(__clang__)
#define NSDE_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define NSDE_CLONES
#endif

#define REAL double
#define SUFFIX(name) name##_f64
#include "sde_template.h"
#undef REAL
#undef SUFFIX

#define REAL float
#define SUFFIX(name) name##_f32
#include "sde_template.h"
