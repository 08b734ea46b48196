/*
 * mixture_apply.h — the quantization driver behind qk-quantize: read a GGUF, decide every
 * tensor's type (mixture.h), convert the rows on worker threads (mixture_pipeline.h),
 * write the result atomically, and report per-tensor lines and a summary the way
 * llama-quantize does.
 *
 * What it does, following llama_model_quantize_impl in src/llama-quant.cpp [U]:
 *  - all metadata is copied, then general.quantization_version = 2 (GGML_QNT_VERSION) and
 *    general.file_type = the ftype id (u32; COPY keeps the input's file_type) are set;
 *  - tensors are written in the mixture's order (layer number, then name), each padded to
 *    the alignment; a converted tensor is turned into F32 row by row with its type's
 *    to_float and then quantized with the output type's from_float, which gives the bytes
 *    of llama.cpp's reference quantizer quantize_ref (types.h) — or, with an importance
 *    matrix entry for the tensor, with its quantize_imat (imatrix_use.h, which also says
 *    which quantize.imatrix.* keys are written);
 *  - with --gptq (opts.gptq_text), the tensors converted to a type gptq.h supports that a
 *    matmul reads are rounded by GPTQ against that calibration text instead (same type and
 *    bytes per row; the model is loaded once more for the forward passes);
 *  - --tensor-type rules (mixture.h) set types; each tensor's log line names the rule
 *    that set its type ("(rule 2: ffn_down=q6_k)"), and a rule that matches no tensor gets
 *    a warning line in the log;
 *  - every F32/F16/BF16 input row (and every row that is dequantized) is checked for
 *    NaN/Inf first: a non-finite weight is an error naming the tensor and the row;
 *  - the output goes to a temporary file that is renamed into place only when complete:
 *    on any error nothing is left at the output path.
 * Errors (return -1, one line in err): unreadable/invalid input, split GGUF input, output
 * directory missing/not a directory/not writable (checked before any log line), output
 * equal to the input, every mixture error (mixture.h), non-finite weights, out of memory,
 * cannot create/write/rename the output.
 */
#ifndef QK_MIXTURE_APPLY_H
#define QK_MIXTURE_APPLY_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "error.h"
#include "imatrix_use.h"
#include "mixture.h"

#define QK_GPTQ_CTX 256 /* tokens per --gptq calibration chunk */

typedef struct qk_quant_opts {
    const char *in_path;
    const char *out_path;   /* may be NULL for a dry run */
    qk_mix_params mix;      /* ftype, COPY, --pure, overrides, rules, ... (has_imatrix is
                             * set from the imatrix by qk_quantize_file) */
    qk_imx_opts imatrix;    /* --imatrix, --include-weights, --exclude-weights */
    const char *ftype_label; /* what to call the target in the log ("Q4_K_M", "COPY") */
    int n_threads;          /* <= 0: all online CPUs */
    bool dry_run;           /* decide and report, convert and write nothing */
    const char *gptq_text;  /* --gptq: calibration text; the tensors whose output type
                             * gptq.h supports (the 32-element types) are rounded by GPTQ against it */
    int32_t gptq_chunks;    /* --gptq-chunks: chunks of QK_GPTQ_CTX tokens of it */
    FILE *log;              /* per-tensor lines and the summary; NULL for silence */
} qk_quant_opts;

/* One tensor of the result, in write order. */
typedef struct qk_quant_tensor {
    char name[65];
    uint32_t n_dims;
    int64_t ne[4];
    qk_type src_type;
    qk_mix_choice choice;   /* output type, fallback, ... */
    uint64_t src_bytes;     /* tensor data bytes in the input */
    uint64_t dst_bytes;     /* in the output */
    bool imatrix;           /* converted, with its imatrix entry passed to the quantizer
                             * (a type without quantize_imat, e.g. Q8_0, ignores it) */
    bool gptq;              /* rounded by GPTQ (--gptq) */
} qk_quant_tensor;

typedef struct qk_quant_result {
    size_t n_tensors;
    qk_quant_tensor *tensors;  /* n_tensors entries, write order; free with qk_quant_result_free */
    uint64_t n_params;         /* total elements of all tensors */
    uint64_t src_bytes;        /* tensor data, no padding ("model size") */
    uint64_t dst_bytes;        /* tensor data, no padding ("quant size") */
    uint64_t file_bytes;       /* output file size (0 for a dry run) */
    qk_mix_summary mix;        /* fallback counts */
    uint32_t file_type;        /* general.file_type written (0xffffffff: none) */
    int n_threads;
    int64_t imatrix_read;      /* entries in the --imatrix file (0: none given) */
    int64_t imatrix_used;      /* of those, selected by --include/--exclude-weights */
    int32_t imatrix_chunks;    /* its chunk count */
    char imatrix_dataset[128]; /* its first dataset, as written to the output ("" none) */
    uint64_t gptq_tokens;      /* --gptq: activation rows (tokens) the Hessians summed, at most */
    double quantize_ms;        /* conversion + writing (and GPTQ) */
    double total_ms;           /* including reading and planning */
} qk_quant_result;

/* Run the whole job. res may be NULL; on success and failure alike it must later be freed
 * with qk_quant_result_free (it may hold a partial tensor list after a failure). */
int qk_quantize_file(const qk_quant_opts *o, qk_quant_result *res, qk_err *err);
void qk_quant_result_free(qk_quant_result *res);

/* Effective bits per weight of a result's output: 8 * dst_bytes / n_params. */
double qk_quant_bpw(const qk_quant_result *res);

#endif
