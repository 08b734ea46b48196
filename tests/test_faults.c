/*
 * test_faults.c — what a tool does when the world fails under it: signals while it writes,
 * a file-size limit (the stand-in for a full disk), and a model truncated while it is
 * mapped. The rule: one error line naming what went wrong, or death by the signal that
 * was sent, and in every case no temporary or partial output left behind (common/tool.h,
 * engine/afile.h).
 *
 * Also: a full disk for the small outputs (JSON, bench results, report tables), and kill -9
 * at random points (the target absent or complete, never partial).
 *
 * Each case runs a real tool through bash on stories260K (small and fast), writing a
 * base-logits file of many chunks so that the run is long enough to be interrupted: the
 * script waits until the tool's registered temporary ("<out>.tmp.XXXXXX") exists, then
 * sends the signal. Checked afterwards: the exit status, the error line, and that the
 * output directory holds no file whose name starts with the output's.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#define STORIES "data/models/stories260K/stories260K.gguf"
#define WIKI "data/wikitext-2-raw/wiki.test.raw"

/* Files in the temporary directory whose names start with prefix. */
static int count_prefix(const char *prefix) {
    DIR *d = opendir(qk_test_tmpdir());
    ck_assert_ptr_nonnull(d);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));) n += strncmp(e->d_name, prefix, strlen(prefix)) == 0;
    closedir(d);
    return n;
}

/* bash -c script; returns its output (caller frees). */
static char *bash(const char *script) {
    char path[4200];
    snprintf(path, sizeof path, "%s/script.sh", qk_test_tmpdir());
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(script, f);
    fclose(f);
    char cmd[4400];
    snprintf(cmd, sizeof cmd, "timeout 120 bash %s", path);
    char *out = NULL;
    qk_test_run(cmd, &out);
    return out;
}

/* The number after "rc=" in the script's output. */
static int rc_of(const char *out) {
    const char *p = strstr(out, "rc=");
    ck_assert_msg(p != NULL, "no rc= in: %s", out);
    return atoi(p + 3);
}

/* A qk-perplexity run writing OUT (a base-logits file of 800 chunks of stories260K, -b 16:
 * seconds of work), started in the background; the script waits for its temporary. */
static void start_ppl(char *buf, size_t cap, const char *out, const char *model, const char *opts, const char *pipe_to) {
    char m[4200], w[4096];
    snprintf(m, sizeof m, "%s", model ? model : qk_test_shared(STORIES));
    snprintf(w, sizeof w, "%s", qk_test_shared(WIKI));
    snprintf(buf, cap,
             "cd %s\n"
             "%s -m %s -f %s -c 256 --chunks 800 -b 16 -t 1 --kl-divergence-base %s %s %s 2> err.txt &\n"
             "pid=$!\n"
             "for i in $(seq 400); do ls %s.tmp.* >/dev/null 2>&1 && break; sleep 0.02; done\n",
             qk_test_tmpdir(), qk_test_bin("qk-perplexity"), m, w, out, opts ? opts : "", pipe_to ? pipe_to : "> /dev/null",
             out);
}

/* SIGINT, SIGTERM, SIGHUP while the base file is written: the tool dies of the signal
 * (exit status 128 + signal, as before) and leaves neither the output nor a temporary. */
START_TEST(test_signals_leave_nothing) {
    typedef struct named_signal {
        const char *name;
        int num;
    } named_signal;
    static const named_signal sigs[] = {{"INT", 2}, {"TERM", 15}, {"HUP", 1}};
    const named_signal *s = &sigs[_i];
    char out[64], script[65536];
    snprintf(out, sizeof out, "sig%s.kld", s->name);
    start_ppl(script, sizeof script, out, NULL, NULL, NULL);
    snprintf(script + strlen(script), sizeof script - strlen(script),
             "ls %s.tmp.* >/dev/null 2>&1 && echo temp-seen\nkill -%s $pid\nwait $pid\necho rc=$?\n", out, s->name);
    char *o = bash(script);
    ck_assert_msg(strstr(o, "temp-seen") != NULL, "the run ended before it could be interrupted: %s", o);
    ck_assert_int_eq(rc_of(o), 128 + s->num);
    ck_assert_msg(count_prefix(out) == 0, "SIG%s left %s or its temporary behind", s->name, out);
    free(o);
}
END_TEST

/* `qk-perplexity ... | head -c 1`: the reader goes away after the first chunk; the next
 * write to stdout raises SIGPIPE, the tool dies of it, and the temporary is removed. */
START_TEST(test_sigpipe_leaves_nothing) {
    char script[65536];
    start_ppl(script, sizeof script, "pipe.kld", NULL, NULL, "| head -c 1 > /dev/null");
    snprintf(script + strlen(script), sizeof script - strlen(script), "wait $pid\necho rc=${PIPESTATUS[0]}\n");
    /* $! of a pipeline is its last command (head): the tool's status comes from wait on the
     * whole pipeline; check the files instead of relying on the status */
    char *o = bash(script);
    ck_assert_msg(count_prefix("pipe.kld") == 0, "a closed stdout pipe left pipe.kld or its temporary: %s", o);
    free(o);
}
END_TEST

/* A file-size limit (ulimit -f; the same failure as a full disk): the write fails, one
 * error line names the output, exit 1, nothing left. qk-quantize and qk-perplexity. */
START_TEST(test_file_size_limit_is_one_error) {
    char script[65536], m[4096], w[4096], q[4096], p[4096];
    snprintf(m, sizeof m, "%s", qk_test_shared(STORIES));
    snprintf(w, sizeof w, "%s", qk_test_shared(WIKI));
    snprintf(q, sizeof q, "%s", qk_test_bin("qk-quantize")); /* both return one static buffer */
    snprintf(p, sizeof p, "%s", qk_test_bin("qk-perplexity"));
    snprintf(script, sizeof script,
             "cd %s\n"
             "(ulimit -f 64; %s %s fsz-q.gguf F32 1 > /dev/null 2> err-q.txt); echo rcq=$?\n"
             "(ulimit -f 64; %s -m %s -f %s -c 256 --chunks 20 -t 1 --kl-divergence-base fsz-p.kld > /dev/null 2> err-p.txt);"
             " echo rcp=$?\n"
             "echo ---; tail -n 1 err-q.txt; echo ---; tail -n 1 err-p.txt; grep -c 'error:' err-q.txt err-p.txt\n",
             qk_test_tmpdir(), q, m, p, m, w);
    char *o = bash(script);
    ck_assert_msg(strstr(o, "rcq=1\n") && strstr(o, "rcp=1\n"), "want exit 1 from both: %s", o);
    ck_assert_msg(strstr(o, "qk-quantize: error: cannot write 'fsz-q.gguf': File too large"), "%s", o);
    ck_assert_msg(strstr(o, "qk-perplexity: error:") && strstr(o, "fsz-p.kld") && strstr(o, "File too large"), "%s", o);
    ck_assert_msg(strstr(o, "err-q.txt:1") && strstr(o, "err-p.txt:1"), "one error line each: %s", o);
    ck_assert_int_eq(count_prefix("fsz-"), 0);
    free(o);
}
END_TEST

/* The model file truncated while its weights are read from the mapping (--mmap): the next
 * read of a lost page raises SIGBUS; the tool says which file changed, exits 1 and leaves
 * no temporary. (Without --mmap the weights are in memory before the run starts.) */
START_TEST(test_truncated_model_is_one_error) {
    char model[4200], script[65536];
    snprintf(model, sizeof model, "%s/bus.gguf", qk_test_tmpdir());
    size_t len;
    char *b = qk_test_read_file(qk_test_shared(STORIES), &len);
    ck_assert_ptr_nonnull(b);
    FILE *f = fopen(model, "wb");
    ck_assert_uint_eq(fwrite(b, 1, len, f), len);
    fclose(f);
    free(b);
    start_ppl(script, sizeof script, "busout.kld", model, "--mmap", NULL);
    snprintf(script + strlen(script), sizeof script - strlen(script),
             "truncate -s 4096 %s\nwait $pid\necho rc=$?\ntail -n 1 err.txt\n", model);
    char *o = bash(script);
    ck_assert_int_eq(rc_of(o), 1);
    ck_assert_msg(strstr(o, "qk-perplexity: error: ") && strstr(o, "bus.gguf: the file changed or was truncated"),
                  "%s", o);
    ck_assert_int_eq(count_prefix("busout.kld"), 0);
    free(o);
}
END_TEST

/* A full disk for the small outputs (ulimit -f 0: no regular file can grow; the tools'
 * stderr goes through a pipe to a reader started before the limit): qk-quantize --json,
 * qk-perplexity --json, qk-bench --output-file and qk-report's tables each fail with exit
 * 1 and one error line naming the target, and the file that was there before is unchanged
 * (no file appears or disappears: names, types and sizes are compared, not times). */
START_TEST(test_full_disk_small_outputs) {
    char script[65536], m[4096], w[4096], q[4096], p[4096], b[4096], r[4096];
    snprintf(m, sizeof m, "%s", qk_test_shared(STORIES));
    snprintf(w, sizeof w, "%s", qk_test_shared(WIKI));
    snprintf(q, sizeof q, "%s", qk_test_bin("qk-quantize")); /* all return one static buffer */
    snprintf(p, sizeof p, "%s", qk_test_bin("qk-perplexity"));
    snprintf(b, sizeof b, "%s", qk_test_bin("qk-bench"));
    snprintf(r, sizeof r, "%s", qk_test_bin("qk-report"));
    snprintf(script, sizeof script,
             "cd %s && mkdir -p full && cd full\n"
             "%s -m %s -f %s -c 128 --chunks 2 -t 1 --json ok.json > /dev/null 2>&1 || echo setup-failed\n"
             "mkdir rep && for f in q.json p.json b.json rep/results.md rep/results.csv; do echo old > $f; done\n"
             "find . -type f -printf 'f %%p %%s\\n' -o -printf '%%y %%p\\n' | sort > before.txt\n"
             "full() { name=$1; shift; (exec 2> >(cat > err-$name.txt); ulimit -f 0; \"$@\" > /dev/null); echo rc-$name=$?; }\n"
             "full q %s %s F16 --dry-run --json q.json\n"
             "full p %s -m %s -f %s -c 128 --chunks 2 -t 1 --json p.json\n"
             "full b %s -m %s -p 16 -n 4 -r 1 -t 1 --output-file b.json\n"
             "full r %s --ppl ok.json -o rep -q --no-plots\n"
             "sleep 0.2; find . -type f -printf 'f %%p %%s\\n' -o -printf '%%y %%p\\n' | sort > after.txt; diff before.txt after.txt | grep -v 'err-\\|before.txt\\|after.txt\\|^[0-9,]*[acd][0-9,]*$\\|^---$' && echo dir-changed\n"
             "for f in q.json p.json b.json rep/results.md rep/results.csv; do [ \"$(cat $f)\" = old ] || echo changed-$f; done\n"
             "for n in q p b r; do echo \"$n: $(grep -c error: err-$n.txt) $(tail -n 1 err-$n.txt)\"; done\n",
             qk_test_tmpdir(), p, m, w, q, m, p, m, w, b, m, r);
    char *o = bash(script);
    ck_assert_msg(!strstr(o, "setup-failed") && !strstr(o, "dir-changed") && !strstr(o, "changed-"), "%s", o);
    static const char *const want[][2] = {{"q", "qk-quantize: error: "}, {"p", "qk-perplexity: error: "},
                                          {"b", "qk-bench: error: "}, {"r", "qk-report: error: "}};
    static const char *const target[] = {"q.json", "p.json", "b.json", "results."};
    for (int i = 0; i < 4; i++) {
        char rc[32], line[64];
        snprintf(rc, sizeof rc, "rc-%s=1\n", want[i][0]);
        snprintf(line, sizeof line, "%s: 1 %s", want[i][0], want[i][1]);
        ck_assert_msg(strstr(o, rc), "%s: want exit 1: %s", want[i][0], o);
        const char *l = strstr(o, line);
        ck_assert_msg(l, "%s: want one error line: %s", want[i][0], o);
        const char *eol = strchr(l, '\n');
        ck_assert_msg(eol && memmem(l, (size_t)(eol - l), target[i], strlen(target[i])) &&
                          memmem(l, (size_t)(eol - l), "File too large", 14),
                      "%s: the error line must name %s and the cause: %s", want[i][0], target[i], o);
    }
    free(o);
}
END_TEST

/* kill -9 at pseudo-random points of a run (bash's RANDOM, fixed seed; delays spread over
 * 1.2x the run's own duration): nothing can clean up after SIGKILL, but the target is
 * either absent or complete — byte-identical to an uninterrupted run's — never partial
 * (a temporary "<target>.tmp.XXXXXX" may stay behind). qk-quantize (wiki-qwen2-13m to
 * Q4_K_M) and qk-perplexity writing a base-logits file and its .nll sidecar. `run` execs
 * the tool, so that `run &`'s pid is the tool's own: killing a subshell that waits for it
 * would leave the tool running on, racing the next runs for the same targets. */
static void kill9_runs(const char *name, const char *cmd, const char *const *targets, int n_targets) {
    char script[65536], list[512] = "";
    for (int i = 0; i < n_targets; i++)
        snprintf(list + strlen(list), sizeof list - strlen(list), "%s ", targets[i]);
    snprintf(script, sizeof script,
             "cd %s && mkdir -p %s && cd %s\n"
             "run() { exec %s > /dev/null 2>&1; }\n"
             "t0=$(date +%%s%%N); (run); t1=$(date +%%s%%N); ms=$(( (t1 - t0) / 1000000 ))\n"
             "for t in %s; do [ -s $t ] || echo setup-failed; mv $t ref-$t; done\n"
             "RANDOM=1234\n"
             "for i in 1 2 3 4 5 6 7 8 9 10; do\n"
             "  d=$(( RANDOM %% (ms * 12 / 10 + 1) ))\n"
             "  run & pid=$!\n"
             "  sleep $(printf '%%d.%%03d' $((d / 1000)) $((d %% 1000))); kill -9 $pid 2>/dev/null; wait $pid 2>/dev/null\n"
             "  for t in %s; do\n"
             "    if [ ! -e $t ]; then echo absent; elif cmp -s $t ref-$t; then echo complete; else echo PARTIAL $t after ${d}ms; fi\n"
             "    rm -f $t $t.tmp.*\n"
             "  done\n"
             "done\n",
             qk_test_tmpdir(), name, name, cmd, list, list);
    char *o = bash(script);
    ck_assert_msg(!strstr(o, "setup-failed") && !strstr(o, "PARTIAL"), "%s: %s", name, o);
    int absent = 0;
    for (const char *x = o; (x = strstr(x, "absent")); x++) absent++;
    /* most kills must land inside the run, or the test says nothing */
    ck_assert_msg(absent >= 3 * n_targets, "%s: only %d of %d kills interrupted the run: %s", name, absent,
                  10 * n_targets, o);
    free(o);
}

START_TEST(test_kill9_quantize) {
    char cmd[9000];
    snprintf(cmd, sizeof cmd, "%s %s q.gguf Q4_K_M 1", qk_test_bin("qk-quantize"),
             qk_test_shared("data/models/wiki-qwen2-13m/wiki-qwen2-13m-f16.gguf"));
    const char *t[] = {"q.gguf"};
    kill9_runs("kill9q", cmd, t, 1);
}
END_TEST

START_TEST(test_kill9_perplexity) {
    char cmd[9000], m[4096];
    snprintf(m, sizeof m, "%s", qk_test_shared(STORIES));
    snprintf(cmd, sizeof cmd, "%s -m %s -f %s -c 256 --chunks 100 -b 16 -t 1 --kl-divergence-base k.kld",
             qk_test_bin("qk-perplexity"), m, qk_test_shared(WIKI));
    const char *t[] = {"k.kld", "k.kld.nll"};
    kill9_runs("kill9p", cmd, t, 2);
}
END_TEST

int main(void) {
    Suite *s = suite_create("faults");
    TCase *tc = tcase_create("faults");
    tcase_set_timeout(tc, 300);
    tcase_add_loop_test(tc, test_signals_leave_nothing, 0, 3);
    tcase_add_test(tc, test_sigpipe_leaves_nothing);
    tcase_add_test(tc, test_file_size_limit_is_one_error);
    tcase_add_test(tc, test_truncated_model_is_one_error);
    tcase_add_test(tc, test_full_disk_small_outputs);
    suite_add_tcase(s, tc);
    /* Tagged so that tests/run-sanitizers.sh can leave it out (CK_EXCLUDE_TAGS=kill9):
     * SIGKILL ends a process before any code of ours runs, so a sanitizer has nothing to
     * check there, and an ASan build makes these 22 runs about 10x slower. */
    TCase *k9 = tcase_create("kill9");
    tcase_set_timeout(k9, 300);
    tcase_set_tags(k9, "kill9");
    tcase_add_test(k9, test_kill9_quantize);
    tcase_add_test(k9, test_kill9_perplexity);
    suite_add_tcase(s, k9);
    return qk_test_main(s);
}
