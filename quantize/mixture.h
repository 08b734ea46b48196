/*
 * mixture.h — which tensor gets which ggml type when a model is quantized to an ftype
 * (Q4_K_M, Q2_K, ...), and in which order the tensors are written. Pure logic: no I/O,
 * so every rule is unit-testable from a list of names and shapes.
 *
 * Source: llama.cpp upstream 2025-02 [U], src/llama-quant.cpp — llama_model_quantize_impl
 * (which tensors are quantized, the per-ftype default type, the overrides, the
 * n_attention_wv count) and llama_tensor_get_type (the per-tensor mixture rules and the
 * fallback when ne[0] is not a multiple of the block size); the write order is
 * weight_name_comparer in src/llama-model-loader.h. llama-cpp-reference.md §1a states the
 * rules in prose; the golden llama-quantize runs in ../shared/golden/<model>/quantize/
 * are the executable check (tests/test_mixture.c).
 *
 * Summary of what qk_mix_plan decides, in the order llama.cpp applies it:
 *  1. Order: tensors sorted by layer number ("blk.N." prefix; others count as layer -1,
 *     so they come first), then by name (byte order).
 *  2. A tensor is quantizable when its name ends in "weight", it has >= 2 dimensions not
 *     counting trailing ne[i] == 1 (ggml_n_dims), it is not a norm ("_norm.weight"), not
 *     output.weight under leave_output_tensor, not ffn_gate_inp / position / token-type
 *     embeddings / ssm_conv1d / RWKV time_mix_* / T5 attn_rel_b; never under COPY.
 *     Others keep their input type.
 *  3. Quantizable tensors start at the ftype's default type. When that type is quantized
 *     and the mixture is not --pure, llama_tensor_get_type's rules apply (output /
 *     tied token_embd, attn_v, attn_k, ffn_down, attn_output, attn_qkv, ...; layer
 *     counters advance in the sorted order), then the fallback when ne[0] is not a
 *     multiple of the block size: Q2_K/Q3_K -> IQ4_NL, Q4_K -> Q5_0, Q5_K -> Q5_1,
 *     Q6_K -> Q8_0, then F16 if the fallback does not divide either; other types (Q4_0,
 *     Q8_0, ...) have no fallback: the plan fails naming the tensor, as llama-quantize does
 *     ("Unsupported tensor size encountered").
 *     With an importance matrix (has_imatrix) two branches change: Q4_0/Q5_0 give
 *     ffn_down of the first eighth of the layers Q4_1/Q5_1, and IQ4_NL no longer raises
 *     those to Q5_K. Q2_K_S (Q2_K with attn_v Q4_K when n_gqa >= 4 and ffn_down Q4_K in
 *     the first eighth) runs only with one, and then every tensor it quantizes to Q2_K
 *     but token_embd must have importance data (has_weights), as in llama-quantize.
 *  4. The --tensor-type rules (qk_mix_rule, parsed by tensor_rules.h), when the ftype's
 *     default type is quantized (also under --pure; never for F16/BF16/F32 or COPY): the
 *     LAST rule whose pattern matches the tensor's name replaces the mixture's type. Not
 *     for a tensor that --token-embedding-type or --output-tensor-type names (those win).
 *  5. The fallback of step 3 applies to the rule's type too. A rule's type that its
 *     row width cannot hold is an error naming the tensor, the rule and the width when
 *     there is no fallback (--pure, no_fallback, or a type with none such as Q8_0).
 *  6. --token-embedding-type and --output-tensor-type then win over everything.
 * A tensor whose type would not divide its ne[0] after all this (under --pure, with an
 * override, or with no_fallback) is an error naming the tensor. A tensor that must be
 * converted but is already quantized needs allow_requantize.
 *
 * Rules and llama.cpp: PR #12511 (2025-04) applied the rules after the mixture, last match
 * winning, but only where the mixture needed no fallback and never under --pure; current
 * llama.cpp tries the rules first, stops at the first match (its comment still says the
 * last one wins), skips the mixture for that tensor (so its layer counters do not advance)
 * and applies the fallback after. qkit keeps the mixture whole (the counters advance as
 * without rules), lets the last match win, and applies the fallback after, as current
 * llama.cpp does. Where one rule matches a tensor, no rule selects some layers of attn_v
 * or ffn_down only, the row widths need no fallback and --pure is off, all three give the
 * same types.
 */
#ifndef QK_MIXTURE_H
#define QK_MIXTURE_H

#include <regex.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "types.h"

/* Model facts the rules use (from the GGUF metadata). */
typedef struct qk_mix_model {
    const char *arch;   /* general.architecture ("llama", "qwen2", "falcon"); may be "" */
    int32_t n_layer;    /* <arch>.block_count */
    int32_t n_head;     /* <arch>.attention.head_count */
    int32_t n_head_kv;  /* <arch>.attention.head_count_kv (n_head when absent) */
    int32_t n_expert;   /* <arch>.expert_count, 0 when absent */
} qk_mix_model;

/* One --tensor-type rule (made by tensor_rules.h's qk_rules_add). */
typedef struct qk_mix_rule {
    char *text;        /* as given: "ffn_down=q6_k" */
    char *origin;      /* where it came from: "--tensor-type", "rules.txt:3" */
    qk_type type;      /* the TYPE */
    regex_t re;        /* the lower-cased REGEX (REG_EXTENDED | REG_NOSUB) */
    int n_matched;     /* written by qk_mix_plan: tensors the rules were tried on whose
                        * name this rule matched (0 = a rule that matches nothing) */
} qk_mix_rule;

/* What the user asked for (llama_model_quantize_params). */
typedef struct qk_mix_params {
    uint32_t ftype;            /* llama_ftype id (engine/ftype.h); unused when only_copy */
    bool only_copy;            /* COPY: every tensor is written in its input type */
    bool pure;                 /* --pure: default type everywhere, no rules, no fallback [U] */
    bool allow_requantize;     /* --allow-requantize */
    bool no_fallback;          /* --no-fallback (qkit): a needed fallback is an error */
    bool leave_output_tensor;  /* --leave-output-tensor: output.weight is not quantized */
    int output_tensor_type;    /* --output-tensor-type: a qk_type, or -1 */
    int token_embedding_type;  /* --token-embedding-type: a qk_type, or -1 */
    bool has_imatrix;          /* an importance matrix with at least one entry is used */
    qk_mix_rule *rules;        /* --tensor-type rules in order (n_matched is written) */
    size_t n_rules;
} qk_mix_params;

/* Defaults: ftype 0 (ALL_F32), every flag off, no overrides (-1). */
void qk_mix_params_init(qk_mix_params *p);

/* One input tensor. */
typedef struct qk_mix_tensor {
    const char *name;
    int64_t ne[4];   /* ne[0] = row length; unused dims are 1 */
    qk_type type;    /* type in the input file */
    bool has_weights; /* the importance matrix has an entry for it (Q2_K_S needs one) */
} qk_mix_tensor;

/* The decision for one tensor. */
typedef struct qk_mix_choice {
    qk_type type;     /* output type */
    bool quantize;    /* true when the data is converted (type differs from the input) */
    bool eligible;    /* passed the "which tensors are quantized" test (step 2) */
    bool fallback;    /* the rules' type did not divide ne[0]; `wanted` -> `type` */
    qk_type wanted;   /* the type the rules picked before any fallback */
    int rule;         /* 1-based index of the --tensor-type rule that set the type, 0: none */
} qk_mix_choice;

typedef struct qk_mix_summary {
    int n_checked;    /* tensors that went through the mixture rules (llama.cpp's
                       * n_k_quantized + n_fallback: "k of n tensor(s) required fallback") */
    int n_fallback;   /* of those, how many fell back */
    int n_quantize;   /* tensors whose data is converted */
} qk_mix_summary;

/* The llama.cpp write order: order[k] = index (into t) of the k-th tensor written.
 * Sort key: layer number of a "blk.N." prefix (-1 when none), then strcmp of the name. */
void qk_mix_order(const qk_mix_tensor *t, size_t n, size_t *order);

/* Decide every tensor's output type. t[0..n) in any order; order[n] receives the write
 * order (as qk_mix_order), choice[n] the decision for each t[i] (indexed like t), sum the
 * counts (may be NULL). Returns 0, or -1 with err set to one line naming the tensor for:
 * unsupported ftype, non-divisible tensor with no fallback (or under --pure, with an
 * override type, or with no_fallback), a rule's type that does not fit and has no
 * fallback, already-quantized input without allow_requantize, an input type qkit cannot
 * convert, an override type that is not a weight storage type, Q2_K_S without an
 * importance matrix or a Q2_K tensor of it without an entry, or an attn_v count different
 * from n_layer when the rules apply (llama.cpp asserts "n_attention_wv is unexpected").
 * Every rule's n_matched is set (p->rules is written although p is const). */
int qk_mix_plan(const qk_mix_params *p, const qk_mix_model *m, const qk_mix_tensor *t, size_t n,
                size_t *order, qk_mix_choice *choice, qk_mix_summary *sum, qk_err *err);

/* llama.cpp's use_more_bits(i, n): i < n/8, i >= 7n/8, or (i - n/8) % 3 == 2 (integer
 * division; the first and last eighth of the layers plus every third layer between). */
bool qk_mix_use_more_bits(int i_layer, int n_layer);

/* ggml's lower-case type name as llama-quantize prints it: "q4_K", "f16", "iq4_nl". */
const char *qk_mix_ggml_name(qk_type t, char buf[16]);

#endif
