/*
 * qk-quantize.c — command-line front end of the quantizer, with llama-quantize's
 * interface (examples/quantize/quantize.cpp [U], llama-cpp-reference.md §1a):
 *
 *   qk-quantize [options] IN.gguf [OUT.gguf] TYPE [nthreads]
 *
 * Parses the arguments (the --tensor-type rules with tensor_rules.c), runs qk_quantize_file
 * (mixture_apply.c) and turns an error into one line on stderr with a non-zero exit.
 * Per-tensor lines and the summary go to stdout (to stderr when --json - puts the JSON on
 * stdout).
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "afile.h"
#include "budget.h"
#include "cli.h"
#include "ftype.h"
#include "gguf.h"
#include "mixture.h"
#include "mixture_apply.h"
#include "paths.h"
#include "sensitivity.h"
#include "tensor_rules.h"
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
            "  --output-tensor-type T      ggml type for output.weight (or the tied token_embd), e.g. q8_0.\n"
            "                              default: the mixture's\n"
            "  --token-embedding-type T    ggml type for token_embd.weight. default: the mixture's\n"
            "  --no-fallback               refuse (error naming the tensor) where the mixture would fall\n"
            "                              back to another type because ne[0] is not divisible. default: off\n"
            "  --tensor-type REGEX=TYPE    give the tensors whose name REGEX matches the ggml type TYPE\n"
            "                              (e.g. 'ffn_down=q6_k', 'blk\\.[0-3]\\.attn_v=q8_0'); repeatable.\n"
            "                              When two rules match a tensor, the LAST one given wins. Rules\n"
            "                              replace the mixture's type (also under --pure) and fall back like\n"
            "                              it when ne[0] is not divisible; a rule whose type cannot hold the\n"
            "                              rows and has no fallback (--pure, --no-fallback, Q8_0, ...) is an\n"
            "                              error. --output-tensor-type / --token-embedding-type win over them;\n"
            "                              F16/BF16/F32/COPY targets ignore them (as llama-quantize). REGEX:\n"
            "                              POSIX extended regex, searched anywhere in the name and lower-cased\n"
            "                              first as llama.cpp does; unlike llama.cpp's C++ std::regex\n"
            "                              (ECMAScript) there is no \\d (write [0-9]), no lazy quantifiers,\n"
            "                              look-ahead or (?:). A rule that matches nothing is a warning.\n"
            "                              default: none\n"
            "  --gptq TEXT                 round the tensors that get a 32-element type (Q4_0 Q4_1 Q5_0 Q5_1\n"
            "                              Q8_0 IQ4_NL) with GPTQ (Frantar et al. 2023) instead of to nearest:\n"
            "                              same format, smaller error of the layer's output on this\n"
            "                              calibration text (never the evaluation text; e.g.\n"
            "                              $QK_DATA_DIR/calibration/wiki.test.tail.raw). default: off\n"
            "  --gptq-chunks N             calibration chunks of 256 tokens for --gptq. default: 8\n"
            "  --tensor-type-file FILE     more rules, one REGEX=TYPE per line ('#' comments, blank lines\n"
            "                              skipped), in order at the option's place. default: none\n"
            "  --imatrix FILE              importance matrix (llama-imatrix's legacy .dat or GGUF): tensors\n"
            "                              with an entry are quantized with their weights; writes the\n"
            "                              quantize.imatrix.* keys; Q4_0/Q5_0 then give the first eighth of\n"
            "                              ffn_down Q4_1/Q5_1, and Q2_K_S becomes possible. default: none\n"
            "  --include-weights NAME      use the imatrix only for tensors whose name contains NAME\n"
            "                              (repeatable). default: all entries\n"
            "  --exclude-weights NAME      do not use it for tensors whose name contains NAME (repeatable;\n"
            "                              not with --include-weights). default: none\n"
            "  --target-bpw X              choose every quantizable tensor's type so that the tensor bytes of\n"
            "                              the whole model are at most X bits per weight (8 x bytes / all\n"
            "                              elements) and the summed cost from --sensitivity is smallest (exact\n"
            "                              multiple-choice knapsack on a byte grid). Needs --sensitivity; TYPE\n"
            "                              must be a quantized type (it sets general.file_type and the tensors\n"
            "                              the plan covers are those its mixture quantizes). default: off\n"
            "  --target-size SIZE          the same with a budget in tensor bytes: 123456, or with a suffix\n"
            "                              K/KB/KiB, M/MB/MiB, G/GB/GiB (all powers of 1024), e.g. 9.5M\n"
            "  --sensitivity FILE          qk-sensitivity's JSON for this model (the cost of each tensor and\n"
            "                              type: measured KLD when present, else the proxy). Required with\n"
            "                              --target-bpw / --target-size\n"
            "  --plan-out FILE             also write the plan as a --tensor-type-file (one anchored rule per\n"
            "                              tensor) that reproduces it. default: none\n"
            "  --dry-run                   print the per-tensor types and sizes, write nothing. default: off\n"
            "  --json FILE                 also write the plan and summary as JSON (FILE '-' = stdout;\n"
            "                              the human report then goes to stderr). default: none\n"
            "  -t, --threads N             worker threads (same as the nthreads argument). default: all CPUs\n"
            "  -h, --help                  this help\n"
            "\n"
            "TYPE (case-insensitive; or the integer llama_ftype id):\n",
            qk_cpu_count());
    for (size_t i = 0; i < qk_ftype_count(); i++) {
        const qk_ftype_info *fi = qk_ftype_at(i);
        if (fi->id == QK_FTYPE_MOSTLY_Q2_K_S)
            fprintf(f, "  %2u  %-7s : %s\n", fi->id, fi->name, "Q2_K mix for use with --imatrix (required)");
        else if (qk_ftype_supported(fi))
            fprintf(f, "  %2u  %-7s : %s\n", fi->id, fi->name, fi->summary);
    }
    fprintf(f,
            "      Q3_K, Q4_K, Q5_K : aliases for Q3_K_M, Q4_K_M, Q5_K_M\n"
            "      COPY    : copy the tensors as they are (only the metadata changes)\n"
            "\n"
            "example: qk-quantize model-f16.gguf model-Q4_K_M.gguf Q4_K_M 4\n");
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

/* Rule k (1-based) of o as a JSON object. */
static cJSON *rule_json(const qk_quant_opts *o, int k) {
    const qk_mix_rule *rl = &o->mix.rules[k - 1];
    cJSON *j = cJSON_CreateObject();
    cJSON_AddNumberToObject(j, "index", k);
    cJSON_AddStringToObject(j, "rule", rl->text);
    cJSON_AddStringToObject(j, "origin", rl->origin);
    cJSON_AddStringToObject(j, "type", qk_type_name(rl->type));
    return j;
}

/* The imatrix and the rules, top-level. */
static void add_imatrix_rules_json(cJSON *root, const qk_quant_opts *o, const qk_quant_result *r) {
    if (o->imatrix.path) {
        cJSON *im = cJSON_AddObjectToObject(root, "imatrix");
        cJSON_AddStringToObject(im, "file", o->imatrix.path);
        cJSON_AddStringToObject(im, "dataset", r->imatrix_dataset);
        cJSON_AddNumberToObject(im, "entries_read", (double)r->imatrix_read);
        cJSON_AddNumberToObject(im, "entries_count", (double)r->imatrix_used);
        cJSON_AddNumberToObject(im, "chunks_count", r->imatrix_chunks);
    } else {
        cJSON_AddNullToObject(root, "imatrix");
    }
    cJSON *rules = cJSON_AddArrayToObject(root, "rules");
    for (size_t i = 0; i < o->mix.n_rules; i++) {
        cJSON *j = rule_json(o, (int)i + 1);
        cJSON_AddNumberToObject(j, "n_matched", o->mix.rules[i].n_matched);
        cJSON_AddItemToArray(rules, j);
    }
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
    add_imatrix_rules_json(root, o, r);
    if (o->gptq_text) {
        cJSON *g = cJSON_AddObjectToObject(root, "gptq");
        cJSON_AddStringToObject(g, "text", o->gptq_text);
        cJSON_AddNumberToObject(g, "chunks", o->gptq_chunks);
        cJSON_AddNumberToObject(g, "n_ctx", QK_GPTQ_CTX);
        cJSON_AddNumberToObject(g, "tokens", (double)r->gptq_tokens);
    } else {
        cJSON_AddNullToObject(root, "gptq");
    }
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
        if (t->choice.rule > 0) cJSON_AddItemToObject(o2, "rule", rule_json(o, t->choice.rule));
        else cJSON_AddNullToObject(o2, "rule");
        cJSON_AddBoolToObject(o2, "imatrix", t->imatrix);
        cJSON_AddBoolToObject(o2, "gptq", t->gptq);
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

typedef struct opts {
    qk_quant_opts q;    /* what qk_quantize_file gets */
    const char *json;   /* --json FILE, NULL for none */
    char out_buf[4096]; /* the default output path */
    qk_rule_list rules; /* --tensor-type / --tensor-type-file, in order (q.mix.rules) */
    const char **include, **exclude; /* --include/--exclude-weights (argv strings) */
    size_t n_include, n_exclude;
    double target_bpw;      /* --target-bpw, 0: none */
    uint64_t target_size;   /* --target-size bytes, 0: none */
    const char *sensitivity; /* --sensitivity FILE */
    const char *plan_out;   /* --plan-out FILE */
} opts;

static void opts_free(opts *o) {
    qk_rules_free(&o->rules);
    free(o->include);
    free(o->exclude);
}

/* A negative number ("-1"), which is an operand (nthreads), not an option, as in
 * llama-quantize. */
static bool is_number_operand(const char *a) { return a[0] == '-' && a[1] >= '0' && a[1] <= '9'; }

/* The operands IN [OUT] TYPE [nthreads] (pos[0..npos)) into o; threads: -t's value when
 * threads_set. As llama-quantize, OUT is optional when the 2nd operand parses as a type. */
static int parse_operands(const char *const *pos, int npos, int32_t threads, bool threads_set, opts *o) {
    if (npos < 2) {
        usage(stderr);
        return qk_cli_error("missing arguments: IN.gguf and TYPE are required");
    }
    target tg;
    const char *out = NULL;
    int k = 2;
    if (parse_target(pos[1], &tg) != 0) {
        const char *type_s = npos >= 3 ? pos[2] : pos[1];
        if (npos < 3 || parse_target(type_s, &tg) != 0)
            return qk_cli_error("unknown quantization type '%s' — run qk-quantize --help for the list", type_s);
        out = pos[1];
        k = 3;
    }
    if (k < npos) {
        if (qk_cli_i32("nthreads", pos[k], -QK_CLI_MAX_THREADS, QK_CLI_MAX_THREADS, &threads)) return QK_CLI_ERROR;
        if (threads_set) return qk_cli_error("threads given twice (-t and nthreads)");
        k++;
    }
    if (k < npos) return qk_cli_error("unexpected argument '%s' — run qk-quantize --help", pos[k]);
    if (!tg.copy && tg.fi->id == QK_FTYPE_MOSTLY_Q2_K_S && !o->q.imatrix.path)
        return qk_cli_error("Q2_K_S needs an importance matrix (llama-quantize refuses it without one) — "
                            "pass --imatrix FILE, or use Q2_K");
    if (!tg.copy && !qk_ftype_supported(tg.fi) && tg.fi->id != QK_FTYPE_MOSTLY_Q2_K_S)
        return qk_cli_error("type %s is not supported by qkit: %s", tg.fi->name, tg.fi->summary);
    o->q.ftype_label = tg.copy ? "COPY" : tg.fi->name;
    if (!out) { /* <dir of IN>/ggml-model-<TYPE>.gguf */
        const char *slash = strrchr(pos[0], '/');
        snprintf(o->out_buf, sizeof o->out_buf, "%.*sggml-model-%s.gguf", slash ? (int)(slash - pos[0] + 1) : 0,
                 pos[0], o->q.ftype_label);
        out = o->out_buf;
    }
    o->q.in_path = pos[0];
    o->q.out_path = out;
    o->q.mix.only_copy = tg.copy;
    o->q.mix.ftype = tg.copy ? 0 : tg.fi->id;
    o->q.n_threads = threads <= 0 ? qk_cpu_count() : threads;
    o->q.log = o->json && strcmp(o->json, "-") == 0 ? stderr : stdout;
    return QK_CLI_RUN;
}

enum { OPT_ALLOW_REQUANTIZE = 256, OPT_LEAVE_OUTPUT, OPT_PURE, OPT_NO_FALLBACK, OPT_DRY_RUN, OPT_OUTPUT_TYPE,
       OPT_EMBEDDING_TYPE, OPT_JSON, OPT_TENSOR_TYPE, OPT_TENSOR_TYPE_FILE, OPT_IMATRIX, OPT_INCLUDE, OPT_EXCLUDE,
       OPT_TARGET_BPW, OPT_TARGET_SIZE, OPT_SENSITIVITY, OPT_PLAN_OUT, OPT_GPTQ, OPT_GPTQ_CHUNKS, OPT_UNSUPPORTED };

static const struct option LONG[] = {
    {"allow-requantize", no_argument, NULL, OPT_ALLOW_REQUANTIZE},
    {"leave-output-tensor", no_argument, NULL, OPT_LEAVE_OUTPUT},
    {"pure", no_argument, NULL, OPT_PURE},
    {"no-fallback", no_argument, NULL, OPT_NO_FALLBACK},
    {"dry-run", no_argument, NULL, OPT_DRY_RUN},
    {"output-tensor-type", required_argument, NULL, OPT_OUTPUT_TYPE},
    {"token-embedding-type", required_argument, NULL, OPT_EMBEDDING_TYPE},
    {"json", required_argument, NULL, OPT_JSON},
    {"tensor-type", required_argument, NULL, OPT_TENSOR_TYPE},
    {"tensor-type-file", required_argument, NULL, OPT_TENSOR_TYPE_FILE},
    {"imatrix", required_argument, NULL, OPT_IMATRIX},
    {"include-weights", required_argument, NULL, OPT_INCLUDE},
    {"exclude-weights", required_argument, NULL, OPT_EXCLUDE},
    {"target-bpw", required_argument, NULL, OPT_TARGET_BPW},
    {"target-size", required_argument, NULL, OPT_TARGET_SIZE},
    {"sensitivity", required_argument, NULL, OPT_SENSITIVITY},
    {"plan-out", required_argument, NULL, OPT_PLAN_OUT},
    {"gptq", required_argument, NULL, OPT_GPTQ},
    {"gptq-chunks", required_argument, NULL, OPT_GPTQ_CHUNKS},
    {"threads", required_argument, NULL, 't'},
    {"help", no_argument, NULL, 'h'},
    /* llama-quantize's options that qkit refuses (the values are never looked at) */
    {"keep-split", optional_argument, NULL, OPT_UNSUPPORTED},
    {"override-kv", optional_argument, NULL, OPT_UNSUPPORTED + 1},
    {0}};

/* --output-tensor-type / --token-embedding-type T (opt) into *type. */
static int parse_type_option(const char *opt, const char *v, int *type) {
    qk_type t;
    if (qk_type_from_name(v, &t) != 0)
        return qk_cli_error("%s: unknown ggml type '%s' — use a name such as q8_0, q6_K, f16", opt, v);
    *type = (int)t;
    return 0;
}

/* The name of LONG's option whose value is val. */
static const char *long_name(int val) {
    const struct option *l = LONG;
    while (l->name && l->val != val) l++;
    return l->name;
}

/* One more operand (at most four). */
static int add_operand(const char **pos, int *npos, const char *a) {
    if (*npos == 4) return qk_cli_error("too many arguments ('%s') — run qk-quantize --help", a);
    pos[(*npos)++] = a;
    return 0;
}

/* A --tensor-type rule (file: a --tensor-type-file) into o->rules. */
static int parse_rule(opts *o, const char *v, bool file) {
    qk_err err = {{0}};
    if ((file ? qk_rules_add_file(&o->rules, v, &err) : qk_rules_add(&o->rules, v, "--tensor-type", &err)) != 0)
        return qk_cli_error("%s", err.msg);
    o->q.mix.rules = o->rules.v;
    o->q.mix.n_rules = o->rules.n;
    return 0;
}

/* What the imatrix options need of each other. */
static int check_imatrix_opts(opts *o) {
    if ((o->n_include || o->n_exclude) && !o->q.imatrix.path)
        return qk_cli_error("--%s-weights without --imatrix — add --imatrix FILE",
                            o->n_include ? "include" : "exclude");
    if (o->n_include && o->n_exclude)
        return qk_cli_error("--include-weights and --exclude-weights cannot be combined — use one of them");
    o->q.imatrix.include = o->include;
    o->q.imatrix.n_include = o->n_include;
    o->q.imatrix.exclude = o->exclude;
    o->q.imatrix.n_exclude = o->n_exclude;
    return 0;
}

/* What --target-bpw / --target-size need and exclude. */
static int check_target_opts(const opts *o) {
    bool target = o->target_bpw > 0 || o->target_size > 0;
    if (!target) {
        if (o->sensitivity || o->plan_out)
            return qk_cli_error("--%s is used only with --target-bpw or --target-size — add one",
                                o->sensitivity ? "sensitivity" : "plan-out");
        return QK_CLI_RUN;
    }
    if (o->target_bpw > 0 && o->target_size > 0)
        return qk_cli_error("--target-bpw and --target-size cannot be combined — give one budget");
    if (!o->sensitivity)
        return qk_cli_error("--target-%s needs --sensitivity FILE (the per-tensor costs qk-sensitivity writes)",
                            o->target_bpw > 0 ? "bpw" : "size");
    const qk_ftype_info *fi = o->q.mix.only_copy ? NULL : qk_ftype_parse(o->q.ftype_label);
    if (!fi || fi->default_type < 0 || !qk_type_get((uint32_t)fi->default_type)->is_quantized)
        return qk_cli_error("--target-bpw/--target-size need a quantized TYPE (e.g. Q4_K_M), not %s",
                            o->q.ftype_label);
    if (o->q.mix.n_rules || o->q.mix.pure || o->q.mix.leave_output_tensor || o->q.mix.output_tensor_type >= 0 ||
        o->q.mix.token_embedding_type >= 0)
        return qk_cli_error("--target-bpw/--target-size choose every tensor's type: they cannot be combined with "
                            "--tensor-type(-file), --pure, --leave-output-tensor, --output-tensor-type or "
                            "--token-embedding-type");
    return QK_CLI_RUN;
}

static int parse_args(int argc, char **argv, opts *o) {
    qk_mix_params_init(&o->q.mix);
    o->q.gptq_chunks = 8;
    o->include = calloc((size_t)argc, sizeof *o->include); /* at most one per argument */
    o->exclude = calloc((size_t)argc, sizeof *o->exclude);
    if (!o->include || !o->exclude) return qk_cli_error("out of memory");
    const char *pos[4];
    int npos = 0, c;
    int32_t threads = -1;
    bool threads_set = false;
    /* shortopts "-..." returns the operands in order (c == 1), so that a negative number is
     * taken as an operand (nthreads) before getopt would read it as an option */
    while (optind < argc) {
        if (is_number_operand(argv[optind])) {
            if (add_operand(pos, &npos, argv[optind++])) return QK_CLI_ERROR;
            continue;
        }
        if ((c = qk_cli_next(argc, argv, "-:t:h", LONG)) == -1) break; /* after "--": operands only */
        switch (c) {
        case 1:
            if (add_operand(pos, &npos, optarg)) return QK_CLI_ERROR;
            break;
        case OPT_ALLOW_REQUANTIZE: o->q.mix.allow_requantize = true; break;
        case OPT_LEAVE_OUTPUT: o->q.mix.leave_output_tensor = true; break;
        case OPT_PURE: o->q.mix.pure = true; break;
        case OPT_NO_FALLBACK: o->q.mix.no_fallback = true; break;
        case OPT_DRY_RUN: o->q.dry_run = true; break;
        case OPT_OUTPUT_TYPE:
            if (parse_type_option("--output-tensor-type", optarg, &o->q.mix.output_tensor_type)) return QK_CLI_ERROR;
            break;
        case OPT_EMBEDDING_TYPE:
            if (parse_type_option("--token-embedding-type", optarg, &o->q.mix.token_embedding_type))
                return QK_CLI_ERROR;
            break;
        case OPT_JSON: o->json = optarg; break;
        case OPT_TENSOR_TYPE:
        case OPT_TENSOR_TYPE_FILE:
            if (parse_rule(o, optarg, c == OPT_TENSOR_TYPE_FILE)) return QK_CLI_ERROR;
            break;
        case OPT_IMATRIX:
            if (o->q.imatrix.path) return qk_cli_error("--imatrix given twice — give one importance matrix");
            o->q.imatrix.path = optarg;
            break;
        case OPT_INCLUDE: o->include[o->n_include++] = optarg; break;
        case OPT_TARGET_BPW:
            if (qk_cli_double("--target-bpw", optarg, 0.01, 64, &o->target_bpw)) return QK_CLI_ERROR;
            break;
        case OPT_TARGET_SIZE:
            if (qk_budget_parse_size(optarg, &o->target_size) != 0)
                return qk_cli_error("--target-size expects a positive size in bytes (e.g. 9437184, 9.5M, 1G; "
                                    "K/M/G are powers of 1024), got '%s'", optarg);
            break;
        case OPT_SENSITIVITY: o->sensitivity = optarg; break;
        case OPT_PLAN_OUT: o->plan_out = optarg; break;
        case OPT_GPTQ: o->q.gptq_text = optarg; break;
        case OPT_GPTQ_CHUNKS:
            if (qk_cli_i32("--gptq-chunks", optarg, 1, 1 << 20, &o->q.gptq_chunks)) return QK_CLI_ERROR;
            break;
        case OPT_EXCLUDE: o->exclude[o->n_exclude++] = optarg; break;
        case 't':
            if (qk_cli_i32("-t", optarg, -QK_CLI_MAX_THREADS, QK_CLI_MAX_THREADS, &threads)) return QK_CLI_ERROR;
            threads_set = true;
            break;
        case 'h': usage(stdout); return QK_CLI_DONE;
        case '?': return QK_CLI_ERROR;
        default: /* OPT_UNSUPPORTED + i */
            return qk_cli_error("--%s is not supported by qkit (no split output or KV overrides)", long_name(c));
        }
    }
    for (; optind < argc; optind++)
        if (add_operand(pos, &npos, argv[optind])) return QK_CLI_ERROR;
    if (check_imatrix_opts(o)) return QK_CLI_ERROR;
    int rc = parse_operands(pos, npos, threads, threads_set, o);
    if (rc != QK_CLI_RUN) return rc;
    return check_target_opts(o);
}

/* Quantize (qk_quantize_file) and write the --json report. Returns main's exit status. */
static int quantize(const opts *o) {
    qk_err err = {{0}};
    qk_quant_result res;
    if (qk_quantize_file(&o->q, &res, &err) != 0) {
        fflush(stdout);
        qk_quant_result_free(&res);
        return qk_fail("%s", err.msg);
    }
    int rc = o->json && write_json(o->json, &o->q, o->q.ftype_label, &res, &err) != 0;
    qk_quant_result_free(&res);
    return rc ? qk_fail("--json: %s", err.msg) : 0;
}

/* Print the plan (one line per tensor, then the totals) on f. */
static void print_plan(FILE *f, const qk_sens *s, const qk_budget_plan *pl, uint64_t budget) {
    fprintf(f, "qk-quantize: plan for a budget of %llu tensor bytes (%.4f bpw), from %s costs:\n",
            (unsigned long long)budget, 8.0 * budget / pl->n_params, s->mode == QK_SENS_KLD ? "measured KLD" : s->mode == QK_SENS_SCALED ? "scaled KLD" : "proxy");
    for (size_t i = 0; i < pl->n; i++) {
        const qk_sens_tensor *t = &s->tensors[i];
        const qk_sens_cand *c = &t->cand[pl->choice[i]];
        fprintf(f, "  %-32s %-7s %12llu bytes  cost %.6g\n", t->name, qk_type_name(c->type),
                (unsigned long long)c->bytes, qk_sens_cost(s, c));
    }
    fprintf(f, "qk-quantize: plan total: %llu tensor bytes (%llu in %zu planned tensors, %llu in the others), "
            "%.4f bpw, summed cost %.6g\n", (unsigned long long)pl->bytes,
            (unsigned long long)(pl->bytes - pl->fixed_bytes), pl->n, (unsigned long long)pl->fixed_bytes,
            8.0 * pl->bytes / pl->n_params, pl->cost);
}

/* --target-bpw / --target-size: read the sensitivity file, solve the knapsack for the
 * model's tensors, print the plan, write --plan-out, and turn it into --tensor-type rules
 * (o->rules) that qk_quantize_file applies. Returns 0 or main's exit status 1. */
static int plan_target(opts *o) {
    qk_err err = {{0}};
    gguf_ctx *g = gguf_open(o->q.in_path, &err);
    if (!g) return qk_fail("%s", err.msg);
    qk_sens s;
    if (qk_sens_read_json(o->sensitivity, &s, &err)) {
        gguf_close(g);
        return qk_fail("--sensitivity: %s", err.msg);
    }
    uint64_t n_params = 0, fixed = 0;
    size_t found = 0;
    int rc = 1;
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        const gguf_tensor *t = &g->tensors[i];
        uint64_t ne = (uint64_t)(t->ne[0] * t->ne[1] * t->ne[2] * t->ne[3]);
        n_params += ne;
        size_t k = 0;
        while (k < s.n_tensors && strcmp(s.tensors[k].name, t->name) != 0) k++;
        if (k == s.n_tensors) {
            fixed += t->nbytes;
        } else if (s.tensors[k].n_elements != ne) {
            qk_fail("--sensitivity %s: tensor %s has %llu elements there but %llu in %s — it was made for another "
                    "model", o->sensitivity, t->name, (unsigned long long)s.tensors[k].n_elements,
                    (unsigned long long)ne, o->q.in_path);
            goto done;
        } else {
            found++;
        }
    }
    if (found != s.n_tensors) {
        qk_fail("--sensitivity %s lists %zu tensors that %s does not have — it was made for another model",
                o->sensitivity, s.n_tensors - found, o->q.in_path);
        goto done;
    }
    uint64_t budget = o->target_size ? o->target_size : (uint64_t)floor(o->target_bpw * (double)n_params / 8.0);
    qk_budget_plan pl;
    if (qk_budget_solve(&s, fixed, n_params, budget, &pl, &err)) {
        qk_fail("%s", err.msg);
        goto done;
    }
    print_plan(o->q.log, &s, &pl, budget);
    char *buf = NULL;
    size_t len = 0;
    FILE *mf = open_memstream(&buf, &len);
    if (!mf || qk_budget_write_rules(&s, &pl, mf) != 0 || fclose(mf) != 0) {
        free(buf);
        qk_budget_plan_free(&pl);
        qk_fail("out of memory");
        goto done;
    }
    if (o->plan_out && qk_afile_write_all(o->plan_out, buf, len, &err) != 0) {
        qk_fail("--plan-out: %s", err.msg);
    } else {
        rc = 0;
        for (char *line = strtok(buf, "\n"); line && rc == 0; line = strtok(NULL, "\n"))
            if (line[0] != '#') rc = parse_rule(o, line, false) ? 1 : 0;
    }
    free(buf);
    qk_budget_plan_free(&pl);
done:
    qk_sens_free(&s);
    gguf_close(g);
    return rc;
}

/* Check the paths, then quantize. Returns main's exit status. */
static int run(opts *o) {
    if (access(o->q.in_path, R_OK) != 0)
        return qk_fail("cannot read '%s': %s — check the path", o->q.in_path, strerror(errno));
    qk_err err = {{0}};
    /* no output may be an input or the other output (by identity: paths.h) */
    const char *ins[3] = {o->q.in_path, o->q.imatrix.path, o->sensitivity};
    size_t n_in = 1;
    if (o->q.imatrix.path) ins[n_in++] = o->q.imatrix.path;
    if (o->sensitivity) ins[n_in++] = o->sensitivity;
    const char *outs[3] = {o->q.dry_run ? NULL : o->q.out_path, o->json, o->plan_out};
    if (qk_paths_check(ins, n_in, outs, 3, &err)) return qk_fail("%s", err.msg);
    if (o->plan_out && qk_paths_check_output(o->plan_out, &err) != 0) return qk_fail("--plan-out: %s", err.msg);
    if ((o->target_bpw > 0 || o->target_size > 0) && plan_target(o)) return 1;
    /* the JSON file is written last: check where it goes before any work or output (the
     * GGUF output path is checked by qk_quantize_file, also before its first line) */
    if (o->json && strcmp(o->json, "-") != 0 && qk_paths_check_output(o->json, &err) != 0)
        return qk_fail("--json: %s", err.msg);
    return quantize(o);
}

int main(int argc, char **argv) {
    qk_tool_init("qk-quantize");
    opts o = {0};
    int rc = parse_args(argc, argv, &o);
    rc = rc ? rc < 0 : run(&o);
    opts_free(&o);
    return rc;
}
