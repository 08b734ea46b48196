/*
 * qk-prompts — write the case study's prompt set (selected lines of a WikiText split, one
 * per line) to a file. The selection rule is datasets/prompts.h; this file is the CLI.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "prompts.h"
#include "wikitext.h"
#include "tool.h"

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

static int die(const char *what, const char *todo) {
    if (todo) fprintf(stderr, "qk-prompts: error: %s — %s\n", what, todo);
    else fprintf(stderr, "qk-prompts: error: %s\n", what);
    return 1;
}

static int parse_size(const char *s, long lo, long *out) {
    char *end;
    long v = strtol(s, &end, 10);
    if (!*s || *end || v < lo || v > 100000000L) return -1;
    *out = v;
    return 0;
}

int main(int argc, char **argv) {
    qk_tool_init("qk-prompts");
    const char *in = NULL, *outp = NULL;
    qk_prompt_rules rules = qk_prompt_rules_default();
    char msg[1024];
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        }
        if (i + 1 >= argc) {
            snprintf(msg, sizeof msg, "unknown option or missing value: '%s'", a);
            return die(msg, "see qk-prompts --help");
        }
        const char *v = argv[++i];
        long x;
        if (!strcmp(a, "-f") || !strcmp(a, "--file")) in = v;
        else if (!strcmp(a, "-o") || !strcmp(a, "--output")) outp = v;
        else if (!strcmp(a, "-n")) {
            if (parse_size(v, 1, &x) != 0) return die("-n wants an integer >= 1", NULL);
            rules.n_max = (int)x;
        } else if (!strcmp(a, "--min-chars")) {
            if (parse_size(v, 0, &x) != 0) return die("--min-chars wants an integer >= 0", NULL);
            rules.min_chars = (size_t)x;
        } else if (!strcmp(a, "--max-chars")) {
            if (parse_size(v, 1, &x) != 0) return die("--max-chars wants an integer >= 1", NULL);
            rules.max_chars = (size_t)x;
        } else {
            snprintf(msg, sizeof msg, "unknown option '%s'", a);
            return die(msg, "see qk-prompts --help");
        }
    }
    if (!in || !outp) return die("both -f TEXT and -o OUT are required", "see qk-prompts --help");

    qk_text text;
    qk_err err;
    if (qk_wikitext_load(in, &text, &err) != 0) return die(err.msg, "pass a UTF-8 text file");
    qk_prompt_set set;
    if (qk_prompts_build(text.data, text.len, &rules, &set, &err) != 0) {
        qk_text_free(&text);
        return die(err.msg, "check the text and the length bounds");
    }
    qk_text_free(&text);
    if (qk_prompts_write(outp, &set, &err) != 0) {
        qk_prompts_free(&set);
        return die(err.msg, "check that the output directory exists and is writable");
    }
    fprintf(stderr, "qk-prompts: wrote %d prompt%s to %s%s\n", set.n, set.n == 1 ? "" : "s",
            outp, set.n < rules.n_max ? " (fewer lines qualified than asked for)" : "");
    qk_prompts_free(&set);
    return 0;
}
