/*
 * mixture_apply.c — the quantization driver (see mixture_apply.h): GGUF in, plan from
 * mixture.c, rows converted on the worker pool, GGUF out through the atomic writer.
 *
 * Row conversion: each tensor's rows are split evenly across the pool threads (a tensor
 * below 32 x 512 elements per thread uses fewer threads, as llama-quantize's chunking
 * does); a thread converts blocks of whole rows to F32 with the input type's to_float,
 * checks them for NaN/Inf, and quantizes them with the output type's quantize_ref. Rows are
 * independent, so the bytes do not depend on the thread count.
 */
#include "mixture_apply.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "ftype.h"
#include "gguf.h"
#include "model.h" /* qk_ftype_name */
#include "threads.h"

#define MIB (1024.0 * 1024.0)
#define MIN_ELEMS_PER_THREAD (32 * 512) /* llama-quantize's minimum chunk */
#define ROW_BLOCK_FLOATS 65536          /* F32 scratch per thread, in elements */

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

void qk_quant_result_free(qk_quant_result *res) {
    if (!res) return;
    free(res->tensors);
    res->tensors = NULL;
    res->n_tensors = 0;
}

double qk_quant_bpw(const qk_quant_result *res) {
    return res->n_params ? 8.0 * (double)res->dst_bytes / (double)res->n_params : 0.0;
}

/* An integer hyper-parameter; a per-layer array counts as its first element (what
 * llama.cpp's n_gqa() uses: layer 0). */
static int32_t kv_int(const gguf_ctx *g, const char *arch, const char *suffix, int32_t dflt) {
    char key[160];
    snprintf(key, sizeof key, "%s.%s", arch, suffix);
    int64_t v;
    if (gguf_get_i64(g, key, &v) == 0) return v > INT32_MAX ? INT32_MAX : v < 0 ? 0 : (int32_t)v;
    int64_t i = gguf_find_key(g, key);
    if (i >= 0) {
        const gguf_kv *kv = &g->kv[i];
        if (kv->type == GGUF_TYPE_ARRAY && kv->n > 0 && kv->arr_type != GGUF_TYPE_STRING &&
            kv->arr_type != GGUF_TYPE_ARRAY && gguf_vtype_size(kv->arr_type) > 0) {
            double d = gguf_scalar_as_double(kv->arr_type, kv->data);
            if (d >= 0 && d <= INT32_MAX) return (int32_t)d;
        }
    }
    return dflt;
}

/* --------------------------------------------------------------- row conversion ------ */

typedef struct conv_job {
    const uint8_t *src;
    uint8_t *dst;              /* NULL: only check the rows (copied tensors) */
    const qk_type_traits *st, *dt;
    int64_t ne0, nrows;
    size_t src_row, dst_row;   /* bytes per row */
    int nth_eff;               /* threads that take part */
    int64_t *bad_row;          /* per thread: first non-finite row, or -1 */
    int *oom;                  /* per thread */
} conv_job;

static int64_t first_nonfinite(const float *x, int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, &x[i], 4);
        if ((u & 0x7f800000u) == 0x7f800000u) return i;
    }
    return -1;
}

static void conv_task(void *arg, int ith, int nth) {
    (void)nth;
    conv_job *j = arg;
    if (ith >= j->nth_eff) return;
    int64_t r0 = j->nrows * ith / j->nth_eff, r1 = j->nrows * (ith + 1) / j->nth_eff;
    if (r0 >= r1) return;
    int64_t per = ROW_BLOCK_FLOATS / j->ne0;
    if (per < 1) per = 1;
    float *buf = malloc(sizeof(float) * (size_t)(per * j->ne0));
    if (!buf) {
        j->oom[ith] = 1;
        return;
    }
    for (int64_t r = r0; r < r1; r += per) {
        int64_t nr = r1 - r < per ? r1 - r : per;
        j->st->to_float(j->src + (size_t)r * j->src_row, buf, nr * j->ne0);
        int64_t bad = first_nonfinite(buf, nr * j->ne0);
        if (bad >= 0) {
            j->bad_row[ith] = r + bad / j->ne0;
            break;
        }
        if (j->dst) j->dt->quantize_ref(buf, j->dst + (size_t)r * j->dst_row, nr * j->ne0);
    }
    free(buf);
}

/* Convert (dst != NULL) or only check (dst == NULL) all rows of one tensor. */
static int convert_rows(qk_pool *pool, const gguf_tensor *t, qk_type dst_type, void *dst, qk_err *err) {
    int nth = qk_pool_size(pool);
    int64_t nel = gguf_tensor_nelements(t);
    conv_job j = {0};
    j.src = t->data;
    j.dst = dst;
    j.st = qk_type_get(t->type);
    j.dt = qk_type_get(dst_type);
    j.ne0 = t->ne[0];
    j.nrows = nel / t->ne[0];
    j.src_row = qk_row_size(t->type, t->ne[0]);
    j.dst_row = qk_row_size(dst_type, t->ne[0]);
    int64_t want = nel / MIN_ELEMS_PER_THREAD;
    j.nth_eff = want < 1 ? 1 : want < nth ? (int)want : nth;
    if (j.nth_eff > j.nrows) j.nth_eff = (int)j.nrows;
    j.bad_row = malloc(sizeof(int64_t) * (size_t)nth);
    j.oom = calloc((size_t)nth, sizeof(int));
    if (!j.bad_row || !j.oom) {
        free(j.bad_row);
        free(j.oom);
        return qk_errf(err, "out of memory converting tensor '%s'", t->name);
    }
    for (int i = 0; i < nth; i++) j.bad_row[i] = -1;
    qk_pool_run(pool, conv_task, &j);
    int64_t bad = -1;
    int oom = 0;
    for (int i = 0; i < nth; i++) {
        if (j.bad_row[i] >= 0 && (bad < 0 || j.bad_row[i] < bad)) bad = j.bad_row[i];
        oom |= j.oom[i];
    }
    free(j.bad_row);
    free(j.oom);
    if (bad >= 0)
        return qk_errf(err, "tensor '%s' has a NaN or Inf weight in row %lld — the input model is corrupt",
                       t->name, (long long)bad);
    if (oom) return qk_errf(err, "out of memory converting tensor '%s'", t->name);
    return 0;
}

/* ---------------------------------------------------------------- reporting --------- */

static void print_tensor(FILE *f, size_t k, size_t n, const qk_quant_tensor *t) {
    if (!f) return;
    char sb[16], db[16], wb[16];
    qk_mix_ggml_name(t->src_type, sb);
    qk_mix_ggml_name(t->choice.type, db);
    qk_mix_ggml_name(t->choice.wanted, wb);
    if (t->choice.fallback)
        fprintf(f,
                "warning: %s - tensor cols %lld x %lld are not divisible by %lld, required for %s - using "
                "fallback quantization %s\n",
                t->name, (long long)t->ne[0], (long long)t->ne[1],
                (long long)qk_type_get(t->choice.wanted)->blck_size, wb, db);
    fprintf(f, "[%4zu/%4zu] %36s - [%5lld, %5lld, %5lld, %5lld], type = %6s, ", k + 1, n, t->name,
            (long long)t->ne[0], (long long)t->ne[1], (long long)t->ne[2], (long long)t->ne[3], sb);
    if (t->choice.quantize)
        fprintf(f, "converting to %s .. size = %8.2f MiB -> %8.2f MiB\n", db, t->src_bytes / MIB,
                t->dst_bytes / MIB);
    else
        fprintf(f, "size = %8.3f MB\n", t->src_bytes / MIB);
    fflush(f);
}

static void print_summary(FILE *f, const qk_quant_opts *o, const qk_quant_result *r) {
    if (!f) return;
    double src_bpw = r->n_params ? 8.0 * (double)r->src_bytes / (double)r->n_params : 0.0;
    fprintf(f, "model size  = %8.2f MiB (%.2f bpw)\n", r->src_bytes / MIB, src_bpw);
    fprintf(f, "quant size  = %8.2f MiB (%.2f bpw, %llu parameters)\n", r->dst_bytes / MIB, qk_quant_bpw(r),
            (unsigned long long)r->n_params);
    fprintf(f, "%s%d of %d tensor(s) required fallback quantization\n", r->mix.n_fallback ? "WARNING: " : "",
            r->mix.n_fallback, r->mix.n_checked);
    if (o->dry_run) {
        fprintf(f, "dry run: nothing written\n");
    } else {
        fprintf(f, "output: '%s', %llu bytes\n", o->out_path, (unsigned long long)r->file_bytes);
        fprintf(f, "quantize time = %10.2f ms\n", r->quantize_ms);
    }
    fprintf(f, "   total time = %10.2f ms\n", r->total_ms);
    fflush(f);
}

/* ----------------------------------------------------------------- the job ---------- */

static int same_file(const char *a, const char *b) {
    struct stat sa, sb;
    return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

static int write_output(const qk_quant_opts *o, gguf_ctx *g, const size_t *order, qk_quant_result *r,
                        qk_err *err) {
    qk_pool *pool = qk_pool_new(o->n_threads);
    if (!pool) return qk_errf(err, "cannot start %d worker threads", o->n_threads);
    r->n_threads = qk_pool_size(pool);
    gguf_writer *w = gguf_writer_new(o->out_path, err);
    if (!w) {
        qk_pool_free(pool);
        return -1;
    }
    void *buf = NULL;
    size_t cap = 0;
    for (uint64_t i = 0; i < g->n_kv; i++) gguf_writer_copy_kv(w, &g->kv[i]);
    /* llama.cpp's gguf_set_val_* removes the key and appends it: both keys end up last, in
     * this order, which keeps the output byte-identical to llama-quantize's. */
    gguf_writer_remove_key(w, "general.quantization_version");
    gguf_writer_set_u32(w, "general.quantization_version", 2);
    if (r->file_type != 0xffffffffu) {
        gguf_writer_remove_key(w, "general.file_type");
        gguf_writer_set_u32(w, "general.file_type", r->file_type);
    }
    for (size_t k = 0; k < r->n_tensors; k++) {
        const qk_quant_tensor *t = &r->tensors[k];
        if (gguf_writer_add_tensor(w, t->name, t->choice.type, t->n_dims, t->ne, err) < 0) goto fail;
    }
    if (gguf_writer_write_header(w, err)) goto fail;
    for (size_t k = 0; k < r->n_tensors; k++) {
        const qk_quant_tensor *t = &r->tensors[k];
        const gguf_tensor *gt = &g->tensors[order[k]];
        const void *data = gt->data;
        if (t->choice.quantize) {
            if (t->dst_bytes > cap) {
                free(buf);
                cap = t->dst_bytes;
                buf = malloc(cap);
                if (!buf) {
                    qk_errf(err, "out of memory (%llu bytes for tensor '%s')", (unsigned long long)cap, t->name);
                    goto fail;
                }
            }
            if (convert_rows(pool, gt, t->choice.type, buf, err)) goto fail;
            data = buf;
        } else if (!qk_type_get(gt->type)->is_quantized && qk_type_get(gt->type)->to_float) {
            if (convert_rows(pool, gt, gt->type, NULL, err)) goto fail; /* NaN/Inf check only */
        }
        if (gguf_writer_write_tensor_data(w, data, t->dst_bytes, err)) goto fail;
        print_tensor(o->log, k, r->n_tensors, t);
    }
    r->file_bytes = gguf_writer_total_size(w);
    free(buf);
    qk_pool_free(pool);
    return gguf_writer_finish(w, err);
fail:
    free(buf);
    gguf_writer_abort(w);
    qk_pool_free(pool);
    return -1;
}

int qk_quantize_file(const qk_quant_opts *o, qk_quant_result *res, qk_err *err) {
    double t0 = now_ms();
    qk_quant_result local;
    qk_quant_result *r = res ? res : &local;
    memset(r, 0, sizeof *r);
    r->file_type = 0xffffffffu;
    int rc = -1;
    qk_mix_tensor *mt = NULL;
    size_t *order = NULL;
    qk_mix_choice *ch = NULL;

    gguf_ctx *g = gguf_open(o->in_path, err);
    if (!g) goto done;
    int64_t split = 0;
    if (gguf_get_i64(g, "split.count", &split) == 0 && split > 1) {
        qk_errf(err, "%s: split GGUF files (shard of %lld) are not supported — merge the shards first",
                o->in_path, (long long)split);
        goto done;
    }
    if (!o->dry_run && o->out_path && same_file(o->in_path, o->out_path)) {
        qk_errf(err, "output '%s' is the input file — choose another output name", o->out_path);
        goto done;
    }

    /* Model facts for the rules. */
    char arch[64] = "";
    gguf_str as;
    if (gguf_get_str(g, "general.architecture", &as) == 0)
        snprintf(arch, sizeof arch, "%.*s", (int)(as.len < 63 ? as.len : 63), as.ptr);
    qk_mix_model m = {arch, 0, 0, 0, 0};
    if (arch[0]) {
        m.n_layer = kv_int(g, arch, "block_count", 0);
        m.n_head = kv_int(g, arch, "attention.head_count", 0);
        m.n_head_kv = kv_int(g, arch, "attention.head_count_kv", m.n_head);
        m.n_expert = kv_int(g, arch, "expert_count", 0);
    }

    size_t n = g->n_tensors;
    mt = calloc(n ? n : 1, sizeof *mt);
    order = calloc(n ? n : 1, sizeof *order);
    ch = calloc(n ? n : 1, sizeof *ch);
    r->tensors = calloc(n ? n : 1, sizeof *r->tensors);
    if (!mt || !order || !ch || !r->tensors) {
        qk_errf(err, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        const gguf_tensor *t = &g->tensors[i];
        mt[i].name = t->name;
        memcpy(mt[i].ne, t->ne, sizeof mt[i].ne);
        mt[i].type = t->type;
    }
    if (qk_mix_plan(&o->mix, &m, mt, n, order, ch, &r->mix, err)) goto done;

    r->n_tensors = n;
    for (size_t k = 0; k < n; k++) {
        const gguf_tensor *gt = &g->tensors[order[k]];
        qk_quant_tensor *t = &r->tensors[k];
        snprintf(t->name, sizeof t->name, "%s", gt->name);
        t->n_dims = gt->n_dims;
        memcpy(t->ne, gt->ne, sizeof t->ne);
        t->src_type = gt->type;
        t->choice = ch[order[k]];
        int64_t nel = gguf_tensor_nelements(gt);
        t->src_bytes = gt->nbytes;
        t->dst_bytes = (uint64_t)(nel / t->ne[0]) * qk_row_size(t->choice.type, t->ne[0]);
        r->n_params += (uint64_t)nel;
        r->src_bytes += t->src_bytes;
        r->dst_bytes += t->dst_bytes;
    }
    if (o->mix.only_copy) {
        uint32_t ft;
        if (gguf_get_u32(g, "general.file_type", &ft) == 0) r->file_type = ft;
    } else {
        r->file_type = o->mix.ftype;
    }

    if (o->log) {
        const char *label = o->ftype_label ? o->ftype_label : qk_ftype_name(o->mix.ftype);
        if (o->dry_run)
            fprintf(o->log, "qk-quantize: dry run: '%s' as %s\n", o->in_path, label);
        else
            fprintf(o->log, "qk-quantize: quantizing '%s' to '%s' as %s using %d threads\n", o->in_path,
                    o->out_path, label, o->n_threads > 0 ? o->n_threads : qk_cpu_count());
        fprintf(o->log, "qk-quantize: %s: %llu tensors, %llu KV pairs, arch '%s', %d layers, n_head %d, n_head_kv %d\n",
                o->in_path, (unsigned long long)g->n_tensors, (unsigned long long)g->n_kv, arch, m.n_layer,
                m.n_head, m.n_head_kv);
    }
    double tq = now_ms();
    if (o->dry_run) {
        for (size_t k = 0; k < n; k++) print_tensor(o->log, k, n, &r->tensors[k]);
    } else {
        if (!o->out_path) {
            qk_errf(err, "no output file given");
            goto done;
        }
        if (write_output(o, g, order, r, err)) goto done;
    }
    r->quantize_ms = now_ms() - tq;
    r->total_ms = now_ms() - t0;
    print_summary(o->log, o, r);
    rc = 0;
done:
    free(mt);
    free(order);
    free(ch);
    if (g) gguf_close(g);
    if (!res) qk_quant_result_free(&local);
    return rc;
}
