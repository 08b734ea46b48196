/*
 * types.c — the type table (see types.h). One row per ggml type qkit reads or writes.
 * Block sizes and byte sizes: ggml/src/ggml.c type_traits; ids: ggml.h.
 */
#include "types.h"

#include <pthread.h>
#include <strings.h>

#include "cpu.h"
#include "gemm_k.h"
#include "gemm_legacy.h"
#include "quants.h"

/* vec_dot4 starts NULL everywhere (SIMD builds install it), the gemm entries too (gemm_k.c
 * and gemm_legacy.c install them). */
#define ROWX(id, nm, blck, size, q, tof, qref, ff, act, imat, vdt, vd) \
    [id] = {nm, blck, size, q, tof, qref, ff, act, imat, vdt, vd, NULL}
/* Types without an importance-weighted quantizer (quantize_imat NULL). */
#define ROWA(id, nm, blck, size, q, tof, qref, ff, act, vdt, vd) \
    ROWX(id, nm, blck, size, q, tof, qref, ff, act, NULL, vdt, vd)
/* Types whose activation conversion is their reference quantizer's bytes. */
#define ROW(id, nm, blck, size, q, tof, qref, ff, vdt, vd) ROWA(id, nm, blck, size, q, tof, qref, ff, ff, vdt, vd)
/* The same, with an importance-weighted quantizer imat. */
#define ROWI(id, nm, blck, size, q, tof, qref, ff, imat, vdt, vd) \
    ROWX(id, nm, blck, size, q, tof, qref, ff, ff, imat, vdt, vd)

static qk_type_traits table[QK_TYPE_COUNT] = {
    ROW(QK_TYPE_F32, "F32", 1, 4, 0, qk_to_float_f32, qk_copy_row_f32, qk_copy_row_f32,
        QK_TYPE_F32, qk_vec_dot_f32),
    ROW(QK_TYPE_F16, "F16", 1, 2, 0, qk_dequantize_row_f16, qk_quantize_row_f16,
        qk_quantize_row_f16, QK_TYPE_F16, qk_vec_dot_f16),
    ROW(QK_TYPE_BF16, "BF16", 1, 2, 0, qk_dequantize_row_bf16, qk_quantize_row_bf16,
        qk_quantize_row_bf16, QK_TYPE_BF16, qk_vec_dot_bf16),
    ROWI(QK_TYPE_Q4_0, "Q4_0", QK4_0, sizeof(block_q4_0), 1, qk_dequantize_row_q4_0,
         qk_quantize_row_q4_0_ref, qk_quantize_row_q4_0_ref,
         qk_quantize_row_q4_0_imat, QK_TYPE_Q8_0, qk_vec_dot_q4_0_q8_0),
    ROWI(QK_TYPE_Q4_1, "Q4_1", QK4_1, sizeof(block_q4_1), 1, qk_dequantize_row_q4_1,
         qk_quantize_row_q4_1_ref, qk_quantize_row_q4_1_ref,
         qk_quantize_row_q4_1_imat, QK_TYPE_Q8_1, qk_vec_dot_q4_1_q8_1),
    ROWI(QK_TYPE_Q5_0, "Q5_0", QK5_0, sizeof(block_q5_0), 1, qk_dequantize_row_q5_0,
         qk_quantize_row_q5_0_ref, qk_quantize_row_q5_0_ref,
         qk_quantize_row_q5_0_imat, QK_TYPE_Q8_0, qk_vec_dot_q5_0_q8_0),
    ROWI(QK_TYPE_Q5_1, "Q5_1", QK5_1, sizeof(block_q5_1), 1, qk_dequantize_row_q5_1,
         qk_quantize_row_q5_1_ref, qk_quantize_row_q5_1_ref,
         qk_quantize_row_q5_1_imat, QK_TYPE_Q8_1, qk_vec_dot_q5_1_q8_1),
    ROWA(QK_TYPE_Q8_0, "Q8_0", QK8_0, sizeof(block_q8_0), 1, qk_dequantize_row_q8_0,
         qk_quantize_row_q8_0_ref, qk_quantize_row_q8_0_ref, qk_quantize_row_q8_0_act, QK_TYPE_Q8_0,
         qk_vec_dot_q8_0_q8_0),
    ROWA(QK_TYPE_Q8_1, "Q8_1", QK8_1, sizeof(block_q8_1), 1, qk_dequantize_row_q8_1,
         qk_quantize_row_q8_1_ref, qk_quantize_row_q8_1_ref, qk_quantize_row_q8_1_act, QK_TYPE_Q8_1, NULL),
    ROWI(QK_TYPE_IQ4_NL, "IQ4_NL", QK4_NL, sizeof(block_iq4_nl), 1, qk_dequantize_row_iq4_nl,
         qk_quantize_row_iq4_nl_ref, qk_quantize_row_iq4_nl_ref,
         qk_quantize_row_iq4_nl_imat, QK_TYPE_Q8_0, qk_vec_dot_iq4_nl_q8_0),
    ROWI(QK_TYPE_Q2_K, "Q2_K", QK_K, sizeof(block_q2_K), 1, qk_dequantize_row_q2_K,
         qk_quantize_row_q2_K_ref, qk_quantize_row_q2_K_ref,
         qk_quantize_row_q2_K_imat, QK_TYPE_Q8_K, qk_vec_dot_q2_K_q8_K),
    ROWI(QK_TYPE_Q3_K, "Q3_K", QK_K, sizeof(block_q3_K), 1, qk_dequantize_row_q3_K,
         qk_quantize_row_q3_K_ref, qk_quantize_row_q3_K_ref,
         qk_quantize_row_q3_K_imat, QK_TYPE_Q8_K, qk_vec_dot_q3_K_q8_K),
    ROWI(QK_TYPE_Q4_K, "Q4_K", QK_K, sizeof(block_q4_K), 1, qk_dequantize_row_q4_K,
         qk_quantize_row_q4_K_ref, qk_quantize_row_q4_K_ref,
         qk_quantize_row_q4_K_imat, QK_TYPE_Q8_K, qk_vec_dot_q4_K_q8_K),
    ROWI(QK_TYPE_Q5_K, "Q5_K", QK_K, sizeof(block_q5_K), 1, qk_dequantize_row_q5_K,
         qk_quantize_row_q5_K_ref, qk_quantize_row_q5_K_ref,
         qk_quantize_row_q5_K_imat, QK_TYPE_Q8_K, qk_vec_dot_q5_K_q8_K),
    ROWI(QK_TYPE_Q6_K, "Q6_K", QK_K, sizeof(block_q6_K), 1, qk_dequantize_row_q6_K,
         qk_quantize_row_q6_K_ref, qk_quantize_row_q6_K_ref,
         qk_quantize_row_q6_K_imat, QK_TYPE_Q8_K, qk_vec_dot_q6_K_q8_K),
    ROW(QK_TYPE_Q8_K, "Q8_K", QK_K, sizeof(block_q8_K), 1, qk_dequantize_row_q8_K,
        qk_quantize_row_q8_K_ref, qk_quantize_row_q8_K_ref, QK_TYPE_Q8_K, NULL),
};

static pthread_once_t kernels_once = PTHREAD_ONCE_INIT;

/* Replace scalar kernels by SIMD ones where the CPU allows (cpu.h). */
static void install_kernels(void) {
    qk_install_gemm_k(table);
    qk_install_gemm_legacy(table);
    if (!qk_cpu_has_avx2()) return;
    qk_install_float_avx2(table);
    qk_install_legacy_avx2(table);
    qk_install_k_avx2(table);
    qk_install_gemm_k_avx2(table);
    qk_install_gemm_legacy_avx2(table);
    if (qk_cpu_has_avxvnni()) qk_install_gemm_legacy_avxvnni(table);
    if (qk_cpu_has_avx512vnni()) {
        qk_install_legacy_avx512vnni(table);
        qk_install_gemm_k_avx512vnni(table);
        qk_install_gemm_legacy_avx512vnni(table);
    }
}

const qk_type_traits *qk_type_get(uint32_t type) {
    pthread_once(&kernels_once, install_kernels);
    if (type >= QK_TYPE_COUNT || table[type].name == NULL) return NULL;
    return &table[type];
}

const char *qk_type_name(uint32_t type) {
    const qk_type_traits *t = qk_type_get(type);
    return t ? t->name : "?";
}

int qk_type_from_name(const char *name, qk_type *out) {
    for (uint32_t i = 0; i < QK_TYPE_COUNT; i++) {
        if (table[i].name && strcasecmp(table[i].name, name) == 0) {
            *out = (qk_type)i;
            return 0;
        }
    }
    return -1;
}

size_t qk_row_size(qk_type type, int64_t ne0) {
    const qk_type_traits *t = qk_type_get(type);
    return (size_t)(ne0 / t->blck_size) * t->type_size;
}
