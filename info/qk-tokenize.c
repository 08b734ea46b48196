/*
 * qk-tokenize — print the tokens of a text, like llama.cpp's llama-tokenize.
 *
 *   qk-tokenize -m MODEL.gguf (-p TEXT | -f FILE | --stdin) [--ids] [--no-bos]
 *               [--no-parse-special] [--no-escape] [--show-count] [--stats]
 *
 * Only the vocabulary is read (gguf_open + qk_vocab_load; no weights), so vocab-only GGUF
 * files work. Output (stdout): one line per token, "%6d -> '<piece>'" (pieces with special
 * tokens shown), or with --ids the machine-readable list "[1, 2, 3]". As in llama-tokenize,
 * BOS is added when the vocabulary asks for it (unless --no-bos), special-token texts are
 * recognised (unless --no-parse-special), and escapes (\n \t \r \\ \' \" \xHH) in -p TEXT
 * are processed (unless --no-escape). Errors: one line on stderr, exit status 1.
 */
#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "clock.h"
#include "fileio.h"
#include "gguf.h"
#include "tokenizer.h"
#include "tool.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: %s -m MODEL (-p TEXT | -f FILE | --stdin) [options]\n"
            "\n"
            "Tokenize a text with the vocabulary of a GGUF model (or vocab-only GGUF) and print\n"
            "the tokens, like llama.cpp's llama-tokenize. Weights are not loaded.\n"
            "\n"
            "required:\n"
            "  -m, --model FILE        GGUF file with tokenizer.ggml.* metadata\n"
            "  one of:\n"
            "  -p, --prompt TEXT       text to tokenize (escapes \\n \\t \\r \\\\ \\' \\\" \\xHH processed)\n"
            "  -f, --file FILE         read the text from FILE (bytes as they are)\n"
            "      --stdin             read the text from standard input\n"
            "\n"
            "options:\n"
            "      --ids               print only the ids, as [1, 2, 3] (default: one line per\n"
            "                          token, \"    id -> 'piece'\")\n"
            "      --no-bos            do not add BOS (default: added when the vocab says so,\n"
            "                          tokenizer.ggml.add_bos_token)\n"
            "      --no-parse-special  treat special-token texts such as <|im_start|> as plain\n"
            "                          text (default: recognised)\n"
            "      --no-escape         take -p TEXT literally (default: process escapes)\n"
            "      --show-count        print \"Total number of tokens: N\" at the end\n"
            "      --stats             print bytes, tokens and tokenization time on stderr\n"
            "  -h, --help              show this help\n"
            "\n"
            "example:\n"
            "  %s -m qwen2-vocab.gguf -p \"Hello world\" --ids\n",
            qk_tool_prog(), qk_tool_prog());
}

/* llama.cpp common string_process_escapes: \n \r \t \' \" \\ and \xHH; others kept. */
static size_t process_escapes(char *s, size_t n) {
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '\\' || i + 1 >= n) {
            s[o++] = s[i];
            continue;
        }
        char c = s[++i];
        switch (c) {
        case 'n': s[o++] = '\n'; break;
        case 'r': s[o++] = '\r'; break;
        case 't': s[o++] = '\t'; break;
        case '\'': s[o++] = '\''; break;
        case '"': s[o++] = '"'; break;
        case '\\': s[o++] = '\\'; break;
        case 'x':
            if (i + 2 < n && isxdigit((unsigned char)s[i + 1]) && isxdigit((unsigned char)s[i + 2])) {
                char hex[3] = {s[i + 1], s[i + 2], 0};
                s[o++] = (char)strtol(hex, NULL, 16);
                i += 2;
            } else { /* keep "\x" as is */
                s[o++] = '\\';
                s[o++] = c;
            }
            break;
        default:
            s[o++] = '\\';
            s[o++] = c;
            break;
        }
    }
    return o;
}

/* Read a whole stream into a malloc'd buffer. */
typedef struct opts {
    const char *model, *prompt, *file;
    bool use_stdin, ids_only, no_bos, no_special, no_escape, show_count, stats;
} opts;

static int parse_args(int argc, char **argv, opts *o) {
    enum { OPT_STDIN = 256, OPT_IDS, OPT_NO_BOS, OPT_NO_SPECIAL, OPT_NO_ESCAPE, OPT_SHOW_COUNT, OPT_STATS };
    static const struct option LONG[] = {{"model", required_argument, NULL, 'm'},
                                         {"prompt", required_argument, NULL, 'p'},
                                         {"file", required_argument, NULL, 'f'},
                                         {"stdin", no_argument, NULL, OPT_STDIN},
                                         {"ids", no_argument, NULL, OPT_IDS},
                                         {"no-bos", no_argument, NULL, OPT_NO_BOS},
                                         {"no-parse-special", no_argument, NULL, OPT_NO_SPECIAL},
                                         {"no-escape", no_argument, NULL, OPT_NO_ESCAPE},
                                         {"show-count", no_argument, NULL, OPT_SHOW_COUNT},
                                         {"stats", no_argument, NULL, OPT_STATS},
                                         {"help", no_argument, NULL, 'h'},
                                         {0}};
    int c;
    while ((c = qk_cli_next(argc, argv, ":m:p:f:h", LONG)) != -1) {
        switch (c) {
        case 'm': o->model = optarg; break;
        case 'p': o->prompt = optarg; break;
        case 'f': o->file = optarg; break;
        case OPT_STDIN: o->use_stdin = true; break;
        case OPT_IDS: o->ids_only = true; break;
        case OPT_NO_BOS: o->no_bos = true; break;
        case OPT_NO_SPECIAL: o->no_special = true; break;
        case OPT_NO_ESCAPE: o->no_escape = true; break;
        case OPT_SHOW_COUNT: o->show_count = true; break;
        case OPT_STATS: o->stats = true; break;
        case 'h': usage(stdout); return QK_CLI_DONE;
        default: return QK_CLI_ERROR;
        }
    }
    if (optind < argc) return qk_cli_error("unexpected argument '%s' — run qk-tokenize --help", argv[optind]);
    if (!o->model) return qk_cli_error("no model given — pass a GGUF file with -m MODEL");
    if ((o->prompt != NULL) + (o->file != NULL) + o->use_stdin != 1)
        return qk_cli_error("give exactly one text source — use one of -p TEXT, -f FILE or --stdin");
    return QK_CLI_RUN;
}

/* The text to tokenize (-p TEXT with escapes processed unless --no-escape, -f FILE or
 * standard input) into a malloc'd *text. Returns 0, or prints the error and returns 1. */
static int load_text(const opts *o, char **text, size_t *len) {
    if (o->prompt) {
        *len = strlen(o->prompt);
        if (!(*text = malloc(*len + 1))) return qk_fail("out of memory");
        memcpy(*text, o->prompt, *len + 1);
        if (!o->no_escape) *len = process_escapes(*text, *len);
    } else {
        qk_err err;
        const char *path = o->file ? o->file : "/dev/stdin";
        if (!(*text = qk_file_read(path, len, &err)))
            return qk_fail("%s%s", err.msg,
                           qk_hint(err.msg, o->file ? " — check the path given to -f" : " — check standard input"));
    }
    if (*len == 0) {
        free(*text);
        return qk_fail("the text is empty — give a non-empty -p TEXT, -f FILE or --stdin input");
    }
    return 0;
}

/* The vocabulary of the GGUF file at path (its metadata only), or NULL after printing the
 * error. */
static qk_vocab *load_vocab(const char *path) {
    qk_err err = {{0}};
    gguf_ctx *g = gguf_open(path, &err);
    if (!g) {
        qk_fail("%s%s", err.msg, qk_hint(err.msg, " — pass a GGUF model or vocab file with -m"));
        return NULL;
    }
    qk_vocab *v = qk_vocab_load(g, &err);
    gguf_close(g);
    if (!v)
        qk_fail("%s%s", err.msg,
                qk_hint(err.msg, " — qk-tokenize needs tokenizer.ggml.* metadata of a supported tokenizer"));
    return v;
}

/* The tokens on stdout: "[1, 2, 3]" with ids_only, else one "%6d -> 'piece'" line each.
 * Returns 0, or prints the error and returns 1. */
static int print_tokens(const qk_vocab *v, const int32_t *ids, size_t n, bool ids_only) {
    if (ids_only) {
        fputc('[', stdout);
        for (size_t i = 0; i < n; i++) printf(i ? ", %d" : "%d", ids[i]);
        fputs("]\n", stdout);
        return 0;
    }
    char small[256];
    for (size_t i = 0; i < n; i++) {
        int pl = qk_token_to_piece(v, ids[i], small, sizeof small, true);
        char *p = small;
        if (pl > (int)sizeof small) {
            p = malloc((size_t)pl);
            if (!p) return qk_fail("out of memory");
            qk_token_to_piece(v, ids[i], p, (size_t)pl, true);
        }
        printf("%6d -> '", ids[i]);
        fwrite(p, 1, pl > 0 ? (size_t)pl : 0, stdout);
        fputs("'\n", stdout);
        if (p != small) free(p);
    }
    return 0;
}

/* Everything the tool prints after tokenizing: the tokens, --show-count's total and
 * --stats' line on stderr (len bytes tokenized in secs). Returns 0, or prints the error and
 * returns 1. */
static int print_result(const opts *o, const qk_vocab *v, const int32_t *ids, size_t n, size_t len, double secs) {
    if (print_tokens(v, ids, n, o->ids_only)) return 1;
    if (o->show_count) printf("Total number of tokens: %zu\n", n);
    if (o->stats)
        fprintf(stderr, "qk-tokenize: %zu bytes -> %zu tokens in %.3f s (%.1f MB/s)\n", len, n, secs,
                secs > 0 ? (double)len / secs / 1e6 : 0.0);
    if (fflush(stdout) != 0 || ferror(stdout)) return qk_fail("cannot write to standard output");
    return 0;
}

int main(int argc, char **argv) {
    qk_tool_init("qk-tokenize");
    opts o = {0};
    int rc = parse_args(argc, argv, &o);
    if (rc) return rc < 0;

    char *text = NULL;
    size_t len = 0;
    if (load_text(&o, &text, &len)) return 1;
    qk_vocab *v = load_vocab(o.model);
    if (!v) {
        free(text);
        return 1;
    }
    int32_t *ids = NULL;
    size_t n = 0;
    qk_err err = {{0}};
    const uint64_t t0 = qk_now_ns();
    rc = qk_tokenize(v, text, len, qk_vocab_add_bos(v) && !o.no_bos, !o.no_special, &ids, &n, &err);
    const double secs = 1e-9 * (double)(qk_now_ns() - t0);
    rc = rc ? qk_fail("%s", err.msg) : print_result(&o, v, ids, n, len, secs);
    free(ids);
    free(text);
    qk_vocab_free(v);
    return rc;
}
