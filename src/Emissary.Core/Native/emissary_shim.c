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
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int emissary_shim_is_ignored_now(int sig);

/* argv[1] of the trampoline mode below. Not a user-facing command: see exec_ignoring(). */
#define EXEC_IGNORING "--emissary-exec-ignoring"

static sigset_t original_mask;
static sigset_t original_ignored;
static sigset_t supervised;

/* Signals the runtime owns (SEGV, FPE: null references and division), that cannot be caught
 * (KILL, STOP), or whose default action must stay for real faults raised in this process. */
static int is_reserved(int sig)
{
    return sig == SIGKILL || sig == SIGSTOP || sig == SIGSEGV || sig == SIGFPE
        || sig == SIGILL || sig == SIGBUS || sig == SIGTRAP || sig == SIGSYS;
}

/*
 * Trampoline: `emissary --emissary-exec-ignoring 8,11,17 PATH ARGV0 ARGS...` sets those signals to
 * SIG_IGN and execs PATH, without ever starting the .NET runtime. posix_spawn cannot hand a child
 * a signal as ignored when the parent catches it, and the runtime catches SEGV and FPE while
 * emissary must not ignore CHLD; when the caller ignored one of those, the launcher spawns the
 * command through this trampoline so the child still inherits it ignored (tini's contract).
 * The signal mask set by posix_spawn is left as it is.
 */
static void exec_ignoring(int argc, char **argv, char **envp)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_IGN;
    for (char *p = argv[2]; *p; ) {
        char *end;
        long sig = strtol(p, &end, 10);
        if (end != p && sig > 0 && sig < NSIG)
            sigaction((int)sig, &sa, NULL);
        p = *end == ',' ? end + 1 : end + (*end != 0);
    }
    execve(argv[3], argv + 4, envp);
    int err = errno;
    static const char msg[] = "emissary: cannot run the command: exec failed\n";
    (void)!write(2, msg, sizeof msg - 1);
    _exit(err == ENOENT ? 127 : 126);
    (void)argc;
}

__attribute__((constructor)) static void emissary_shim_init(int argc, char **argv, char **envp)
{
    struct sigaction sa;

    if (argc >= 5 && strcmp(argv[1], EXEC_IGNORING) == 0)
        exec_ignoring(argc, argv, envp);

    sigemptyset(&original_ignored);
    sigemptyset(&supervised);
    sigprocmask(SIG_BLOCK, NULL, &original_mask);

    for (int sig = 1; sig < NSIG; sig++) {
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
