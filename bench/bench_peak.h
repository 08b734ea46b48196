/*
 * bench_peak.h — the machine's arithmetic ceilings for qk-bench (--peak), and the compute
 * ceiling of prompt processing (ppN tests), as bench_membw.h / bench_roofline.h do for the
 * memory side of generation.
 *
 * Probe method: register-resident loops, no memory traffic, run by n_threads threads of
 * the engine's worker pool (threads.h), every thread the same fixed number of iterations
 * per pass. Each pass is timed on the calling thread (CLOCK_MONOTONIC) from the start of
 * the pool job to its end; rate = operations of all threads / pass time. The best of
 * `passes` timed passes is the figure reported (one untimed pass first wakes the threads
 * and lets the clock ramp up), the mean is reported next to it, as --membw does. Kernels,
 * one set per instruction set the CPU has at run time (cpu.h):
 *
 *   AVX512 (qk_cpu_has_avx512vnni: AVX512F/BW/VL/VNNI; off with QK_NO_AVX512=1)
 *     FP32: vfmadd231ps zmm, 12 independent accumulator chains (acc = acc*x + y);
 *     int8: vpdpbusd zmm, 12 chains (acc += sum of 4 u8*s8 products per 32-bit lane).
 *   AVX2 (qk_cpu_has_avx2: AVX2+FMA+F16C; off with QK_FORCE_SCALAR=1)
 *     FP32: vfmadd231ps ymm, 12 chains;
 *     int8: vpmaddubsw ymm (u8*s8 pairs summed into int16: the multiply step of
 *           llama.cpp's AVX2 int8 dot products), 12 chains s = vpmaddubsw(s, b).
 *   scalar (only when neither is available: the fallback)
 *     FP32: 12 chains of acc = acc*x + y in portable C (a multiply and an add; the
 *           compiler may put them in the baseline vector unit, e.g. SSE2);
 *     int8: 8 chains of acc += a*b on 32-bit integers with 8-bit operand values.
 * 12 chains hide a latency of 3-6 cycles at two to three instructions per cycle. Only the
 * counted instruction is in the loop (no accumulating adds, loads or stores), so the
 * figures are the instruction's own peak, as vendors quote them.
 *
 * Counting (the usual convention: a multiply-add is 2 operations, as in "FLOPs" of a matmul
 * = 2 x multiply-adds, and vendors' peak figures):
 *   FP32: 2 FLOPs per lane per FMA: vfmadd231ps zmm = 32 FLOPs, ymm = 16, scalar 2.
 *   int8: 2 ops per 8-bit multiply-add (one byte product accumulated): vpmaddubsw ymm does
 *         32 byte products (summed in pairs) = 64 ops; vpdpbusd zmm does 16 lanes x 4 byte
 *         products = 64 products = 128 ops (8 per 32-bit lane). The int16/int32
 *         accumulation adds of vpmaddubsw's pairs and vpaddw are not counted separately:
 *         each product is counted once, with its add. So int8 GOP/s compares directly with
 *         2 x (weights x tokens) / s of a quantized matmul, the same way FP32 GFLOP/s does.
 *
 * Guards: loop counts and operands are run-time values; every accumulator of every thread
 * is checked after every pass (FP32: the recurrence acc = 0.5*acc + 1 converges to 2 from
 * every start value; vpdpbusd and scalar int8: the exact closed form start + iterations x
 * products, wrapping; vpmaddubsw: the fixed point of its chain, see bench_peak.c), so the
 * loops cannot be optimised away and a broken kernel is an error, not a number. The
 * scalar int8 operand goes through an empty asm statement each iteration so the compiler
 * cannot hoist the (otherwise loop-invariant) products.
 *
 * Units: GFLOP/s and GOP/s = 1e9 operations per second.
 */
#ifndef QK_BENCH_PEAK_H
#define QK_BENCH_PEAK_H

#include <stdbool.h>
#include <stdint.h>

#include "error.h"
#include "model.h"

#define QK_PEAK_MAX_ISAS 3
/* Iterations per thread per pass: about 15 ms per kernel at 3.5 GHz, so with 5 passes the
 * two kernels of two instruction sets take about 0.4 s per thread count. */
#define QK_PEAK_DEFAULT_ITERS ((uint64_t)1 << 23)

typedef enum qk_peak_kind { QK_PEAK_FP32 = 0, QK_PEAK_INT8 = 1 } qk_peak_kind;

typedef struct qk_peak_result {
    int n_threads;
    const char *isa;         /* "AVX512", "AVX2" or "scalar" (static strings) */
    int vector_bits;         /* 512, 256, or 32 for scalar */
    const char *fp32_kernel; /* "vfmadd231ps zmm", ... */
    const char *int8_kernel; /* "vpdpbusd zmm", ... */
    int passes;
    uint64_t iters;          /* loop iterations per thread per pass */
    double fp32_ops;         /* FLOPs per pass, all threads */
    double int8_ops;         /* int8 ops per pass, all threads */
    uint64_t fp32_best_ns, int8_best_ns;
    double fp32_gflops, fp32_mean_gflops; /* best (fp32_ops / fp32_best_ns), mean */
    double int8_gops, int8_mean_gops;
} qk_peak_result;

/* Number of instruction sets probed on this CPU (1..QK_PEAK_MAX_ISAS): SIMD ones, widest
 * last, or the scalar fallback alone. */
int qk_peak_n_isas(void);

/* Called before each thread count and instruction set is measured (may be NULL). */
typedef void (*qk_peak_progress_fn)(void *user, int n_threads, const char *isa, int passes);

/* Measure both kernels of every instruction set with each of n_counts thread counts
 * (threads[i] >= 1), iters >= 64 iterations per thread per pass, passes >= 1. out must hold
 * n_counts * qk_peak_n_isas() results: out[i * qk_peak_n_isas() + k] is thread count i,
 * instruction set k (widest last). Errors: bad arguments, a worker pool cannot start, a
 * self-check fails. */
int qk_peak_measure(const int *threads, int n_counts, uint64_t iters, int passes,
                    qk_peak_progress_fn progress, void *user, qk_peak_result *out, qk_err *err);

/* The ceiling of `kind` (best figure, 1e9 ops/s) for n_threads among res[0..n): the widest
 * instruction set's. Sets *isa to its name. Returns 0 when there is no result for
 * n_threads. */
double qk_peak_ceiling(const qk_peak_result *res, int n, int n_threads, qk_peak_kind kind,
                       const char **isa);

/*
 * The compute ceiling of prompt processing (ppN tests).
 *
 * A prompt of N tokens goes through every weight matrix as an N-row batch: each weight
 * element is one multiply-add, 2 operations, per token (the usual forward-pass count,
 * C_forward ~ 2 N_params per token: Kaplan et al., "Scaling Laws for Neural Language
 * Models", 2020, Table 1; PaLM, Chowdhery et al. 2022, Appendix B). Counted per prompt
 * token:
 *
 *   weights   = 2 x (elements of the matrices multiplied for every token: per layer
 *               attn_q, attn_k, attn_v, attn_output, ffn_gate, ffn_up, ffn_down)
 *             + 2 x (elements of output, or of token_embd when tied) x n_calls / N,
 *               because only the last token of each decode call gets logits (as in
 *               llama-bench): n_calls = ceil(N / n_batch);
 *   attention = QK^T and softmax(.)V, 2 x head_dim operations each per head and attended
 *               position (PaLM's 4·L·H·Q per attended position); token i of a prompt that
 *               starts after n_past cached positions attends to n_past + i + 1 positions,
 *               so per token on average
 *               4 x n_layer x n_head x head_dim x (n_past + (N + 1) / 2).
 *   Norms, RoPE, biases, activation functions, softmax's exponentials and the token_embd
 *   lookup are O(n_embd) per token and not counted.
 *
 *   max t/s  = ceiling (1e9 ops/s) x 1e9 / FLOPs per token
 *   fraction = measured t/s / max t/s  = t/s x FLOPs per token / ceiling
 *
 * The ceiling: int8 (GOP/s) when the matrices multiplied per token are mostly (by
 * elements) of a quantized type — the engine then quantizes the activations to 8 bits and
 * runs integer dot products — and FP32 FMA (GFLOP/s) for F32/F16/BF16 weights (converted
 * to and multiplied in FP32); the widest instruction set's figure for the test's thread
 * count. Attention is counted against the same ceiling (it is a few % of the total here).
 */
typedef struct qk_pp_ceiling {
    qk_peak_kind kind;      /* which ceiling */
    const char *isa;        /* instruction set of the ceiling, "given" for an override */
    double weight_flops;    /* per token */
    double attn_flops;      /* per token */
    double flops_per_token; /* weight_flops + attn_flops */
    double peak_gops;       /* the ceiling, 1e9 ops/s */
    double max_ts;          /* peak_gops * 1e9 / flops_per_token */
    double measured_ts;
    double fraction;        /* measured_ts / max_ts */
} qk_pp_ceiling;

/* Elements of the per-layer matrices (q, k, v, output projection, gate, up, down) of m;
 * *quantized (may be NULL) gets those of quantized types. */
uint64_t qk_peak_layer_matmul_elems(const qk_model *m, uint64_t *quantized);

/* Elements of the output matrix (token_embd when tied). */
uint64_t qk_peak_output_elems(const qk_model *m);

/* The ceiling kind for m's matrices (see above). */
qk_peak_kind qk_peak_model_kind(const qk_model *m);

/* Weight operations per prompt token of an N-token prompt decoded n_batch tokens at a
 * time (see above). 0 when n_tokens <= 0 or n_batch <= 0. */
double qk_peak_weight_flops(uint64_t layer_elems, uint64_t output_elems, int n_tokens,
                            int n_batch);

/* Mean attention operations per prompt token (see above). 0 when any size is <= 0. */
double qk_peak_attn_flops(int n_layer, int n_head, int head_dim, int n_past, int n_tokens);

/* The same two for a loaded model and a ppN test from an empty cache. */
double qk_peak_weight_flops_model(const qk_model *m, int n_tokens, int n_batch);
double qk_peak_attn_flops_model(const qk_model *m, int n_tokens);

/* Fill *out. Errors: weight_flops + attn_flops <= 0, peak_gops <= 0 or not finite,
 * measured_ts < 0 or not finite. isa may be NULL (""). */
int qk_pp_ceiling_compute(double weight_flops, double attn_flops, qk_peak_kind kind,
                          const char *isa, double peak_gops, double measured_ts,
                          qk_pp_ceiling *out, qk_err *err);

#endif
