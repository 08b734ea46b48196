/*
 * qk-prompts — write the case study's prompt set (selected lines of a WikiText split, one
 * per line) to a file. The selection rule is datasets/prompts.h; this file is the CLI.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "prompts.h"
#include "tool.h"
#include "wikitext.h"

static void usage(FILE *f) {
    fprintf(f,
        "usage: qk-prompts -f TEXT -o OUT [-n N] [--min-chars A] [--max-chars B]\n"
        "\n"
        "Writes the first N lines of TEXT that are non-blank and have more than A and fewer\n"
        "than B characters (Unicode code points, line break not counted), verbatim, one per\n"
        "line, to OUT (written atomically).\n"
        "\n"
        "  -f, --file TEXT      source text, e.g. wiki.test.raw (required)\n"
        "  -o, --output OUT     prompt-set file to write (required)\n"
        "  -n N                 number of prompts (default: %d)\n"
        "  --min-chars A        exclusive lower bound (default: %d)\n"
        "  --max-chars B        exclusive upper bound (default: %d)\n"
        "  -h, --help           show this help\n",
        QK_PROMPTS_DEFAULT_N, QK_PROMPTS_DEFAULT_MIN, QK_PROMPTS_DEFAULT_MAX);
}

typedef struct opts {
    const char *in, *out;
    qk_prompt_rules rules;
} opts;

static int parse_args(int argc, char **argv, opts *o) {
    static const struct option LONG[] = {{"file", required_argument, NULL, 'f'},
                                         {"output", required_argument, NULL, 'o'},
                                         {"min-chars", required_argument, NULL, 'A'},
                                         {"max-chars", required_argument, NULL, 'B'},
                                         {"help", no_argument, NULL, 'h'},
                                         {0}};
    o->rules = qk_prompt_rules_default();
    int c;
    int64_t x;
    while ((c = qk_cli_next(argc, argv, ":f:o:n:h", LONG)) != -1) {
        switch (c) {
        case 'f': o->in = optarg; break;
        case 'o': o->out = optarg; break;
        case 'n':
            if (qk_cli_i32("-n", optarg, 1, 100000000, &o->rules.n_max)) return QK_CLI_ERROR;
            break;
        case 'A':
            if (qk_cli_int("--min-chars", optarg, 0, 100000000, &x)) return QK_CLI_ERROR;
            o->rules.min_chars = (size_t)x;
            break;
        case 'B':
            if (qk_cli_int("--max-chars", optarg, 1, 100000000, &x)) return QK_CLI_ERROR;
            o->rules.max_chars = (size_t)x;
            break;
        case 'h': usage(stdout); return QK_CLI_DONE;
        default: return QK_CLI_ERROR;
        }
    }
    if (optind < argc) return qk_cli_error("unexpected argument '%s' — run qk-prompts --help", argv[optind]);
    if (!o->in || !o->out) return qk_cli_error("both -f TEXT and -o OUT are required — run qk-prompts --help");
    return QK_CLI_RUN;
}

int main(int argc, char **argv) {
    qk_tool_init("qk-prompts");
    opts o = {0};
    int rc = parse_args(argc, argv, &o);
    if (rc) return rc < 0;

    qk_text text;
    qk_err err;
    if (qk_wikitext_load(o.in, &text, &err) != 0) return qk_fail("%s — pass a UTF-8 text file", err.msg);
    qk_prompt_set set;
    if (qk_prompts_build(text.data, text.len, &o.rules, &set, &err) != 0) {
        qk_text_free(&text);
        return qk_fail("%s — check the text and the length bounds", err.msg);
    }
    qk_text_free(&text);
    if (qk_prompts_write(o.out, &set, &err) != 0) {
        qk_prompts_free(&set);
        return qk_fail("%s — check that the output directory exists and is writable", err.msg);
    }
    fprintf(stderr, "qk-prompts: wrote %d prompt%s to %s%s\n", set.n, set.n == 1 ? "" : "s", o.out,
            set.n < o.rules.n_max ? " (fewer lines qualified than asked for)" : "");
    qk_prompts_free(&set);
    return 0;
}
