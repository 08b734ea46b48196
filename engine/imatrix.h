/*
 * imatrix.h — importance matrices: what llama-imatrix writes and llama-quantize --imatrix
 * reads, in memory and in both file formats.
 *
 * An importance matrix holds, for every weight matrix W (ne[0] = n_cols input columns)
 * that the forward pass multiplied, the sum over the activation rows x it saw of x_j² per
 * column j, and how many rows that was. llama-quantize weights column j of every row of W
 * by the mean, in_sum2[j] / counts (qk_imatrix_weights). Source and file layouts:
 * llama-cpp-reference.md §2.3; llama.cpp c392e50 examples/imatrix/imatrix.cpp (the legacy
 * .dat: save_imatrix) and examples/quantize/quantize.cpp (load_imatrix: how it is read);
 * current llama.cpp tools/imatrix (the GGUF form) and tools/quantize/quantize.cpp
 * (load_imatrix: how a GGUF imatrix becomes quantization weights).
 *
 * In memory both formats are one thing (qk_imatrix): per entry, raw sums in_sum2 and
 * per-matrix counts, such that in_sum2 / counts is the mean the quantizer uses.
 *  - A .dat entry stores value[j] = sum_j / rows_j · ncall and ncall; it is read as
 *    in_sum2 = value, counts = ncall (so in_sum2 / counts is llama-quantize's value / ncall,
 *    the same float division), and written back the same way. Exception: ncall = 0, for
 *    which llama-quantize (c392e50 and current) uses the stored values undivided; such an
 *    entry is read with counts = 1 (value / 1 is value, bit for bit; written back, it has
 *    ncall = 1: the same weights, not the same bytes).
 *    A .dat has no shapes: an entry is read as n_mat = 1, n_cols = nval (for an MoE weight
 *    that is ne[0] · n_expert values, expert-major, as llama-quantize indexes them).
 *  - A GGUF entry stores in_sum2 and counts as they are.
 *
 * ---- Legacy .dat (little-endian; int = int32, float = IEEE binary32) ----
 *   int n_entries                        (>= 1: c392e50's quantize refuses 0, "no data")
 *   n_entries times: int len; char name[len] (no NUL); int ncall; int nval (>= 1);
 *                    float value[nval]   (value = sum of x² / rows seen · ncall)
 *   int last_call                        (chunks processed; absent at EOF in old files)
 *   int len; char dataset[len]           (calibration file as given; absent in old files)
 * c392e50 writes the entries in its hash map's order; this reader keeps file order and the
 * writer writes it back, so a .dat read and written again is byte-identical.
 *
 * ---- GGUF imatrix (GGUF v3; layout of current llama.cpp, checked against the golden
 *      wiki-qwen2-13m.imatrix.gguf) ----
 *   KVs in this order: general.type = "imatrix"; imatrix.datasets = [str] (calibration
 *   files); imatrix.chunk_count u32; imatrix.chunk_size u32 (the -c);
 *   per weight, weights sorted by name (strcmp), two F32 tensors: "<weight>.in_sum2"
 *   ne = [n_cols, n_mat] (raw sums of x²) then "<weight>.counts" ne = [1, n_mat]
 *   (activation rows seen per matrix; n_mat = expert count, 1 for dense weights). As in
 *   ggml, trailing dimensions of 1 are not written: a dense weight's tensors are 1-D.
 *   A count may be 0 (an expert that saw no rows; its sums are then 0).
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
    /* Private (imatrix.c): the name index of find/append/add, NULL until needed. A shallow
     * copy (struct assignment, e.g. a selection of entries) shares the pointer but is not
     * described by it: find on the copy searches linearly, and the copy must not be given
     * to qk_imatrix_free (append/add on it give it an index of its own, which only
     * qk_imatrix_free releases). */
    struct qk_imatrix_index *index;
} qk_imatrix;

typedef enum qk_imatrix_format { QK_IMATRIX_GGUF = 0, QK_IMATRIX_DAT = 1 } qk_imatrix_format;

/* An empty imatrix (no entries); NULL when out of memory. Build entries with
 * qk_imatrix_append (it keeps the name index), not by growing `entries` yourself. */
qk_imatrix *qk_imatrix_new(void);
void qk_imatrix_free(qk_imatrix *im);

/* Append an entry named name with n_cols × n_mat values, in_sum2 and counts all 0. Returns
 * it (valid until the next append or add), or NULL with err when the name is empty or
 * already present, a size is < 1 or too large, or out of memory. */
qk_imatrix_entry *qk_imatrix_append(qk_imatrix *im, const char *name, int64_t n_cols, int64_t n_mat,
                                    qk_err *err);

/* Read either format (a GGUF file is recognised by its magic). NULL with err naming the
 * file and what is wrong: missing, unreadable or not a regular file, truncated, a length
 * or count larger than the rest of the file, no entries, an empty name or one with a NUL,
 * a .dat entry with nval < 1 or ncall < 0, bytes after the dataset name, a GGUF whose
 * general.type is not "imatrix", a tensor that is not F32 or not named .in_sum2/.counts,
 * a .in_sum2 without its .counts or the reverse, shapes that do not match, a count of 0
 * with non-zero sums, non-finite or negative values, duplicate names. */
qk_imatrix *qk_imatrix_read(const char *path, qk_err *err);
/* The GGUF half of qk_imatrix_read (imatrix_gguf.c); path must be a GGUF file. */
qk_imatrix *qk_imatrix_read_gguf(const char *path, qk_err *err);

/* Write atomically (engine/afile.h: nothing at path on failure; the GGUF writer is
 * atomic the same way). -1 with err when im has no entries, or on an I/O error.
 *  .dat: entries in im's order. An entry whose counts are all one integer c in
 *    [1, INT32_MAX] is written as ncall = c, value = in_sum2 (a .dat read is written back
 *    byte for byte); any other (counts that differ between experts, 0 or non-integer) as
 *    ncall = 1, value = qk_imatrix_weights, so llama-quantize's value / ncall is the same
 *    weight. last_call = chunk_count; the dataset is the first one ("" when none).
 *  GGUF: the layout above; "<weight>.in_sum2" must be a valid GGUF tensor name (at most
 *    GGUF_MAX_NAME bytes: gguf_writer_add_tensor), else -1 naming the weight. */
int qk_imatrix_write(const qk_imatrix *im, const char *path, qk_imatrix_format fmt, qk_err *err);
/* The GGUF half of qk_imatrix_write (imatrix_gguf.c). */
int qk_imatrix_write_gguf(const qk_imatrix *im, const char *path, qk_err *err);

/* The entry named name, or NULL. O(1) expected (keyed hash index) for imatrices from
 * qk_imatrix_read, or qk_imatrix_new with qk_imatrix_append / qk_imatrix_add; a linear
 * search for one whose entries were built or copied by hand. */
const qk_imatrix_entry *qk_imatrix_find(const qk_imatrix *im, const char *name);

/* Add src into dst (llama-imatrix --in-file): entries of the same name add in_sum2 and
 * counts (their widths must match, else an error naming the entry), others are appended
 * (copied); chunk counts add, datasets are appended; dst's chunk_size is kept (src's when
 * dst's is 0). Widths, overflow of a sum to infinity and of the chunk count are checked
 * before anything changes: on those errors dst is unchanged (out of memory may leave it
 * partly added). */
int qk_imatrix_add(qk_imatrix *dst, const qk_imatrix *src, qk_err *err);

/* Every entry names a tensor of the model whose ne[0] is the entry's n_cols and whose
 * ne[2] is n_mat (a .dat entry of an MoE weight, n_mat = 1, may instead hold ne[0] · ne[2]
 * values); else -1 with err naming the first mismatching entry, the model and what to do.
 * Model weights without an entry are allowed (llama-quantize quantizes them without). */
int qk_imatrix_check_model(const qk_imatrix *im, const gguf_ctx *model, qk_err *err);

/* The quantization weights of matrix mat (0 for a dense weight), out[0..n_cols):
 * out[j] = in_sum2[mat·n_cols + j] / counts[mat] in float, or 1.0 when counts[mat] is 0.
 * These are the floats llama-quantize passes to the quantizer: current llama.cpp
 * tools/quantize/quantize.cpp load_imatrix divides a GGUF entry's sums by its per-expert
 * count (1 where the count is 0) and a .dat entry's values by ncall (undivided when ncall
 * is 0: read here as counts = 1); c392e50 examples/quantize/quantize.cpp does the latter. */
void qk_imatrix_weights(const qk_imatrix_entry *e, int64_t mat, float *out);

#endif
