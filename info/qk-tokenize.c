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
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gguf.h"
#include "tokenizer.h"
#include "tool.h"

static const char *prog = "qk-tokenize";

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
            prog, prog);
}

/* One error line; the hint is left out when the message already carries one. */
static int fail(const char *what, const char *todo) {
    if (todo && strstr(what, " — ")) todo = NULL;
    fprintf(stderr, "%s: error: %s%s%s\n", prog, what, todo ? " — " : "", todo ? todo : "");
    return 1;
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
static char *read_all(FILE *f, size_t *len) {
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    if (!buf) return NULL;
    for (;;) {
        if (n == cap) {
            char *b = realloc(buf, cap *= 2);
            if (!b) {
                free(buf);
                return NULL;
            }
            buf = b;
        }
        size_t r = fread(buf + n, 1, cap - n, f);
        n += r;
        if (r == 0) break;
    }
    if (ferror(f)) {
        free(buf);
        return NULL;
    }
    *len = n;
    return buf;
}

int main(int argc, char **argv) {
    qk_tool_init("qk-tokenize");
    const char *model = NULL, *prompt = NULL, *file = NULL;
    int use_stdin = 0, ids_only = 0, no_bos = 0, no_special = 0, no_escape = 0, show_count = 0, stats = 0;
    char msg[1024];
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int has_val = i + 1 < argc;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "-m") || !strcmp(a, "--model")) {
            if (!has_val) goto missing;
            model = argv[++i];
        } else if (!strcmp(a, "-p") || !strcmp(a, "--prompt")) {
            if (!has_val) goto missing;
            prompt = argv[++i];
        } else if (!strcmp(a, "-f") || !strcmp(a, "--file")) {
            if (!has_val) goto missing;
            file = argv[++i];
        } else if (!strcmp(a, "--stdin")) {
            use_stdin = 1;
        } else if (!strcmp(a, "--ids")) {
            ids_only = 1;
        } else if (!strcmp(a, "--no-bos")) {
            no_bos = 1;
        } else if (!strcmp(a, "--no-parse-special")) {
            no_special = 1;
        } else if (!strcmp(a, "--no-escape")) {
            no_escape = 1;
        } else if (!strcmp(a, "--show-count")) {
            show_count = 1;
        } else if (!strcmp(a, "--stats")) {
            stats = 1;
        } else {
            snprintf(msg, sizeof msg, "unknown option '%s'", a);
            return fail(msg, "see --help");
        }
        continue;
    missing:
        snprintf(msg, sizeof msg, "option %s needs a value", a);
        return fail(msg, "see --help");
    }
    if (!model) return fail("no model given", "pass a GGUF file with -m MODEL");
    if ((prompt != NULL) + (file != NULL) + use_stdin != 1)
        return fail("give exactly one text source", "use one of -p TEXT, -f FILE or --stdin");

    /* the text */
    char *text = NULL;
    size_t len = 0;
    if (prompt) {
        len = strlen(prompt);
        text = malloc(len + 1);
        if (!text) return fail("out of memory", NULL);
        memcpy(text, prompt, len + 1);
        if (!no_escape) len = process_escapes(text, len);
    } else if (file) {
        FILE *f = fopen(file, "rb");
        if (!f) {
            snprintf(msg, sizeof msg, "cannot open text file '%s': %s", file, strerror(errno));
            return fail(msg, "check the path given to -f");
        }
        text = read_all(f, &len);
        fclose(f);
        if (!text) {
            snprintf(msg, sizeof msg, "cannot read text file '%s'", file);
            return fail(msg, "check that it is a readable regular file");
        }
    } else {
        text = read_all(stdin, &len);
        if (!text) return fail("cannot read standard input", NULL);
    }
    if (len == 0) {
        free(text);
        return fail("the text is empty", "give a non-empty -p TEXT, -f FILE or --stdin input");
    }

    /* the vocabulary */
    qk_err err = {{0}};
    gguf_ctx *g = gguf_open(model, &err);
    if (!g) {
        free(text);
        return fail(err.msg, "pass a GGUF model or vocab file with -m");
    }
    qk_vocab *v = qk_vocab_load(g, &err);
    gguf_close(g);
    if (!v) {
        free(text);
        return fail(err.msg, "qk-tokenize needs tokenizer.ggml.* metadata of a supported tokenizer");
    }

    const bool add_special = qk_vocab_add_bos(v) && !no_bos;
    int32_t *ids = NULL;
    size_t n = 0;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int rc = qk_tokenize(v, text, len, add_special, !no_special, &ids, &n, &err);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (rc) {
        free(text);
        qk_vocab_free(v);
        return fail(err.msg, NULL);
    }

    if (ids_only) {
        fputc('[', stdout);
        for (size_t i = 0; i < n; i++) printf(i ? ", %d" : "%d", ids[i]);
        fputs("]\n", stdout);
    } else {
        char small[256];
        for (size_t i = 0; i < n; i++) {
            int pl = qk_token_to_piece(v, ids[i], small, sizeof small, true);
            char *p = small;
            if (pl > (int)sizeof small) {
                p = malloc((size_t)pl);
                if (!p) return fail("out of memory", NULL);
                qk_token_to_piece(v, ids[i], p, (size_t)pl, true);
            }
            printf("%6d -> '", ids[i]);
            fwrite(p, 1, pl > 0 ? (size_t)pl : 0, stdout);
            fputs("'\n", stdout);
            if (p != small) free(p);
        }
    }
    if (show_count) printf("Total number of tokens: %zu\n", n);
    if (stats) {
        double s = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
        fprintf(stderr, "%s: %zu bytes -> %zu tokens in %.3f s (%.1f MB/s)\n", prog, len, n, s,
                s > 0 ? (double)len / s / 1e6 : 0.0);
    }
    int out_err = fflush(stdout) != 0 || ferror(stdout);
    free(ids);
    free(text);
    qk_vocab_free(v);
    if (out_err) return fail("cannot write to standard output", NULL);
    return 0;
}
