/*
 * gen_seeds.c — writes the seed corpus of fuzz_gguf.c: small valid GGUF files made with
 * the engine's own writer (engine/gguf.h), so that mutations start from inputs that get
 * past the header checks and into vocab loading, model binding and the forward pass.
 *
 *   vocab_spm.gguf    — vocab only, tokenizer.ggml.model "llama" (SentencePiece)
 *   vocab_bpe.gguf    — vocab only, "gpt2" with pre-tokenizer "qwen2", merges
 *   vocab_bpe_gpt2.gguf, vocab_bpe_llama3.gguf — the same with pre "gpt-2" / "llama-bpe"
 *   vocab_spm_odd.gguf — SPM with integer scores, an empty token, no token types
 *   llama_mixed.gguf  — llama, 2 layers, n_embd 32, n_head 4, n_head_kv 2, n_ff 64, SPM vocab,
 *                       one weight type per matrix (Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, IQ4_NL,
 *                       F16, BF16, F32), tied output
 *   qwen2_small.gguf  — qwen2, 1 layer, n_embd 32, n_ff 32, q/k/v biases, BPE vocab, F16/Q8_0
 *                       (and qwen2_small_align4.gguf: the same with general.alignment 4)
 *   qwen2_kquant.gguf — qwen2, 2 layers, n_ff 256 so ffn_down (ne[0] = 256) is Q4_K / Q6_K,
 *                       separate output.weight
 *   <name>.vocab.gguf — for each MODEL.gguf given: all its metadata, no tensors (a real
 *                       vocabulary without the weights)
 * Weights are deterministic pseudo-random values. Usage: gen_seeds OUTDIR [MODEL.gguf...]
 * Built by build.sh with tests/testutil.c (its GGUF model writer and LCG).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gguf.h"
#include "testutil.h"
#include "types.h"

static uint32_t rng = 12345;
static float frand(void) { return qk_test_lcg_frand(&rng); }

static const char *spm_tokens[] = {"<unk>", "<s>", "</s>", "\xe2\x96\x81", "a", "b", "c",
                                   "\342\226\201a", "ab", "\342\226\201ab", "<0x0A>", "<0x41>",
                                   "<|im_end|>", "H", "e", "l", "o", "He", "llo"};
static const int32_t spm_types[] = {2, 3, 3, 1, 1, 1, 1, 1, 1, 1, 6, 6, 4, 1, 1, 1, 1, 1, 1};
#define N_SPM (int)(sizeof spm_tokens / sizeof spm_tokens[0])

static const char *bpe_tokens[] = {"<|endoftext|>", "a", "b", "c", "\xc4\xa0", "\304\240a", "ab", "abc",
                                   "!", "\xc4\x8a", "H", "e", "l", "o", "He", "ll", "llo", "Hello",
                                   "<|im_start|>", "<|im_end|>"};
static const int32_t bpe_types[] = {3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 3, 3};
#define N_BPE (int)(sizeof bpe_tokens / sizeof bpe_tokens[0])
static const char *bpe_merges[] = {"a b", "\xc4\xa0 a", "ab c", "H e", "l l", "ll o", "He llo"};

static void set_spm_vocab(gguf_writer *w) {
    float scores[N_SPM];
    for (int i = 0; i < N_SPM; i++) scores[i] = -(float)i;
    gguf_writer_set_str(w, "tokenizer.ggml.model", "llama");
    gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", spm_tokens, N_SPM);
    gguf_writer_set_arr(w, "tokenizer.ggml.scores", GGUF_TYPE_FLOAT32, scores, N_SPM);
    gguf_writer_set_arr(w, "tokenizer.ggml.token_type", GGUF_TYPE_INT32, spm_types, N_SPM);
    gguf_writer_set_u32(w, "tokenizer.ggml.bos_token_id", 1);
    gguf_writer_set_u32(w, "tokenizer.ggml.eos_token_id", 2);
    gguf_writer_set_u32(w, "tokenizer.ggml.unknown_token_id", 0);
    gguf_writer_set_bool(w, "tokenizer.ggml.add_bos_token", true);
    gguf_writer_set_bool(w, "tokenizer.ggml.add_eos_token", false);
}

static void set_bpe_vocab(gguf_writer *w, const char *pre) {
    gguf_writer_set_str(w, "tokenizer.ggml.model", "gpt2");
    gguf_writer_set_str(w, "tokenizer.ggml.pre", pre);
    gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", bpe_tokens, N_BPE);
    gguf_writer_set_arr(w, "tokenizer.ggml.token_type", GGUF_TYPE_INT32, bpe_types, N_BPE);
    gguf_writer_set_arr_str(w, "tokenizer.ggml.merges", bpe_merges, sizeof bpe_merges / sizeof bpe_merges[0]);
    gguf_writer_set_u32(w, "tokenizer.ggml.bos_token_id", 0);
    gguf_writer_set_u32(w, "tokenizer.ggml.eos_token_id", 19);
    gguf_writer_set_u32(w, "tokenizer.ggml.padding_token_id", 0);
    gguf_writer_set_bool(w, "tokenizer.ggml.add_bos_token", false);
}

/* The tensors of the file being written (ne1 = 0: 1-D; norm: values near 1). */
static qk_test_tensor specs[64];
static int n_specs;

static void add(const char *name, qk_type type, int64_t ne0, int64_t ne1, int norm) {
    qk_test_tensor *s = &specs[n_specs++];
    snprintf(s->name, sizeof s->name, "%s", name);
    s->type = type;
    s->ne[0] = ne0;
    s->ne[1] = ne1;
    s->norm = norm;
}

static void addl(int il, const char *suffix, qk_type type, int64_t ne0, int64_t ne1, int norm) {
    char name[64];
    snprintf(name, sizeof name, "blk.%d.%s", il, suffix);
    add(name, type, ne0, ne1, norm);
}

static void fill(const qk_test_tensor *t, float *f, int64_t n, void *arg) {
    (void)arg;
    for (int64_t j = 0; j < n; j++) f[j] = t->norm ? 1.0f + 0.1f * frand() : 0.2f * frand();
}

/* Write the declared tensors and finish the file. */
static int finish(gguf_writer *w) {
    qk_err err = {{0}};
    const int rc = qk_test_write_tensors(w, specs, n_specs, fill, NULL, &err);
    n_specs = 0;
    if (rc != 0) {
        fprintf(stderr, "gen_seeds: %s\n", err.msg);
        gguf_writer_abort(w);
        return -1;
    }
    return gguf_writer_finish(w, &err) ? (fprintf(stderr, "gen_seeds: %s\n", err.msg), -1) : 0;
}

static void set_hparams(gguf_writer *w, const char *arch, int n_embd, int n_layer, int n_ff, int n_head,
                        int n_head_kv) {
    char key[96];
    gguf_writer_set_str(w, "general.architecture", arch);
    gguf_writer_set_str(w, "general.name", "fuzz-seed");
    gguf_writer_set_u32(w, "general.file_type", 1);
#define K(s) (snprintf(key, sizeof key, "%s.%s", arch, s), key)
    gguf_writer_set_u32(w, K("context_length"), 64);
    gguf_writer_set_u32(w, K("embedding_length"), (uint32_t)n_embd);
    gguf_writer_set_u32(w, K("block_count"), (uint32_t)n_layer);
    gguf_writer_set_u32(w, K("feed_forward_length"), (uint32_t)n_ff);
    gguf_writer_set_u32(w, K("attention.head_count"), (uint32_t)n_head);
    gguf_writer_set_u32(w, K("attention.head_count_kv"), (uint32_t)n_head_kv);
    gguf_writer_set_f32(w, K("attention.layer_norm_rms_epsilon"), 1e-5f);
    gguf_writer_set_f32(w, K("rope.freq_base"), 10000.0f);
    gguf_writer_set_u32(w, K("rope.dimension_count"), (uint32_t)(n_embd / n_head));
#undef K
}

static gguf_writer *open_w(const char *dir, const char *name) {
    char path[4096];
    qk_err err = {{0}};
    snprintf(path, sizeof path, "%s/%s", dir, name);
    gguf_writer *w = gguf_writer_new(path, &err);
    if (!w) fprintf(stderr, "gen_seeds: %s\n", err.msg);
    return w;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: gen_seeds OUTDIR [MODEL.gguf...]\n");
        return 2;
    }
    const char *dir = argv[1];
    int rc = 0;
    gguf_writer *w;

    if (!(w = open_w(dir, "vocab_spm.gguf"))) return 1;
    set_spm_vocab(w);
    rc |= finish(w);

    if (!(w = open_w(dir, "vocab_bpe.gguf"))) return 1;
    set_bpe_vocab(w, "qwen2");
    rc |= finish(w);

    if (!(w = open_w(dir, "vocab_bpe_gpt2.gguf"))) return 1;
    set_bpe_vocab(w, "gpt-2");
    rc |= finish(w);

    if (!(w = open_w(dir, "vocab_bpe_llama3.gguf"))) return 1;
    set_bpe_vocab(w, "llama-bpe");
    rc |= finish(w);

    /* SPM with integer scores, an empty token text and no token types */
    if (!(w = open_w(dir, "vocab_spm_odd.gguf"))) return 1;
    {
        const char *toks[6] = {"<unk>", "<s>", "</s>", "", "\342\226\201", "x"};
        int32_t sc[6] = {0, 0, 0, -1, -2, -3};
        gguf_writer_set_str(w, "tokenizer.ggml.model", "llama");
        gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", toks, 6);
        gguf_writer_set_arr(w, "tokenizer.ggml.scores", GGUF_TYPE_INT32, sc, 6);
        gguf_writer_set_bool(w, "tokenizer.ggml.add_space_prefix", false);
    }
    rc |= finish(w);

    /* llama, every 32-element type in a matrix position */
    if (!(w = open_w(dir, "llama_mixed.gguf"))) return 1;
    set_hparams(w, "llama", 32, 2, 64, 4, 2);
    set_spm_vocab(w);
    add("token_embd.weight", QK_TYPE_Q8_0, 32, N_SPM, 0);
    add("output_norm.weight", QK_TYPE_F32, 32, 0, 1);
    static const qk_type t0[7] = {QK_TYPE_Q4_0, QK_TYPE_Q4_1, QK_TYPE_Q5_0, QK_TYPE_Q5_1,
                                  QK_TYPE_IQ4_NL, QK_TYPE_F16, QK_TYPE_BF16};
    static const qk_type t1[7] = {QK_TYPE_F16, QK_TYPE_BF16, QK_TYPE_F32, QK_TYPE_Q8_0,
                                  QK_TYPE_Q4_0, QK_TYPE_IQ4_NL, QK_TYPE_Q5_1};
    for (int il = 0; il < 2; il++) {
        const qk_type *t = il ? t1 : t0;
        addl(il, "attn_norm.weight", QK_TYPE_F32, 32, 0, 1);
        addl(il, "attn_q.weight", t[0], 32, 32, 0);
        addl(il, "attn_k.weight", t[1], 32, 16, 0);
        addl(il, "attn_v.weight", t[2], 32, 16, 0);
        addl(il, "attn_output.weight", t[3], 32, 32, 0);
        addl(il, "ffn_norm.weight", QK_TYPE_F32, 32, 0, 1);
        addl(il, "ffn_gate.weight", t[4], 32, 64, 0);
        addl(il, "ffn_up.weight", t[5], 32, 64, 0);
        addl(il, "ffn_down.weight", t[6], 64, 32, 0);
    }
    rc |= finish(w);

    /* qwen2, one small layer with biases; a second copy with general.alignment 4 */
    for (int copy = 0; copy < 2; copy++) {
        if (!(w = open_w(dir, copy ? "qwen2_small_align4.gguf" : "qwen2_small.gguf"))) return 1;
        if (copy) gguf_writer_set_u32(w, "general.alignment", 4);
        set_hparams(w, "qwen2", 32, 1, 32, 4, 4);
        set_bpe_vocab(w, "qwen2");
        add("token_embd.weight", QK_TYPE_F16, 32, N_BPE, 0);
        add("output_norm.weight", QK_TYPE_F32, 32, 0, 1);
        addl(0, "attn_norm.weight", QK_TYPE_F32, 32, 0, 1);
        addl(0, "attn_q.weight", QK_TYPE_Q8_0, 32, 32, 0);
        addl(0, "attn_q.bias", QK_TYPE_F32, 32, 0, 0);
        addl(0, "attn_k.weight", QK_TYPE_F16, 32, 32, 0);
        addl(0, "attn_k.bias", QK_TYPE_F32, 32, 0, 0);
        addl(0, "attn_v.weight", QK_TYPE_F16, 32, 32, 0);
        addl(0, "attn_v.bias", QK_TYPE_F32, 32, 0, 0);
        addl(0, "attn_output.weight", QK_TYPE_Q8_0, 32, 32, 0);
        addl(0, "ffn_norm.weight", QK_TYPE_F32, 32, 0, 1);
        addl(0, "ffn_gate.weight", QK_TYPE_Q8_0, 32, 32, 0);
        addl(0, "ffn_up.weight", QK_TYPE_Q8_0, 32, 32, 0);
        addl(0, "ffn_down.weight", QK_TYPE_F16, 32, 32, 0);
        rc |= finish(w);
    }

    /* qwen2 with K-quants where ne[0] allows (ffn_down, ne[0] = n_ff = 256) */
    if (!(w = open_w(dir, "qwen2_kquant.gguf"))) return 1;
    set_hparams(w, "qwen2", 32, 2, 256, 2, 1);
    set_bpe_vocab(w, "qwen2");
    add("token_embd.weight", QK_TYPE_Q8_0, 32, N_BPE, 0);
    add("output_norm.weight", QK_TYPE_F32, 32, 0, 1);
    add("output.weight", QK_TYPE_Q4_0, 32, N_BPE, 0);
    static const qk_type kt[2] = {QK_TYPE_Q4_K, QK_TYPE_Q6_K};
    for (int il = 0; il < 2; il++) {
        addl(il, "attn_norm.weight", QK_TYPE_F32, 32, 0, 1);
        addl(il, "attn_q.weight", QK_TYPE_Q8_0, 32, 32, 0);
        addl(il, "attn_k.weight", QK_TYPE_Q8_0, 32, 16, 0);
        addl(il, "attn_v.weight", QK_TYPE_Q8_0, 32, 16, 0);
        addl(il, "attn_output.weight", QK_TYPE_Q8_0, 32, 32, 0);
        addl(il, "ffn_norm.weight", QK_TYPE_F32, 32, 0, 1);
        addl(il, "ffn_gate.weight", QK_TYPE_Q4_0, 32, 256, 0);
        addl(il, "ffn_up.weight", QK_TYPE_Q4_0, 32, 256, 0);
        addl(il, "ffn_down.weight", kt[il], 256, 32, 0);
    }
    rc |= finish(w);

    for (int i = 2; i < argc; i++) {
        qk_err err = {{0}};
        gguf_ctx *g = gguf_open(argv[i], &err);
        if (!g) {
            fprintf(stderr, "gen_seeds: %s\n", err.msg);
            rc = 1;
            continue;
        }
        const char *base = strrchr(argv[i], '/') ? strrchr(argv[i], '/') + 1 : argv[i];
        char name[512];
        snprintf(name, sizeof name, "%.*s.vocab.gguf", (int)(strcspn(base, ".") < 400 ? strcspn(base, ".") : 400), base);
        if (!(w = open_w(dir, name))) return 1;
        for (uint64_t k = 0; k < g->n_kv; k++) gguf_writer_copy_kv(w, &g->kv[k]);
        rc |= finish(w);
        gguf_close(g);
    }
    return rc ? 1 : 0;
}
