/*
 * tool.h — what every qk-* tool's main() does first: name itself and take over the signals
 * that would otherwise lose data.
 *
 * qk_tool_init(prog):
 *   SIGINT, SIGTERM, SIGHUP, SIGPIPE: remove every temporary output file (afile.h's
 *     registry), then die of the signal as before (so `qk-perplexity ... | head` ends as
 *     quietly as any Unix tool, and leaves nothing behind);
 *   SIGXFSZ (the file size limit): ignored, so the write fails with EFBIG and the tool
 *     reports it as one error line naming the target, like a full disk;
 *   SIGBUS (a mapped model truncated or rewritten while in use): one line
 *     "PROG: error: MODEL: the file changed or was truncated while in use — ...",
 *     temporaries removed, exit status 1.
 * Everything a handler does is async-signal-safe (unlink, write, _exit, raise).
 */
#ifndef QK_TOOL_H
#define QK_TOOL_H

void qk_tool_init(const char *prog);

/* The name given to qk_tool_init ("qkit" before it), for messages. */
const char *qk_tool_prog(void);

#endif
