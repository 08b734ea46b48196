/*
 * bench_roofline.c — bytes read per generated token and the roofline fraction of a tgN
 * result. Model and formulas: bench_roofline.h.
 */
#include "bench_roofline.h"

#include <math.h>
#include <string.h>

uint64_t qk_roofline_weight_bytes(const qk_model *m) {
    uint64_t bytes = m->n_bytes;
    /* an untied token_embd is only looked up row by row; a tied one is the output matrix */
    if (!m->tied_output && m->tok_embd && m->tok_embd->nbytes <= bytes) bytes -= m->tok_embd->nbytes;
    return bytes;
}

double qk_roofline_kv_bytes(int n_layer, int n_embd_kv, int kv_elem_bytes, int n_past,
                            int n_gen) {
    if (n_gen <= 0 || n_layer <= 0 || n_embd_kv <= 0 || kv_elem_bytes <= 0 || n_past < 0)
        return 0.0;
    double per_pos = (double)n_layer * 2.0 * (double)n_embd_kv * (double)kv_elem_bytes;
    return per_pos * ((double)n_past + ((double)n_gen + 1.0) / 2.0);
}

double qk_roofline_kv_bytes_model(const qk_model *m, int n_past, int n_gen) {
    return qk_roofline_kv_bytes(m->hp.n_layer, m->hp.n_head_kv * m->hp.head_dim, 2, n_past, n_gen);
}

int qk_roofline_compute(double weight_bytes, double kv_bytes, double bandwidth_gbs,
                        double measured_ts, qk_roofline *out, qk_err *err) {
    memset(out, 0, sizeof *out);
    double total = weight_bytes + kv_bytes;
    if (!(weight_bytes >= 0) || !(kv_bytes >= 0) || !(total > 0) || !isfinite(total))
        return qk_errf(err, "roofline: bytes per token must be > 0 (weights %g, KV %g)",
                       weight_bytes, kv_bytes);
    if (!(bandwidth_gbs > 0) || !isfinite(bandwidth_gbs))
        return qk_errf(err, "roofline: bandwidth must be > 0 GB/s, got %g", bandwidth_gbs);
    if (!(measured_ts >= 0) || !isfinite(measured_ts))
        return qk_errf(err, "roofline: measured t/s must be >= 0, got %g", measured_ts);
    out->weight_bytes = weight_bytes;
    out->kv_bytes = kv_bytes;
    out->bytes_per_token = total;
    out->bandwidth_gbs = bandwidth_gbs;
    out->max_ts = bandwidth_gbs * 1e9 / total;
    out->measured_ts = measured_ts;
    out->fraction = measured_ts / out->max_ts;
    return 0;
}
