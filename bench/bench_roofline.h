/*
 * bench_roofline.h — the memory roofline of batch-1 text generation (tgN tests).
 *
 * Generating one token with a batch of one reads every weight matrix once, so decoding is
 * bound by memory bandwidth, not arithmetic (the speed issue; the usual roofline argument,
 * Williams, Waterman, Patterson, "Roofline", CACM 2009). Bytes read per generated token:
 *
 *   weights  = all tensor data bytes of the model (qk_model.n_bytes: every matrix, norm and
 *              bias is read once per token), except that an UNTIED token_embd is not
 *              counted (only one row of it is looked up per token); a TIED token_embd is
 *              the output matrix and is counted once;
 *   kv       = the K and V cache entries attention reads: token i of a generation that
 *              starts after n_past cached positions attends to n_past + i + 1 positions,
 *              each n_layer * 2 (K and V) * n_embd_kv * kv_elem_bytes bytes (F16 cache:
 *              2 bytes); averaged over the n_gen tokens that is
 *              n_layer * 2 * n_embd_kv * kv_elem_bytes * (n_past + (n_gen + 1) / 2).
 *   Activations, logits and the KV writes (one position per token) are ignored: they are
 *   tiny next to the weights (e.g. Qwen2.5-0.5B F16: 988 MB of weights, 0.8 MB of KV at
 *   tg128).
 *
 *   max t/s  = bandwidth (bytes/s) / (weights + kv)
 *   fraction = measured t/s / max t/s       (1.0 = running at the memory roofline)
 *
 * Bandwidth is in GB/s = 1e9 bytes/s (bench_membw.h).
 */
#ifndef QK_BENCH_ROOFLINE_H
#define QK_BENCH_ROOFLINE_H

#include <stdbool.h>
#include <stdint.h>

#include "error.h"
#include "model.h"

typedef struct qk_roofline {
    double weight_bytes;    /* weight bytes read per token */
    double kv_bytes;        /* mean KV-cache bytes read per token */
    double bytes_per_token; /* weight_bytes + kv_bytes */
    double bandwidth_gbs;   /* read bandwidth used, GB/s */
    double max_ts;          /* bandwidth / bytes_per_token, tokens/s */
    double measured_ts;     /* the test's t/s */
    double fraction;        /* measured_ts / max_ts */
} qk_roofline;

/* Weight bytes read per generated token of model m (see above). */
uint64_t qk_roofline_weight_bytes(const qk_model *m);

/* Mean KV-cache bytes read per token over n_gen generated tokens after n_past cached
 * positions (see above). 0 when n_gen <= 0 or any size is <= 0. */
double qk_roofline_kv_bytes(int n_layer, int n_embd_kv, int kv_elem_bytes, int n_past,
                            int n_gen);

/* The same for a loaded model and a test (F16 cache, n_embd_kv = n_head_kv * head_dim). */
double qk_roofline_kv_bytes_model(const qk_model *m, int n_past, int n_gen);

/* Fill *out from the byte counts, a bandwidth and a measured rate. Errors: weight_bytes +
 * kv_bytes <= 0, bandwidth_gbs <= 0 or not finite, measured_ts < 0 or not finite. */
int qk_roofline_compute(double weight_bytes, double kv_bytes, double bandwidth_gbs,
                        double measured_ts, qk_roofline *out, qk_err *err);

#endif
