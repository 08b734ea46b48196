/*
 * sens_report.h — the per-tensor sensitivity report: from qk-sensitivity's JSON, which
 * tensors cost the most at each candidate type, as tables and as a heat map.
 *
 * Input (qk-sensitivity, quantize/sensitivity.h): {"qkit_sensitivity": 1, "model", "mode",
 * "tensors": [{"name", "layer" (-1 outside blk.N), "kind", "n_elements", "candidates":
 * [{"type", "bytes", "kld" (null when not measured), "kld_unc", "proxy", "kld_est" (--mode
 * scaled: the KLD estimated from one measured type)}]}]}. Other keys are
 * ignored (reports/ may not use quantize/'s reader, by the layering rules, so it is read here). A candidate's cost is its "kld" when every tensor has one at that type (mode kld),
 * else its "kld" or "kld_est" when every tensor has one of them (mode scaled: "KLD, part
 * estimated"), else its "proxy"; the report says which.
 * A type is reported when some tensor's cost at it is > 0 (the base type, cost 0, is not).
 *
 * Outputs (atomically, in a directory):
 *   sensitivity.csv  type, rank (1 = costliest at that type), tensor, layer, kind,
 *                    n_elements, bytes, bpw (8·bytes/n_elements), cost, kld, kld_unc, proxy, kld_est —
 *                    every tensor at every reported type; unknown numbers empty
 *   sensitivity.md   per type the top N tensors (rank, tensor, layer, kind, bpw, cost)
 *   sensitivity.gp   heat map, one panel per type: x = tensor kind (in order of first
 *   (+ .png)         appearance), y = layer (non-layer tensors in a row "other" below layer 0),
 *                    colour = cost on a log scale shared by all panels (cells with cost <= 0
 *                    or no value are left blank)
 */
#ifndef QK_SENS_REPORT_H
#define QK_SENS_REPORT_H

#include <stdbool.h>
#include <stdint.h>

#include "error.h"
#include "fileio.h"

#define QK_SENSREP_MAX_TYPES 24
#define QK_SENSREP_MAX_KINDS 32

typedef struct qk_sensrep_cell {
    double kld, kld_unc, proxy, kld_est, cost; /* NaN when absent */
    uint64_t bytes;                   /* 0 when unknown */
    bool has;                         /* the tensor has a candidate of this type */
} qk_sensrep_cell;

typedef struct qk_sensrep_tensor {
    char name[128], kind[48];
    int layer, kind_idx;
    uint64_t n_elements;
    qk_sensrep_cell cell[QK_SENSREP_MAX_TYPES]; /* by type index */
} qk_sensrep_tensor;

typedef struct qk_sensrep_data {
    char model[1024], mode[32];
    int n_types;
    char types[QK_SENSREP_MAX_TYPES][16];
    bool type_kld[QK_SENSREP_MAX_TYPES]; /* the cost at this type is a KLD (measured or estimated) */
    bool type_est[QK_SENSREP_MAX_TYPES]; /* ... some of it estimated (kld_est) */
    bool type_shown[QK_SENSREP_MAX_TYPES];
    int n_kinds;
    char kinds[QK_SENSREP_MAX_KINDS][48];
    int max_layer;                    /* -1 when no layer tensor */
    qk_sensrep_tensor *t;
    int n;
} qk_sensrep_data;

/* Read and check a sensitivity JSON. Errors: unreadable, not JSON, not "qkit_sensitivity": 1,
 * a tensor without name/layer/candidates, more than QK_SENSREP_MAX_TYPES types or
 * QK_SENSREP_MAX_KINDS kinds. */
int qk_sensrep_load(qk_sensrep_data *d, const char *path, qk_err *err);
void qk_sensrep_free(qk_sensrep_data *d);

/* The tensors at type index ty by cost, costliest first (those without a cost left out):
 * idx receives up to d->n indices; returns how many. */
int qk_sensrep_rank(const qk_sensrep_data *d, int ty, int *idx);

void qk_sensrep_render_csv(qk_sb *out, const qk_sensrep_data *d);
void qk_sensrep_render_md(qk_sb *out, const qk_sensrep_data *d, int top);
/* false (nothing appended) when no type is shown. */
bool qk_sensrep_render_gp(qk_sb *out, const qk_sensrep_data *d);

/* The three files in dir and, when run_gnuplot and gnuplot is found, sensitivity.png
 * (*png says whether). Errors: a write failing, gnuplot failing. */
int qk_sensrep_write(const qk_sensrep_data *d, const char *dir, int top, bool run_gnuplot, bool *png, qk_err *err);

#endif
