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
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "matmul.h"
#include "threads.h"
#include "tool.h"
#include "types.h"

#define MAX_ITEMS 32
#define MAX_M (MAX_ITEMS * 4) /* token counts m */

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
        "Columns: GFLOP/s (2*m*K*N per call) of the vec_dot path, of the integer gemm path\n"
        "(types with a gemm kernel, else -) and of the sgemm path (per\n"
        "tile size), the faster one, and the path the engine takes today (auto). After the\n"
        "table (md only), the suggested switch-over per type and thread count: the smallest\n"
        "m from which sgemm is at least as fast at every larger measured m.\n",
        DEFAULT_TYPES, DEFAULT_M, DEFAULT_SHAPES, QK_MATMUL_TILE_FLOATS);
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
    double igemm_s;           /* integer gemm path; 0: the type has none */
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


typedef enum out_format { FMT_MD, FMT_CSV, FMT_JSON } out_format;

typedef struct opts {
    qk_type types[MAX_ITEMS];
    int n_types;
    shape shapes[MAX_ITEMS];
    int n_shapes;
    int32_t ms[MAX_M], threads[MAX_ITEMS], tiles[MAX_ITEMS];
    size_t n_m, n_threads, n_tiles;
    int32_t reps;
    double min_ms;
    clockid_t clock;
    out_format fmt;
} opts;

/* --types: comma-separated ggml type names, each one a matmul can take as its weight. */
static int parse_types(const char *v, opts *o) {
    o->n_types = 0;
    for (const char *p = v;; p++) {
        char name[64];
        const size_t len = strcspn(p, ",");
        if (len == 0 || len >= sizeof name)
            return qk_cli_error("--types: bad type list '%s' — run qk-matmul-bench --help", v);
        memcpy(name, p, len);
        name[len] = 0;
        qk_type t;
        if (qk_type_from_name(name, &t)) return qk_cli_error("--types: unknown type '%s' — run qk-matmul-bench --help", name);
        const qk_type_traits *tt = qk_type_get(t);
        if (!tt->vec_dot || !tt->to_float || !tt->quantize_ref)
            return qk_cli_error("--types: type %s cannot be a matmul weight — run qk-matmul-bench --help", name);
        if (o->n_types == MAX_ITEMS) return qk_cli_error("--types: at most %d types — run qk-matmul-bench --help", MAX_ITEMS);
        o->types[o->n_types++] = t;
        p += len;
        if (!*p) return 0;
    }
}

/* --shapes: comma-separated KxN, each of K and N from 1 to 2^20. */
static int parse_shapes(const char *v, opts *o) {
    o->n_shapes = 0;
    for (const char *p = v;; p++) {
        char item[64];
        const size_t len = strcspn(p, ",");
        char *x = NULL;
        if (len > 0 && len < sizeof item) {
            memcpy(item, p, len);
            item[len] = 0;
            x = strpbrk(item, "xX");
        }
        if (!x) return qk_cli_error("--shapes: bad shape list '%s' (want KxN,...) — run qk-matmul-bench --help", v);
        if (o->n_shapes == MAX_ITEMS) return qk_cli_error("--shapes: at most %d shapes — run qk-matmul-bench --help", MAX_ITEMS);
        *x = 0;
        shape *sh = &o->shapes[o->n_shapes++];
        if (qk_cli_int("--shapes K", item, 1, 1 << 20, &sh->k) || qk_cli_int("--shapes N", x + 1, 1, 1 << 20, &sh->n))
            return QK_CLI_ERROR;
        p += len;
        if (!*p) return 0;
    }
}

static int parse_args(int argc, char **argv, opts *o) {
    enum { OPT_TYPES = 256, OPT_M, OPT_SHAPES, OPT_TILE, OPT_MIN_MS, OPT_CLOCK };
    static const struct option LONG[] = {{"types", required_argument, NULL, OPT_TYPES},
                                         {"m", required_argument, NULL, OPT_M},
                                         {"shapes", required_argument, NULL, OPT_SHAPES},
                                         {"threads", required_argument, NULL, 't'},
                                         {"tile", required_argument, NULL, OPT_TILE},
                                         {"repetitions", required_argument, NULL, 'r'},
                                         {"min-ms", required_argument, NULL, OPT_MIN_MS},
                                         {"clock", required_argument, NULL, OPT_CLOCK},
                                         {"output", required_argument, NULL, 'o'},
                                         {"help", no_argument, NULL, 'h'},
                                         {0}};
    memset(o, 0, sizeof *o);
    o->reps = 5;
    o->min_ms = 20;
    o->clock = CLOCK_MONOTONIC;
    o->fmt = FMT_MD;
    parse_types(DEFAULT_TYPES, o);
    parse_shapes(DEFAULT_SHAPES, o);
    qk_cli_i32_list("--m", DEFAULT_M, 1, QK_CLI_MAX_TOKENS, o->ms, MAX_M, &o->n_m);
    int c;
    while ((c = qk_cli_next(argc, argv, ":t:r:o:h", LONG)) != -1) {
        int rc = 0;
        switch (c) {
        case OPT_TYPES: rc = parse_types(optarg, o); break;
        case OPT_M: /* replaces the default list */
            o->n_m = 0;
            rc = qk_cli_i32_list("--m", optarg, 1, QK_CLI_MAX_TOKENS, o->ms, MAX_M, &o->n_m);
            break;
        case OPT_SHAPES: rc = parse_shapes(optarg, o); break;
        case 't': rc = qk_cli_i32_list("-t", optarg, 1, QK_CLI_MAX_THREADS, o->threads, MAX_ITEMS, &o->n_threads); break;
        case OPT_TILE: rc = qk_cli_i32_list("--tile", optarg, 1, 1 << 30, o->tiles, MAX_ITEMS, &o->n_tiles); break;
        case 'r': rc = qk_cli_i32("-r", optarg, 1, 1000, &o->reps); break;
        case OPT_MIN_MS: rc = qk_cli_double("--min-ms", optarg, 0, 1e5, &o->min_ms); break;
        case OPT_CLOCK:
            if (!strcmp(optarg, "wall")) o->clock = CLOCK_MONOTONIC;
            else if (!strcmp(optarg, "cpu")) o->clock = CLOCK_PROCESS_CPUTIME_ID;
            else rc = qk_cli_error("--clock: unknown clock '%s' (wall, cpu) — run qk-matmul-bench --help", optarg);
            break;
        case 'o':
            if (!strcmp(optarg, "md")) o->fmt = FMT_MD;
            else if (!strcmp(optarg, "csv")) o->fmt = FMT_CSV;
            else if (!strcmp(optarg, "json")) o->fmt = FMT_JSON;
            else rc = qk_cli_error("-o: unknown output format '%s' (md, csv, json) — run qk-matmul-bench --help", optarg);
            break;
        case 'h': usage(stdout); return QK_CLI_DONE;
        default: return QK_CLI_ERROR;
        }
        if (rc) return QK_CLI_ERROR;
    }
    if (optind < argc) return qk_cli_error("unexpected argument '%s' — run qk-matmul-bench --help", argv[optind]);
    if (o->n_threads == 0) o->threads[o->n_threads++] = 1;
    if (o->n_tiles == 0) o->tiles[o->n_tiles++] = QK_MATMUL_TILE_FLOATS;
    return QK_CLI_RUN;
}

/* One run over every type, thread count and m: the inputs and what was printed. */
typedef struct run {
    const opts *o;
    float *x;           /* activations, max m x max K, reproducible */
    float *y, *y_ref;   /* outputs of the sgemm and vec_dot paths, max m x max N */
    float *wsrc;        /* one weight row before quantization */
    uint64_t seed;
    int fail;           /* a call failed or the paths disagreed */
    int first_json;
    char suggest[MAX_ITEMS * MAX_ITEMS][96]; /* the md tail: suggested switch-over lines */
    int n_suggest;
} run;

static void run_free(run *r) {
    free(r->x);
    free(r->y);
    free(r->y_ref);
    free(r->wsrc);
}

/* Buffers for the largest m and shape, and the activations. Returns 0 or -1 (out of memory). */
static int run_init(run *r, const opts *o) {
    memset(r, 0, sizeof *r);
    r->o = o;
    r->seed = 0x9E3779B97F4A7C15ULL;
    r->first_json = 1;
    int64_t max_m = 0, max_k = 0, max_n = 0;
    for (size_t i = 0; i < o->n_m; i++) max_m = o->ms[i] > max_m ? o->ms[i] : max_m;
    for (int i = 0; i < o->n_shapes; i++) {
        max_k = o->shapes[i].k > max_k ? o->shapes[i].k : max_k;
        max_n = o->shapes[i].n > max_n ? o->shapes[i].n : max_n;
    }
    r->x = malloc(sizeof(float) * (size_t)(max_m * max_k));
    r->y = malloc(sizeof(float) * (size_t)(max_m * max_n));
    r->y_ref = malloc(sizeof(float) * (size_t)(max_m * max_n));
    r->wsrc = malloc(sizeof(float) * (size_t)max_k);
    if (!r->x || !r->y || !r->y_ref || !r->wsrc) return -1;
    for (int64_t i = 0; i < max_m * max_k; i++) r->x[i] = frand(&r->seed);
    return 0;
}

static const char *path_name(qk_type t, int64_t m, int64_t k) {
    const qk_matmul_path p = qk_matmul_choose(t, m, k);
    return p == QK_MATMUL_SGEMM ? "sgemm" : p == QK_MATMUL_GEMM ? "gemm" : "vec_dot";
}

static void print_head(const opts *o) {
    if (o->fmt == FMT_MD) {
        printf("| type | threads | m | shapes | vec_dot GFLOP/s | int gemm GFLOP/s |");
        for (size_t ti = 0; ti < o->n_tiles; ti++) printf(" sgemm tile=%d GFLOP/s |", o->tiles[ti]);
        printf(" faster | auto |\n|---|--:|--:|---|--:|--:|");
        for (size_t ti = 0; ti < o->n_tiles; ti++) printf("--:|");
        printf("---|---|\n");
    } else if (o->fmt == FMT_CSV) {
        printf("type,threads,m,k,n,path,tile_floats,seconds,gflops,auto_path\n"); /* path: vec_dot, gemm, sgemm */
    } else {
        printf("[");
    }
}

static void print_tail(const run *r) {
    if (r->o->fmt == FMT_JSON) printf("\n]\n");
    if (r->o->fmt == FMT_MD) {
        printf("\nsuggested switch-over (measured m only):\n");
        for (int i = 0; i < r->n_suggest; i++) printf("  %s\n", r->suggest[i]);
    }
}

/* Random weights of type t for each shape whose K is a multiple of its block (w[si], NULL
 * for the others; malloc'd), and those shapes' names ("896x4864,...") in names. Returns 0
 * or -1 (out of memory). */
static int make_weights(run *r, qk_type t, void **w, char *names, size_t cap) {
    const qk_type_traits *tt = qk_type_get(t);
    names[0] = 0;
    for (int si = 0; si < r->o->n_shapes; si++) {
        const shape *sh = &r->o->shapes[si];
        if (sh->k % tt->blck_size) continue;
        size_t row = qk_row_size(t, sh->k);
        w[si] = malloc(row * (size_t)sh->n);
        if (!w[si]) return -1;
        for (int64_t i = 0; i < sh->n; i++) {
            for (int64_t l = 0; l < sh->k; l++) r->wsrc[l] = frand(&r->seed);
            tt->quantize_ref(r->wsrc, (uint8_t *)w[si] + i * row, sh->k);
        }
        size_t len = strlen(names);
        snprintf(names + len, cap - len, "%s%lldx%lld", len ? "," : "", (long long)sh->k, (long long)sh->n);
    }
    return 0;
}

/* Time one (type, threads, m) point on every shape with weights: the vec_dot path, then
 * the sgemm path per tile size, checking that the two agree (csv: a line per timing). */
static void measure_point(run *r, qk_pool *pool, qk_matmul_scratch *sc, qk_type t, void *const *w, int n_threads,
                          int64_t m, point *pt) {
    const opts *o = r->o;
    const char *name = qk_type_get(t)->name;
    const double min_s = o->min_ms * 1e-3;
    memset(pt, 0, sizeof *pt);
    fprintf(stderr, "qk-matmul-bench: %s t=%d m=%lld\n", name, n_threads, (long long)m);
    for (int si = 0; si < o->n_shapes; si++) {
        if (!w[si]) continue;
        const shape *sh = &o->shapes[si];
        pt->flops += 2.0 * (double)m * (double)sh->k * (double)sh->n;
        pt->n_shapes++;
        sc->force_path = QK_MATMUL_VEC_DOT;
        double sd = best_of(o->reps, pool, sc, t, w[si], sh, r->x, m, r->y_ref, min_s, &r->fail);
        pt->dot_s += sd;
        if (o->fmt == FMT_CSV)
            printf("%s,%d,%lld,%lld,%lld,vec_dot,0,%.9f,%.3f,%s\n", name, n_threads, (long long)m, (long long)sh->k,
                   (long long)sh->n, sd, 2.0 * m * sh->k * sh->n / sd * 1e-9, path_name(t, m, sh->k));
        if (qk_type_get(t)->gemm) {
            sc->force_path = QK_MATMUL_GEMM;
            double sg = best_of(o->reps, pool, sc, t, w[si], sh, r->x, m, r->y, min_s, &r->fail);
            pt->igemm_s += sg;
            double d = rel_diff(r->y, r->y_ref, (size_t)(m * sh->n));
            if (d > 1e-3) {
                fprintf(stderr, "qk-matmul-bench: error: %s m=%lld %lldx%lld: gemm and vec_dot differ by %.3g — a bug\n",
                        name, (long long)m, (long long)sh->k, (long long)sh->n, d);
                r->fail = 1;
            }
            if (o->fmt == FMT_CSV)
                printf("%s,%d,%lld,%lld,%lld,gemm,0,%.9f,%.3f,%s\n", name, n_threads, (long long)m, (long long)sh->k,
                       (long long)sh->n, sg, 2.0 * m * sh->k * sh->n / sg * 1e-9, path_name(t, m, sh->k));
        }
        sc->force_path = QK_MATMUL_SGEMM;
        for (size_t ki = 0; ki < o->n_tiles; ki++) {
            sc->tile_floats = o->tiles[ki];
            double sg = best_of(o->reps, pool, sc, t, w[si], sh, r->x, m, r->y, min_s, &r->fail);
            pt->gemm_s[ki] += sg;
            double d = rel_diff(r->y, r->y_ref, (size_t)(m * sh->n));
            if (d > 1e-3) {
                fprintf(stderr, "qk-matmul-bench: error: %s m=%lld %lldx%lld: paths differ by %.3g — a bug\n", name,
                        (long long)m, (long long)sh->k, (long long)sh->n, d);
                r->fail = 1;
            }
            if (o->fmt == FMT_CSV)
                printf("%s,%d,%lld,%lld,%lld,sgemm,%d,%.9f,%.3f,%s\n", name, n_threads, (long long)m, (long long)sh->k,
                       (long long)sh->n, o->tiles[ki], sg, 2.0 * m * sh->k * sh->n / sg * 1e-9, path_name(t, m, sh->k));
        }
        sc->tile_floats = 0;
    }
}

/* The fastest sgemm time of a point, over the tile sizes. */
static double best_gemm(const opts *o, const point *pt) {
    double best = INFINITY;
    for (size_t ki = 0; ki < o->n_tiles; ki++) best = pt->gemm_s[ki] < best ? pt->gemm_s[ki] : best;
    return best;
}

/* The point's md row or json record (csv printed its lines as it measured). */
static void print_point(run *r, qk_type t, int n_threads, int64_t m, const char *shape_names, const point *pt) {
    const opts *o = r->o;
    const char *name = qk_type_get(t)->name;
    const char *faster = best_gemm(o, pt) < pt->dot_s ? "sgemm" : "vec_dot";
    if (pt->igemm_s > 0 && pt->igemm_s < pt->dot_s && pt->igemm_s < best_gemm(o, pt)) faster = "gemm";
    const char *autop = path_name(t, m, o->shapes[0].k);
    if (o->fmt == FMT_MD) {
        printf("| %s | %d | %lld | %s | %.1f |", name, n_threads, (long long)m, shape_names,
               pt->flops / pt->dot_s * 1e-9);
        if (pt->igemm_s > 0) printf(" %.1f |", pt->flops / pt->igemm_s * 1e-9);
        else printf(" - |");
        for (size_t ki = 0; ki < o->n_tiles; ki++) printf(" %.1f |", pt->flops / pt->gemm_s[ki] * 1e-9);
        printf(" %s | %s |\n", faster, autop);
    } else if (o->fmt == FMT_JSON) {
        printf("%s\n  {\"type\": \"%s\", \"threads\": %d, \"m\": %lld, \"shapes\": \"%s\", "
               "\"vec_dot_gflops\": %.3f, \"gemm_gflops\": %.3f, \"sgemm_gflops\": [",
               r->first_json ? "" : ",", name, n_threads, (long long)m, shape_names, pt->flops / pt->dot_s * 1e-9,
               pt->igemm_s > 0 ? pt->flops / pt->igemm_s * 1e-9 : 0.0);
        for (size_t ki = 0; ki < o->n_tiles; ki++)
            printf("%s{\"tile_floats\": %d, \"gflops\": %.3f}", ki ? ", " : "", o->tiles[ki],
                   pt->flops / pt->gemm_s[ki] * 1e-9);
        printf("], \"faster\": \"%s\", \"auto\": \"%s\"}", faster, autop);
        r->first_json = 0;
    }
    fflush(stdout);
}

/* The suggested switch-over for a type and thread count: the smallest m from which sgemm
 * wins at every larger measured m. */
static void add_suggestion(run *r, qk_type t, int n_threads, const point *pts) {
    const opts *o = r->o;
    int64_t from = -1;
    for (int mi = (int)o->n_m - 1; mi >= 0; mi--) {
        if (best_gemm(o, &pts[mi]) <= pts[mi].dot_s) from = o->ms[mi];
        else break;
    }
    if (r->n_suggest == MAX_ITEMS * MAX_ITEMS) return;
    const char *name = qk_type_get(t)->name;
    char *line = r->suggest[r->n_suggest++];
    if (from < 0)
        snprintf(line, sizeof r->suggest[0], "%s t=%d: vec_dot at every measured m (auto: sgemm from m=%lld)", name,
                 n_threads, (long long)qk_matmul_blas_min_m(t));
    else
        snprintf(line, sizeof r->suggest[0], "%s t=%d: sgemm from m=%lld (auto: from m=%lld)", name, n_threads,
                 (long long)from, (long long)qk_matmul_blas_min_m(t));
}

/* Every m for one type and thread count. Returns 0, or prints the error and returns 1. */
static int bench_threads(run *r, qk_type t, void *const *w, const char *shape_names, int n_threads) {
    qk_pool *pool = qk_pool_new(n_threads);
    if (!pool) return qk_fail("cannot start the worker threads — try fewer -t");
    qk_matmul_scratch sc = {0};
    point pts[MAX_M];
    for (size_t mi = 0; mi < r->o->n_m; mi++) {
        measure_point(r, pool, &sc, t, w, n_threads, r->o->ms[mi], &pts[mi]);
        print_point(r, t, n_threads, r->o->ms[mi], shape_names, &pts[mi]);
    }
    add_suggestion(r, t, n_threads, pts);
    qk_matmul_scratch_free(&sc);
    qk_pool_free(pool);
    return 0;
}

/* Every thread count for one weight type (skipped, with a note, when no shape fits its
 * block size). Returns 0, or prints the error and returns 1. */
static int bench_type(run *r, qk_type t) {
    const qk_type_traits *tt = qk_type_get(t);
    void *w[MAX_ITEMS] = {0};
    char shape_names[256];
    int status = 0;
    if (make_weights(r, t, w, shape_names, sizeof shape_names) != 0) status = qk_fail("out of memory");
    else if (!shape_names[0])
        fprintf(stderr, "qk-matmul-bench: %s: no shape has K a multiple of %lld, skipped\n", tt->name,
                (long long)tt->blck_size);
    for (size_t hi = 0; hi < r->o->n_threads && status == 0 && shape_names[0]; hi++)
        status = bench_threads(r, t, w, shape_names, r->o->threads[hi]);
    for (int si = 0; si < r->o->n_shapes; si++) free(w[si]);
    return status;
}

int main(int argc, char **argv) {
    qk_tool_init("qk-matmul-bench");
    opts o;
    int rc = parse_args(argc, argv, &o);
    if (rc) return rc < 0;

    clock_id = o.clock;
    static run r; /* ~100 KiB of suggestion lines */
    int status = run_init(&r, &o) != 0 ? qk_fail("out of memory") : 0;
    if (status == 0) print_head(&o);
    for (int ti = 0; ti < o.n_types && status == 0; ti++) status = bench_type(&r, o.types[ti]);
    if (status == 0) print_tail(&r);
    run_free(&r);
    if (status == 0 && r.fail) status = qk_fail("some measurements failed (see above)");
    return status;
}
