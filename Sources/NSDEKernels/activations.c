// Vectorised activations: see include/nsde_kernels.h for the contract and
// activation_template.h for the algorithms (expm1/exp by Cody–Waite range
// reduction and a Taylor polynomial, log1p by the atanh series).
#include "nsde_kernels.h"
#include <stdint.h>

#if defined(__x86_64__) && defined(__clang__)
#define NSDE_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define NSDE_CLONES
#endif

#define REAL double
#define UINT uint64_t
#define SUFFIX(name) name##_f64
#define DOUBLE_PRECISION 1
#include "activation_template.h"
#undef REAL
#undef UINT
#undef SUFFIX
#undef DOUBLE_PRECISION

#define REAL float
#define UINT uint32_t
#define SUFFIX(name) name##_f32
#define DOUBLE_PRECISION 0
#include "activation_template.h"
