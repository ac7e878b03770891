// Vectorised activations: see include/nsde_kernels.h for the contract and
// activation_template.h for the algorithms (expm1/exp by Cody–Waite range
// reduction and a Taylor polynomial, log1p by the atanh series).
#include "nsde_kernels.h"
#include <stdint.h>

#include "clones.h"

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
