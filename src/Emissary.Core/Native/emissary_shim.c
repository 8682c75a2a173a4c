/*
 * emissary_shim: the only C in Emissary. It runs before the .NET runtime starts.
 *
 * Why it exists: by the time managed Main runs, the NativeAOT runtime has
 * already started threads with the caller's signal mask and has changed some dispositions
 * (SIGPIPE ignored, SEGV/FPE caught). A supervisor must
 *   1. know the mask and the ignored signals it was started with, to hand them to its child
 *      (tini's contract: the child keeps the caller's ignored and blocked signals), and
 *   2. have every signal it forwards blocked in *every* thread, so that a process-directed
 *      SIGTERM is queued for the supervisor's signalfd instead of killing it on a runtime thread.
 * A constructor in a static executable runs before the runtime's own initialisation, so
 * blocking here means every thread the runtime creates later inherits the mask.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

int emissary_shim_is_ignored_now(int sig);

/* argv[1] of the exec trampoline below. Not a user-facing command: see exec_trampoline(). */
#define EXEC_TRAMPOLINE "--emissary-exec"

static sigset_t original_mask;
static sigset_t original_ignored;
static sigset_t supervised;

/* The last of the signals (1 to this one) whose disposition this process may change before it
 * execs a command: the standard ones (the runtime catches SEGV and FPE and ignores PIPE; the fault
 * forwarder catches six), glibc's two internal ones (32, 33: posix_spawn hands them to the child
 * ignored unless told to default them) and SIGRTMIN (the runtime's activation signal). Nothing
 * touches a real-time signal above it, so a command inherits those exactly as this process did:
 * posix_spawn's child reads and resets each of them itself unless it is ignored (glibc), and reading
 * them here too only duplicated that (measured: no net change in system calls per start). */
int emissary_shim_last_read_signal(void)
{
    return SIGRTMIN;
}

/* Signals the runtime owns (SEGV, FPE: null references and division), that cannot be caught
 * (KILL, STOP), or whose default action must stay for real faults raised in this process. */
static int is_reserved(int sig)
{
    return sig == SIGKILL || sig == SIGSTOP || sig == SIGSEGV || sig == SIGFPE
        || sig == SIGILL || sig == SIGBUS || sig == SIGTRAP || sig == SIGSYS;
}

/*
 * The trampoline's report to the launcher that spawned it, on a pipe whose write end it inherits
 * (argv[2]): when the command could not be started, one write of two ints (atomic on a pipe), the
 * stage and errno; when it was, nothing, and the write end closes as the command is exec'd (it is
 * close-on-exec from the trampoline's first instruction). Without it the launcher could only take
 * the trampoline's exit status for the command's, and a command that never ran would look like
 * one that exited 127, 126 or 1 (Tekton's `-on_error continue` would then record it and go on).
 */
enum { START_FAILED_EXEC = 1, START_FAILED_NAMESPACES = 2 };
static int start_report_fd = -1;

static void start_failed(int stage, int err)
{
    int record[2] = { stage, err };
    if (start_report_fd < 0 || write(start_report_fd, record, sizeof record) != (ssize_t)sizeof record) {
        /* Started by hand, or the launcher is gone: say it here instead. */
        char msg[256];
        int n = snprintf(msg, sizeof msg, "emissary: cannot %s: %s\n",
                         stage == START_FAILED_NAMESPACES ? "make the command's namespaces" : "run the command", strerror(err));
        if (n > 0)
            (void)!write(2, msg, (size_t)n < sizeof msg ? (size_t)n : sizeof msg - 1);
    }
    _exit(stage == START_FAILED_EXEC ? (err == ENOENT ? 127 : 126) : 1);
}

/* Writes "0 0 4294967295" to /proc/PID/NAME (uid_map, gid_map): every id mapped to itself. */
static int write_map(pid_t pid, const char *name)
{
    char path[64];
    static const char all[] = "0 0 4294967295\n";
    snprintf(path, sizeof path, "/proc/%d/%s", (int)pid, name);
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return errno;
    int err = write(fd, all, sizeof all - 1) == (ssize_t)(sizeof all - 1) ? 0 : errno;
    close(fd);
    return err;
}

/*
 * Hermetic mode: runs PATH as Tekton's dropNetworking (cmd/entrypoint/namespaces_linux.go) has
 * Go's exec start it: in new user, mount, PID and network namespaces, every uid and gid mapped to
 * itself (0 0 4294967295, setgroups left allowed), no interface configured (only lo, which stays
 * down, as in Tekton). A multithreaded process cannot make a user namespace (EINVAL) and the .NET
 * runtime has threads by Main: hence here, before it starts. The child is PID 1 of its PID
 * namespace, as Tekton's command is. This process stays outside, as Go's forkExec parent does, to
 * write the child's maps (which takes CAP_SETUID and CAP_SETGID here: a non-root step fails, as in
 * Tekton), to learn whether the child's exec worked (a close-on-exec pipe, as Go's forkExec does),
 * and then to end as the child ends. It blocks every signal: what the entrypoint forwards to the
 * process group reaches the child; SIGKILL (timeout, cancel) ends both.
 */
static void exec_hermetic(const char *path, char **args, char **envp)
{
    sigset_t all, original;
    sigfillset(&all);
    sigprocmask(SIG_SETMASK, &all, &original);
    int go[2], exec_result[2];
    if (pipe2(go, O_CLOEXEC) != 0 || pipe2(exec_result, O_CLOEXEC) != 0)
        start_failed(START_FAILED_NAMESPACES, errno);
    long child = syscall(SYS_clone, (long)(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | SIGCHLD), 0L, 0L, 0L, 0L);
    if (child < 0)
        start_failed(START_FAILED_NAMESPACES, errno);
    if (child == 0) {
        char ok;
        close(go[1]);
        close(exec_result[0]);
        if (read(go[0], &ok, 1) != 1)
            _exit(1); /* the parent could not write the maps and reports why */
        sigprocmask(SIG_SETMASK, &original, NULL);
        execve(path, args, envp);
        int err = errno;
        (void)!write(exec_result[1], &err, sizeof err);
        _exit(err == ENOENT ? 127 : 126);
    }
    close(go[0]);
    close(exec_result[1]);
    int err = write_map((pid_t)child, "uid_map");
    if (err == 0)
        err = write_map((pid_t)child, "gid_map");
    if (err != 0) {
        kill((pid_t)child, SIGKILL);
        waitpid((pid_t)child, NULL, 0);
        start_failed(START_FAILED_NAMESPACES, err);
    }
    (void)!write(go[1], "x", 1);
    close(go[1]);
    int exec_err;
    ssize_t got;
    while ((got = read(exec_result[0], &exec_err, sizeof exec_err)) < 0 && errno == EINTR)
        ;
    if (got == (ssize_t)sizeof exec_err) {
        waitpid((pid_t)child, NULL, 0);
        start_failed(START_FAILED_EXEC, exec_err);
    }
    /* The command runs: the launcher reads the end of the report now, not when the command ends. */
    close(exec_result[0]);
    if (start_report_fd >= 0)
        close(start_report_fd);
    int status;
    while (waitpid((pid_t)child, &status, 0) < 0)
        if (errno != EINTR)
            _exit(1);
    if (WIFEXITED(status))
        _exit(WEXITSTATUS(status));
    /* Killed by a signal: die of the same one, so the entrypoint sees what Tekton's would. */
    int sig = WTERMSIG(status);
    signal(sig, SIG_DFL);
    sigset_t one;
    sigemptyset(&one);
    sigaddset(&one, sig);
    kill(getpid(), sig);
    sigprocmask(SIG_UNBLOCK, &one, NULL);
    _exit(128 + sig);
}

/*
 * Trampoline: `emissary --emissary-exec REPORT_FD IGNORED MODE PATH ARGV0 ARGS...` starts PATH
 * without ever starting the .NET runtime, for what posix_spawn cannot do from a .NET process:
 *   IGNORED  signals to hand to the command as ignored ("8,11,17", or "-"). posix_spawn cannot
 *            hand a child a signal as ignored when the parent catches it, and the runtime catches
 *            SEGV and FPE while emissary must not ignore CHLD; when the caller ignored one of
 *            those, the command still inherits it ignored (tini's contract).
 *   MODE     "plain" (exec PATH) or "hermetic" (exec_hermetic above).
 * The signal mask set by posix_spawn is left as it is. REPORT_FD is the report pipe above (-1:
 * none).
 */
static void exec_trampoline(char **argv, char **envp)
{
    char *end;
    long fd = strtol(argv[2], &end, 10);
    if (end != argv[2] && *end == 0 && fd >= 0 && fd < 1 << 20 && fcntl((int)fd, F_SETFD, FD_CLOEXEC) == 0)
        start_report_fd = (int)fd;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_IGN;
    for (char *p = argv[3]; *p; ) {
        long sig = strtol(p, &end, 10);
        if (end != p && sig > 0 && sig < NSIG)
            sigaction((int)sig, &sa, NULL);
        p = *end == ',' ? end + 1 : end + (*end != 0);
    }
    if (strcmp(argv[4], "hermetic") == 0)
        exec_hermetic(argv[5], argv + 6, envp);
    execve(argv[5], argv + 6, envp);
    start_failed(START_FAILED_EXEC, errno);
}

__attribute__((constructor)) static void emissary_shim_init(int argc, char **argv, char **envp)
{
    struct sigaction sa;

    if (argc >= 7 && strcmp(argv[1], EXEC_TRAMPOLINE) == 0)
        exec_trampoline(argv, envp);

    sigemptyset(&original_ignored);
    sigemptyset(&supervised);
    sigprocmask(SIG_BLOCK, NULL, &original_mask);

    for (int sig = 1; sig <= emissary_shim_last_read_signal(); sig++) {
        if (sig == SIGKILL || sig == SIGSTOP)
            continue;
        if (sigaction(sig, NULL, &sa) == 0 && sa.sa_handler == SIG_IGN)
            sigaddset(&original_ignored, sig);
    }

    /* With SIGCHLD ignored, the kernel reaps children itself and their exit status is lost:
     * a supervisor must never run like that. The child still gets it back as ignored. */
    if (sigismember(&original_ignored, SIGCHLD)) {
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = SIG_DFL;
        sigaction(SIGCHLD, &sa, NULL);
    }

    for (int sig = 1; sig < 32; sig++) {
        if (is_reserved(sig))
            continue;
        /* nohup semantics: a signal the caller ignores stays ignored, for us and the child. */
        if (sig != SIGCHLD && sigismember(&original_ignored, sig))
            continue;
        sigaddset(&supervised, sig);
    }
    sigprocmask(SIG_BLOCK, &supervised, NULL);
}

/* Copies out the sets recorded before the runtime started. Each buffer is a sigset_t. */
void emissary_shim_original_mask(sigset_t *out) { *out = original_mask; }
void emissary_shim_original_ignored(sigset_t *out) { *out = original_ignored; }
void emissary_shim_supervised(sigset_t *out) { *out = supervised; }

/* Commands that do not supervise anything (init, status, ...), and an exec of emissary-tools,
 * give this thread exactly the mask the caller gave us (a blocked SIGCHLD inherited through exec
 * would make every `wait` in the commands below hang). */
void emissary_shim_release_signals(void) { sigprocmask(SIG_SETMASK, &original_mask, NULL); }

/* The process environment as the kernel handed it over, in its original order. */
extern char **environ;
char **emissary_shim_environ(void) { return environ; }

/* Before exec'ing emissary-tools: dispositions back to what the caller gave us. The runtime
 * ignores SIGPIPE, and exec keeps "ignored": the next program would take it for the caller's. */
void emissary_shim_restore_dispositions(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_DFL;
    for (int sig = 1; sig < 32; sig++) {
        if (sig == SIGKILL || sig == SIGSTOP || sigismember(&original_ignored, sig))
            continue;
        if (emissary_shim_is_ignored_now(sig))
            sigaction(sig, &sa, NULL);
    }
}

/* Whether SIG is SIG_IGN in this process right now (the runtime may have installed a handler). */
int emissary_shim_is_ignored_now(int sig)
{
    struct sigaction sa;
    return sigaction(sig, NULL, &sa) == 0 && sa.sa_handler == SIG_IGN;
}

/*
 * Fault signals sent with kill(2). ILL, TRAP, BUS, FPE, SEGV and SYS cannot go through the signalfd:
 * blocking them would turn the runtime's handling of a real fault (a null reference is a SEGV the
 * runtime turns into an exception) into death, because the kernel forces a fault signal through a
 * mask. So once the runtime has installed its handlers, each of the six gets a handler that looks at
 * si_code: a signal another process sent (SI_USER, SI_QUEUE, SI_TKILL: si_code <= 0) is written to a
 * pipe the event loop watches, and anything else (a fault of this process) goes to the handler that
 * was there before, exactly as if this one did not exist.
 */
static const int fault_signals[] = { SIGILL, SIGTRAP, SIGBUS, SIGFPE, SIGSEGV, SIGSYS };
#define FAULT_SIGNALS (sizeof fault_signals / sizeof fault_signals[0])
/* One slot per fault signal, not per signal number: 6 of them fit in one page, where NSIG of them
 * (10 KB) made installing the handlers touch three pages of fresh memory at every start. */
static struct sigaction previous_fault_action[FAULT_SIGNALS];
static int fault_pipe_write = -1;

static struct sigaction *previous_action_of(int sig)
{
    for (size_t i = 0; i < FAULT_SIGNALS; i++)
        if (fault_signals[i] == sig)
            return &previous_fault_action[i];
    return NULL;
}

static void on_fault_signal(int sig, siginfo_t *info, void *context)
{
    if (info != NULL && info->si_code <= 0) {
        int errno_saved = errno;
        /* signo and sender, one write of 8 bytes: atomic on a pipe; dropped if the pipe is full. */
        int record[2] = { sig, (int)info->si_pid };
        (void)!write(fault_pipe_write, record, sizeof record);
        errno = errno_saved;
        return;
    }
    /* Installed for the six fault signals only, so never NULL; if it were, the default action. */
    struct sigaction *before = previous_action_of(sig);
    if (before != NULL && (before->sa_flags & SA_SIGINFO)) {
        before->sa_sigaction(sig, info, context);
    } else if (before != NULL && before->sa_handler != SIG_DFL && before->sa_handler != SIG_IGN) {
        before->sa_handler(sig);
    } else {
        /* No handler before us: the default action. Returning re-runs the faulting instruction,
         * which now raises the signal with its default disposition (a core dump, as before). */
        struct sigaction dfl;
        memset(&dfl, 0, sizeof dfl);
        dfl.sa_handler = SIG_DFL;
        sigaction(sig, &dfl, NULL);
        if (sig == SIGTRAP || sig == SIGSYS) /* these do not re-fault when the instruction re-runs */
            raise(sig);
    }
}

/*
 * Installs the handler above for the fault signals the caller did not ignore (an ignored one stays
 * ignored: nohup semantics) and returns the pipe's read end (non-blocking, close-on-exec), from which
 * the caller reads records of two ints: signal number and sender pid. -1 (errno set) on failure.
 */
int emissary_shim_forward_faults(void)
{
    int fds[2];
    if (fault_pipe_write >= 0) {
        errno = EBUSY;
        return -1;
    }
    if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0)
        return -1;
    fault_pipe_write = fds[1];
    for (size_t i = 0; i < FAULT_SIGNALS; i++) {
        int sig = fault_signals[i];
        if (sigismember(&original_ignored, sig))
            continue;
        struct sigaction sa;
        if (sigaction(sig, NULL, &previous_fault_action[i]) != 0)
            continue;
        /* Same mask and flags as the runtime's handler (its alternate stack for stack overflow). */
        sa = previous_fault_action[i];
        sa.sa_flags = (sa.sa_flags & ~SA_RESETHAND) | SA_SIGINFO | SA_ONSTACK | SA_RESTART;
        sa.sa_sigaction = on_fault_signal;
        sigaction(sig, &sa, NULL);
    }
    return fds[0];
}
