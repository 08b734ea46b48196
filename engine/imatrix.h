/*
 * imatrix.h — importance matrices: what llama-imatrix writes and llama-quantize --imatrix
 * reads, in memory and in both file formats.
 *
 * An importance matrix holds, for every weight matrix W (ne[0] = n_cols input columns)
 * that the forward pass multiplied, the sum over the activation rows x it saw of x_j² per
 * column j, and how many rows that was. llama-quantize weights column j of every row of W
 * by the mean, in_sum2[j] / counts (qk_imatrix_weights). Source and file layouts:
 * llama-cpp-reference.md §2.3; llama.cpp c392e50 examples/imatrix/imatrix.cpp (the legacy
 * .dat) and current tools/imatrix (the GGUF form).
 *
 * In memory both formats are one thing (qk_imatrix): per entry, raw sums in_sum2 and
 * per-matrix counts, such that in_sum2 / counts is the mean the quantizer uses.
 *  - A .dat entry stores value[j] = sum_j / rows_j · ncall and ncall; it is read as
 *    in_sum2 = value, counts = ncall (so in_sum2 / counts is llama-quantize's value / ncall,
 *    the same float division), and written back the same way.
 *  - A GGUF entry stores in_sum2 and counts as they are.
 *
 * ---- Legacy .dat (little-endian; int = int32, float = IEEE binary32) ----
 *   int n_entries
 *   n_entries times: int len; char name[len] (no NUL); int ncall; int nval;
 *                    float value[nval]   (value = sum of x² / rows seen · ncall)
 *   int last_call                        (chunks processed; optional at EOF in old files)
 *   int len; char dataset[len]           (calibration file as given; optional)
 *
 * ---- GGUF imatrix (GGUF v3) ----
 *   general.type = "imatrix"; imatrix.datasets = [str] (calibration files);
 *   imatrix.chunk_count u32; imatrix.chunk_size u32 (the -c);
 *   per weight: F32 tensor "<weight>.in_sum2" ne = [n_cols, n_mat] (raw sums of x²) and
 *   F32 tensor "<weight>.counts" ne = [1, n_mat] (activation rows seen per matrix;
 *   n_mat = expert count, 1 for dense weights).
 */
#ifndef QK_IMATRIX_H
#define QK_IMATRIX_H

#include <stdint.h>

#include "error.h"
#include "gguf.h"

typedef struct qk_imatrix_entry {
    char *name;      /* weight tensor name, e.g. "blk.0.attn_q.weight" */
    int64_t n_cols;  /* values per matrix: the weight's ne[0] */
    int64_t n_mat;   /* matrices: 1 for a dense weight, the expert count for MoE */
    float *in_sum2;  /* [n_mat][n_cols]: sums of x_j² (see above for .dat entries) */
    float *counts;   /* [n_mat]: rows seen (a .dat entry: its ncall) */
} qk_imatrix_entry;

typedef struct qk_imatrix {
    int64_t n_entries;
    qk_imatrix_entry *entries; /* in file order */
    int32_t chunk_count;       /* chunks the data comes from (.dat: last_call) */
    int32_t chunk_size;        /* tokens per chunk (-c); 0 when unknown (.dat) */
    int32_t n_datasets;
    char **datasets;           /* calibration files; may be empty */
} qk_imatrix;

typedef enum qk_imatrix_format { QK_IMATRIX_GGUF = 0, QK_IMATRIX_DAT = 1 } qk_imatrix_format;

/* An empty imatrix (no entries); NULL when out of memory. */
qk_imatrix *qk_imatrix_new(void);
void qk_imatrix_free(qk_imatrix *im);

/* Read either format (a GGUF file is recognised by its magic). NULL with err naming the
 * file and what is wrong: missing or unreadable, truncated, a GGUF whose general.type is not
 * "imatrix", an entry with a non-positive width, a tensor pair that does not match
 * (.in_sum2 without .counts, shapes), non-finite or negative values, duplicate names. */
qk_imatrix *qk_imatrix_read(const char *path, qk_err *err);

/* Write atomically (engine/afile.h: nothing at path on failure). */
int qk_imatrix_write(const qk_imatrix *im, const char *path, qk_imatrix_format fmt, qk_err *err);

/* The entry named name, or NULL. */
const qk_imatrix_entry *qk_imatrix_find(const qk_imatrix *im, const char *name);

/* Add src into dst (llama-imatrix --in-file): entries of the same name add in_sum2 and
 * counts (their widths must match, else an error naming the entry), others are appended;
 * chunk counts add, datasets are appended. */
int qk_imatrix_add(qk_imatrix *dst, const qk_imatrix *src, qk_err *err);

/* Every entry names a tensor of the model whose ne[0] is the entry's n_cols (and whose
 * ne[2] is n_mat, when it has one); else -1 with err naming the first mismatch. */
int qk_imatrix_check_model(const qk_imatrix *im, const gguf_ctx *model, qk_err *err);

/* The quantization weights of matrix mat (0 for a dense weight): out[j] = in_sum2[j] /
 * counts, in float, as llama-quantize computes them (a count of 0 gives 1.0). */
void qk_imatrix_weights(const qk_imatrix_entry *e, int64_t mat, float *out);

#endif
