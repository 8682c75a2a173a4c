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
