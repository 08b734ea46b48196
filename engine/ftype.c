/*
 * ftype.c — the llama_ftype table (see ftype.h) and qk_ftype_name (declared in model.h).
 *
 * Ids: include/llama.h; display names: llama_model_ftype_name in
 * src/llama-model-loader.cpp; default types: the switch at the top of
 * llama_model_quantize_impl in src/llama-quant.cpp (llama.cpp upstream 2025-02).
 * The summaries are qkit's own one-line descriptions for --help.
 */
#include "ftype.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "model.h"

#define NOTYPE (-1)

static const qk_ftype_info table[] = {
    {"Q4_0", QK_FTYPE_MOSTLY_Q4_0, "Q4_0", QK_TYPE_Q4_0, "4.5 bpw, 32-element blocks, scale only"},
    {"Q4_1", QK_FTYPE_MOSTLY_Q4_1, "Q4_1", QK_TYPE_Q4_1, "5.0 bpw, 32-element blocks, scale + min"},
    {"Q5_0", QK_FTYPE_MOSTLY_Q5_0, "Q5_0", QK_TYPE_Q5_0, "5.5 bpw, 32-element blocks, scale only"},
    {"Q5_1", QK_FTYPE_MOSTLY_Q5_1, "Q5_1", QK_TYPE_Q5_1, "6.0 bpw, 32-element blocks, scale + min"},
    {"IQ2_XXS", QK_FTYPE_MOSTLY_IQ2_XXS, "IQ2_XXS - 2.0625 bpw", NOTYPE, "its ggml types are not implemented in qkit"},
    {"IQ2_XS", QK_FTYPE_MOSTLY_IQ2_XS, "IQ2_XS - 2.3125 bpw", NOTYPE, "its ggml types are not implemented in qkit"},
    {"IQ2_S", QK_FTYPE_MOSTLY_IQ2_S, "IQ2_S - 2.5 bpw", NOTYPE, "its ggml types are not implemented in qkit"},
    {"IQ2_M", QK_FTYPE_MOSTLY_IQ2_M, "IQ2_M - 2.7 bpw", NOTYPE, "its ggml types are not implemented in qkit"},
    {"IQ1_S", QK_FTYPE_MOSTLY_IQ1_S, "IQ1_S - 1.5625 bpw", NOTYPE, "its ggml types are not implemented in qkit"},
    {"IQ1_M", QK_FTYPE_MOSTLY_IQ1_M, "IQ1_M - 1.75 bpw", NOTYPE, "its ggml types are not implemented in qkit"},
    {"TQ1_0", QK_FTYPE_MOSTLY_TQ1_0, "TQ1_0 - 1.69 bpw ternary", NOTYPE, "its ggml types are not implemented in qkit"},
    {"TQ2_0", QK_FTYPE_MOSTLY_TQ2_0, "TQ2_0 - 2.06 bpw ternary", NOTYPE, "its ggml types are not implemented in qkit"},
    {"Q2_K", QK_FTYPE_MOSTLY_Q2_K, "Q2_K - Medium", QK_TYPE_Q2_K,
     "Q2_K mix: attn_v Q3_K/Q4_K, ffn_down and attn_output Q3_K"},
    {"Q2_K_S", QK_FTYPE_MOSTLY_Q2_K_S, "Q2_K - Small", QK_TYPE_Q2_K,
     "needs an importance matrix: not supported by qkit"},
    {"IQ3_XXS", QK_FTYPE_MOSTLY_IQ3_XXS, "IQ3_XXS - 3.0625 bpw", NOTYPE, "its ggml types are not implemented in qkit"},
    {"IQ3_S", QK_FTYPE_MOSTLY_IQ3_S, "IQ3_S - 3.4375 bpw", NOTYPE, "its ggml types are not implemented in qkit"},
    {"IQ3_M", QK_FTYPE_MOSTLY_IQ3_M, "IQ3_S mix - 3.66 bpw", NOTYPE, "its ggml types are not implemented in qkit"},
    {"IQ3_XS", QK_FTYPE_MOSTLY_IQ3_XS, "IQ3_XS - 3.3 bpw", NOTYPE, "its ggml types are not implemented in qkit"},
    {"Q3_K_S", QK_FTYPE_MOSTLY_Q3_K_S, "Q3_K - Small", QK_TYPE_Q3_K, "Q3_K everywhere but the output"},
    {"Q3_K_M", QK_FTYPE_MOSTLY_Q3_K_M, "Q3_K - Medium", QK_TYPE_Q3_K,
     "Q3_K mix: attn_v/attn_output/ffn_down Q4_K (Q5_K early)"},
    {"Q3_K_L", QK_FTYPE_MOSTLY_Q3_K_L, "Q3_K - Large", QK_TYPE_Q3_K,
     "Q3_K mix: attn_v/attn_output/ffn_down Q5_K"},
    {"IQ4_NL", QK_FTYPE_MOSTLY_IQ4_NL, "IQ4_NL - 4.5 bpw", QK_TYPE_IQ4_NL,
     "4.5 bpw non-linear 32-element blocks"},
    {"IQ4_XS", QK_FTYPE_MOSTLY_IQ4_XS, "IQ4_XS - 4.25 bpw", NOTYPE, "its ggml types are not implemented in qkit"},
    {"Q4_K_S", QK_FTYPE_MOSTLY_Q4_K_S, "Q4_K - Small", QK_TYPE_Q4_K,
     "Q4_K mix: attn_v Q5_K in the first 4 layers, ffn_down Q5_K in the first 1/8"},
    {"Q4_K_M", QK_FTYPE_MOSTLY_Q4_K_M, "Q4_K - Medium", QK_TYPE_Q4_K,
     "Q4_K mix: attn_v and ffn_down Q6_K in half of the layers"},
    {"Q5_K_S", QK_FTYPE_MOSTLY_Q5_K_S, "Q5_K - Small", QK_TYPE_Q5_K, "Q5_K everywhere but the output"},
    {"Q5_K_M", QK_FTYPE_MOSTLY_Q5_K_M, "Q5_K - Medium", QK_TYPE_Q5_K,
     "Q5_K mix: attn_v and ffn_down Q6_K in half of the layers"},
    {"Q6_K", QK_FTYPE_MOSTLY_Q6_K, "Q6_K", QK_TYPE_Q6_K, "6.5625 bpw K-quant everywhere"},
    {"Q8_0", QK_FTYPE_MOSTLY_Q8_0, "Q8_0", QK_TYPE_Q8_0, "8.5 bpw, 32-element blocks"},
    {"F16", QK_FTYPE_MOSTLY_F16, "F16", QK_TYPE_F16, "IEEE half precision"},
    {"BF16", QK_FTYPE_MOSTLY_BF16, "BF16", QK_TYPE_BF16, "bfloat16"},
    {"F32", QK_FTYPE_ALL_F32, "all F32", QK_TYPE_F32, "single precision"},
};

#define N_FTYPES (sizeof table / sizeof table[0])

size_t qk_ftype_count(void) { return N_FTYPES; }

const qk_ftype_info *qk_ftype_at(size_t i) { return i < N_FTYPES ? &table[i] : NULL; }

const qk_ftype_info *qk_ftype_by_id(uint32_t id) {
    id &= ~(uint32_t)QK_FTYPE_GUESSED;
    for (size_t i = 0; i < N_FTYPES; i++)
        if (table[i].id == id) return &table[i];
    return NULL;
}

const qk_ftype_info *qk_ftype_parse(const char *s) {
    if (!s || !*s) return NULL;
    /* llama-quantize's aliases (QUANT_OPTIONS): the bare K-quant names mean the M mix. */
    static const struct { const char *alias, *name; } aliases[] = {
        {"Q3_K", "Q3_K_M"}, {"Q4_K", "Q4_K_M"}, {"Q5_K", "Q5_K_M"}};
    for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++)
        if (strcasecmp(s, aliases[i].alias) == 0) s = aliases[i].name;
    for (size_t i = 0; i < N_FTYPES; i++)
        if (strcasecmp(s, table[i].name) == 0) return &table[i];
    /* A decimal llama_ftype id. */
    const char *p = s;
    while (*p >= '0' && *p <= '9') p++;
    if (*p == 0 && p - s <= 4) return qk_ftype_by_id((uint32_t)strtoul(s, NULL, 10));
    return NULL;
}

bool qk_ftype_supported(const qk_ftype_info *f) {
    return f && f->default_type >= 0 && qk_type_get((uint32_t)f->default_type) != NULL &&
           f->id != QK_FTYPE_MOSTLY_Q2_K_S;
}

const char *qk_ftype_name(uint32_t ftype) {
    const qk_ftype_info *f = qk_ftype_by_id(ftype);
    return f ? f->display : "unknown, may not work";
}
