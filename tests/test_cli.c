/*
 * test_cli.c — the tools' shared command line (common/cli.h): option errors from
 * qk_cli_next, the bounded number parsers, list appending, the error line and qk_hint.
 * Each parser's error is read back from stderr (redirected to a file for the call).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "testutil.h"
#include "tool.h"

/* stderr of the calls between capture_begin and capture_end, as a string (static). */
static int saved_fd = -1;
static FILE *cap;
static void capture_begin(void) {
    fflush(stderr);
    cap = tmpfile();
    ck_assert_ptr_nonnull(cap);
    saved_fd = dup(2);
    dup2(fileno(cap), 2);
}
static const char *capture_end(void) {
    static char buf[4096];
    fflush(stderr);
    dup2(saved_fd, 2);
    close(saved_fd);
    rewind(cap);
    size_t n = fread(buf, 1, sizeof buf - 1, cap);
    buf[n] = 0;
    fclose(cap);
    return buf;
}

START_TEST(numbers_in_and_out_of_bounds) {
    qk_tool_init("qk-test");
    int64_t x = 7;
    int32_t y = 7;
    double d = 7;
    ck_assert_int_eq(qk_cli_int("-c", "-12", -20, 20, &x), 0);
    ck_assert_int_eq(x, -12);
    ck_assert_int_eq(qk_cli_i32("-t", "4096", 1, QK_CLI_MAX_THREADS, &y), 0);
    ck_assert_int_eq(y, 4096);
    ck_assert_int_eq(qk_cli_double("--gbs", "2.5e1", 0.001, 1e6, &d), 0);
    ck_assert(d == 25.0);
    static const char *const bad_int[] = {"", "x", "1x", "4097", "0", " 5", "99999999999999999999999", "1.5"};
    for (size_t i = 0; i < sizeof bad_int / sizeof *bad_int; i++) {
        capture_begin();
        ck_assert_int_eq(qk_cli_i32("-t", bad_int[i], 1, 4096, &y), QK_CLI_ERROR);
        const char *e = capture_end();
        char want[128];
        snprintf(want, sizeof want, "qk-test: error: -t expects an integer from 1 to 4096, got '%s'\n", bad_int[i]);
        ck_assert_str_eq(e, want);
        ck_assert_int_eq(y, 4096); /* untouched on error */
    }
    static const char *const bad_double[] = {"nan", "inf", "1e400", "0", "x", "1,5"};
    for (size_t i = 0; i < sizeof bad_double / sizeof *bad_double; i++) {
        capture_begin();
        ck_assert_int_eq(qk_cli_double("--gbs", bad_double[i], 0.001, 1e6, &d), QK_CLI_ERROR);
        ck_assert_ptr_nonnull(strstr(capture_end(), "--gbs expects a number from 0.001 to 1e+06"));
        ck_assert(d == 25.0);
    }
}
END_TEST

START_TEST(lists_append_up_to_cap) {
    qk_tool_init("qk-test");
    int32_t v[4];
    size_t n = 0;
    ck_assert_int_eq(qk_cli_i32_list("-p", "512,0", 0, 1024, v, 4, &n), 0);
    ck_assert_int_eq(qk_cli_i32_list("-p", "7", 0, 1024, v, 4, &n), 0); /* a repeated option adds up */
    ck_assert_uint_eq(n, 3);
    ck_assert(v[0] == 512 && v[1] == 0 && v[2] == 7);
    static const char *const bad[] = {"1,,2", ",1", "1,", "x", "-1", "2000", "1,2"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        capture_begin();
        ck_assert_int_eq(qk_cli_i32_list("-p", bad[i], 0, 1024, v, 4, &n), QK_CLI_ERROR);
        ck_assert_ptr_nonnull(strstr(capture_end(), "-p expects a comma-separated list of integers from 0 to 1024 (up to 4 in all)"));
        ck_assert_uint_eq(n, 3); /* "1,2" would pass the cap: nothing appended */
    }
}
END_TEST

/* Parse argv with the option set of a small tool; returns what the loop ended with and the
 * stderr text. */
static int parse(char **argv, int argc, const char **err, int *got_n) {
    static const struct option LONG[] = {{"name", required_argument, NULL, 'n'},
                                         {"flag", no_argument, NULL, 'F'},
                                         {0}};
    optind = 1;
    int c, last = 0;
    *got_n = 0;
    capture_begin();
    while ((c = qk_cli_next(argc, argv, ":n:F", LONG)) != -1) {
        last = c;
        if (c == 'n') ++*got_n;
        if (c == '?') break;
    }
    *err = capture_end();
    return last;
}

START_TEST(option_errors_are_one_line) {
    qk_tool_init("qk-test");
    const char *e;
    int n;
    char *ok[] = {"qk-test", "--name=a", "-n", "b", "--fl", "op", NULL};
    ck_assert_int_eq(parse(ok, 6, &e, &n), 'F');
    ck_assert_int_eq(n, 2);
    ck_assert_str_eq(e, "");
    ck_assert_int_eq(optind, 5); /* operands permuted to the end */
    static const struct {
        char *arg;
        const char *want;
    } bad[] = {
        {"--frobnicate", "qk-test: error: unknown option '--frobnicate' — run qk-test --help\n"},
        {"-x", "qk-test: error: unknown option '-x' — run qk-test --help\n"},
        {"-n", "qk-test: error: option '-n' needs a value — run qk-test --help\n"},
        {"--name", "qk-test: error: option '--name' needs a value — run qk-test --help\n"},
        {"--flag=1", "qk-test: error: option '--flag' takes no value — run qk-test --help\n"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char *argv[] = {"qk-test", bad[i].arg, NULL};
        ck_assert_int_eq(parse(argv, 2, &e, &n), '?');
        ck_assert_str_eq(e, bad[i].want);
    }
}
END_TEST

START_TEST(fail_line_and_hint) {
    qk_tool_init("qk-test");
    capture_begin();
    ck_assert_int_eq(qk_fail("cannot open '%s'%s", "m.gguf", qk_hint("x", " — check the path")), 1);
    ck_assert_int_eq(qk_cli_error("bad %d", 3), QK_CLI_ERROR);
    ck_assert_str_eq(capture_end(), "qk-test: error: cannot open 'm.gguf' — check the path\nqk-test: error: bad 3\n");
    ck_assert_str_eq(qk_hint("a — b", " — c"), "");
    ck_assert_str_eq(qk_tool_prog(), "qk-test");
}
END_TEST

int main(void) {
    Suite *s = suite_create("cli");
    TCase *t = tcase_create("cli");
    tcase_add_test(t, numbers_in_and_out_of_bounds);
    tcase_add_test(t, lists_append_up_to_cap);
    tcase_add_test(t, option_errors_are_one_line);
    tcase_add_test(t, fail_line_and_hint);
    suite_add_tcase(s, t);
    return qk_test_main(s);
}
