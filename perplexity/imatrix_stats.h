/*
 * imatrix_stats.h — qk-imatrix --show-statistics: per-tensor figures of an importance
 * matrix, after llama.cpp's statistics mode (tools/imatrix, compute_vector_statistics
 * and show_statistics in its legacy, sums-of-squares form).
 *
 * For an entry with matrices of n_cols columns, the per-column value is the mean squared
 * activation v_j = in_sum2[j] / counts (E[x_j²]: what llama-quantize weights column j
 * with); matrices with a count of 0 (experts that saw no rows) are left out, as
 * llama.cpp does. Per tensor: Σ v_j ("Σ E[Act²]"), min, max, mean μ = Σ v_j / N and the
 * sample standard deviation σ (N − 1 in the denominator) over its N values, and its share
 * of the total Σ over all tensors (in %). Per layer (blk.N): the Σ of its tensors and
 * their share. All in double.
 */
#ifndef QK_IMATRIX_STATS_H
#define QK_IMATRIX_STATS_H

#include <stdint.h>
#include <stdio.h>

#include "imatrix.h"

typedef struct imatrix_tensor_stats {
    const char *name; /* the entry's name (owned by the imatrix) */
    int32_t layer;    /* N of "blk.N.", -1 for other tensors */
    int64_t n;        /* values with data */
    double sum, mean, min, max, stddev;
    double share;     /* sum / total sum, in % */
} imatrix_tensor_stats;

/* One element per entry of im, in im's order: malloc'd array (caller frees), NULL when out
 * of memory. An entry without data (every count 0) has n = 0 and sum = mean = min = max =
 * stddev = share = 0. */
imatrix_tensor_stats *imatrix_stats_compute(const qk_imatrix *im);

/* Print the tables to f: "Computing tensor statistics for WHAT (N tensors)", one row per
 * tensor (Layer, Tensor, Σ E[Act²], Min, Max, μ, σ, N, share %), sorted as llama.cpp sorts
 * them (by the tensor's kind, e.g. "attn_q", then by Σ descending), then one row per layer
 * (Σ, share %). */
void imatrix_stats_print(FILE *f, const char *what, const qk_imatrix *im, const imatrix_tensor_stats *st);

#endif
