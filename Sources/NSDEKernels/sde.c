// Elementwise products of the SDE terms (x + h·b + σ·ΔW) and the control shift; see
// include/nsde_kernels.h.
#include "nsde_kernels.h"
#include <stdint.h>

#include "clones.h"

#define REAL double
#define SUFFIX(name) name##_f64
#include "sde_template.h"
#undef REAL
#undef SUFFIX

#define REAL float
#define SUFFIX(name) name##_f32
#include "sde_template.h"
