// NSDE_CLONES compiles a function for x86-64-v4 (AVX-512), v3 (AVX2 + FMA)
// and the baseline, and picks one at load time (ifunc): AVX2/AVX-512 code
// without build flags, so the package stays usable as a dependency.
#ifndef NSDE_CLONES_H
#define NSDE_CLONES_H
#if defined(__x86_64__) && defined(__clang__)
#define NSDE_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define NSDE_CLONES
#endif
#endif
