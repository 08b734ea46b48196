/*
 * cpu.h — run-time CPU feature detection, and the switch that installs SIMD kernels.
 *
 * The type table (types.c) starts with the scalar reference kernels; on first use it asks
 * cpu.c whether AVX2+FMA+F16C (then AVX-512 VNNI) are available and, if so, lets each SIMD
 * file replace the entries it implements (vec_dot, vec_dot4, from_float, to_float).
 * Setting the environment variable QK_FORCE_SCALAR=1 keeps the scalar kernels,
 * QK_NO_AVX512=1 the AVX2 ones (for tests and comparisons); QK_NO_AVXVNNI=1 turns off the
 * AVX-VNNI kernels (which QK_NO_AVX512 leaves on).
 */
#ifndef QK_CPU_H
#define QK_CPU_H

#include <stdbool.h>

#include "fp16.h"
#include "types.h"

/* True when the CPU and OS support AVX2, FMA and F16C (cpuid + xgetbv on x86-64). */
bool qk_cpu_has_avx2(void);

/* True when qk_cpu_has_avx2() and the CPU and OS also support AVX512F, AVX512BW,
 * AVX512VL and AVX512_VNNI (Intel since Ice Lake / Cascade Lake, AMD since Zen 4); the
 * environment variable QK_NO_AVX512=1 turns it off (the AVX2 kernels stay). */
bool qk_cpu_has_avx512vnni(void);

/* True when qk_cpu_has_avx2() and the CPU and OS also support AVX-VNNI (VEX-encoded
 * VPDPBUSD on 256-bit registers; Intel since Alder Lake, AMD since Zen 5); the
 * environment variable QK_NO_AVXVNNI=1 turns it off. Independent of QK_NO_AVX512. Only
 * the integer gemm of the 32-element types uses it, where AVX-512 VNNI is not in use. */
bool qk_cpu_has_avxvnni(void);

/* Names of the kernel set in use: "AVX2+AVX512VNNI", "AVX2+AVXVNNI", "AVX2" or "scalar". */
const char *qk_cpu_kernels(void);

/* Install hooks, one per SIMD file. Each replaces the table entries it implements and
 * must only be called when qk_cpu_has_avx2(). */
void qk_install_float_avx2(qk_type_traits *table);

/* s[r] = the F16 vec_dot of x + r·x_stride and y (n elements each) for r < n_rows, with the
 * bits of the installed AVX2 F16 vec_dot (callable only when qk_cpu_has_avx2(), which is
 * when that kernel is installed) but y expanded once instead of once per row and no call
 * per row: attention's scores of one query against many cached keys. */
#define QK_DOT_F16_ROWS_MAX 1024
void qk_vec_dot_f16_rows_avx2(int n, int n_rows, float *s, const qk_half *x, size_t x_stride, const qk_half *y);
void qk_install_legacy_avx2(qk_type_traits *table);
void qk_install_k_avx2(qk_type_traits *table);
/* After qk_install_legacy_avx2, only when qk_cpu_has_avx512vnni(): replaces the Q4_0,
 * Q5_0, Q8_0 and IQ4_NL dot products (vec_dot and vec_dot4) by variants that return the
 * same bits. */
void qk_install_legacy_avx512vnni(qk_type_traits *table);

#endif
