/*
 * testchild: a small static helper child for Emissary's black-box tests.
 *
 * Build (static, so it also runs in an empty chroot):
 *     clang -static -O2 -Wall -Werror -o artifacts/testchild tests/testchild/testchild.c
 *
 * Every diagnostic line goes to stdout, line-buffered and flushed after each line, so a test
 * can wait for a line instead of sleeping. Subcommands:
 *
 *   exit N                     exit with code N
 *   sleep SECONDS              sleep (fractional allowed), exit 0
 *   signals [SECONDS]          catch every catchable signal 1..31 except CHLD; print `ready`,
 *                              then `got NAME` per signal; exit 0 after TERM or SECONDS (30)
 *   ignore-term SECONDS        SIGTERM ignored; print `ready`, sleep SECONDS, exit 0
 *   kill-self SIGNUM           die of SIGNUM (default disposition, unblocked)
 *   term-cleanup SECONDS       catch TERM; print `ready`; on TERM print `cleaning up`, sleep
 *                              SECONDS, print `cleaned up`, exit 0 (exit 0 after 30 s without TERM)
 *   orphans N                  make N orphans: N children each fork a grandchild and exit at
 *                              once; prints `spawned N` once the children are reaped, then
 *                              `orphan-parent P` (the distinct parent pid(s) the orphaned
 *                              grandchildren were reparented to, comma separated), lets the
 *                              grandchildren exit, prints `orphans exited` when they have all
 *                              exited (zombie or reaped), exits 0
 *   bg-sleeper SECONDS         fork a child in the same process group that sleeps SECONDS;
 *                              print `bg PID` and `fg ready`, exit 0 at once
 *   http-sink PORT COUNT       serve COUNT HTTP requests on 127.0.0.1:PORT: print `listening`,
 *                              then `body BODY` per request, answer 200, exit 0
 *   burn CPU_MS MIB [EXIT]     touch MIB MiB of memory, spin until CPU_MS of CPU time is used,
 *                              print `burned`, exit EXIT (default 0)
 *   checksum                   read stdin to EOF, print `bytes N fnv HEX` (FNV-1a 64), exit 0
 *   read-bytes N               read N bytes of stdin (fewer at EOF), print `read N`, exit 0
 *   status                     print SigBlk/SigIgn/SigCgt lines of /proc/self/status and
 *                              `pid N`, `pgid N`, `ppid N`, `uid N`, `gid N`; exit 0
 *   group-signals              a parent and one child in the same process group, each
 *                              printing `parent got NAME` / `child got NAME`; `ready` once both
 *                              are set up. The child exits on TERM; on TERM the parent sends
 *                              TERM to the child (so it also ends when only the parent got
 *                              it), waits for it, exits 0. The child prints every signal it
 *                              received before it exits, so "child got X" missing after
 *                              exit means the child never got X.
 *   count-zombies [PPID [SECS]] count processes in state Z (only those whose parent is PPID
 *                              when PPID > 0); poll until the count is 0 or SECS (default 2)
 *                              passed; print `zombies N`, exit 0
 *   exec-sigs BLOCKED IGNORED -- PROG [ARGS...]
 *                              BLOCKED and IGNORED are comma-separated signal numbers or `-`.
 *                              Set the signal mask to exactly BLOCKED, set IGNORED to SIG_IGN
 *                              and every other signal to SIG_DFL, then execvp PROG.
 *   exec-blocked SIGNUM -- PROG [ARGS...]
 *                              same as `exec-sigs SIGNUM - -- PROG ARGS`
 *   pattern BYTES              write BYTES bytes of a deterministic pseudo-random pattern to
 *                              stdout with write(2), in 64 KiB chunks: xorshift64* from the
 *                              seed 0x9E3779B97F4A7C15 (x ^= x >> 12; x ^= x << 25;
 *                              x ^= x >> 27; out = x * 0x2545F4914F6CDD1D), each 64-bit output
 *                              little-endian, the stream cut at BYTES; exit 0, or 3 (with a
 *                              message on stderr) when a write fails
 *   stream-intruder PATH HOW [SECONDS]
 *                              another container at a stream's rendezvous PATH (not through a
 *                              link): a FIFO is opened for reading without blocking; a socket is
 *                              connected to. Prints `opened fifo` or `connected`, then per HOW:
 *                              `close` closes at once; `garbage` sends 64 KiB of garbage, then
 *                              closes; `claim` reads the nonce and sends the claim byte without
 *                              writing any claim file, then prints `got a descriptor` or
 *                              `refused` (what came back within 5 s); `hold` keeps it open for
 *                              SECONDS (default 30). Exit 0; 1 (with a message) when PATH
 *                              cannot be opened or connected to
 *
 * Unknown subcommand or bad arguments: a message on stderr, exit 2.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <stdbool.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char *const signal_names[32] = {
    "0",    "HUP",  "INT",    "QUIT", "ILL",   "TRAP", "ABRT", "BUS",
    "FPE",  "KILL", "USR1",   "SEGV", "USR2",  "PIPE", "ALRM", "TERM",
    "STKFLT", "CHLD", "CONT", "STOP", "TSTP",  "TTIN", "TTOU", "URG",
    "XCPU", "XFSZ", "VTALRM", "PROF", "WINCH", "IO",   "PWR",  "SYS",
};

static const char *signame(int sig)
{
    static char buf[16];
    if (sig > 0 && sig < 32)
        return signal_names[sig];
    snprintf(buf, sizeof buf, "SIG%d", sig);
    return buf;
}

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stdout, fmt, ap);
    va_end(ap);
    fputc('\n', stdout);
    fflush(stdout);
}

static void die_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die_usage(const char *fmt, ...)
{
    va_list ap;
    fputs("testchild: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(2);
}

static void die_errno(const char *what) __attribute__((noreturn));
static void die_errno(const char *what)
{
    fprintf(stderr, "testchild: %s: %s\n", what, strerror(errno));
    exit(3);
}

static long parse_long(const char *s, const char *what)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end)
        die_usage("bad %s: '%s'", what, s);
    return v;
}

static double parse_seconds(const char *s)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || v < 0)
        die_usage("bad seconds: '%s'", s);
    return v;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void sleep_seconds(double seconds)
{
    struct timespec ts;
    ts.tv_sec = (time_t)seconds;
    ts.tv_nsec = (long)((seconds - (double)ts.tv_sec) * 1e9);
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* ---- self-pipe signal catching ---- */

static int self_pipe[2] = {-1, -1};

static void on_signal(int sig)
{
    int saved = errno;
    unsigned char b = (unsigned char)sig;
    if (write(self_pipe[1], &b, 1) < 0) {
        /* nothing to do in a handler */
    }
    errno = saved;
}

static int catchable(int sig)
{
    return sig != SIGKILL && sig != SIGSTOP && sig != SIGCHLD;
}

static void open_self_pipe(void)
{
    if (self_pipe[0] >= 0) {
        close(self_pipe[0]);
        close(self_pipe[1]);
    }
    if (pipe2(self_pipe, O_CLOEXEC | O_NONBLOCK) != 0)
        die_errno("pipe2");
}

static void install_handlers(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESTART;
    sigfillset(&sa.sa_mask);
    for (int sig = 1; sig < 32; sig++) {
        if (!catchable(sig))
            continue;
        if (sigaction(sig, &sa, NULL) != 0)
            die_errno("sigaction");
    }
}

static void unblock_all(void)
{
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
}

/*
 * Waits up to `timeout` seconds (negative: forever) for a signal caught by the self-pipe;
 * returns the signal number, or 0 on timeout.
 */
static int next_signal(double timeout)
{
    double deadline = timeout < 0 ? 0 : now() + timeout;
    for (;;) {
        unsigned char b;
        ssize_t n = read(self_pipe[0], &b, 1);
        if (n == 1)
            return b;
        if (n < 0 && errno != EAGAIN && errno != EINTR)
            die_errno("read");
        int ms = -1;
        if (timeout >= 0) {
            double left = deadline - now();
            if (left <= 0)
                return 0;
            ms = (int)(left * 1000) + 1;
        }
        struct pollfd p = {.fd = self_pipe[0], .events = POLLIN};
        if (poll(&p, 1, ms) < 0 && errno != EINTR)
            die_errno("poll");
    }
}

/* ---- subcommands ---- */

static int cmd_signals(int argc, char **argv)
{
    double seconds = argc > 2 ? parse_seconds(argv[2]) : 30;
    open_self_pipe();
    install_handlers();
    unblock_all();
    say("ready");
    double deadline = now() + seconds;
    for (;;) {
        double left = deadline - now();
        if (left <= 0)
            return 0;
        int sig = next_signal(left);
        if (sig == 0)
            return 0;
        say("got %s", signame(sig));
        if (sig == SIGTERM)
            return 0;
    }
}

static int cmd_ignore_term(int argc, char **argv)
{
    if (argc < 3)
        die_usage("usage: ignore-term SECONDS");
    double seconds = parse_seconds(argv[2]);
    signal(SIGTERM, SIG_IGN);
    say("ready");
    sleep_seconds(seconds);
    return 0;
}

static int cmd_term_cleanup(int argc, char **argv)
{
    if (argc < 3)
        die_usage("usage: term-cleanup SECONDS");
    double seconds = parse_seconds(argv[2]);
    open_self_pipe();
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESTART;
    if (sigaction(SIGTERM, &sa, NULL) != 0)
        die_errno("sigaction");
    unblock_all();
    say("ready");
    double deadline = now() + 30;
    for (;;) {
        double left = deadline - now();
        if (left <= 0)
            return 0;
        int sig = next_signal(left);
        if (sig == 0)
            return 0;
        if (sig == SIGTERM)
            break;
    }
    say("cleaning up");
    sleep_seconds(seconds);
    say("cleaned up");
    return 0;
}

static int cmd_kill_self(int argc, char **argv)
{
    if (argc < 3)
        die_usage("usage: kill-self SIGNUM");
    int sig = (int)parse_long(argv[2], "signal number");
    if (sig <= 0 || sig >= NSIG)
        die_usage("bad signal number %d", sig);
    if (sig != SIGKILL && sig != SIGSTOP)
        signal(sig, SIG_DFL);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, sig);
    sigprocmask(SIG_UNBLOCK, &set, NULL);
    kill(getpid(), sig);
    /* Not reached for a fatal signal. */
    fprintf(stderr, "testchild: still alive after signal %d\n", sig);
    return 1;
}

static char proc_state(pid_t pid, pid_t *ppid)
{
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = 0;
    char *p = strrchr(buf, ')'); /* comm may contain spaces and parentheses */
    if (!p || p[1] != ' ')
        return 0;
    char state = p[2];
    if (ppid)
        *ppid = (pid_t)strtol(p + 4, NULL, 10);
    return state;
}

static int cmd_orphans(int argc, char **argv)
{
    if (argc < 3)
        die_usage("usage: orphans N");
    long n = parse_long(argv[2], "count");
    if (n < 0 || n > 10000)
        die_usage("bad count %ld", n);

    int pids[2];    /* children report their grandchild's pid here */
    int release[2]; /* grandchildren exit once its write end is closed */
    if (pipe2(pids, O_CLOEXEC) != 0 || pipe2(release, O_CLOEXEC) != 0)
        die_errno("pipe2");

    pid_t *children = calloc((size_t)n + 1, sizeof(pid_t));
    pid_t *grandchildren = calloc((size_t)n + 1, sizeof(pid_t));
    if (!children || !grandchildren)
        die_errno("calloc");

    for (long i = 0; i < n; i++) {
        pid_t c = fork();
        if (c < 0)
            die_errno("fork");
        if (c == 0) {
            close(pids[0]);
            close(release[1]);
            pid_t g = fork();
            if (g < 0)
                _exit(3);
            if (g == 0) {
                close(pids[1]);
                char b;
                while (read(release[0], &b, 1) < 0 && errno == EINTR) {
                }
                _exit(0);
            }
            ssize_t w = write(pids[1], &g, sizeof g);
            _exit(w == sizeof g ? 0 : 3);
        }
        children[i] = c;
    }
    close(pids[1]);
    close(release[0]);

    for (long i = 0; i < n; i++) {
        int status;
        while (waitpid(children[i], &status, 0) < 0) {
            if (errno != EINTR)
                die_errno("waitpid");
        }
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            fprintf(stderr, "testchild: orphan maker failed\n");
            return 3;
        }
    }
    for (long i = 0; i < n; i++) {
        size_t got = 0;
        while (got < sizeof(pid_t)) {
            ssize_t r = read(pids[0], (char *)&grandchildren[i] + got, sizeof(pid_t) - got);
            if (r < 0 && errno == EINTR)
                continue;
            if (r <= 0)
                die_errno("read grandchild pid");
            got += (size_t)r;
        }
    }
    close(pids[0]);
    say("spawned %ld", n);

    /* Every child has been reaped, so every grandchild is an orphan by now (the kernel
     * reparents before the child becomes waitable); they are all blocked on `release`. */
    char parents[1024] = "";
    pid_t seen[8];
    int nseen = 0;
    for (long i = 0; i < n; i++) {
        pid_t pp = 0;
        if (!proc_state(grandchildren[i], &pp))
            continue;
        int known = 0;
        for (int k = 0; k < nseen; k++)
            known |= seen[k] == pp;
        if (!known && nseen < 8) {
            seen[nseen++] = pp;
            size_t len = strlen(parents);
            snprintf(parents + len, sizeof parents - len, "%s%d", nseen > 1 ? "," : "", (int)pp);
        }
    }
    say("orphan-parent %s", nseen ? parents : "none");

    close(release[1]);
    double deadline = now() + 10;
    for (long i = 0; i < n; i++) {
        for (;;) {
            char st = proc_state(grandchildren[i], NULL);
            if (st == 0 || st == 'Z' || st == 'X')
                break;
            if (now() > deadline) {
                fprintf(stderr, "testchild: orphan %d did not exit\n", (int)grandchildren[i]);
                return 3;
            }
            sleep_seconds(0.005);
        }
    }
    say("orphans exited");
    return 0;
}

static int cmd_bg_sleeper(int argc, char **argv)
{
    if (argc < 3)
        die_usage("usage: bg-sleeper SECONDS");
    double seconds = parse_seconds(argv[2]);
    fflush(stdout);
    pid_t c = fork();
    if (c < 0)
        die_errno("fork");
    if (c == 0) {
        sleep_seconds(seconds);
        _exit(0);
    }
    say("bg %d", (int)c);
    say("fg ready");
    return 0;
}

static int cmd_status(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (!f)
        die_errno("/proc/self/status");
    char line[512];
    while (fgets(line, sizeof line, f)) {
        if (!strncmp(line, "SigBlk:", 7) || !strncmp(line, "SigIgn:", 7) ||
            !strncmp(line, "SigCgt:", 7)) {
            line[strcspn(line, "\n")] = 0;
            say("%s", line);
        }
    }
    fclose(f);
    say("pid %d", (int)getpid());
    say("pgid %d", (int)getpgrp());
    say("ppid %d", (int)getppid());
    say("uid %d", (int)getuid());
    say("gid %d", (int)getgid());
    return 0;
}

/* Prints every signal waiting on the self-pipe without blocking. */
static void drain_signals(const char *who)
{
    for (;;) {
        unsigned char b;
        ssize_t n = read(self_pipe[0], &b, 1);
        if (n == 1) {
            say("%s got %s", who, signame(b));
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        return;
    }
}

static int cmd_group_signals(void)
{
    sigset_t all, none;
    sigfillset(&all);
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &all, NULL);

    open_self_pipe();
    install_handlers();

    int sync[2];
    if (pipe2(sync, O_CLOEXEC) != 0)
        die_errno("pipe2");
    fflush(stdout);
    pid_t child = fork();
    if (child < 0)
        die_errno("fork");
    if (child == 0) {
        close(sync[0]);
        open_self_pipe(); /* its own pipe: nothing blocked is delivered before this */
        sigprocmask(SIG_SETMASK, &none, NULL);
        if (write(sync[1], "x", 1) != 1)
            _exit(3);
        close(sync[1]);
        for (;;) {
            int sig = next_signal(-1);
            say("child got %s", signame(sig));
            if (sig == SIGTERM) {
                /* anything else already caught is in the pipe: print it too */
                drain_signals("child");
                say("child exiting");
                _exit(0);
            }
        }
    }
    close(sync[1]);
    char b;
    ssize_t r;
    while ((r = read(sync[0], &b, 1)) < 0 && errno == EINTR) {
    }
    if (r != 1) {
        fprintf(stderr, "testchild: group-signals child failed to start\n");
        return 3;
    }
    close(sync[0]);
    sigprocmask(SIG_SETMASK, &none, NULL);
    say("ready");
    for (;;) {
        int sig = next_signal(-1);
        say("parent got %s", signame(sig));
        if (sig == SIGTERM)
            break;
    }
    kill(child, SIGTERM);
    int status;
    while (waitpid(child, &status, 0) < 0) {
        if (errno != EINTR)
            die_errno("waitpid");
    }
    drain_signals("parent");
    say("parent exiting");
    return 0;
}

static int count_zombies(pid_t ppid_filter)
{
    DIR *d = opendir("/proc");
    if (!d)
        die_errno("/proc");
    int count = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!isdigit((unsigned char)e->d_name[0]))
            continue;
        pid_t pp = 0;
        char st = proc_state((pid_t)atoi(e->d_name), &pp);
        if (st == 'Z' && (ppid_filter <= 0 || pp == ppid_filter))
            count++;
    }
    closedir(d);
    return count;
}

static int cmd_count_zombies(int argc, char **argv)
{
    pid_t filter = argc > 2 ? (pid_t)parse_long(argv[2], "ppid") : 0;
    double wait = argc > 3 ? parse_seconds(argv[3]) : 2;
    double deadline = now() + wait;
    int n;
    while ((n = count_zombies(filter)) > 0 && now() < deadline)
        sleep_seconds(0.02);
    say("zombies %d", n);
    return 0;
}

static void parse_signal_list(const char *s, sigset_t *set)
{
    sigemptyset(set);
    if (!strcmp(s, "-") || !*s)
        return;
    char *copy = strdup(s);
    char *save = NULL;
    for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        long sig = parse_long(tok, "signal number");
        if (sig <= 0 || sig >= NSIG)
            die_usage("bad signal number %ld", sig);
        sigaddset(set, (int)sig);
    }
    free(copy);
}

static int exec_with_signals(const char *blocked, const char *ignored, int argc, char **argv, int first)
{
    if (first >= argc || strcmp(argv[first], "--") != 0 || first + 1 >= argc)
        die_usage("expected -- PROG [ARGS...]");
    sigset_t block, ignore;
    parse_signal_list(blocked, &block);
    parse_signal_list(ignored, &ignore);

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    for (int sig = 1; sig < NSIG; sig++) {
        if (sig == SIGKILL || sig == SIGSTOP)
            continue;
        sa.sa_handler = sigismember(&ignore, sig) ? SIG_IGN : SIG_DFL;
        sigaction(sig, &sa, NULL); /* glibc refuses its reserved real-time signals: fine */
    }
    if (sigprocmask(SIG_SETMASK, &block, NULL) != 0)
        die_errno("sigprocmask");
    execvp(argv[first + 1], argv + first + 1);
    fprintf(stderr, "testchild: exec %s: %s\n", argv[first + 1], strerror(errno));
    return errno == ENOENT ? 127 : 126;
}

static int cmd_pattern(int argc, char **argv)
{
    if (argc < 3)
        die_usage("usage: pattern BYTES");
    long total = parse_long(argv[2], "byte count");
    if (total < 0)
        die_usage("bad byte count %ld", total);
    static unsigned char buf[65536];
    uint64_t x = 0x9E3779B97F4A7C15ULL;
    long left = total;
    while (left > 0) {
        size_t n = left < (long)sizeof buf ? (size_t)left : sizeof buf;
        for (size_t i = 0; i < n; i += 8) {
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            uint64_t v = x * 0x2545F4914F6CDD1DULL;
            for (int k = 0; k < 8; k++)
                buf[i + k] = (unsigned char)(v >> (8 * k));
        }
        size_t done = 0;
        while (done < n) {
            ssize_t w = write(STDOUT_FILENO, buf + done, n - done);
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0)
                die_errno("write");
            done += (size_t)w;
        }
        left -= (long)n;
    }
    return 0;
}

/* http-sink PORT COUNT: a tiny HTTP/1.1 server on 127.0.0.1:PORT for COUNT requests: prints
 * `listening`, then for each request `body ` and the request's body (Content-Length bytes) on
 * one line, answers 200 with an empty body, and exits 0 after COUNT requests. */
static int cmd_http_sink(int argc, char **argv)
{
    if (argc < 4)
        die_usage("usage: http-sink PORT COUNT");
    long port = parse_long(argv[2], "port"), count = parse_long(argv[3], "count");
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof a) != 0 || listen(s, 16) != 0)
        die_errno("http-sink: listen");
    printf("listening\n");
    static char buf[1 << 20];
    for (long served = 0; served < count; served++) {
        int c = accept(s, NULL, NULL);
        if (c < 0) {
            if (errno == EINTR) { served--; continue; }
            die_errno("accept");
        }
        size_t got = 0;
        char *end = NULL;
        long length = 0;
        for (;;) {
            ssize_t n = read(c, buf + got, sizeof buf - 1 - got);
            if (n <= 0)
                break;
            got += (size_t)n;
            buf[got] = 0;
            if (!end && (end = strstr(buf, "\r\n\r\n"))) {
                char *cl = strcasestr(buf, "\r\ncontent-length:");
                length = cl && cl < end ? strtol(cl + 17, NULL, 10) : 0;
            }
            if (end && (long)(got - (size_t)(end + 4 - buf)) >= length)
                break;
            if (got >= sizeof buf - 1)
                break;
        }
        printf("body %.*s\n", end ? (int)length : 0, end ? end + 4 : "");
        const char *ok = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
        if (write(c, ok, strlen(ok)) < 0) { /* the client gave up: nothing to do */ }
        close(c);
    }
    return 0;
}

/* burn CPU_MS MIB [EXIT]: touch MIB MiB (one write per 4 KiB page, kept resident), then spin
 * until this process has used CPU_MS of CPU time (user + system, the page faults included),
 * print `burned`, exit EXIT (0). */
static int cmd_burn(int argc, char **argv)
{
    if (argc < 4)
        die_usage("usage: burn CPU_MS MIB [EXIT]");
    long cpu_ms = parse_long(argv[2], "CPU milliseconds");
    long mib = parse_long(argv[3], "MiB");
    int code = argc > 4 ? (int)parse_long(argv[4], "exit code") : 0;
    if (cpu_ms < 0 || mib < 0)
        die_usage("bad burn arguments");
    size_t bytes = (size_t)mib << 20;
    volatile unsigned char *memory = bytes ? malloc(bytes) : NULL;
    if (bytes && !memory)
        die_errno("malloc");
    for (size_t i = 0; i < bytes; i += 4096)
        memory[i] = (unsigned char)i | 1;
    struct timespec t;
    volatile uint64_t sink = 0;
    for (;;) {
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
        if (t.tv_sec * 1000L + t.tv_nsec / 1000000L >= cpu_ms)
            break;
        for (int i = 0; i < 100000; i++)
            sink += (uint64_t)i * 2654435761u;
    }
    printf("burned %d\n", (int)(sink & 1));
    return code;
}

/* checksum: read stdin to EOF; print `bytes N fnv HEX` (FNV-1a 64 of everything read). */
static int cmd_checksum(void)
{
    static unsigned char buf[65536];
    uint64_t h = 0xcbf29ce484222325ULL;
    unsigned long long total = 0;
    for (;;) {
        ssize_t n = read(STDIN_FILENO, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            die_errno("read");
        if (n == 0)
            break;
        for (ssize_t i = 0; i < n; i++) {
            h ^= buf[i];
            h *= 0x100000001b3ULL;
        }
        total += (unsigned long long)n;
    }
    printf("bytes %llu fnv %016llx\n", total, (unsigned long long)h);
    return 0;
}

/* read-bytes N: read N bytes of stdin (fewer at EOF), print `read N`, exit 0 without reading more. */
static int cmd_read_bytes(int argc, char **argv)
{
    if (argc < 3)
        die_usage("usage: read-bytes N");
    long want = parse_long(argv[2], "byte count");
    static unsigned char buf[65536];
    long got = 0;
    while (got < want) {
        size_t ask = want - got < (long)sizeof buf ? (size_t)(want - got) : sizeof buf;
        ssize_t n = read(STDIN_FILENO, buf, ask);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += n;
    }
    printf("read %ld\n", got);
    return 0;
}

/* stream-intruder PATH HOW [SECONDS]: see the header. */
static int cmd_stream_intruder(int argc, char **argv)
{
    if (argc < 4)
        die_usage("usage: stream-intruder PATH close|garbage|claim|hold [SECONDS]");
    const char *how = argv[3];
    double hold = argc > 4 ? parse_seconds(argv[4]) : 30;
    int entry = open(argv[2], O_PATH | O_NOFOLLOW | O_CLOEXEC);
    struct stat st;
    if (entry < 0 || fstat(entry, &st) != 0) {
        fprintf(stderr, "testchild: cannot open %s: %s\n", argv[2], strerror(errno));
        return 1;
    }
    int fd;
    if (S_ISFIFO(st.st_mode)) {
        fd = open(argv[2], O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0) {
            fprintf(stderr, "testchild: cannot open %s: %s\n", argv[2], strerror(errno));
            return 1;
        }
        say("opened fifo");
    } else {
        struct sockaddr_un address = { .sun_family = AF_UNIX };
        snprintf(address.sun_path, sizeof address.sun_path, "/proc/self/fd/%d", entry);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0 || connect(fd, (struct sockaddr *)&address, sizeof address) != 0) {
            fprintf(stderr, "testchild: cannot connect to %s: %s\n", argv[2], strerror(errno));
            return 1;
        }
        say("connected");
    }
    if (!strcmp(how, "garbage")) {
        static char junk[65536];
        memset(junk, 'x', sizeof junk);
        struct pollfd p = { .fd = fd, .events = POLLOUT };
        for (size_t sent = 0; sent < sizeof junk && poll(&p, 1, 1000) == 1 && (p.revents & POLLOUT);) {
            ssize_t n = send(fd, junk + sent, sizeof junk - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
            if (n <= 0)
                break;
            sent += (size_t)n;
        }
        say("sent garbage");
    } else if (!strcmp(how, "claim")) {
        char nonce[64];
        struct pollfd p = { .fd = fd, .events = POLLIN };
        if (poll(&p, 1, 5000) == 1 && read(fd, nonce, sizeof nonce) > 0) {
            char claimed = 'c';
            send(fd, &claimed, 1, MSG_NOSIGNAL);
        }
        char data;
        union { struct cmsghdr header; char room[CMSG_SPACE(4 * sizeof(int))]; } control;
        struct iovec iov = { .iov_base = &data, .iov_len = 1 };
        struct msghdr message = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = &control, .msg_controllen = sizeof control };
        bool got = poll(&p, 1, 5000) == 1 && recvmsg(fd, &message, MSG_CMSG_CLOEXEC) > 0 &&
                   message.msg_controllen > 0 && CMSG_FIRSTHDR(&message)->cmsg_type == SCM_RIGHTS;
        say(got ? "got a descriptor" : "refused");
    } else if (!strcmp(how, "hold")) {
        say("holding");
        sleep_seconds(hold);
    } else if (strcmp(how, "close")) {
        die_usage("unknown way '%s': close, garbage, claim or hold", how);
    }
    close(fd);
    return 0;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc < 2)
        die_usage("usage: testchild SUBCOMMAND [ARGS...]");
    const char *cmd = argv[1];

    if (!strcmp(cmd, "exit")) {
        if (argc < 3)
            die_usage("usage: exit N");
        return (int)(parse_long(argv[2], "exit code") & 0xff);
    }
    if (!strcmp(cmd, "sleep")) {
        if (argc < 3)
            die_usage("usage: sleep SECONDS");
        sleep_seconds(parse_seconds(argv[2]));
        return 0;
    }
    if (!strcmp(cmd, "signals"))
        return cmd_signals(argc, argv);
    if (!strcmp(cmd, "ignore-term"))
        return cmd_ignore_term(argc, argv);
    if (!strcmp(cmd, "kill-self"))
        return cmd_kill_self(argc, argv);
    if (!strcmp(cmd, "term-cleanup"))
        return cmd_term_cleanup(argc, argv);
    if (!strcmp(cmd, "orphans"))
        return cmd_orphans(argc, argv);
    if (!strcmp(cmd, "bg-sleeper"))
        return cmd_bg_sleeper(argc, argv);
    if (!strcmp(cmd, "status"))
        return cmd_status();
    if (!strcmp(cmd, "group-signals"))
        return cmd_group_signals();
    if (!strcmp(cmd, "count-zombies"))
        return cmd_count_zombies(argc, argv);
    if (!strcmp(cmd, "http-sink"))
        return cmd_http_sink(argc, argv);
    if (!strcmp(cmd, "burn"))
        return cmd_burn(argc, argv);
    if (!strcmp(cmd, "checksum"))
        return cmd_checksum();
    if (!strcmp(cmd, "read-bytes"))
        return cmd_read_bytes(argc, argv);
    if (!strcmp(cmd, "pattern"))
        return cmd_pattern(argc, argv);
    if (!strcmp(cmd, "stream-intruder"))
        return cmd_stream_intruder(argc, argv);
    if (!strcmp(cmd, "exec-sigs")) {
        if (argc < 4)
            die_usage("usage: exec-sigs BLOCKED IGNORED -- PROG [ARGS...]");
        return exec_with_signals(argv[2], argv[3], argc, argv, 4);
    }
    if (!strcmp(cmd, "exec-blocked")) {
        if (argc < 3)
            die_usage("usage: exec-blocked SIGNUM -- PROG [ARGS...]");
        return exec_with_signals(argv[2], "-", argc, argv, 3);
    }
    die_usage("unknown subcommand '%s'", cmd);
}
