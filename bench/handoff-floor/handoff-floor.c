/*
 * The hand-off floors for scripts/bench-handoff.sh: "the upstream's command exits -> the
 * downstream's command execs" with the same kernel mechanism emissary uses (the upstream's
 * supervisor holds a lock for its life; the downstream waits until it can share it), written
 * in C.
 *
 *   handoff-floor up LOCK CMD...    hold LOCK, run CMD, wait for it, release LOCK, exit
 *   handoff-floor down LOCK CMD...  wait until LOCK can be shared, then run CMD and wait for it
 *
 * Bare, that is the machine's cost: no runtime, no files recorded, no checks. What emissary adds
 * beyond it is what it does. With --records DIR, the same hand-off also pays for the files the
 * control directory's contract says a finishing step leaves before its dependants may go, written
 * the way a careful C supervisor would (the way emissary does): the upstream writes DIR/status.json
 * once when its command starts; after reaping it reads DIR/results (empty), replaces status.json,
 * then creates DIR/exitcode — each a file with an unpredictable name created O_EXCL|O_NOFOLLOW,
 * written, fchmod-ed, closed and renamed into place — releases the lock, and only then unlinks the
 * replaced status.json. The downstream, once it can share the lock, reads DIR/exitcode. What
 * emissary adds beyond that floor is its own overhead on the same job.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static void die(const char *what)
{
    perror(what);
    exit(1);
}

/* Writes NAME in DIRFD atomically; for a replaced file, its old inode is left under the returned
 * temporary name (to be unlinked later), else the returned name is empty. */
static void write_atomically(int dirfd, const char *name, const char *data, int usually_new, char replaced[64])
{
    unsigned long long r;
    char temp[64];
    if (getrandom(&r, sizeof r, GRND_NONBLOCK) != sizeof r)
        die("handoff-floor: getrandom");
    snprintf(temp, sizeof temp, ".%s.tmp-%016llx", name, r);
    int fd = openat(dirfd, temp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC, 0644);
    size_t n = strlen(data);
    if (fd < 0 || write(fd, data, n) != (ssize_t)n || fchmod(fd, 0644) != 0 || close(fd) != 0)
        die("handoff-floor: write a record");
    replaced[0] = '\0';
    if (usually_new && renameat2(dirfd, temp, dirfd, name, RENAME_NOREPLACE) == 0)
        return;
    if (renameat2(dirfd, temp, dirfd, name, RENAME_EXCHANGE) == 0) {
        strcpy(replaced, temp);
        return;
    }
    if (renameat(dirfd, temp, dirfd, name) != 0)
        die("handoff-floor: rename a record");
}

/* A status.json of the size emissary writes (about 450 bytes). */
static void status_json(char *out, size_t size, const char *state, int exit_code)
{
    snprintf(out, size,
             "{\"name\":\"A\",\"state\":\"%s\",\"pid\":%d,\"waitingSince\":\"2026-12-07T10:00:00.000Z\","
             "\"startedAt\":\"2026-12-07T10:00:00.001Z\",\"finishedAt\":\"2026-12-07T10:00:00.002Z\","
             "\"exitCode\":%d,\"reason\":\"Completed\",\"message\":null,\"continueOnError\":false,"
             "\"waitsForStart\":false,\"waitingFor\":null,\"pause\":null,\"attempts\":0,\"restarts\":0,"
             "\"incarnation\":\"00000000000000000000000000000000\",\"usage\":{\"cpuUserSeconds\":0.000,"
             "\"cpuSystemSeconds\":0.004,\"maxRssKiB\":1024,\"wallSeconds\":0.001}}\n",
             state, (int)getpid(), exit_code);
}

int main(int argc, char **argv)
{
    const char *records = NULL;
    if (argc > 2 && strcmp(argv[1], "--records") == 0) {
        records = argv[2];
        argv += 2;
        argc -= 2;
    }
    if (argc < 4 || (strcmp(argv[1], "up") != 0 && strcmp(argv[1], "down") != 0)) {
        fprintf(stderr, "usage: handoff-floor [--records DIR] up|down LOCK CMD...\n");
        return 2;
    }
    int up = strcmp(argv[1], "up") == 0;
    int fd = open(argv[2], O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0 || flock(fd, up ? LOCK_EX : LOCK_SH) != 0)
        die("handoff-floor: lock");
    int dirfd = -1;
    char status[1024], replaced[64];
    if (records) {
        if (up)
            mkdir(records, 0755);
        dirfd = open(records, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dirfd < 0)
            die("handoff-floor: records directory");
        if (up) {
            mkdirat(dirfd, "results", 0755);
            status_json(status, sizeof status, "running", 0);
            write_atomically(dirfd, "status.json", status, 0, replaced);
        }
    }
    if (!up) {
        close(fd);
        if (records) {
            char code[16];
            int efd = openat(dirfd, "exitcode", O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
            if (efd < 0 || read(efd, code, sizeof code) <= 0 || close(efd) != 0 || code[0] != '0')
                die("handoff-floor: the upstream did not succeed");
        }
    }
    pid_t pid;
    int status_code;
    if (posix_spawn(&pid, argv[3], NULL, NULL, argv + 3, environ) != 0) {
        perror("handoff-floor: spawn");
        return 127;
    }
    while (waitpid(pid, &status_code, 0) < 0) {
    }
    int exit_code = WIFEXITED(status_code) ? WEXITSTATUS(status_code) : 128 + WTERMSIG(status_code);
    if (up && records) {
        int rfd = openat(dirfd, "results", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        DIR *results = rfd < 0 ? NULL : fdopendir(rfd);
        if (!results)
            die("handoff-floor: results");
        while (readdir(results)) {
        }
        closedir(results);
        status_json(status, sizeof status, exit_code == 0 ? "succeeded" : "failed", exit_code);
        write_atomically(dirfd, "status.json", status, 0, replaced);
        char code[16], ignored[64];
        snprintf(code, sizeof code, "%d\n", exit_code);
        write_atomically(dirfd, "exitcode", code, 1, ignored);
    }
    if (up)
        close(fd);
    if (records && up && replaced[0])
        unlinkat(dirfd, replaced, 0);
    return exit_code;
}
