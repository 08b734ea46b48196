/* tool.c — the tools' common start-up: signal handling (see tool.h). */
#include "tool.h"

#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "afile.h"
#include "gguf.h"

static const char *g_prog = "qkit";

static void put(const char *s) {
    if (write(STDERR_FILENO, s, strlen(s)) < 0) return; /* nothing more to do in a handler */
}

static void on_fatal(int sig) {
    qk_afile_cleanup_all();
    signal(sig, SIG_DFL);
    raise(sig);
}

static void on_sigbus(int sig, siginfo_t *info, void *uctx) {
    (void)sig;
    (void)uctx;
    qk_afile_cleanup_all();
    const char *path = gguf_mapped_path(info ? info->si_addr : NULL);
    put(g_prog);
    put(": error: ");
    if (path) {
        put(path);
        put(": the file changed or was truncated while in use — run again on a complete, unchanging file\n");
    } else {
        put("bus error (SIGBUS): a mapped file changed or was truncated while in use\n");
    }
    _exit(1);
}

void qk_tool_init(const char *prog) {
    g_prog = prog;
    static const int fatal[] = {SIGINT, SIGTERM, SIGHUP, SIGPIPE};
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = on_fatal;
    for (size_t i = 0; i < sizeof fatal / sizeof fatal[0]; i++) sigaction(fatal[i], &sa, NULL);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGXFSZ, &sa, NULL);
    sa.sa_handler = NULL;
    sa.sa_sigaction = on_sigbus;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGBUS, &sa, NULL);
}

const char *qk_tool_prog(void) { return g_prog; }
