/*
 * mixture_pipeline.h — the conversion pipeline behind qk-quantize's driver
 * (mixture_apply.c): every tensor's rows converted by a set of worker threads, the
 * results written in file order by the calling thread, with no barrier between tensors.
 *
 * How the work flows:
 *  - each tensor to convert or check is cut into chunks of whole rows (at most
 *    QK_PIPE_CHUNK_FLOATS elements; one row if a row is longer). Workers take the next
 *    chunk of the model, in file order, from a shared cursor: a worker that finishes a
 *    tensor's last chunk goes straight on to the next tensor, so both threads stay busy
 *    across tensor boundaries, big or small, even on a shared machine;
 *  - a chunk is turned into F32 with the input type's to_float, checked for NaN/Inf, and
 *    (CONVERT) quantized with the output type's from_float (quantize_ref's bytes,
 *    types.h; quantize_ref itself when from_float is NULL) into the tensor's output
 *    buffer — or, when the tensor has importance weights and the output type a
 *    quantize_imat, row by row with quantize_imat and the weights of the row's matrix
 *    (llama.cpp's ggml_quantize_chunk with an imatrix); its input pages are then released from this process's map (MADV_DONTNEED on
 *    the read-only file map: they stay in the page cache);
 *  - the calling thread writes each tensor as soon as it is complete, in order, while the
 *    workers go on, then calls done(k) and frees the buffer. Output buffers of tensors
 *    converted but not yet written are limited to QK_PIPE_WINDOW_BYTES in total (a larger
 *    tensor is converted alone), so memory stays bounded whatever the model size.
 * The bytes do not depend on the thread count or on which worker took which chunk: rows
 * are independent. NaN/Inf: the first tensor in file order that has one stops the job,
 * and the error names its first bad row, as a serial run would.
 */
#ifndef QK_MIXTURE_PIPELINE_H
#define QK_MIXTURE_PIPELINE_H

#include <stddef.h>

#include "error.h"
#include "gguf.h"
#include "types.h"

#define QK_PIPE_CHUNK_FLOATS 65536           /* F32 elements per chunk, at most (unless one row is longer) */
#define QK_PIPE_WINDOW_BYTES (64u << 20)     /* output bytes converted ahead of the writer */

typedef enum qk_pipe_mode {
    QK_PIPE_COPY,    /* write the input bytes as they are, no check (already quantized) */
    QK_PIPE_CHECK,   /* write the input bytes as they are after checking them for NaN/Inf */
    QK_PIPE_CONVERT, /* to_float, check, from_float(dst_type) (= quantize_ref's bytes) */
} qk_pipe_mode;

typedef struct qk_pipe_tensor {
    const gguf_tensor *src; /* input tensor, data in the map */
    qk_type dst_type;       /* CONVERT: output type */
    qk_pipe_mode mode;
    size_t dst_bytes;       /* bytes written for this tensor (CHECK/COPY: src->nbytes) */
    const float *weights;   /* CONVERT: importance weights, [ne[2]][ne[0]] (one row of ne[0]
                             * per matrix: per expert for a 3-D tensor), or NULL for none;
                             * ignored when dst_type has no quantize_imat. Read only */
} qk_pipe_tensor;

/* Called on the calling thread after tensor k (0-based, file order) has been written. */
typedef void (*qk_pipe_done_fn)(size_t k, void *arg);

/*
 * Convert and write n tensors, in order, through w (its header must already be written).
 * n_threads workers (>= 1) do the conversions. Returns 0, or -1 with err set: a NaN/Inf
 * weight (naming the tensor and row), out of memory, cannot start threads, or a write
 * error from the writer. On error nothing more is written; the caller aborts w.
 */
int qk_mix_pipeline_run(gguf_writer *w, const qk_pipe_tensor *t, size_t n, int n_threads,
                        qk_pipe_done_fn done, void *done_arg, qk_err *err);

/* The pipeline's NaN/Inf check of one tensor with a to_float (F32/F16/BF16 ...), for a
 * caller that reads the weights before the pipeline does (qk-quantize --gptq runs the model
 * first): 0, or -1 with the pipeline's error naming the tensor and its first bad row. */
int qk_mix_check_finite(const gguf_tensor *t, qk_err *err);

#endif
