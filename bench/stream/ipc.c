/*
 * ipc: moves COUNT messages of SIZE bytes from a writer to a reader through one mechanism and
 * prints what the reader measured. The writer makes one write(2) per message (a message is a
 * system call, as in the talk's table); the reader reads up to 256 KiB at a time; the time runs
 * from the reader's first byte to end-of-file.
 *
 *   ipc bench pipe|fifo|unix|tcp SIZE COUNT   both ends here (fork), one mechanism
 *   ipc write SIZE COUNT                       the writer alone, to stdout (a stream's producer)
 *   ipc read                                   the reader alone, from stdin (a stream's consumer)
 *
 * Output (one line): `bytes B seconds S msgs_per_s M mb_per_s X` (MB = 10^6 bytes; M counts
 * SIZE-byte messages).
 * Build: clang -static -O2 -o ipc ipc.c
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

static void die(const char *what)
{
    perror(what);
    exit(2);
}

static void writer(int fd, long size, long count)
{
    char *msg = malloc(size);
    for (long i = 0; i < size; i++)
        msg[i] = (char)('a' + i % 26);
    for (long n = 0; n < count; n++) {
        long done = 0;
        while (done < size) {
            ssize_t w = write(fd, msg + done, size - done);
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0)
                die("write");
            done += w;
        }
    }
    close(fd);
}

static void reader(int fd, long size)
{
    static char buf[256 * 1024];
    unsigned long long total = 0;
    double start = 0;
    for (;;) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            die("read");
        if (n == 0)
            break;
        if (total == 0)
            start = now();
        total += n;
    }
    double s = now() - start;
    if (size <= 0)
        size = 100;
    printf("bytes %llu seconds %.6f msgs_per_s %.0f mb_per_s %.1f\n", total, s, total / (double)size / s, total / 1e6 / s);
}

int main(int argc, char **argv)
{
    if (argc >= 4 && !strcmp(argv[1], "write")) {
        writer(1, atol(argv[2]), atol(argv[3]));
        return 0;
    }
    if (argc >= 2 && !strcmp(argv[1], "read")) {
        reader(0, argc >= 3 ? atol(argv[2]) : 100);
        return 0;
    }
    if (argc < 5 || strcmp(argv[1], "bench")) {
        fprintf(stderr, "usage: ipc bench pipe|fifo|unix|tcp SIZE COUNT | ipc write SIZE COUNT | ipc read [SIZE]\n");
        return 2;
    }
    const char *mech = argv[2];
    long size = atol(argv[3]), count = atol(argv[4]);
    int rfd = -1, wfd = -1;
    char fifo[64] = "";
    if (!strcmp(mech, "pipe")) {
        int p[2];
        if (pipe(p))
            die("pipe");
        rfd = p[0], wfd = p[1];
    } else if (!strcmp(mech, "unix")) {
        int p[2];
        if (socketpair(AF_UNIX, SOCK_STREAM, 0, p))
            die("socketpair");
        rfd = p[0], wfd = p[1];
    } else if (!strcmp(mech, "tcp")) {
        int l = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        socklen_t len = sizeof a;
        if (l < 0 || bind(l, (void *)&a, sizeof a) || listen(l, 1) || getsockname(l, (void *)&a, &len))
            die("listen");
        wfd = socket(AF_INET, SOCK_STREAM, 0);
        if (wfd < 0 || connect(wfd, (void *)&a, sizeof a))
            die("connect");
        rfd = accept(l, NULL, NULL);
        if (rfd < 0)
            die("accept");
        close(l);
    } else if (!strcmp(mech, "fifo")) {
        snprintf(fifo, sizeof fifo, "/tmp/ipc-fifo-%d", (int)getpid());
        if (mkfifo(fifo, 0600))
            die("mkfifo");
    } else {
        fprintf(stderr, "unknown mechanism %s\n", mech);
        return 2;
    }
    pid_t pid = fork();
    if (pid < 0)
        die("fork");
    if (pid == 0) {
        if (fifo[0])
            wfd = open(fifo, O_WRONLY);
        else
            close(rfd);
        writer(wfd, size, count);
        _exit(0);
    }
    if (fifo[0]) {
        rfd = open(fifo, O_RDONLY);
        unlink(fifo);
    } else {
        close(wfd);
    }
    reader(rfd, size);
    int status;
    waitpid(pid, &status, 0);
    return 0;
}
