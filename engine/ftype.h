/*
 * ftype.h — llama.cpp's "file types" (enum llama_ftype): the whole-model quantization
 * recipes such as Q4_K_M, their ids as stored in `general.file_type`, their display names,
 * and the ggml type each one uses by default.
 *
 * Sources: include/llama.h (enum llama_ftype, the ids), src/llama-model-loader.cpp
 * (llama_model_ftype_name, the display names), examples/quantize/quantize.cpp
 * (QUANT_OPTIONS, the command-line names) and src/llama-quant.cpp
 * (llama_model_quantize_impl, the default type per ftype) of llama.cpp upstream 2025-02
 * [U]; llama-cpp-reference.md §1a and §2.4.
 *
 * Which tensor actually gets which type is decided by quantize/mixture.c; this table only
 * holds the per-ftype facts. `qk_ftype_name` (declared in model.h) is implemented here.
 */
#ifndef QK_FTYPE_H
#define QK_FTYPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "types.h"

/* llama_ftype ids (include/llama.h). Ids 4-6 and 33-35 are retired upstream. */
enum {
    QK_FTYPE_ALL_F32 = 0,
    QK_FTYPE_MOSTLY_F16 = 1,
    QK_FTYPE_MOSTLY_Q4_0 = 2,
    QK_FTYPE_MOSTLY_Q4_1 = 3,
    QK_FTYPE_MOSTLY_Q8_0 = 7,
    QK_FTYPE_MOSTLY_Q5_0 = 8,
    QK_FTYPE_MOSTLY_Q5_1 = 9,
    QK_FTYPE_MOSTLY_Q2_K = 10,
    QK_FTYPE_MOSTLY_Q3_K_S = 11,
    QK_FTYPE_MOSTLY_Q3_K_M = 12,
    QK_FTYPE_MOSTLY_Q3_K_L = 13,
    QK_FTYPE_MOSTLY_Q4_K_S = 14,
    QK_FTYPE_MOSTLY_Q4_K_M = 15,
    QK_FTYPE_MOSTLY_Q5_K_S = 16,
    QK_FTYPE_MOSTLY_Q5_K_M = 17,
    QK_FTYPE_MOSTLY_Q6_K = 18,
    QK_FTYPE_MOSTLY_IQ2_XXS = 19,
    QK_FTYPE_MOSTLY_IQ2_XS = 20,
    QK_FTYPE_MOSTLY_Q2_K_S = 21,
    QK_FTYPE_MOSTLY_IQ3_XS = 22,
    QK_FTYPE_MOSTLY_IQ3_XXS = 23,
    QK_FTYPE_MOSTLY_IQ1_S = 24,
    QK_FTYPE_MOSTLY_IQ4_NL = 25,
    QK_FTYPE_MOSTLY_IQ3_S = 26,
    QK_FTYPE_MOSTLY_IQ3_M = 27,
    QK_FTYPE_MOSTLY_IQ2_S = 28,
    QK_FTYPE_MOSTLY_IQ2_M = 29,
    QK_FTYPE_MOSTLY_IQ4_XS = 30,
    QK_FTYPE_MOSTLY_IQ1_M = 31,
    QK_FTYPE_MOSTLY_BF16 = 32,
    QK_FTYPE_MOSTLY_TQ1_0 = 36,
    QK_FTYPE_MOSTLY_TQ2_0 = 37,
    QK_FTYPE_GUESSED = 1024 /* flag llama.cpp ORs in when it guessed the ftype */
};

typedef struct qk_ftype_info {
    const char *name;      /* command-line name, "Q4_K_M" (QUANT_OPTIONS) */
    uint32_t id;           /* llama_ftype, the value of general.file_type */
    const char *display;   /* llama_model_ftype_name: "Q4_K - Medium" */
    int default_type;      /* qk_type the mixture starts from, or -1 when qkit has no such
                            * type (IQ2/IQ3/IQ1/TQ recipes: listed for names only) */
    const char *summary;   /* one-line description for --help (bpw / llama.cpp's figures) */
} qk_ftype_info;

/* Rows of the table, in QUANT_OPTIONS order; i in [0, qk_ftype_count()). */
size_t qk_ftype_count(void);
const qk_ftype_info *qk_ftype_at(size_t i);

/* The row for a llama_ftype id (the GUESSED flag is ignored), or NULL. */
const qk_ftype_info *qk_ftype_by_id(uint32_t id);

/* Parse a command-line ftype name, case-insensitive ("q4_k_m"), including llama-quantize's
 * aliases Q3_K (= Q3_K_M), Q4_K (= Q4_K_M) and Q5_K (= Q5_K_M), or a decimal llama_ftype
 * id ("15"). Returns the row or NULL. "COPY" is not an ftype: callers handle it. */
const qk_ftype_info *qk_ftype_parse(const char *s);

/* True when qkit can write this ftype: its default type is in the type table (the IQ1/IQ2/
 * IQ3/IQ4_XS/TQ recipes are not) and it needs no importance matrix (Q2_K_S does). */
bool qk_ftype_supported(const qk_ftype_info *f);

#endif
