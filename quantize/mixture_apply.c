/*
 * mixture_apply.c — the quantization driver (see mixture_apply.h): GGUF in, plan from
 * mixture.c, GGUF out through the atomic writer, with per-tensor log lines and a summary.
 *
 * The conversion itself runs in mixture_pipeline.c: worker threads convert row chunks of
 * the whole model in file order (to_float, NaN/Inf check, from_float) while this thread
 * writes each finished tensor and prints its line. Rows are independent, so the bytes do
 * not depend on the thread count. Memory held: the input map's pages of the chunks in
 * flight (released as they are read), the output of at most ~64 MiB of converted tensors
 * (or one larger tensor), and one 256 KiB F32 chunk per worker.
 */
#include "mixture_apply.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ftype.h"
#include "gguf.h"
#include "gptq.h"
#include "mixture_pipeline.h"
#include "model.h" /* qk_ftype_name */
#include "paths.h"
#include "threads.h" /* qk_cpu_count */

#define MIB (1024.0 * 1024.0)

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

/* ---------------------------------------------------------------- reporting --------- */

/* The log's view of the job, for the per-tensor lines. */
typedef struct log_ctx {
    FILE *log;
    const qk_quant_result *r;
    const qk_mix_params *mix; /* for the rules' texts */
    bool imatrix;             /* an importance matrix is in use */
} log_ctx;

/* " (rule K: TEXT)" after the line of a tensor whose type a rule set. */
static void print_rule(FILE *f, const log_ctx *lc, const qk_quant_tensor *t) {
    if (t->choice.rule > 0) fprintf(f, " (rule %d: %s)", t->choice.rule, lc->mix->rules[t->choice.rule - 1].text);
    fputc('\n', f);
}

static void print_tensor(const log_ctx *lc, size_t k, const qk_quant_tensor *t) {
    FILE *f = lc->log;
    if (!f) return;
    const size_t n = lc->r->n_tensors;
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
    if (lc->imatrix && t->choice.quantize && !t->imatrix)
        fprintf(f, "%s: no importance data for it in the imatrix: quantized without\n", t->name);
    fprintf(f, "[%4zu/%4zu] %36s - [%5lld, %5lld, %5lld, %5lld], type = %6s, ", k + 1, n, t->name,
            (long long)t->ne[0], (long long)t->ne[1], (long long)t->ne[2], (long long)t->ne[3], sb);
    if (t->choice.quantize)
        fprintf(f, "converting to %s .. size = %8.2f MiB -> %8.2f MiB", db, t->src_bytes / MIB, t->dst_bytes / MIB);
    else
        fprintf(f, "size = %8.3f MB", t->src_bytes / MIB);
    if (t->gptq) fputs(" (GPTQ)", f);
    print_rule(f, lc, t);
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

/* The lines after the header: the importance matrix in use, and warnings for rules that
 * match no tensor (or cannot apply at all). */
static void print_setup(FILE *f, const qk_quant_opts *o, const qk_quant_result *r) {
    if (o->imatrix.path) {
        fprintf(f, "qk-quantize: imatrix '%s': %lld entries, dataset '%s', %d chunks", o->imatrix.path,
                (long long)r->imatrix_read, r->imatrix_dataset, r->imatrix_chunks);
        if (o->imatrix.n_include || o->imatrix.n_exclude)
            fprintf(f, "; %lld selected by --%s-weights", (long long)r->imatrix_used,
                    o->imatrix.n_include ? "include" : "exclude");
        fputc('\n', f);
        if (r->imatrix_used == 0)
            fprintf(f, "warning: no importance matrix entry is left: quantizing as without one\n");
    }
    const qk_mix_params *p = &o->mix;
    const qk_ftype_info *fi = p->only_copy ? NULL : qk_ftype_by_id(p->ftype);
    const qk_type_traits *dt = fi ? qk_type_get((uint32_t)fi->default_type) : NULL;
    const bool applies = dt && dt->is_quantized;
    if (p->n_rules && !applies) {
        fprintf(f, "warning: the --tensor-type rules apply only when TYPE is a quantized type (as in llama-quantize): "
                   "all %zu ignored\n", p->n_rules);
        return;
    }
    for (size_t i = 0; i < p->n_rules; i++)
        if (p->rules[i].n_matched == 0)
            fprintf(f, "warning: rule %zu '%s' (%s) matches no quantized tensor\n", i + 1, p->rules[i].text,
                    p->rules[i].origin);
}

/* ----------------------------------------------------------------- the job ---------- */

/* Per-tensor log line, called by the pipeline after each write. */
static void log_written(size_t k, void *arg) {
    const log_ctx *lc = arg;
    print_tensor(lc, k, &lc->r->tensors[k]);
}

/* Free the n pipeline entries' weights, GPTQ's bytes and the three arrays. */
static void free_pipe(qk_pipe_tensor *pt, uint8_t **pre, gguf_tensor *pre_t, size_t n) {
    for (size_t k = 0; pt && k < n; k++) free((void *)pt[k].weights);
    for (size_t k = 0; pre && k < n; k++) free(pre[k]);
    free(pt);
    free(pre);
    free(pre_t);
}

/* GPTQ for the n tensors which[0..n) (write order) named names[0..n): their Hessians in one
 * calibration run over m, then each tensor rounded into pre[which[i]]; tensors no matmul
 * reads keep plain rounding (pre stays NULL). */
static int gptq_group(const qk_quant_opts *o, const gguf_ctx *g, const size_t *order, qk_quant_result *r,
                      const qk_model *m, const char *const *names, const size_t *which, size_t n, uint8_t **pre,
                      qk_err *err) {
    const int n_threads = o->n_threads > 0 ? o->n_threads : qk_cpu_count();
    double **h = calloc(n, sizeof *h);
    uint64_t *rows = calloc(n, sizeof *rows);
    float *w = NULL;
    int rc = -1;
    if (!h || !rows) {
        qk_errf(err, "out of memory");
        goto done;
    }
    if (qk_gptq_collect(m, o->gptq_text, QK_GPTQ_CTX, o->gptq_chunks, n_threads, names, n, h, rows, err)) goto done;
    for (size_t i = 0; i < n; i++) {
        qk_quant_tensor *t = &r->tensors[which[i]];
        if (rows[i] == 0) continue;
        const gguf_tensor *gt = &g->tensors[order[which[i]]];
        const int64_t nel = gguf_tensor_nelements(gt), n_rows = nel / gt->ne[0];
        free(w);
        if (!(w = malloc((size_t)nel * sizeof *w)) || !(pre[which[i]] = malloc(t->dst_bytes))) {
            qk_errf(err, "out of memory for tensor %s", t->name);
            goto done;
        }
        qk_type_get(gt->type)->to_float(gt->data, w, nel); /* checked finite by gptq_round */
        if (qk_gptq_quantize(t->choice.type, w, n_rows, gt->ne[0], h[i], n_threads, pre[which[i]], err)) goto done;
        free(h[i]);
        h[i] = NULL;
        t->gptq = true;
        r->gptq_tokens = rows[i] > r->gptq_tokens ? rows[i] : r->gptq_tokens;
    }
    rc = 0;
done:
    for (size_t i = 0; h && i < n; i++) free(h[i]);
    free(h);
    free(rows);
    free(w);
    return rc;
}

/* --gptq: the bytes of every tensor whose output type gptq.h supports, rounded by GPTQ
 * against the calibration text, into pre[k] (write order; NULL for the others). The model
 * is loaded once more for the forward passes; the tensors go in groups whose Hessians
 * (ne[0]² doubles each) fit QK_GPTQ_GROUP_BYTES, one calibration run per group, so memory
 * stays bounded (a 0.5B model's 24 ffn_down Hessians alone are 4.5 GB). */
#define QK_GPTQ_GROUP_BYTES (1ull << 30)
static int gptq_round(const qk_quant_opts *o, const gguf_ctx *g, const size_t *order, qk_quant_result *r,
                      uint8_t **pre, qk_err *err) {
    const char **names = calloc(r->n_tensors ? r->n_tensors : 1, sizeof *names);
    size_t *which = calloc(r->n_tensors ? r->n_tensors : 1, sizeof *which);
    qk_model *m = NULL;
    size_t n = 0, n_groups = 0;
    int rc = -1;
    if (!names || !which) {
        qk_errf(err, "out of memory");
        goto done;
    }
    for (size_t k = 0; k < r->n_tensors; k++) {
        const qk_quant_tensor *t = &r->tensors[k];
        if (!t->choice.quantize || !qk_gptq_supports(t->choice.type) || qk_type_get(t->src_type)->is_quantized)
            continue;
        which[n] = k;
        names[n++] = t->name;
    }
    /* the pipeline's NaN/Inf check of every tensor it would check, before the calibration
     * run would meet a bad weight as NaN logits and could not name it */
    for (size_t k = 0; n && k < r->n_tensors; k++) {
        const qk_type_traits *st = qk_type_get(r->tensors[k].src_type);
        if (!st->is_quantized && st->to_float && qk_mix_check_finite(&g->tensors[order[k]], err)) goto done;
    }
    /* mapped: the pipeline reads the same file through g, and a copy in memory would hold
     * the weights twice */
    if (n && !(m = qk_model_open(o->in_path, true, err))) goto done;
    for (size_t a = 0; a < n; n_groups++) {
        size_t b = a;
        uint64_t bytes = 0;
        do {
            const uint64_t ne0 = (uint64_t)r->tensors[which[b]].ne[0];
            bytes += ne0 * ne0 * sizeof(double);
            b++;
        } while (b < n && bytes + (uint64_t)r->tensors[which[b]].ne[0] * r->tensors[which[b]].ne[0] * sizeof(double) <=
                              QK_GPTQ_GROUP_BYTES);
        if (gptq_group(o, g, order, r, m, names + a, which + a, b - a, pre, err)) goto done;
        a = b;
    }
    if (o->log && n) {
        size_t n_used = 0;
        for (size_t i = 0; i < n; i++) n_used += r->tensors[which[i]].gptq;
        fprintf(o->log, "qk-quantize: GPTQ: %zu tensors (%zu calibration run%s of %d chunks of %d tokens of '%s')%s\n",
                n_used, n_groups, n_groups == 1 ? "" : "s", o->gptq_chunks, QK_GPTQ_CTX, o->gptq_text,
                n_used < n ? "; the ones no matmul reads, as token_embd, keep plain rounding" : "");
    }
    rc = 0;
done:
    free(names);
    free(which);
    qk_model_free(m);
    return rc;
}

static int write_output(const qk_quant_opts *o, gguf_ctx *g, const size_t *order, const qk_imx *x,
                        const log_ctx *lc, qk_quant_result *r, qk_err *err) {
    const int n_threads = o->n_threads > 0 ? o->n_threads : qk_cpu_count();
    r->n_threads = n_threads;
    qk_pipe_tensor *pt = calloc(r->n_tensors ? r->n_tensors : 1, sizeof *pt);
    uint8_t **pre = calloc(r->n_tensors ? r->n_tensors : 1, sizeof *pre);
    gguf_tensor *pre_t = calloc(r->n_tensors ? r->n_tensors : 1, sizeof *pre_t); /* pre[k] as a tensor */
    gguf_writer *w = NULL;
    if (!pt || !pre || !pre_t) {
        qk_errf(err, "out of memory");
        goto fail;
    }
    if (o->gptq_text && gptq_round(o, g, order, r, pre, err)) goto fail;
    for (size_t k = 0; k < r->n_tensors; k++) {
        const qk_quant_tensor *t = &r->tensors[k];
        const gguf_tensor *gt = &g->tensors[order[k]];
        if (pre[k]) { /* GPTQ's bytes, written as they are */
            pre_t[k] = *gt;
            pre_t[k].type = t->choice.type;
            pre_t[k].data = pre[k];
            pre_t[k].nbytes = t->dst_bytes;
            pt[k] = (qk_pipe_tensor){&pre_t[k], t->choice.type, QK_PIPE_COPY, t->dst_bytes, NULL};
            continue;
        }
        const qk_type_traits *st = qk_type_get(gt->type);
        pt[k].src = gt;
        pt[k].dst_type = t->choice.type;
        pt[k].dst_bytes = t->dst_bytes;
        if (t->imatrix) { /* the importance weights of its entry, one row per matrix */
            if (!(pt[k].weights = qk_imx_weights(qk_imx_find(x, t->name)))) {
                qk_errf(err, "out of memory");
                goto fail;
            }
        }
        if (t->choice.quantize)
            pt[k].mode = QK_PIPE_CONVERT;
        else if (!st->is_quantized && st->to_float)
            pt[k].mode = QK_PIPE_CHECK; /* copied as is, after the NaN/Inf check */
        else
            pt[k].mode = QK_PIPE_COPY;
    }
    if (!(w = gguf_writer_new(o->out_path, err))) goto fail;
    for (uint64_t i = 0; i < g->n_kv; i++) gguf_writer_copy_kv(w, &g->kv[i]);
    /* llama.cpp's gguf_set_val_* removes the key and appends it: both keys end up last, in
     * this order, which keeps the output byte-identical to llama-quantize's. */
    gguf_writer_remove_key(w, "general.quantization_version");
    gguf_writer_set_u32(w, "general.quantization_version", 2);
    if (r->file_type != 0xffffffffu) {
        gguf_writer_remove_key(w, "general.file_type");
        gguf_writer_set_u32(w, "general.file_type", r->file_type);
    }
    /* then the imatrix keys, as llama-quantize's KV overrides come after both */
    qk_imx_write_keys(x, o->imatrix.path, w);
    for (size_t k = 0; k < r->n_tensors; k++) {
        const qk_quant_tensor *t = &r->tensors[k];
        if (gguf_writer_add_tensor(w, t->name, t->choice.type, t->n_dims, t->ne, err) < 0) goto fail;
    }
    if (gguf_writer_write_header(w, err)) goto fail;
    if (qk_mix_pipeline_run(w, pt, r->n_tensors, n_threads, log_written, (void *)lc, err)) goto fail;
    free_pipe(pt, pre, pre_t, r->n_tensors);
    r->file_bytes = gguf_writer_total_size(w);
    return gguf_writer_finish(w, err);
fail:
    free_pipe(pt, pre, pre_t, r->n_tensors);
    if (w) gguf_writer_abort(w);
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
    qk_imx x = {0};

    gguf_ctx *g = gguf_open(o->in_path, err);
    if (!g) goto done;
    int64_t split = 0;
    if (gguf_get_i64(g, "split.count", &split) == 0 && split > 1) {
        qk_errf(err, "%s: split GGUF files (shard of %lld) are not supported — merge the shards first",
                o->in_path, (long long)split);
        goto done;
    }
    /* before the first log line: a bad output path must leave stdout empty */
    if (!o->dry_run && o->out_path && qk_paths_check_output(o->out_path, err)) goto done;
    if (o->gptq_text && access(o->gptq_text, R_OK) != 0) {
        qk_errf(err, "cannot read the --gptq text '%s': %s — check the path", o->gptq_text, strerror(errno));
        goto done;
    }
    const char *ins[2] = {o->in_path, o->gptq_text};
    if (!o->dry_run && o->out_path && qk_paths_check(ins, o->gptq_text ? 2 : 1, &o->out_path, 1, err)) goto done;

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

    /* The importance matrix, selected and checked against the model. */
    if (qk_imx_load(&o->imatrix, g, &x, err)) goto done;
    qk_mix_params mp = o->mix;
    mp.has_imatrix = x.sel.n_entries > 0;
    if (o->imatrix.path && !mp.has_imatrix && !mp.only_copy && mp.ftype == QK_FTYPE_MOSTLY_Q2_K_S) {
        qk_errf(err, "Q2_K_S needs importance data, but --%s-weights left no entry of '%s' — select some",
                o->imatrix.n_include ? "include" : "exclude", o->imatrix.path);
        goto done;
    }
    if (o->imatrix.path) {
        r->imatrix_read = x.n_read;
        r->imatrix_used = x.sel.n_entries;
        r->imatrix_chunks = x.im->chunk_count;
        snprintf(r->imatrix_dataset, sizeof r->imatrix_dataset, "%s", qk_imx_dataset(&x));
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
    qk_imx_mix_tensors(&x, g, mt);
    if (qk_mix_plan(&mp, &m, mt, n, order, ch, &r->mix, err)) goto done;

    r->n_tensors = n;
    for (size_t k = 0; k < n; k++) {
        const gguf_tensor *gt = &g->tensors[order[k]];
        qk_quant_tensor *t = &r->tensors[k];
        snprintf(t->name, sizeof t->name, "%s", gt->name);
        t->n_dims = gt->n_dims;
        memcpy(t->ne, gt->ne, sizeof t->ne);
        t->src_type = gt->type;
        t->choice = ch[order[k]];
        t->imatrix = t->choice.quantize && mt[order[k]].has_weights;
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
        print_setup(o->log, o, r);
    }
    double tq = now_ms();
    const log_ctx lc = {o->log, r, &o->mix, mp.has_imatrix};
    if (o->dry_run) {
        for (size_t k = 0; k < n; k++) print_tensor(&lc, k, &r->tensors[k]);
    } else {
        if (!o->out_path) {
            qk_errf(err, "no output file given");
            goto done;
        }
        if (write_output(o, g, order, &x, &lc, r, err)) goto done;
    }
    r->quantize_ms = now_ms() - tq;
    r->total_ms = now_ms() - t0;
    print_summary(o->log, o, r);
    rc = 0;
done:
    free(mt);
    free(order);
    free(ch);
    qk_imx_free(&x);
    if (g) gguf_close(g);
    if (!res) qk_quant_result_free(&local);
    return rc;
}
