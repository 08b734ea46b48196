/*
 * test_datasets.c — WikiText loading and validation, the prompt-set rule (boundary lengths
 * 100/101/999/1000 code points, blank lines, multi-byte UTF-8, CRLF, the n_max cut), the
 * prompt-set file (atomic write, read back, determinism), 100 prompts from wiki.test.raw,
 * the qk-prompts CLI, and datasets/fetch.sh --check / local linking (never downloads).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "prompts.h"
#include "fileio.h"
#include "testutil.h"
#include "wikitext.h"

#define WIKI "data/wikitext-2-raw/wiki.test.raw"
#define WIKI_SHA "173c87a53759e0201f33e0ccf978e510c2042d7f2cb78229d9a50d79b9e7dd08"

/* n copies of the UTF-8 sequence u */
static void rep(qk_sb *sb, const char *u, int n) {
    for (int i = 0; i < n; i++) qk_sb_puts(sb, u);
}

static char *tmp_path(const char *name) {
    static char buf[8][4200];
    static int k;
    char *p = buf[k++ % 8];
    snprintf(p, 4200, "%s/%s", qk_test_tmpdir(), name);
    return p;
}

START_TEST(utf8_validation) {
    size_t bad = 99;
    ck_assert_int_eq(qk_utf8_validate("abc \xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 15, &bad), 0);
    ck_assert_int_eq(qk_utf8_validate("ab\xc0\x80", 4, &bad), -1); /* overlong NUL */
    ck_assert_int_eq(bad, 2);
    ck_assert_int_eq(qk_utf8_validate("\xed\xa0\x80", 3, &bad), -1); /* surrogate */
    ck_assert_int_eq(qk_utf8_validate("x\xe2\x82", 3, &bad), -1);    /* truncated */
    ck_assert_int_eq(bad, 1);
    ck_assert_int_eq(qk_utf8_validate("a\0b", 3, &bad), -1);        /* NUL is not text */
    ck_assert_int_eq(qk_utf8_validate("\xff", 1, &bad), -1);
    ck_assert_int_eq(qk_utf8_count("a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 10), 4);
}
END_TEST

START_TEST(wikitext_load) {
    qk_text t;
    qk_err err;
    ck_assert_int_eq(qk_wikitext_load(qk_test_shared(WIKI), &t, &err), 0);
    ck_assert_uint_eq(t.len, 1290590);
    ck_assert_uint_eq(t.n_lines, 4358);
    char hex[65];
    qk_test_sha256_hex(t.data, t.len, hex);
    ck_assert_str_eq(hex, WIKI_SHA);
    ck_assert(strncmp(t.data, " \n = Robert Boulter = \n", 23) == 0);
    qk_text_free(&t);

    /* bad inputs: missing, empty, whitespace only, invalid UTF-8 (message names the line) */
    ck_assert_int_eq(qk_wikitext_load(tmp_path("nope.raw"), &t, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "cannot open"));
    ck_assert_int_eq(qk_afile_write_all(tmp_path("empty.raw"), "", 0, NULL), 0);
    ck_assert_int_eq(qk_wikitext_load(tmp_path("empty.raw"), &t, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "empty"));
    ck_assert_int_eq(qk_afile_write_all(tmp_path("ws.raw"), " \n \n\t\n", 6, NULL), 0);
    ck_assert_int_eq(qk_wikitext_load(tmp_path("ws.raw"), &t, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "whitespace"));
    ck_assert_int_eq(qk_afile_write_all(tmp_path("bad.raw"), "ok\nok\nb\xe9" "d\n", 10, NULL), 0);
    ck_assert_int_eq(qk_wikitext_load(tmp_path("bad.raw"), &t, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "line 3"));
    ck_assert_ptr_null(t.data);
}
END_TEST

/* The crafted file: which lines must be selected is stated next to each line. */
static void crafted(qk_sb *sb) {
    rep(sb, "a", 100);              /* line 1: exactly 100 -> out */
    qk_sb_puts(sb, "\n");
    rep(sb, "b", 101);              /* line 2: 101 -> IN */
    qk_sb_puts(sb, "\n");
    qk_sb_puts(sb, "\n");           /* line 3: empty -> out */
    rep(sb, " ", 150);              /* line 4: 150 spaces, blank -> out */
    qk_sb_puts(sb, "\n");
    rep(sb, "c", 999);              /* line 5: 999 -> IN */
    qk_sb_puts(sb, "\n");
    rep(sb, "d", 1000);             /* line 6: exactly 1000 -> out */
    qk_sb_puts(sb, "\n");
    rep(sb, "\xc3\xa9", 101);       /* line 7: 101 code points, 202 bytes -> IN */
    qk_sb_puts(sb, "\n");
    rep(sb, "\xe2\x82\xac", 60);    /* line 8: 60 code points, 180 bytes -> out */
    qk_sb_puts(sb, "\n");
    rep(sb, "\xf0\x9f\x98\x80", 999); /* line 9: 999 code points, 3996 bytes -> IN */
    qk_sb_puts(sb, "\n");
    rep(sb, "e", 100);              /* line 10: 100 + "\r\n": CR not counted -> out */
    qk_sb_puts(sb, "\r\n");
    rep(sb, "f", 101);              /* line 11: 101 + "\r\n" -> IN (without the CR) */
    qk_sb_puts(sb, "\r\n");
    qk_sb_puts(sb, " \t \n");        /* line 12: blank -> out */
    rep(sb, "g", 500);              /* line 13: no final newline -> IN */
}

START_TEST(prompt_rule_boundaries) {
    qk_sb sb = {0};
    crafted(&sb);
    qk_prompt_rules rules = qk_prompt_rules_default();
    qk_prompt_set set;
    qk_err err;
    ck_assert_int_eq(qk_prompts_build(sb.buf, sb.len, &rules, &set, &err), 0);
    const size_t lines[] = {2, 5, 7, 9, 11, 13};
    const size_t bytes[] = {101, 999, 202, 3996, 101, 500};
    const char first[] = {'b', 'c', '\xc3', '\xf0', 'f', 'g'};
    ck_assert_int_eq(set.n, 6);
    for (int i = 0; i < set.n; i++) {
        ck_assert_uint_eq(set.line_no[i], lines[i]);
        ck_assert_uint_eq(strlen(set.text[i]), bytes[i]);
        ck_assert_int_eq(set.text[i][0], first[i]);
        ck_assert_ptr_null(strpbrk(set.text[i], "\r\n"));
    }
    qk_prompts_free(&set);

    /* the n_max cut keeps the first matches in file order */
    rules.n_max = 2;
    ck_assert_int_eq(qk_prompts_build(sb.buf, sb.len, &rules, &set, &err), 0);
    ck_assert_int_eq(set.n, 2);
    ck_assert_uint_eq(set.line_no[1], 5);
    qk_prompts_free(&set);

    /* other bounds */
    rules = qk_prompt_rules_default();
    rules.min_chars = 998;
    ck_assert_int_eq(qk_prompts_build(sb.buf, sb.len, &rules, &set, &err), 0);
    ck_assert_int_eq(set.n, 2); /* the two 999-code-point lines */
    qk_prompts_free(&set);
    rules.min_chars = 1000;
    rules.max_chars = 2000;
    ck_assert_int_eq(qk_prompts_build(sb.buf, sb.len, &rules, &set, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "no line"));
    rules.min_chars = 10;
    rules.max_chars = 11;
    ck_assert_int_eq(qk_prompts_build(sb.buf, sb.len, &rules, &set, &err), -1);
    rules = qk_prompt_rules_default();
    ck_assert_int_eq(qk_prompts_build("\xc3(", 2, &rules, &set, &err), -1);
    qk_sb_free(&sb);
}
END_TEST

START_TEST(prompt_file_roundtrip) {
    qk_sb sb = {0};
    crafted(&sb);
    qk_prompt_rules rules = qk_prompt_rules_default();
    qk_prompt_set set, back;
    qk_err err;
    ck_assert_int_eq(qk_prompts_build(sb.buf, sb.len, &rules, &set, &err), 0);
    const char *path = tmp_path("crafted.prompts");
    ck_assert_int_eq(qk_prompts_write(path, &set, &err), 0);
    size_t len;
    char *text = qk_test_read_file(path, &len);
    ck_assert_ptr_nonnull(text);
    ck_assert_uint_eq(len, 101 + 999 + 202 + 3996 + 101 + 500 + 6); /* one "\n" each */
    ck_assert_int_eq(text[len - 1], '\n');
    free(text);
    ck_assert_int_eq(qk_prompts_load(path, &back, &err), 0);
    ck_assert_int_eq(back.n, set.n);
    for (int i = 0; i < set.n; i++) ck_assert_str_eq(back.text[i], set.text[i]);
    qk_prompts_free(&back);
    /* no temp file left behind */
    char tmpglob[4300];
    snprintf(tmpglob, sizeof tmpglob, "ls %s | grep -c tmp", qk_test_tmpdir());
    char *out = NULL;
    qk_test_run(tmpglob, &out);
    ck_assert_str_eq(out, "0\n");
    free(out);
    /* a prompt with a line break cannot be written */
    char *saved = set.text[0];
    set.text[0] = "two\nlines";
    ck_assert_int_eq(qk_prompts_write(tmp_path("never.prompts"), &set, &err), -1);
    ck_assert(access(tmp_path("never.prompts"), F_OK) != 0);
    set.text[0] = saved;
    qk_prompts_free(&set);
    /* a set file with a blank line is rejected */
    ck_assert_int_eq(qk_afile_write_all(tmp_path("blank.prompts"), "a\n\nb\n", 5, NULL), 0);
    ck_assert_int_eq(qk_prompts_load(tmp_path("blank.prompts"), &back, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "line 2"));
    /* so is one whose line holds what the writer refuses (found by tests/fuzz/fuzz_files.c)
     * or a C string cannot hold */
    ck_assert_int_eq(qk_afile_write_all(tmp_path("cr.prompts"), "a\r\nb\rc\n", 7, NULL), 0);
    ck_assert_int_eq(qk_prompts_load(tmp_path("cr.prompts"), &back, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "line 2 holds a carriage return"));
    ck_assert_int_eq(qk_afile_write_all(tmp_path("nul.prompts"), "a\nb\0c\n", 6, NULL), 0);
    ck_assert_int_eq(qk_prompts_load(tmp_path("nul.prompts"), &back, &err), -1);
    ck_assert_msg(strstr(err.msg, "is not valid UTF-8 (offset 3)"), "%s", err.msg);
    qk_sb_free(&sb);
}
END_TEST

START_TEST(wiki_gives_100_prompts) {
    qk_text t;
    qk_err err;
    ck_assert_int_eq(qk_wikitext_load(qk_test_shared(WIKI), &t, &err), 0);
    qk_prompt_rules rules = qk_prompt_rules_default();
    qk_prompt_set a, b;
    ck_assert_int_eq(qk_prompts_build(t.data, t.len, &rules, &a, &err), 0);
    ck_assert_int_eq(a.n, 100);
    ck_assert(strncmp(a.text[0], " Robert Boulter is an English film , television and theatre actor .", 67) == 0);
    ck_assert_uint_eq(a.line_no[0], 4); /* " ", " = Robert Boulter = ", " ", then the text */
    for (int i = 0; i < a.n; i++) {
        size_t cp = qk_utf8_count(a.text[i], strlen(a.text[i]));
        ck_assert(cp > 100 && cp < 1000);
        ck_assert_ptr_nonnull(strstr(t.data, a.text[i])); /* verbatim substring */
        if (i > 0) ck_assert_uint_gt(a.line_no[i], a.line_no[i - 1]);
    }
    /* determinism: same selection, same file bytes */
    ck_assert_int_eq(qk_prompts_build(t.data, t.len, &rules, &b, &err), 0);
    ck_assert_int_eq(b.n, a.n);
    for (int i = 0; i < a.n; i++) ck_assert_str_eq(a.text[i], b.text[i]);
    ck_assert_int_eq(qk_prompts_write(tmp_path("w1.prompts"), &a, &err), 0);
    ck_assert_int_eq(qk_prompts_write(tmp_path("w2.prompts"), &b, &err), 0);
    size_t l1, l2;
    char *f1 = qk_test_read_file(tmp_path("w1.prompts"), &l1), *f2 = qk_test_read_file(tmp_path("w2.prompts"), &l2);
    char h1[65], h2[65];
    qk_test_sha256_hex(f1, l1, h1);
    qk_test_sha256_hex(f2, l2, h2);
    ck_assert_str_eq(h1, h2);

    /* the CLI writes the same bytes */
    char cmd[8192], *out = NULL;
    snprintf(cmd, sizeof cmd, "%s -f %s -o %s", qk_test_bin("qk-prompts"), qk_test_shared(WIKI),
             tmp_path("cli.prompts"));
    ck_assert_int_eq(qk_test_run(cmd, &out), 0);
    ck_assert_ptr_nonnull(strstr(out, "wrote 100 prompts"));
    free(out);
    size_t l3;
    char *f3 = qk_test_read_file(tmp_path("cli.prompts"), &l3);
    ck_assert_uint_eq(l3, l1);
    ck_assert_int_eq(memcmp(f1, f3, l1), 0);
    free(f1);
    free(f2);
    free(f3);
    qk_prompts_free(&a);
    qk_prompts_free(&b);
    qk_text_free(&t);
}
END_TEST

START_TEST(cli_errors) {
    char cmd[8192], *out = NULL;
    snprintf(cmd, sizeof cmd, "%s -f %s -o %s", qk_test_bin("qk-prompts"), tmp_path("nope.raw"),
             tmp_path("x.prompts"));
    ck_assert_int_ne(qk_test_run(cmd, &out), 0);
    ck_assert(strncmp(out, "qk-prompts: error: ", 19) == 0);
    ck_assert_ptr_eq(strchr(out, '\n'), out + strlen(out) - 1);
    ck_assert(access(tmp_path("x.prompts"), F_OK) != 0);
    free(out);
    snprintf(cmd, sizeof cmd, "%s -f %s", qk_test_bin("qk-prompts"), qk_test_shared(WIKI));
    ck_assert_int_ne(qk_test_run(cmd, &out), 0);
    free(out);
    snprintf(cmd, sizeof cmd, "%s --help", qk_test_bin("qk-prompts"));
    ck_assert_int_eq(qk_test_run(cmd, &out), 0);
    ck_assert_ptr_nonnull(strstr(out, "default: 100"));
    free(out);
}
END_TEST

START_TEST(fetch_check_and_local_link) {
    /* datasets/fetch.sh sits next to this test's source; QK_FETCH_NO_DOWNLOAD keeps it
     * off the network whatever happens. */
    char script[4200], dest[4200], cmd[16384], *out = NULL;
    const char *src = __FILE__; /* absolute: CMake compiles tests/test_datasets.c by full path */
    const char *slash = strrchr(src, '/');
    ck_assert_ptr_nonnull(slash);
    snprintf(script, sizeof script, "%.*s/../datasets/fetch.sh", (int)(slash - src), src);
    ck_assert_msg(access(script, R_OK) == 0, "fetch.sh not found at %s", script);

    snprintf(dest, sizeof dest, "%s/fetch-dest", qk_test_tmpdir());
    /* empty DEST: --check fails and names what is missing */
    snprintf(cmd, sizeof cmd, "QK_FETCH_NO_DOWNLOAD=1 sh %s --check --text-only %s", script, dest);
    ck_assert_int_ne(qk_test_run(cmd, &out), 0);
    ck_assert_ptr_nonnull(strstr(out, "missing or wrong"));
    free(out);
    /* linking from the local mirror, then --check passes */
    snprintf(cmd, sizeof cmd, "QK_FETCH_NO_DOWNLOAD=1 QK_DATA_DIR=%s/data sh %s --text-only %s",
             QK_SHARED_DIR, script, dest);
    int rc = qk_test_run(cmd, &out);
    ck_assert_msg(rc == 0, "fetch.sh failed: %s", out);
    free(out);
    snprintf(cmd, sizeof cmd, "QK_FETCH_NO_DOWNLOAD=1 sh %s --check --text-only %s", script, dest);
    ck_assert_int_eq(qk_test_run(cmd, &out), 0);
    free(out);
    char path[4300];
    snprintf(path, sizeof path, "%s/wikitext-2-raw/wiki.test.raw", dest);
    size_t len;
    char *data = qk_test_read_file(path, &len);
    ck_assert_ptr_nonnull(data);
    char hex[65];
    qk_test_sha256_hex(data, len, hex);
    ck_assert_str_eq(hex, WIKI_SHA);
    free(data);
    /* no mirror and no downloads: a clear failure, no partial file */
    snprintf(dest, sizeof dest, "%s/fetch-dest2", qk_test_tmpdir());
    snprintf(cmd, sizeof cmd, "QK_FETCH_NO_DOWNLOAD=1 QK_DATA_DIR=%s/none sh %s --text-only %s",
             qk_test_tmpdir(), script, dest);
    ck_assert_int_ne(qk_test_run(cmd, &out), 0);
    ck_assert_ptr_nonnull(strstr(out, "fetch.sh: error: cannot download WikiText-2"));
    free(out);
    snprintf(path, sizeof path, "%s/wikitext-2-raw/wiki.test.raw", dest);
    ck_assert(access(path, F_OK) != 0);
    /* a corrupted copy fails --check */
    snprintf(dest, sizeof dest, "%s/fetch-dest3/wikitext-2-raw", qk_test_tmpdir());
    ck_assert_int_eq(qk_file_mkdir_p(dest, NULL), 0);
    snprintf(path, sizeof path, "%s/wiki.test.raw", dest);
    ck_assert_int_eq(qk_afile_write_all(path, "not wikitext\n", 13, NULL), 0);
    snprintf(cmd, sizeof cmd, "QK_FETCH_NO_DOWNLOAD=1 sh %s --check --text-only %s/fetch-dest3", script,
             qk_test_tmpdir());
    ck_assert_int_ne(qk_test_run(cmd, &out), 0);
    free(out);
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("datasets");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, utf8_validation);
    tcase_add_test(tc, wikitext_load);
    tcase_add_test(tc, prompt_rule_boundaries);
    tcase_add_test(tc, prompt_file_roundtrip);
    tcase_add_test(tc, wiki_gives_100_prompts);
    tcase_add_test(tc, cli_errors);
    tcase_add_test(tc, fetch_check_and_local_link);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return qk_test_main(suite()); }
