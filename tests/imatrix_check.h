/*
 * imatrix_check.h — what the qk-imatrix suites share (test_imatrix_tool.c: the tool's
 * protocol and errors; test_imatrix_golden.c: agreement with llama.cpp): running the
 * tool, reading its output, comparing two importance matrices column by column, and the
 * tolerances of those comparisons. Static functions: each suite is one program.
 */
#ifndef QK_TEST_IMATRIX_CHECK_H
#define QK_TEST_IMATRIX_CHECK_H

#include <check.h>
#include <math.h>

#include "imatrix.h"
#include "testutil.h"

#define F16 "data/models/wiki-qwen2-13m/wiki-qwen2-13m-f16.gguf"
#define CALIB "data/calibration/wiki.test.tail.raw"

/* Agreement of each column's mean x² (in_sum2 / counts) with llama.cpp's, relative:
 * 2^-9 ≈ 1.95e-3. Derivation: both forward passes round every matmul input to F16 (the
 * weights' vec_dot type) and otherwise differ only in float summation order (and so do
 * our runs at -t 1 and -t 2). F16 keeps 11 significant bits: where the two results fall on
 * either side of an F16 rounding boundary they become adjacent F16 values, one ulp apart,
 * at most 2^-10 relative; x² then differs by at most 2·2^-10 = 2^-9, and a mean over rows
 * of such terms by no more than its worst term. llama.cpp's float sums over 25,600 rows
 * add ~1e-5 (the measured mean difference). Measured maxima over all 42 tensors × their
 * columns: ours -t 2 vs the golden .dat 1.42e-4 (blk.5.attn_output; mean 1.1e-5), ours -t 1
 * vs the golden .gguf 1.71e-4, llama.cpp's own .dat vs .gguf (c392e50 at n_seq 1 vs current
 * at n_seq 8) 1.06e-4, ours -t 1 vs -t 2 4.7e-5: a tenth of the bound. A protocol error
 * shows far above it: a missing BOS, a wrong chunk or row count changes means by percents
 * (and the counts are checked exactly). The same bound serves our own runs that differ
 * only in summation order (n_batch, threads). */
#define MEAN_REL 0x1p-9
/* The running PPL vs llama-imatrix's log (same rounding argument; measured: equal to the
 * printed 4 decimals at every chunk) and its ± (printed to 5 decimals). */
#define PPL_REL 1e-4
#define PPL_UNC_REL 1e-3
/* Run qk-imatrix with the given arguments (testutil.h: qk_test_run_tool). */
#define qki(out, ...) qk_test_run_tool(out, "qk-imatrix", __VA_ARGS__)

/* Run qk-imatrix, which must succeed; returns its output (caller frees). */
static char *run_ok(const char *args) {
    char *out = NULL;
    int rc = qki(&out, "%s", args);
    ck_assert_msg(rc == 0, "qk-imatrix %s failed:\n%s", args, out);
    return out;
}

static qk_imatrix *read_im(const char *path) {
    qk_err err = {{0}};
    qk_imatrix *im = qk_imatrix_read(path, &err);
    ck_assert_msg(im != NULL, "%s", err.msg);
    return im;
}

/* Both hold the same entry names and widths, and every column's mean agrees within rel;
 * one recorded comparison per tensor (its worst column). */
static void compare_means(const char *what, const qk_imatrix *ours, const qk_imatrix *ref, double rel) {
    ck_assert_msg(ours->n_entries == ref->n_entries, "%s: %lld entries, want %lld", what,
                  (long long)ours->n_entries, (long long)ref->n_entries);
    for (int64_t i = 0; i < ref->n_entries; i++) {
        const qk_imatrix_entry *r = &ref->entries[i];
        const qk_imatrix_entry *o = qk_imatrix_find(ours, r->name);
        ck_assert_msg(o != NULL, "%s: no entry %s", what, r->name);
        ck_assert_msg(o->n_cols == r->n_cols && o->n_mat == 1 && r->n_mat == 1, "%s: %s shape", what, r->name);
        double worst = -1, wo = 0, wr = 0;
        for (int64_t j = 0; j < r->n_cols; j++) {
            const double mo = (double)o->in_sum2[j] / o->counts[0], mr = (double)r->in_sum2[j] / r->counts[0];
            const double d = mr > 0 ? fabs(mo - mr) / mr : fabs(mo - mr);
            if (d > worst) {
                worst = d;
                wo = mo;
                wr = mr;
            }
        }
        ck_assert_msg(qk_test_close(what, r->name, wo, wr, rel, 0), "%s: %s worst column off by %.3g", what,
                      r->name, worst);
    }
}

/* Every entry of a .dat-form imatrix has counts = ncall. */
static void assert_counts(const qk_imatrix *im, float want, const char *what) {
    for (int64_t i = 0; i < im->n_entries; i++)
        ck_assert_msg(im->entries[i].counts[0] == want, "%s: %s count %g, want %g", what, im->entries[i].name,
                      im->entries[i].counts[0], want);
}

#endif
