/*
 * testutil.h — helpers shared by the Check suites.
 *
 * Paths: QK_SHARED_DIR (compile-time, ../shared beside the checkout) holds the data and
 * the golden outputs of real llama.cpp runs; QK_BIN_DIR holds the built tools.
 */
#ifndef QK_TESTUTIL_H
#define QK_TESTUTIL_H

#include <check.h>
#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

#include "gguf.h"

/* "<QK_SHARED_DIR>/<rel>" in a static buffer (valid until the next call on the thread). */
const char *qk_test_shared(const char *rel);
/* "<QK_BIN_DIR>/<name>". */
const char *qk_test_bin(const char *name);
/* A fresh temporary directory for this process (created once under $TMPDIR or /tmp,
 * named qkit-test-XXXXXX, removed when the process that created it exits). */
const char *qk_test_tmpdir(void);
/* sha256 of a buffer as 64 lower-case hex chars + NUL. */
void qk_test_sha256_hex(const void *data, size_t n, char out[65]);
/* Read a whole file (malloc'd, NUL-terminated); NULL on error. */
char *qk_test_read_file(const char *path, size_t *len);
/* Run a shell command, capturing stdout+stderr into a malloc'd string; returns the exit
 * status (or -1). */
int qk_test_run(const char *cmd, char **output);
/* Run the built tool "<QK_BIN_DIR>/<tool>" with the arguments formatted from fmt (printf;
 * the command line is cut at 16 KiB), through qk_test_run: returns the exit status (or
 * -1), *output the merged stdout+stderr (malloc'd, the caller frees; output NULL: the
 * output is discarded). */
int qk_test_run_tool(char **output, const char *tool, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Run the built tool as qk_test_run_tool does; it must fail: a non-zero exit status,
 * exactly one "<tool>: error: " line, needle somewhere in its output, and neither output
 * file o1 nor o2 (each may be NULL) left behind. Fails the test otherwise. */
void qk_test_expect_tool_error(const char *tool, const char *needle, const char *o1, const char *o2,
                               const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* A malloc'd copy of qk_test_shared(rel) (the caller frees), for paths kept across calls. */
char *qk_test_shared_dup(const char *rel);
/* "<qk_test_tmpdir()>/<name>", malloc'd (the caller frees); nothing is created. */
char *qk_test_tmp_path(const char *name);
/* 1 when path exists (access F_OK), else 0. */
int qk_test_exists(const char *path);

/* ---- reading tool output ---- */

/* The number (strtod) that follows the first occurrence of label in text, after any
 * spaces and ':'; fails the test when label or the number is missing. */
double qk_test_number_after(const char *text, const char *label);
/* How many times sub occurs in s (overlapping occurrences counted). */
int qk_test_count_substr(const char *s, const char *sub);
/* Run a Check suite with CK_NORMAL output; returns the process exit code: 0 all passed,
 * 1 a failure (or nothing ran), QK_TEST_SKIPPED (see below).
 *
 * Test cases that need an instruction set carry its tag (tcase_set_tags(tc,
 * QK_TEST_TAG_AVX2)). ctest runs such a suite as several tests (CMakeLists.txt reads the
 * tags from the source): "<suite>" with QK_TEST_PART=main runs the untagged cases, and
 * "<suite>.<tag>" with QK_TEST_PART=<tag> runs the cases of that tag — or, when the kernels
 * in use lack the instruction set (CPU without it, QK_FORCE_SCALAR=1, QK_NO_AVX512=1),
 * prints one line saying why and exits QK_TEST_SKIPPED, which ctest reports as "Skipped"
 * (SKIP_RETURN_CODE), never as a pass. Run by hand (QK_TEST_PART unset), a suite runs every
 * case the kernels allow and names the tags it left out. CK_RUN_SUITE / CK_RUN_CASE still
 * select cases. */
#define QK_TEST_TAG_AVX2 "avx2"             /* AVX2+FMA+F16C: qk_cpu_has_avx2() */
#define QK_TEST_TAG_AVX512VNNI "avx512vnni" /* AVX-512 F/BW/VL/VNNI: qk_cpu_has_avx512vnni() */
#define QK_TEST_TAG_AVXVNNI "avxvnni"       /* AVX-VNNI (VEX, ymm): qk_cpu_has_avxvnni() */
#define QK_TEST_SKIPPED 77
int qk_test_main(Suite *s);

/* 1 in a build with AddressSanitizer (tests/run-sanitizers.sh; GCC and clang define
 * __SANITIZE_ADDRESS__ / __has_feature(address_sanitizer)), else 0. Suites that repeat one
 * code path over many golden files run fewer of the repeats there (ASan makes them ~10x
 * slower and finds nothing more in the repeats); each such place says what it leaves out. */
int qk_test_sanitized(void);

/* ---- floating-point agreement, recorded ---- */

/* 1 when ours is finite and |ours − ref| <= max(rel·|ref|, abs), else 0 (the caller
 * asserts). Every call is recorded: failures as one line on stderr, and, when the
 * environment variable QK_TEST_SPREAD_LOG names a file, every comparison as one
 * tab-separated line appended to it — suite, what, figure, ours, ref, |Δ|, |Δ|/|ref|,
 * tolerance, 1/0, rel, abs — from which tests/run-variants.sh builds its table of the largest
 * deviation per figure and arithmetic variant. */
int qk_test_close(const char *what, const char *figure, double ours, double ref, double rel, double abs);

/* Extra qk-perplexity arguments of the arithmetic variant under test: the environment
 * variable QK_TEST_PPL_ARGS (e.g. "-b 4": every matmul on the vec_dot path; "-t 1"), or
 * "". The golden comparisons append it to their commands; later options win. */
const char *qk_test_ppl_args(void);

/* ---- golden files ---- */

/* True when a golden file's type part (the TYPE of <model>.<TYPE>.tsv/.log, e.g.
 * "imat.Q4_K_M") names a run of llama-quantize --imatrix: "imat." (legacy .dat imatrix) or
 * "imatg." (GGUF imatrix). Those outputs need the importance matrix as an input, so the
 * suites that quantize without one leave them out (and say how many they left out). */
int qk_test_golden_is_imatrix(const char *type);

/* One line of a golden tensor listing golden/<model>/quantize/<model>.<FTYPE>.tsv
 * (golden/README.md): "name\ttype\tne0,ne1,..\tsha256" — the tensor's name, its ggml type
 * name, its shape (unused dims 1) and the sha256 of its bytes in llama-quantize's output. */
typedef struct qk_test_tsv_line {
    char name[GGUF_MAX_NAME + 1];
    char type[32];
    int n_dims;
    int64_t ne[GGUF_MAX_DIMS];
    char sha[65];
} qk_test_tsv_line;

/* Parse one listing line (line is cut up by strtok_r). Returns 0, or -1 when it is not
 * such a line (a field missing or too long, a bad shape). */
int qk_test_parse_tsv_line(char *line, qk_test_tsv_line *out);

/* The listings <model>.<FTYPE>.tsv in dir, sorted by name (strcmp), at most max of them,
 * each name shorter than 256: with imatrix 1 only those of llama-quantize --imatrix runs
 * (qk_test_golden_is_imatrix(FTYPE)), with 0 only the others; *n_left_out (may be NULL)
 * counts the listings of the other kind. Returns how many names it put in names, 0 when
 * dir cannot be opened. */
int qk_test_golden_tsv_names(const char *dir, const char *model, int imatrix, char (*names)[256], int max,
                             int *n_left_out);

/* The distinct types the listing at path names, in order of first appearance, at most max
 * (lines that do not parse or name no known type are passed over; quantized_only: types
 * that are not quantized too). Returns how many, or -1 when path cannot be opened. */
int qk_test_tsv_types(const char *path, int quantized_only, qk_type *types, int max);

/* The tensor of g that listing line tl names (tsv, base: the listing's and the model's
 * paths, for the messages); fails the test when g has no such tensor or its shape is not
 * the listed one. */
const gguf_tensor *qk_test_tsv_tensor(const gguf_ctx *g, const qk_test_tsv_line *tl, const char *tsv,
                                      const char *base);

/* ---- JSON (cJSON) ---- */

/* Parse the JSON file at path; fails the test when it is missing or not JSON. */
cJSON *qk_test_read_json(const char *path);
/* The number j.obj.key (obj NULL: j.key); fails the test when there is none. */
double qk_test_json_num(const cJSON *j, const char *obj, const char *key);

/* ---- deterministic pseudo-random numbers ---- */

/* One step of splitmix64 on *state (state += 0x9E3779B97F4A7C15, then the mix). */
uint64_t qk_test_splitmix64(uint64_t *state);
/* One step of the LCG *rng = *rng * 1664525 + 1013904223; returns its top 24 bits as a
 * float in [-0.5, 0.5). */
float qk_test_lcg_frand(uint32_t *rng);

/* ---- small GGUF models written with the engine's writer (engine/gguf.h) ---- */

/* The 20-token SentencePiece vocabulary of the tiny llama test models: <unk>, <s>, </s>,
 * "\u2581", a, b, c, "\u2581a", ab, "\u2581ab", <0x0A>, <0x41>, H, e, l, o, He, llo,
 * "\u2581He", "\u2581Hello"; score of token i = -i; types unknown (0), control (1, 2),
 * byte (10, 11), normal (the rest). qk_test_set_tiny_vocab writes tokenizer.ggml.model
 * "llama", .tokens, .scores and .token_type (no special-token ids). */
#define QK_TEST_TINY_N_VOCAB 20
void qk_test_set_tiny_vocab(gguf_writer *w);

/* One tensor of a test model: ne[1] = 0 makes it 1-D. norm marks a norm weight (what the
 * fill function makes of it is up to the caller). */
typedef struct qk_test_tensor {
    char name[64];
    qk_type type;
    int64_t ne[2];
    int norm;
} qk_test_tensor;

/* Fills f[0..n) with the values of tensor t (arg: the caller's state). */
typedef void (*qk_test_fill_fn)(const qk_test_tensor *t, float *f, int64_t n, void *arg);

/* Declares the nt tensors (in order), writes the header, then each tensor's data: fill()'s
 * F32 values converted by the type's quantize_ref. Returns 0, or -1 with err set; the
 * caller finishes (gguf_writer_finish) or aborts the writer. */
int qk_test_write_tensors(gguf_writer *w, const qk_test_tensor *t, int nt, qk_test_fill_fn fill, void *arg,
                          qk_err *err);

#endif
