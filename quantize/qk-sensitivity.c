/*
 * qk-sensitivity.c — command-line front end of the per-tensor sensitivity pass
 * (sensitivity.h): parse the options, check the paths, run qk_sens_run, turn an error
 * into one line on stderr.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "paths.h"
#include "sensitivity.h"
#include "threads.h"
#include "tool.h"

#define DEFAULT_CALIB "calibration/wiki.test.tail.raw"

static void usage(FILE *f) {
    fprintf(f,
            "usage: qk-sensitivity -m MODEL.gguf [options]\n"
            "\n"
            "For every tensor qk-quantize's mixture would quantize and every candidate type its row\n"
            "width allows (Q2_K Q3_K Q4_K Q5_K Q6_K Q8_0 Q4_0 Q4_1 Q5_0 Q5_1 IQ4_NL, F16 for an F32\n"
            "base, and the base type at cost 0), the cost of quantizing that tensor alone, written\n"
            "as JSON for qk-quantize --target-bpw / --target-size --sensitivity FILE.\n"
            "  scaled: (default) one forward pass per tensor over the calibration text measures the\n"
            "         mean KL divergence against the base model with that tensor at Q4_K (else Q4_0);\n"
            "         the proxy carries it to the tensor's other types\n"
            "  kld:   the measured KLD of every tensor at every type (one pass per candidate)\n"
            "  proxy: Σ_j imat_j·Σ_rows (w−q)² with --imatrix (else the plain squared error) only, no\n"
            "         forward pass. It orders one tensor's types well but not tensors against each\n"
            "         other, so its plans are weaker\n"
            "The measured passes put the real quantized tensor into the model.\n"
            "\n"
            "options:\n"
            "  -m, --model FILE      F16/BF16/F32 GGUF model (required)\n"
            "  -f, --file FILE       calibration text (kld, scaled). default: $QK_DATA_DIR/" DEFAULT_CALIB "\n"
            "                        (QK_DATA_DIR default: ../shared/data). Never use the evaluation text\n"
            "  -o, --output FILE     JSON output. default: MODEL without .gguf + .sensitivity.json\n"
            "      --imatrix FILE    quantize the candidates with this importance matrix (as qk-quantize\n"
            "                        --imatrix) and weight the proxy with it. default: none\n"
            "      --mode M          scaled, kld or proxy (see above). default: scaled\n"
            "  -c, --ctx-size N      tokens per calibration chunk (kld, scaled). default: 256\n"
            "      --chunks N        calibration chunks (kld, scaled). default: 8, fewer for large models\n"
            "                        (passes x chunks x n_ctx x weights <= 3e13: 1 chunk for a 0.5B\n"
            "                        model in scaled mode, about 4 minutes on 2 threads)\n"
            "  -b, --batch-size N    tokens per forward pass. default: 2048\n"
            "      --only TEXT       kld, scaled: measure only tensors whose name contains TEXT (the others\n"
            "                        get the proxy only). default: all\n"
            "      --resume          take the finished entries of OUTPUT.journal (left by an interrupted\n"
            "                        run with the same settings) instead of redoing them. default: off\n"
            "  -t, --threads N       worker threads. default: all CPUs (%d here)\n"
            "  -h, --help            this help\n"
            "\n"
            "Progress goes to stderr. Files next to OUTPUT while it runs: OUTPUT.journal (removed at the\n"
            "end) and, in kld and scaled mode, OUTPUT.base.logits (+.nll), the base log-probs (removed at the end).\n"
            "\n"
            "example: qk-sensitivity -m model-f16.gguf --mode kld --imatrix model.imatrix -o sens.json\n",
            qk_cpu_count());
}

typedef struct opts {
    qk_sens_opts s;
    char calib_buf[4096], out_buf[4096];
} opts;

enum { OPT_IMATRIX = 256, OPT_MODE, OPT_CHUNKS, OPT_RESUME, OPT_ONLY };

static const struct option LONG[] = {{"model", required_argument, NULL, 'm'},
                                     {"file", required_argument, NULL, 'f'},
                                     {"output", required_argument, NULL, 'o'},
                                     {"imatrix", required_argument, NULL, OPT_IMATRIX},
                                     {"mode", required_argument, NULL, OPT_MODE},
                                     {"ctx-size", required_argument, NULL, 'c'},
                                     {"chunks", required_argument, NULL, OPT_CHUNKS},
                                     {"batch-size", required_argument, NULL, 'b'},
                                     {"only", required_argument, NULL, OPT_ONLY},
                                     {"resume", no_argument, NULL, OPT_RESUME},
                                     {"threads", required_argument, NULL, 't'},
                                     {"help", no_argument, NULL, 'h'},
                                     {0}};

static int parse_args(int argc, char **argv, opts *o) {
    qk_sens_opts *s = &o->s;
    s->mode = QK_SENS_SCALED;
    s->n_ctx = 256;
    s->n_chunks = 0;
    s->n_batch = 2048;
    s->n_threads = -1;
    s->log = stderr;
    int c;
    while ((c = qk_cli_next(argc, argv, ":m:f:o:c:b:t:h", LONG)) != -1) {
        switch (c) {
        case 'm': s->model_path = optarg; break;
        case 'f': s->calib_path = optarg; break;
        case 'o': s->out_path = optarg; break;
        case OPT_IMATRIX: s->imatrix_path = optarg; break;
        case OPT_MODE:
            if (strcmp(optarg, "kld") == 0) s->mode = QK_SENS_KLD;
            else if (strcmp(optarg, "proxy") == 0) s->mode = QK_SENS_PROXY;
            else if (strcmp(optarg, "scaled") == 0) s->mode = QK_SENS_SCALED;
            else return qk_cli_error("--mode expects proxy, scaled or kld, got '%s'", optarg);
            break;
        case 'c':
            if (qk_cli_i32("-c", optarg, 8, QK_CLI_MAX_TOKENS, &s->n_ctx)) return QK_CLI_ERROR;
            if (s->n_ctx % 2) return qk_cli_error("-c must be even, got %d", s->n_ctx);
            break;
        case OPT_CHUNKS:
            if (qk_cli_i32("--chunks", optarg, 1, 1 << 20, &s->n_chunks)) return QK_CLI_ERROR;
            break;
        case 'b':
            if (qk_cli_i32("-b", optarg, 1, QK_CLI_MAX_TOKENS, &s->n_batch)) return QK_CLI_ERROR;
            break;
        case OPT_ONLY: s->only = optarg; break;
        case OPT_RESUME: s->resume = true; break;
        case 't':
            if (qk_cli_i32("-t", optarg, 1, QK_CLI_MAX_THREADS, &s->n_threads)) return QK_CLI_ERROR;
            break;
        case 'h': usage(stdout); return QK_CLI_DONE;
        default: return QK_CLI_ERROR;
        }
    }
    if (optind < argc) return qk_cli_error("unexpected argument '%s' — run qk-sensitivity --help", argv[optind]);
    if (!s->model_path) return qk_cli_error("no model — give -m MODEL.gguf");
    if (s->mode != QK_SENS_PROXY && !s->calib_path) {
        const char *dd = getenv("QK_DATA_DIR");
        snprintf(o->calib_buf, sizeof o->calib_buf, "%s/" DEFAULT_CALIB, dd && *dd ? dd : "../shared/data");
        s->calib_path = o->calib_buf;
    }
    if (!s->out_path) {
        size_t l = strlen(s->model_path);
        if (l > 5 && strcmp(s->model_path + l - 5, ".gguf") == 0) l -= 5;
        snprintf(o->out_buf, sizeof o->out_buf, "%.*s.sensitivity.json", (int)l, s->model_path);
        s->out_path = o->out_buf;
    }
    return QK_CLI_RUN;
}

static int run(const opts *o) {
    const qk_sens_opts *s = &o->s;
    const char *ins[3] = {s->model_path, s->imatrix_path, s->mode != QK_SENS_PROXY ? s->calib_path : NULL};
    for (int i = 0; i < 3; i++)
        if (ins[i] && access(ins[i], R_OK) != 0)
            return qk_fail("cannot read '%s': %s — check the path", ins[i], strerror(errno));
    qk_err err = {{0}};
    const char *outs[1] = {s->out_path};
    const char *inl[3];
    size_t ni = 0;
    for (int i = 0; i < 3; i++)
        if (ins[i]) inl[ni++] = ins[i];
    if (qk_paths_check(inl, ni, outs, 1, &err)) return qk_fail("%s", err.msg);
    if (qk_paths_check_output(s->out_path, &err)) return qk_fail("%s", err.msg);
    if (qk_sens_run(s, &err)) return qk_fail("%s", err.msg);
    return 0;
}

int main(int argc, char **argv) {
    qk_tool_init("qk-sensitivity");
    opts o = {0};
    int rc = parse_args(argc, argv, &o);
    return rc ? rc < 0 : run(&o);
}
