/*
 * Start-up measurements for scripts/bench.sh that neither hyperfine nor perf gives on every machine:
 *
 *   startup faults FILE          the median cost, in microseconds, of the first write to a fresh
 *                                anonymous page and of the first read of a page of FILE (in the page
 *                                cache; one such fault maps up to 16 pages): start-up is mostly page
 *                                faults, and a VM can make one ten times dearer than bare metal
 *   startup count CMD ARGS...    page faults of CMD and of the children it waited for (as perf stat
 *                                counts them), the median of 21 runs: does not depend on load
 *   startup rounds N CMD... [:: CMD...]...
 *                                wall time of each command, run round-robin N times (the order
 *                                reversed every other round), so that a machine whose speed drifts
 *                                during the measurement weighs on every command alike: median, p25
 *                                and p75 in milliseconds, one line per command
 */
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

extern char **environ;

static double now_us(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double quantile(double *v, int n, double q)
{
    qsort(v, n, sizeof v[0], by_value);
    return v[(int)(q * (n - 1) + 0.5)];
}

/* Runs ARGV to its end; 0 when it could be started. */
static int run(char **argv)
{
    pid_t pid;
    int status;
    if (posix_spawn(&pid, argv[0], NULL, NULL, argv, environ) != 0)
        return -1;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR)
            return -1;
    }
    return 0;
}

static int faults(const char *file)
{
    enum { N = 256 };
    double t[N];
    volatile char *p = mmap(NULL, N * 4096L, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return 1;
    for (int i = 0; i < N; i++) {
        double t0 = now_us();
        p[i * 4096L] = 1;
        t[i] = now_us() - t0;
    }
    printf("page fault: %.1f us (first write to a fresh page)", quantile(t, N, 0.5));
    int fd = open(file, O_RDONLY);
    struct stat st;
    if (fd >= 0 && fstat(fd, &st) == 0 && st.st_size >= 65536) {
        volatile char *q = mmap(NULL, st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        int n = st.st_size / 65536 < N ? (int)(st.st_size / 65536) : N;
        for (int i = 0; q != MAP_FAILED && i < n; i++) {
            double t0 = now_us();
            (void)q[i * 65536L];
            t[i] = now_us() - t0;
        }
        if (q != MAP_FAILED)
            printf(", %.1f us (first read of a cached page of %s)", quantile(t, n, 0.5), file);
    }
    printf("\n");
    return 0;
}

static int count(char **argv)
{
    enum { N = 21 };
    double v[N];
    for (int i = 0; i < N; i++) {
        struct rusage before, after;
        getrusage(RUSAGE_CHILDREN, &before);
        if (run(argv) != 0)
            return 1;
        getrusage(RUSAGE_CHILDREN, &after);
        v[i] = (double)(after.ru_minflt + after.ru_majflt - before.ru_minflt - before.ru_majflt);
    }
    printf("%.0f\n", quantile(v, N, 0.5));
    return 0;
}

static int rounds(int n, char **argv, int argc)
{
    char **commands[16];
    int k = 0;
    commands[k++] = argv;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "::") == 0 && k < 16) {
            argv[i] = NULL;
            commands[k++] = argv + i + 1;
        }
    }
    double *t = calloc((size_t)n * k, sizeof *t);
    if (t == NULL)
        return 1;
    for (int r = 0; r < n; r++) {
        for (int j = 0; j < k; j++) {
            int c = r % 2 ? k - 1 - j : j;
            double t0 = now_us();
            if (run(commands[c]) != 0) {
                fprintf(stderr, "startup: cannot run %s\n", commands[c][0]);
                return 1;
            }
            t[c * n + r] = (now_us() - t0) / 1000;
        }
    }
    for (int c = 0; c < k; c++)
        printf("%.3f %.3f %.3f\n", quantile(t + c * n, n, 0.5), quantile(t + c * n, n, 0.25), quantile(t + c * n, n, 0.75));
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "faults") == 0)
        return faults(argv[2]);
    if (argc > 2 && strcmp(argv[1], "count") == 0)
        return count(argv + 2);
    if (argc > 3 && strcmp(argv[1], "rounds") == 0)
        return rounds(atoi(argv[2]), argv + 3, argc - 3);
    fprintf(stderr, "usage: startup faults FILE | count CMD ARGS... | rounds N CMD... [:: CMD...]...\n");
    return 2;
}
