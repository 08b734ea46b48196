/*
 * qk-quantize.c — command-line front end of the quantizer, with llama-quantize's
 * interface (examples/quantize/quantize.cpp [U], llama-cpp-reference.md §1a):
 *
 *   qk-quantize [options] IN.gguf [OUT.gguf] TYPE [nthreads]
 *
 * Parses the arguments, runs qk_quantize_file (mixture_apply.c) and turns an error into one
 * line on stderr with a non-zero exit. Per-tensor lines and the summary go to stdout (to
 * stderr when --json - puts the JSON on stdout).
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "afile.h"
#include "ftype.h"
#include "gguf.h"
#include "mixture.h"
#include "mixture_apply.h"
#include "paths.h"
#include "threads.h"
#include "tool.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: qk-quantize [options] IN.gguf [OUT.gguf] TYPE [nthreads]\n"
            "\n"
            "Quantize an F32/F16/BF16 GGUF model the way llama.cpp's llama-quantize does (same\n"
            "per-tensor mixture, fallbacks, tensor order and bytes). Without OUT.gguf the output is\n"
            "<dir of IN>/ggml-model-<TYPE>.gguf. nthreads <= 0 or absent: all CPUs (%d here).\n"
            "\n"
            "options:\n"
            "  --allow-requantize          allow converting tensors that are already quantized\n"
            "                              (they are dequantized to F32 first; quality suffers). default: off\n"
            "  --leave-output-tensor       do not quantize output.weight. default: off\n"
            "  --pure                      no mixture: every quantizable tensor gets TYPE's default type\n"
            "                              and there are no fallbacks (as llama.cpp 2025-02). default: off\n"
            "  --output-tensor-type T      ggml type for output.weight (or the tied token_embd), e.g. q8_0\n"
            "  --token-embedding-type T    ggml type for token_embd.weight\n"
            "  --no-fallback               refuse (error naming the tensor) where the mixture would fall\n"
            "                              back to another type because ne[0] is not divisible. default: off\n"
            "  --dry-run                   print the per-tensor types and sizes, write nothing\n"
            "  --json FILE                 also write the plan and summary as JSON (FILE '-' = stdout;\n"
            "                              the human report then goes to stderr)\n"
            "  -t, --threads N             worker threads (same as the nthreads argument)\n"
            "  -h, --help                  this help\n"
            "\n"
            "TYPE (case-insensitive; or the integer llama_ftype id):\n",
            qk_cpu_count());
    for (size_t i = 0; i < qk_ftype_count(); i++) {
        const qk_ftype_info *fi = qk_ftype_at(i);
        if (!qk_ftype_supported(fi)) continue;
        fprintf(f, "  %2u  %-7s : %s\n", fi->id, fi->name, fi->summary);
    }
    fprintf(f,
            "      Q3_K, Q4_K, Q5_K : aliases for Q3_K_M, Q4_K_M, Q5_K_M\n"
            "      COPY    : copy the tensors as they are (only the metadata changes)\n"
            "\n"
            "example: qk-quantize model-f16.gguf model-Q4_K_M.gguf Q4_K_M 4\n");
}

static int fail(const char *fmt, const char *a, const char *b) {
    fprintf(stderr, "qk-quantize: error: ");
    fprintf(stderr, fmt, a, b);
    fputc('\n', stderr);
    return 1;
}

typedef struct target {
    bool copy;
    const qk_ftype_info *fi;
} target;

/* TYPE argument: an ftype name or id, or COPY. Returns 0 when it parses. */
static int parse_target(const char *s, target *t) {
    t->copy = strcasecmp(s, "COPY") == 0;
    t->fi = t->copy ? NULL : qk_ftype_parse(s);
    return t->copy || t->fi ? 0 : -1;
}

static int parse_int(const char *s, int *out) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < -1000000 || v > 1000000) return -1;
    *out = (int)v;
    return 0;
}

static int write_json(const char *path, const qk_quant_opts *o, const char *label, const qk_quant_result *r,
                      qk_err *err) {
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "input", o->in_path);
    if (o->out_path && !o->dry_run) cJSON_AddStringToObject(root, "output", o->out_path);
    cJSON_AddStringToObject(root, "type", label);
    if (r->file_type != 0xffffffffu) cJSON_AddNumberToObject(root, "file_type", r->file_type);
    cJSON_AddBoolToObject(root, "dry_run", o->dry_run);
    cJSON_AddNumberToObject(root, "n_tensors", (double)r->n_tensors);
    cJSON_AddNumberToObject(root, "n_params", (double)r->n_params);
    cJSON_AddNumberToObject(root, "model_bytes", (double)r->src_bytes);
    cJSON_AddNumberToObject(root, "quant_bytes", (double)r->dst_bytes);
    if (!o->dry_run) cJSON_AddNumberToObject(root, "file_bytes", (double)r->file_bytes);
    cJSON_AddNumberToObject(root, "bpw", qk_quant_bpw(r));
    cJSON_AddNumberToObject(root, "n_fallback", r->mix.n_fallback);
    cJSON_AddNumberToObject(root, "n_mixture_tensors", r->mix.n_checked);
    cJSON_AddNumberToObject(root, "n_threads", r->n_threads);
    cJSON_AddNumberToObject(root, "quantize_ms", r->quantize_ms);
    cJSON_AddNumberToObject(root, "total_ms", r->total_ms);
    cJSON *arr = cJSON_AddArrayToObject(root, "tensors");
    for (size_t k = 0; k < r->n_tensors; k++) {
        const qk_quant_tensor *t = &r->tensors[k];
        cJSON *o2 = cJSON_CreateObject();
        cJSON_AddStringToObject(o2, "name", t->name);
        cJSON *ne = cJSON_AddArrayToObject(o2, "ne");
        for (uint32_t d = 0; d < t->n_dims; d++) cJSON_AddItemToArray(ne, cJSON_CreateNumber((double)t->ne[d]));
        cJSON_AddStringToObject(o2, "src_type", qk_type_name(t->src_type));
        cJSON_AddStringToObject(o2, "type", qk_type_name(t->choice.type));
        cJSON_AddBoolToObject(o2, "converted", t->choice.quantize);
        cJSON_AddBoolToObject(o2, "fallback", t->choice.fallback);
        if (t->choice.fallback) cJSON_AddStringToObject(o2, "wanted", qk_type_name(t->choice.wanted));
        cJSON_AddNumberToObject(o2, "src_bytes", (double)t->src_bytes);
        cJSON_AddNumberToObject(o2, "bytes", (double)t->dst_bytes);
        cJSON_AddItemToArray(arr, o2);
    }
    char *txt = cJSON_Print(root);
    cJSON_Delete(root);
    if (!txt) return qk_errf(err, "out of memory");
    int rc = 0;
    if (strcmp(path, "-") == 0) {
        printf("%s\n", txt);
    } else {
        qk_afile *a = qk_afile_create(path, err);
        if (!a || qk_afile_write(a, txt, strlen(txt), err) || qk_afile_write(a, "\n", 1, err)) {
            qk_afile_abort(a);
            rc = -1;
        } else {
            rc = qk_afile_commit(a, err);
        }
    }
    free(txt);
    return rc;
}

int main(int argc, char **argv) {
    qk_tool_init("qk-quantize");
    qk_quant_opts o = {0};
    qk_mix_params_init(&o.mix);
    const char *json = NULL;
    const char *pos[4];
    int npos = 0, threads = -1, threads_flag = 0;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *next = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(a, "--allow-requantize") == 0) {
            o.mix.allow_requantize = true;
        } else if (strcmp(a, "--leave-output-tensor") == 0) {
            o.mix.leave_output_tensor = true;
        } else if (strcmp(a, "--pure") == 0) {
            o.mix.pure = true;
        } else if (strcmp(a, "--no-fallback") == 0) {
            o.mix.no_fallback = true;
        } else if (strcmp(a, "--dry-run") == 0) {
            o.dry_run = true;
        } else if (strcmp(a, "--output-tensor-type") == 0 || strcmp(a, "--token-embedding-type") == 0) {
            qk_type t;
            if (!next) return fail("%s needs a type name (e.g. q8_0)%s", a, "");
            if (qk_type_from_name(next, &t) != 0)
                return fail("%s: unknown ggml type '%s' — use a name such as q8_0, q6_K, f16", a, next);
            if (a[2] == 'o') o.mix.output_tensor_type = (int)t;
            else o.mix.token_embedding_type = (int)t;
            i++;
        } else if (strcmp(a, "--json") == 0) {
            if (!next) return fail("%s needs a file name (or - for stdout)%s", a, "");
            json = next;
            i++;
        } else if (strcmp(a, "-t") == 0 || strcmp(a, "--threads") == 0) {
            if (!next || parse_int(next, &threads) != 0) return fail("%s needs an integer%s", a, "");
            threads_flag = 1;
            i++;
        } else if (strcmp(a, "--imatrix") == 0 || strcmp(a, "--include-weights") == 0 ||
                   strcmp(a, "--exclude-weights") == 0 || strcmp(a, "--keep-split") == 0 ||
                   strcmp(a, "--override-kv") == 0) {
            return fail("%s is not supported by qkit (no importance matrix, split or KV overrides)%s", a, "");
        } else if (a[0] == '-' && a[1] != 0 && !(a[1] >= '0' && a[1] <= '9')) {
            return fail("unknown option '%s' — run qk-quantize --help%s", a, "");
        } else {
            if (npos == 4) return fail("too many arguments ('%s') — run qk-quantize --help%s", a, "");
            pos[npos++] = a;
        }
    }
    if (npos < 2) {
        usage(stderr);
        return fail("missing arguments: IN.gguf and TYPE are required%s%s", "", "");
    }

    /* IN [OUT] TYPE [nthreads]: as llama-quantize, OUT is optional when the 2nd argument
     * parses as a type. */
    target tg;
    const char *in = pos[0], *out = NULL, *type_s;
    char out_buf[4096];
    int k = 1;
    if (parse_target(pos[1], &tg) == 0) {
        type_s = pos[1];
        k = 2;
    } else if (npos >= 3) {
        out = pos[1];
        type_s = pos[2];
        k = 3;
        if (parse_target(type_s, &tg) != 0)
            return fail("unknown quantization type '%s' — run qk-quantize --help for the list%s", type_s, "");
    } else {
        return fail("unknown quantization type '%s' — run qk-quantize --help for the list%s", pos[1], "");
    }
    if (k < npos) {
        if (parse_int(pos[k], &threads) != 0) return fail("nthreads must be an integer, not '%s'%s", pos[k], "");
        if (threads_flag) return fail("threads given twice (-t and nthreads)%s%s", "", "");
        k++;
    }
    if (k < npos) return fail("unexpected argument '%s' — run qk-quantize --help%s", pos[k], "");
    if (!tg.copy && !qk_ftype_supported(tg.fi))
        return fail("type %s is not supported by qkit: %s", tg.fi->name, tg.fi->summary);
    const char *label = tg.copy ? "COPY" : tg.fi->name;
    if (!out) {
        const char *slash = strrchr(in, '/');
        int dl = slash ? (int)(slash - in + 1) : 0;
        snprintf(out_buf, sizeof out_buf, "%.*sggml-model-%s.gguf", dl, in, label);
        out = out_buf;
    }
    if (access(in, R_OK) != 0)
        return fail("cannot read '%s': %s — check the path", in, strerror(errno));

    o.in_path = in;
    o.out_path = out;
    o.mix.only_copy = tg.copy;
    o.mix.ftype = tg.copy ? 0 : tg.fi->id;
    o.ftype_label = label;
    o.n_threads = threads <= 0 ? qk_cpu_count() : threads;
    o.log = json && strcmp(json, "-") == 0 ? stderr : stdout;

    qk_err err = {{0}};
    /* no output may be the input or the other output (by identity: paths.h) */
    const char *ins[1] = {in}, *outs[2] = {o.dry_run ? NULL : out, json};
    if (qk_paths_check(ins, 1, outs, 2, &err)) {
        fprintf(stderr, "qk-quantize: error: %s\n", err.msg);
        return 1;
    }
    /* the JSON file is written last: check where it goes before any work or output (the
     * GGUF output path is checked by qk_quantize_file, also before its first line) */
    if (json && strcmp(json, "-") != 0 && qk_paths_check_output(json, &err) != 0) {
        fprintf(stderr, "qk-quantize: error: --json: %s\n", err.msg);
        return 1;
    }
    qk_quant_result res;
    int rc = qk_quantize_file(&o, &res, &err);
    if (rc != 0) {
        fflush(stdout);
        qk_quant_result_free(&res);
        fprintf(stderr, "qk-quantize: error: %s\n", err.msg);
        return 1;
    }
    if (json && write_json(json, &o, label, &res, &err) != 0) {
        qk_quant_result_free(&res);
        return fail("--json: %s%s", err.msg, "");
    }
    qk_quant_result_free(&res);
    return 0;
}
