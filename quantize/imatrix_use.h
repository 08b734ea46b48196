/*
 * imatrix_use.h — the importance matrix as qk-quantize uses it (--imatrix FILE with
 * --include-weights / --exclude-weights): read it (engine/imatrix.h, either format), keep
 * the entries the options select, check them against the model, and hand out each
 * tensor's per-column weights.
 *
 * What llama-quantize does, and qkit with it (c392e50 examples/quantize/quantize.cpp
 * prepare_imatrix, src/llama-quant.cpp llama_model_quantize_impl):
 *  - --exclude-weights NAME (repeatable) drops every entry whose name contains NAME;
 *    --include-weights NAME (repeatable) keeps only the entries whose name contains one of
 *    the NAMEs (substring match, not a pattern). The two cannot be combined;
 *  - when no entry is left, the model is quantized as without an imatrix (no keys, the
 *    mixture's has_imatrix off);
 *  - a tensor that is converted and has an entry is quantized row by row with its type's
 *    quantize_imat and the weights in_sum2 / counts of its matrix (per expert for a 3-D
 *    tensor); a type without quantize_imat (Q8_0, F16, ...) ignores them. A converted
 *    tensor without an entry is quantized as without an imatrix ("did not find weights"),
 *    except where the type requires one (Q2_K in Q2_K_S: mixture.c refuses);
 *  - the output gets, after general.file_type and in this order:
 *      quantize.imatrix.file           string, the path as given (at most 127 bytes: llama.cpp
 *                                      passes it through a 128-byte KV-override buffer)
 *      quantize.imatrix.dataset        string, the first dataset, when there is a non-empty one
 *                                      (likewise at most 127 bytes)
 *      quantize.imatrix.entries_count  i32, entries left after --include/--exclude-weights
 *      quantize.imatrix.chunks_count   i32, the chunk count, when it is > 0
 *    (c392e50 writes both counts as i32; llama.cpp since PR #14182, mid 2025, as u32.)
 * Where qkit is stricter: the selected entries must match the model as
 * qk_imatrix_check_model says (every entry names a tensor of the model with its row
 * width); llama.cpp ignores entries of tensors it does not have and stops only at a
 * converted tensor whose entry has the wrong size. The error names the first mismatch.
 */
#ifndef QK_IMATRIX_USE_H
#define QK_IMATRIX_USE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "gguf.h"
#include "imatrix.h"
#include "mixture.h"

/* The imatrix options (what qk-quantize parsed). */
typedef struct qk_imx_opts {
    const char *path;                     /* --imatrix FILE, NULL: none */
    const char *const *include; size_t n_include; /* --include-weights NAMEs */
    const char *const *exclude; size_t n_exclude; /* --exclude-weights NAMEs */
} qk_imx_opts;

/* A loaded, selected importance matrix. Zero-initialize; free with qk_imx_free. */
typedef struct qk_imx {
    qk_imatrix *im;        /* as read */
    qk_imatrix sel;        /* the selected entries (shallow copies of im's; sel.entries is
                            * its own array, the data belongs to im); other fields as im's */
    int64_t n_read;        /* entries in the file */
} qk_imx;

/* Read o->path, select, and check against model. With o->path NULL: nothing, returns 0
 * with sel empty. Returns -1 with err set: the file cannot be read or is not an imatrix
 * (the reader's message), --include and --exclude both given, or a selected entry does
 * not match the model ("imatrix 'FILE' does not match the model: " and
 * qk_imatrix_check_model's message, which names the entry, the model and what to do). */
int qk_imx_load(const qk_imx_opts *o, const gguf_ctx *model, qk_imx *x, qk_err *err);

/* The selected entry for a tensor name, or NULL (also when no imatrix is in use). */
const qk_imatrix_entry *qk_imx_find(const qk_imx *x, const char *name);

/* mt[i] = tensor i of g as qk_mix_plan sees it (name, ne, type, and has_weights: x has a
 * selected entry for it), for i < g->n_tensors; mt's names point into g. */
void qk_imx_mix_tensors(const qk_imx *x, const gguf_ctx *g, qk_mix_tensor *mt);

/* The weights of entry e for all its matrices: [n_mat][n_cols] floats, malloc'd (free
 * it), from qk_imatrix_weights. NULL when out of memory. */
float *qk_imx_weights(const qk_imatrix_entry *e);

/* The first dataset name, or "" when there is none. */
const char *qk_imx_dataset(const qk_imx *x);

/* Write the quantize.imatrix.* keys (above) when entries are selected; nothing otherwise.
 * file is the --imatrix path as given. Each key is removed first, so it ends up last
 * (llama.cpp's gguf_set_val_* moves a key to the end). */
void qk_imx_write_keys(const qk_imx *x, const char *file, gguf_writer *w);

void qk_imx_free(qk_imx *x);

#endif
