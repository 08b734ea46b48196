/*
 * proc.c — fork/exec of external programs with an optional working directory and
 * log file; executable directory lookup. See proc.h.
 */
#include "proc.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

/* Exit code the child uses when it cannot set itself up or exec. */
#define QK_PROC_EXEC_FAILED 127

int qk_proc_run(char *const argv[], const char *cwd, const char *log_path, qk_err *err) {
    if (!argv || !argv[0]) return qk_errf(err, "no program to run");
    char resolved[4096];
    if (!qk_proc_find_in_path(argv[0], resolved, sizeof resolved))
        return qk_errf(err, "cannot run '%s': program not found", argv[0]);

    int log_fd = -1;
    if (log_path) {
        log_fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (log_fd < 0) return qk_errf(err, "cannot open log '%s': %s", log_path, strerror(errno));
    }
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        int e = errno;
        if (log_fd >= 0) close(log_fd);
        return qk_errf(err, "cannot start '%s': %s", argv[0], strerror(e));
    }
    if (pid == 0) {
        /* child: only async-signal-safe calls from here on */
        if (log_fd >= 0) {
            if (dup2(log_fd, STDOUT_FILENO) < 0 || dup2(log_fd, STDERR_FILENO) < 0)
                _exit(QK_PROC_EXEC_FAILED);
        }
        if (cwd && chdir(cwd) != 0) _exit(QK_PROC_EXEC_FAILED);
        execv(resolved, argv);
        _exit(QK_PROC_EXEC_FAILED);
    }
    if (log_fd >= 0) close(log_fd);
    int st = 0;
    while (waitpid(pid, &st, 0) < 0) {
        if (errno != EINTR) return qk_errf(err, "waiting for '%s': %s", argv[0], strerror(errno));
    }
    if (WIFSIGNALED(st))
        return qk_errf(err, "'%s' was killed by signal %d (%s)", argv[0], WTERMSIG(st),
                       strsignal(WTERMSIG(st)));
    if (!WIFEXITED(st)) return qk_errf(err, "'%s' ended abnormally", argv[0]);
    int code = WEXITSTATUS(st);
    if (code == QK_PROC_EXEC_FAILED)
        return qk_errf(err, "cannot run '%s' (exec failed or exit status 127)", resolved);
    return code;
}

int qk_proc_self_dir(char *buf, size_t cap, qk_err *err) {
    if (cap < 2) return qk_errf(err, "buffer too small");
    ssize_t n = readlink("/proc/self/exe", buf, cap - 1);
    if (n < 0) return qk_errf(err, "cannot read /proc/self/exe: %s", strerror(errno));
    if ((size_t)n >= cap - 1) return qk_errf(err, "executable path too long");
    buf[n] = 0;
    char *slash = strrchr(buf, '/');
    if (!slash) return qk_errf(err, "unexpected executable path '%s'", buf);
    if (slash == buf) slash[1] = 0; /* executable in "/" */
    else *slash = 0;
    return 0;
}

static bool is_executable_file(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

bool qk_proc_find_in_path(const char *name, char *buf, size_t cap) {
    if (!name || !*name) return false;
    if (strchr(name, '/')) {
        if (!is_executable_file(name) || strlen(name) >= cap) return false;
        snprintf(buf, cap, "%s", name);
        return true;
    }
    const char *path = getenv("PATH");
    if (!path || !*path) path = "/usr/local/bin:/usr/bin:/bin";
    const char *p = path;
    while (*p) {
        const char *colon = strchr(p, ':');
        size_t dlen = colon ? (size_t)(colon - p) : strlen(p);
        int n = snprintf(buf, cap, "%.*s%s%s", (int)dlen, p, dlen ? "/" : "", name);
        if (n > 0 && (size_t)n < cap && is_executable_file(buf)) return true;
        if (!colon) break;
        p = colon + 1;
    }
    return false;
}
