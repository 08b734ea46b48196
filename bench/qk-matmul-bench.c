/*
 * qk-matmul-bench — measures the engine's two matmul paths (engine/matmul.h: vec_dot per
 * row and token, and dequantized tiles + OpenBLAS sgemm) for each weight type, token
 * count m and thread count, so that the per-type switch-over point in matmul.c
 * (qk_matmul_blas_min_m) can be re-derived on any machine.
 *
 * Method: for each weight shape (k x n, default the Qwen2.5-0.5B FFN matrices), random
 * weights are quantized with the type's reference quantizer and random activations drawn;
 * each (type, m, path) call is repeated until at least --min-ms have passed, the mean time
 * per call kept, and the best of -r such measurements taken (the machine may be shared:
 * the best is the least disturbed). GFLOP/s = 2·m·k·n / time, summed over the shapes a
 * type can hold (k a multiple of its block size). Both paths' outputs are compared; a
 * relative difference above 1e-3 is reported as an error (they may differ only by
 * summation order).
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_matrix.h"
#include "error.h"
#include "matmul.h"
#include "threads.h"
#include "types.h"
#include "tool.h"

#define MAX_ITEMS 32

static const char *DEFAULT_TYPES = "F32,F16,BF16,Q4_0,Q4_1,Q5_0,Q5_1,Q8_0,IQ4_NL,Q2_K,Q3_K,Q4_K,Q5_K,Q6_K";
static const char *DEFAULT_M = "1,2,4,8,12,16,20,24,28,32,40,48,64,128,512";
static const char *DEFAULT_SHAPES = "896x4864,4864x896";

static void usage(FILE *f) {
    fprintf(f,
        "usage: qk-matmul-bench [options]\n"
        "\n"
        "Times the matmul paths of the engine (vec_dot, and dequantize + sgemm) per weight\n"
        "type and token count m, to choose where sgemm takes over (engine/matmul.c).\n"
        "\n"
        "options:\n"
        "  -h, --help            show this help\n"
        "  --types LIST          weight types, comma-separated ggml names\n"
        "                        (default: %s)\n"
        "  --m LIST              token counts m (default: %s)\n"
        "  --shapes LIST         weight shapes KxN (ne[0] x ne[1]), comma-separated; a type is\n"
        "                        timed on the shapes whose K is a multiple of its block size\n"
        "                        (default: %s, Qwen2.5-0.5B ffn_up and ffn_down)\n"
        "  -t, --threads LIST    thread counts (default: 1)\n"
        "  --tile LIST           sgemm weight-tile sizes in floats to compare (default: %d,\n"
        "                        the engine's); one sgemm column per value\n"
        "  -r, --repetitions N   measurements per point, the best is kept (default: 5)\n"
        "  --min-ms X            each measurement repeats the call for at least X ms (default: 20)\n"
        "  --clock wall|cpu      wall: elapsed time (default); cpu: the process's CPU time,\n"
        "                        which leaves out the time other programs hold the CPU (use\n"
        "                        it with -t 1 on a shared machine: with more threads it also\n"
        "                        counts the workers' waiting)\n"
        "  -o, --output FMT      md|csv|json on stdout (default: md)\n"
        "\n"
        "Columns: GFLOP/s (2*m*K*N per call) of the vec_dot path and of the sgemm path (per\n"
        "tile size), the faster one, and the path the engine takes today (auto). After the\n"
        "table (md only), the suggested switch-over per type and thread count: the smallest\n"
        "m from which sgemm is at least as fast at every larger measured m.\n",
        DEFAULT_TYPES, DEFAULT_M, DEFAULT_SHAPES, QK_MATMUL_TILE_FLOATS);
}

static int die(const char *what, const char *todo) {
    if (todo) fprintf(stderr, "qk-matmul-bench: error: %s — %s\n", what, todo);
    else fprintf(stderr, "qk-matmul-bench: error: %s\n", what);
    return 1;
}

static clockid_t clock_id = CLOCK_MONOTONIC;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(clock_id, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* xorshift64*: reproducible inputs in [-1, 1). */
static float frand(uint64_t *s) {
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return (float)((*s * 2685821657736338717ULL) >> 40) / (float)(1 << 23) - 1.0f;
}

typedef struct shape {
    int64_t k, n;
} shape;

typedef struct point {
    double dot_s;             /* seconds per call set (summed over shapes) */
    double gemm_s[MAX_ITEMS]; /* per tile size */
    double flops;
    int n_shapes;
} point;

/* One measurement: mean seconds per call over at least min_s. */
static double time_call(qk_pool *pool, qk_matmul_scratch *sc, qk_type t, const void *w, const shape *sh,
                        const float *x, int64_t m, float *y, double min_s, int *fail) {
    int calls = 0;
    double t0 = now_s(), el;
    do {
        if (qk_matmul(pool, sc, t, w, sh->k, sh->n, x, m, y)) *fail = 1;
        calls++;
        el = now_s() - t0;
    } while (el < min_s);
    return el / calls;
}

static double best_of(int reps, qk_pool *pool, qk_matmul_scratch *sc, qk_type t, const void *w, const shape *sh,
                      const float *x, int64_t m, float *y, double min_s, int *fail) {
    double best = INFINITY;
    for (int r = 0; r < reps; r++) {
        double s = time_call(pool, sc, t, w, sh, x, m, y, min_s, fail);
        if (s < best) best = s;
    }
    return best;
}

static int parse_shapes(const char *s, shape *out, int *n, qk_err *err) {
    *n = 0;
    const char *p = s;
    while (*p) {
        char *end;
        errno = 0;
        long long k = strtoll(p, &end, 10);
        if (end == p || (*end != 'x' && *end != 'X')) return qk_errf(err, "bad shape in '%s' (want KxN)", s);
        p = end + 1;
        long long nn = strtoll(p, &end, 10);
        if (end == p || errno || k < 1 || nn < 1 || k > (1 << 20) || nn > (1 << 20))
            return qk_errf(err, "bad shape in '%s' (want KxN, 1..1048576 each)", s);
        if (*n == MAX_ITEMS) return qk_errf(err, "at most %d shapes", MAX_ITEMS);
        out[(*n)++] = (shape){k, nn};
        p = end;
        if (*p == ',') p++;
        else if (*p) return qk_errf(err, "bad shape list '%s'", s);
    }
    if (*n == 0) return qk_errf(err, "empty shape list");
    return 0;
}

static int parse_types(const char *s, qk_type *out, int *n, qk_err *err) {
    char buf[512];
    snprintf(buf, sizeof buf, "%s", s);
    *n = 0;
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
        qk_type t;
        if (qk_type_from_name(tok, &t)) return qk_errf(err, "unknown type '%s'", tok);
        const qk_type_traits *tt = qk_type_get(t);
        if (!tt->vec_dot || !tt->to_float || !tt->quantize_ref)
            return qk_errf(err, "type %s cannot be a matmul weight", tok);
        if (*n == MAX_ITEMS) return qk_errf(err, "at most %d types", MAX_ITEMS);
        out[(*n)++] = t;
    }
    if (*n == 0) return qk_errf(err, "empty type list");
    return 0;
}

/* Largest |a-b| relative to the largest |b|. */
static double rel_diff(const float *a, const float *b, size_t n) {
    double d = 0, mx = 1e-30;
    for (size_t i = 0; i < n; i++) {
        double e = fabs((double)a[i] - (double)b[i]);
        if (e > d) d = e;
        if (fabs(b[i]) > mx) mx = fabs(b[i]);
    }
    return d / mx;
}

int main(int argc, char **argv) {
    qk_tool_init("qk-matmul-bench");
    const char *types_s = DEFAULT_TYPES, *m_s = DEFAULT_M, *shapes_s = DEFAULT_SHAPES, *fmt = "md";
    qk_int_list threads = {0}, ms = {0}, tiles = {0};
    int reps = 5;
    double min_ms = 20;
    qk_err err;
    char msg[600];
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        }
        if (i + 1 >= argc) {
            snprintf(msg, sizeof msg, "unknown option or missing value: '%s'", a);
            return die(msg, "see qk-matmul-bench --help");
        }
        const char *v = argv[++i];
        int rc = 0;
        if (!strcmp(a, "--types")) types_s = v;
        else if (!strcmp(a, "--m")) m_s = v;
        else if (!strcmp(a, "--shapes")) shapes_s = v;
        else if (!strcmp(a, "-t") || !strcmp(a, "--threads")) rc = qk_int_list_parse(&threads, v, 1, &err);
        else if (!strcmp(a, "--tile")) rc = qk_int_list_parse(&tiles, v, 1, &err);
        else if (!strcmp(a, "-r") || !strcmp(a, "--repetitions")) {
            char *end;
            long r = strtol(v, &end, 10);
            if (!*v || *end || r < 1 || r > 1000) rc = qk_errf(&err, "-r wants 1..1000, got '%s'", v);
            reps = (int)r;
        } else if (!strcmp(a, "--min-ms")) {
            char *end;
            min_ms = strtod(v, &end);
            if (!*v || *end || !(min_ms >= 0 && min_ms <= 1e5)) rc = qk_errf(&err, "--min-ms wants 0..100000, got '%s'", v);
        } else if (!strcmp(a, "--clock")) {
            if (!strcmp(v, "wall")) clock_id = CLOCK_MONOTONIC;
            else if (!strcmp(v, "cpu")) clock_id = CLOCK_PROCESS_CPUTIME_ID;
            else rc = qk_errf(&err, "unknown clock '%s' (wall, cpu)", v);
        } else if (!strcmp(a, "-o") || !strcmp(a, "--output")) {
            fmt = v;
            if (strcmp(v, "md") && strcmp(v, "csv") && strcmp(v, "json"))
                rc = qk_errf(&err, "unknown output format '%s' (md, csv, json)", v);
        } else {
            snprintf(msg, sizeof msg, "unknown option '%s'", a);
            return die(msg, "see qk-matmul-bench --help");
        }
        if (rc) {
            snprintf(msg, sizeof msg, "%s: %s", a, err.msg);
            return die(msg, "see qk-matmul-bench --help");
        }
    }
    qk_type types[MAX_ITEMS];
    shape shapes[MAX_ITEMS];
    int n_types, n_shapes;
    if (parse_types(types_s, types, &n_types, &err) || parse_shapes(shapes_s, shapes, &n_shapes, &err) ||
        (ms.n == 0 && qk_int_list_parse(&ms, m_s, 1, &err)) || (threads.n == 0 && qk_int_list_push(&threads, 1, &err)) ||
        (tiles.n == 0 && qk_int_list_push(&tiles, QK_MATMUL_TILE_FLOATS, &err)))
        return die(err.msg, "see qk-matmul-bench --help");
    if (tiles.n > MAX_ITEMS) return die("too many --tile values", "at most 32");

    int64_t max_m = 0, max_k = 0, max_n = 0;
    for (int i = 0; i < ms.n; i++) max_m = ms.v[i] > max_m ? ms.v[i] : max_m;
    for (int i = 0; i < n_shapes; i++) {
        max_k = shapes[i].k > max_k ? shapes[i].k : max_k;
        max_n = shapes[i].n > max_n ? shapes[i].n : max_n;
    }
    float *x = malloc(sizeof(float) * (size_t)(max_m * max_k));
    float *y = malloc(sizeof(float) * (size_t)(max_m * max_n));
    float *y_ref = malloc(sizeof(float) * (size_t)(max_m * max_n));
    float *wsrc = malloc(sizeof(float) * (size_t)max_k);
    if (!x || !y || !y_ref || !wsrc) return die("out of memory", NULL);
    uint64_t seed = 0x9E3779B97F4A7C15ULL;
    for (int64_t i = 0; i < max_m * max_k; i++) x[i] = frand(&seed);

    int fail = 0;
    if (!strcmp(fmt, "md")) {
        printf("| type | threads | m | shapes | vec_dot GFLOP/s |");
        for (int ti = 0; ti < tiles.n; ti++) printf(" sgemm tile=%d GFLOP/s |", tiles.v[ti]);
        printf(" faster | auto |\n|---|--:|--:|---|--:|");
        for (int ti = 0; ti < tiles.n; ti++) printf("--:|");
        printf("---|---|\n");
    } else if (!strcmp(fmt, "csv")) {
        printf("type,threads,m,k,n,path,tile_floats,seconds,gflops,auto_path\n");
    } else {
        printf("[");
    }
    int first_json = 1;
    char suggest[MAX_ITEMS * MAX_ITEMS][96];
    int n_suggest = 0;

    for (int ti = 0; ti < n_types; ti++) {
        const qk_type t = types[ti];
        const qk_type_traits *tt = qk_type_get(t);
        void *w[MAX_ITEMS] = {0};
        char shape_names[256] = "";
        for (int si = 0; si < n_shapes; si++) {
            if (shapes[si].k % tt->blck_size) continue;
            size_t row = qk_row_size(t, shapes[si].k);
            w[si] = malloc(row * (size_t)shapes[si].n);
            if (!w[si]) return die("out of memory", NULL);
            for (int64_t r = 0; r < shapes[si].n; r++) {
                for (int64_t l = 0; l < shapes[si].k; l++) wsrc[l] = frand(&seed);
                tt->quantize_ref(wsrc, (uint8_t *)w[si] + r * row, shapes[si].k);
            }
            size_t len = strlen(shape_names);
            snprintf(shape_names + len, sizeof shape_names - len, "%s%lldx%lld", len ? "," : "",
                     (long long)shapes[si].k, (long long)shapes[si].n);
        }
        if (!shape_names[0]) {
            fprintf(stderr, "qk-matmul-bench: %s: no shape has K a multiple of %lld, skipped\n", tt->name,
                    (long long)tt->blck_size);
            continue;
        }
        for (int hi = 0; hi < threads.n; hi++) {
            qk_pool *pool = qk_pool_new(threads.v[hi]);
            if (!pool) return die("cannot start the worker threads", "try fewer -t");
            qk_matmul_scratch sc = {0};
            point pts[MAX_ITEMS * 4];
            int np = ms.n < MAX_ITEMS * 4 ? ms.n : MAX_ITEMS * 4;
            for (int mi = 0; mi < np; mi++) {
                const int64_t m = ms.v[mi];
                point *pt = &pts[mi];
                memset(pt, 0, sizeof *pt);
                fprintf(stderr, "qk-matmul-bench: %s t=%d m=%lld\n", tt->name, threads.v[hi], (long long)m);
                for (int si = 0; si < n_shapes; si++) {
                    if (!w[si]) continue;
                    const shape *sh = &shapes[si];
                    pt->flops += 2.0 * (double)m * (double)sh->k * (double)sh->n;
                    pt->n_shapes++;
                    sc.force_path = QK_MATMUL_VEC_DOT;
                    double sd = best_of(reps, pool, &sc, t, w[si], sh, x, m, y_ref, min_ms * 1e-3, &fail);
                    pt->dot_s += sd;
                    if (!strcmp(fmt, "csv"))
                        printf("%s,%d,%lld,%lld,%lld,vec_dot,0,%.9f,%.3f,%s\n", tt->name, threads.v[hi], (long long)m,
                               (long long)sh->k, (long long)sh->n, sd, 2.0 * m * sh->k * sh->n / sd * 1e-9,
                               qk_matmul_choose(t, m, sh->k) == QK_MATMUL_SGEMM ? "sgemm" : "vec_dot");
                    sc.force_path = QK_MATMUL_SGEMM;
                    for (int ki = 0; ki < tiles.n; ki++) {
                        sc.tile_floats = tiles.v[ki];
                        double sg = best_of(reps, pool, &sc, t, w[si], sh, x, m, y, min_ms * 1e-3, &fail);
                        pt->gemm_s[ki] += sg;
                        double d = rel_diff(y, y_ref, (size_t)(m * sh->n));
                        if (d > 1e-3) {
                            fprintf(stderr, "qk-matmul-bench: error: %s m=%lld %lldx%lld: paths differ by %.3g — a bug\n",
                                    tt->name, (long long)m, (long long)sh->k, (long long)sh->n, d);
                            fail = 1;
                        }
                        if (!strcmp(fmt, "csv"))
                            printf("%s,%d,%lld,%lld,%lld,sgemm,%d,%.9f,%.3f,%s\n", tt->name, threads.v[hi],
                                   (long long)m, (long long)sh->k, (long long)sh->n, tiles.v[ki], sg,
                                   2.0 * m * sh->k * sh->n / sg * 1e-9,
                                   qk_matmul_choose(t, m, sh->k) == QK_MATMUL_SGEMM ? "sgemm" : "vec_dot");
                    }
                    sc.tile_floats = 0;
                }
                double best_g = INFINITY;
                for (int ki = 0; ki < tiles.n; ki++) best_g = pt->gemm_s[ki] < best_g ? pt->gemm_s[ki] : best_g;
                const char *faster = best_g < pt->dot_s ? "sgemm" : "vec_dot";
                const char *autop = qk_matmul_choose(t, m, shapes[0].k) == QK_MATMUL_SGEMM ? "sgemm" : "vec_dot";
                if (!strcmp(fmt, "md")) {
                    printf("| %s | %d | %lld | %s | %.1f |", tt->name, threads.v[hi], (long long)m, shape_names,
                           pt->flops / pt->dot_s * 1e-9);
                    for (int ki = 0; ki < tiles.n; ki++) printf(" %.1f |", pt->flops / pt->gemm_s[ki] * 1e-9);
                    printf(" %s | %s |\n", faster, autop);
                } else if (!strcmp(fmt, "json")) {
                    printf("%s\n  {\"type\": \"%s\", \"threads\": %d, \"m\": %lld, \"shapes\": \"%s\", "
                           "\"vec_dot_gflops\": %.3f, \"sgemm_gflops\": [",
                           first_json ? "" : ",", tt->name, threads.v[hi], (long long)m, shape_names,
                           pt->flops / pt->dot_s * 1e-9);
                    for (int ki = 0; ki < tiles.n; ki++)
                        printf("%s{\"tile_floats\": %d, \"gflops\": %.3f}", ki ? ", " : "", tiles.v[ki],
                               pt->flops / pt->gemm_s[ki] * 1e-9);
                    printf("], \"faster\": \"%s\", \"auto\": \"%s\"}", faster, autop);
                    first_json = 0;
                }
                fflush(stdout);
            }
            /* suggested switch-over: smallest m from which sgemm wins at every larger m */
            int64_t from = -1;
            for (int mi = np - 1; mi >= 0; mi--) {
                double best_g = INFINITY;
                for (int ki = 0; ki < tiles.n; ki++) best_g = pts[mi].gemm_s[ki] < best_g ? pts[mi].gemm_s[ki] : best_g;
                if (best_g <= pts[mi].dot_s) from = ms.v[mi];
                else break;
            }
            if (n_suggest < MAX_ITEMS * MAX_ITEMS) {
                if (from < 0)
                    snprintf(suggest[n_suggest++], sizeof suggest[0], "%s t=%d: vec_dot at every measured m (auto: sgemm from m=%lld)",
                             tt->name, threads.v[hi], (long long)qk_matmul_blas_min_m(t));
                else
                    snprintf(suggest[n_suggest++], sizeof suggest[0], "%s t=%d: sgemm from m=%lld (auto: from m=%lld)",
                             tt->name, threads.v[hi], (long long)from, (long long)qk_matmul_blas_min_m(t));
            }
            qk_matmul_scratch_free(&sc);
            qk_pool_free(pool);
        }
        for (int si = 0; si < n_shapes; si++) free(w[si]);
    }
    if (!strcmp(fmt, "json")) printf("\n]\n");
    if (!strcmp(fmt, "md")) {
        printf("\nsuggested switch-over (measured m only):\n");
        for (int i = 0; i < n_suggest; i++) printf("  %s\n", suggest[i]);
    }
    free(x);
    free(y);
    free(y_ref);
    free(wsrc);
    qk_int_list_free(&threads);
    qk_int_list_free(&ms);
    qk_int_list_free(&tiles);
    if (fail) return die("some measurements failed (see above)", NULL);
    return 0;
}
