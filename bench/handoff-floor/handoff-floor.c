/*
 * The hand-off floor for scripts/bench-handoff.sh: "the upstream's command exits -> the
 * downstream's command execs" with the same kernel mechanism emissary uses (the upstream's
 * supervisor holds a lock for its life; the downstream waits until it can share it), written
 * in C with nothing else to do: no runtime, no files recorded, no checks. What emissary adds
 * beyond this is what it does; what this costs is the machine's.
 *
 *   handoff-floor up LOCK CMD...    hold LOCK, run CMD, wait for it, release LOCK, exit
 *   handoff-floor down LOCK CMD...  wait until LOCK can be shared, then run CMD and wait for it
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

int main(int argc, char **argv)
{
    if (argc < 4 || (strcmp(argv[1], "up") != 0 && strcmp(argv[1], "down") != 0)) {
        fprintf(stderr, "usage: handoff-floor up|down LOCK CMD...\n");
        return 2;
    }
    int up = strcmp(argv[1], "up") == 0;
    int fd = open(argv[2], O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0 || flock(fd, up ? LOCK_EX : LOCK_SH) != 0) {
        perror("handoff-floor: lock");
        return 1;
    }
    if (!up)
        close(fd);
    pid_t pid;
    int status;
    if (posix_spawn(&pid, argv[3], NULL, NULL, argv + 3, environ) != 0) {
        perror("handoff-floor: spawn");
        return 127;
    }
    while (waitpid(pid, &status, 0) < 0) {
    }
    if (up)
        close(fd);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
