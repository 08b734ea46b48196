/*
 * tokenizer.h — vocabularies and tokenization as llama.cpp does them.
 *
 * Supported `tokenizer.ggml.model` values:
 *   "llama" — SentencePiece BPE over scores (llm_tokenizer_spm in src/llama-vocab.cpp):
 *             spaces become U+2581, a leading space is prepended ("add_space_prefix",
 *             default true), pieces are merged greedily by highest score, unknown bytes
 *             fall back to <0xXX> byte tokens.
 *   "gpt2"  — byte-level BPE (llm_tokenizer_bpe) with the pre-tokenizer named by
 *             `tokenizer.ggml.pre` ("gpt-2", "qwen2", "llama-bpe"); merges ranked by their
 *             order in `tokenizer.ggml.merges`.
 * Metadata read: tokenizer.ggml.{model,pre,tokens,scores,token_type,merges,bos_token_id,
 * eos_token_id,unknown_token_id,padding_token_id,add_bos_token,add_eos_token,
 * add_space_prefix}.
 *
 * Token types (llama_token_type): 1 normal, 2 unknown, 3 control, 4 user-defined,
 * 5 unused, 6 byte.
 */
#ifndef QK_TOKENIZER_H
#define QK_TOKENIZER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "gguf.h"

typedef struct qk_vocab qk_vocab;

typedef enum qk_vocab_kind { QK_VOCAB_SPM = 1, QK_VOCAB_BPE = 2 } qk_vocab_kind;

/* Load the vocabulary from a model or vocab-only GGUF. Errors: missing/ill-typed keys,
 * unknown tokenizer model or pre-tokenizer (the message names the value). The vocab keeps
 * no pointer into g after return. */
qk_vocab *qk_vocab_load(const gguf_ctx *g, qk_err *err);
void qk_vocab_free(qk_vocab *v);

int32_t qk_vocab_n_tokens(const qk_vocab *v);
qk_vocab_kind qk_vocab_kind_of(const qk_vocab *v);
int32_t qk_vocab_bos(const qk_vocab *v); /* -1 if none */
int32_t qk_vocab_eos(const qk_vocab *v); /* -1 if none */
bool qk_vocab_add_bos(const qk_vocab *v); /* tokenizer.ggml.add_bos_token, else SPM: true, BPE: false */
bool qk_vocab_add_eos(const qk_vocab *v);
const char *qk_vocab_token_text(const qk_vocab *v, int32_t id); /* raw vocab string */

/* Tokenize `len` bytes of UTF-8 text (need not be NUL-terminated).
 * add_special: prepend BOS / append EOS as the vocab asks (llama.cpp's add_special).
 * parse_special: recognise control/user-defined token texts in the input.
 * On success *out is a malloc'd array of *n_out ids (caller frees). */
int qk_tokenize(const qk_vocab *v, const char *text, size_t len, bool add_special,
                bool parse_special, int32_t **out, size_t *n_out, qk_err *err);

/* Text of one token as it appears in output (SPM: U+2581 -> ' ', <0xXX> -> byte;
 * BPE: GPT-2 byte decoding). Writes up to cap bytes, returns the full length (like
 * snprintf, without a NUL) or -1 for an invalid id. Control tokens give "" unless
 * `special` is true. */
int qk_token_to_piece(const qk_vocab *v, int32_t id, char *buf, size_t cap, bool special);

/* Detokenize a whole sequence into a malloc'd NUL-terminated string. remove_special drops
 * a leading BOS / trailing EOS; for SPM the leading space of the first piece is removed
 * (llama_detokenize with remove_special=false, unparse_special=false semantics). */
char *qk_detokenize(const qk_vocab *v, const int32_t *ids, size_t n, bool remove_special);

#endif
