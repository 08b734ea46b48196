/*
 * ppl_tool.h — the steps qk-perplexity and qk-imatrix share around the protocol of
 * ppl_run.h: checking and reading the text, loading the model, tokenizing, and writing the
 * JSON report.
 *
 * Every message goes to stderr and starts with the tool's name (qk_tool_prog(), set by
 * qk_tool_init); errors are printed with qk_fail ("PROG: error: …"), so that a caller only
 * returns 1. What each tool prints differently is a parameter here (the n_ctx warning, the
 * tied lm_head note); lines only one tool prints stay in that tool.
 */
#ifndef QK_PPL_TOOL_H
#define QK_PPL_TOOL_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model.h"

/* Before anything is loaded: the input file at path (what: "text file", "prompt file")
 * must exist, not be a directory and not be an empty regular file (a pipe is read as it
 * comes; ppl_tool_read_text refuses it when empty). Prints nothing on success. Errors:
 * "cannot open WHAT PATH: <errno text>", "WHAT PATH is a directory", "WHAT PATH is empty".
 * Returns 0, or 1 after the error. */
int ppl_tool_check_input(const char *path, const char *what);

/* The whole file at path (at most QK_FILE_READ_MAX bytes), NUL-terminated (malloc'd, the
 * caller frees), its length in *len. drop_newline: one trailing '\n' is dropped first, as
 * llama.cpp's -f reading does (qk-imatrix; qk-perplexity keeps the text whole). Prints
 * nothing on success. Errors: "WHAT: <read error>" and, for a text empty after the drop,
 * "WHAT PATH is empty". Returns NULL after the error. */
char *ppl_tool_read_text(const char *path, const char *what, bool drop_newline, size_t *len);

/* The model at path, with its tokenizer; its weights read into memory, or left in the
 * file mapping when use_mmap (qk_model_open). Prints "PROG: model PATH: n_vocab N, X M params,
 * Y MiB", followed by ", lm_head tied to token_embd" when show_tied and the model's
 * lm_head is token_embd.weight; then, when warn_ctx and n_ctx exceeds the model's training
 * context, "PROG: warning: n_ctx N is larger than the model's training context M".
 * Errors: "cannot load model PATH: <reason>", "model PATH has no tokenizer". Returns the
 * model (qk_model_free), or NULL after the error. */
qk_model *ppl_tool_load_model(const char *path, int32_t n_ctx, bool warn_ctx, bool show_tied, bool use_mmap);

/* The tokens of text[0..len) (add_special: BOS/EOS as the vocab asks; no special-token
 * parsing), in *tokens (malloc'd, the caller frees it in every case) and *n_tokens. Prints
 * "PROG: tokenizing the input .." and, once done, "PROG: tokenization took T ms (N
 * tokens)". path names the text in the error "tokenizing PATH failed: <reason>". Returns 0,
 * or 1 after the error. */
int ppl_tool_tokenize(const qk_model *m, const char *path, const char *text, size_t len, int32_t **tokens,
                      size_t *n_tokens);

/* j.key = v, or null when v is not finite (JSON has no NaN or infinity). */
void ppl_tool_jnum(cJSON *j, const char *key, double v);

/* Write j, printed as cJSON_Print formats it plus a newline, to path atomically (afile.h:
 * nothing is left behind on failure). Prints nothing on success. Errors: "out of memory
 * formatting JSON", or the file's error. Returns 0, or 1 after the error. */
int ppl_tool_write_json(const char *path, const cJSON *j);

#endif
