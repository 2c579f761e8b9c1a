// SPDX-License-Identifier: BSD-3-Clause
/*
 * startbench: time from exec of an emulator to its first answered command.
 *
 *   startbench [--tpm12] -- PROG ARGS...
 *
 * A listening Unix socket (abstract, auto-bound) is passed to PROG as fd 3,
 * so PROG's arguments say `--server type=unixio,fd=3` and there is no
 * polling for a socket file: we connect at once (the connection waits in
 * the backlog), send GetRandom and wait for the answer.  PROG gets SIGTERM
 * afterwards.  Prints {"us": ..., "rc": ...} on stdout.
 */
#include <errno.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tpmcmd.h"

extern char **environ;

static double
now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

/* A listening socket on an auto-bound abstract address, copied to sa. */
static int
listen_auto(struct sockaddr_un *sa, socklen_t *salen)
{
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);

    if (fd < 0) {
        return -1;
    }
    sa->sun_family = AF_UNIX;
    *salen = sizeof(*sa);
    if (bind(fd, (struct sockaddr *)sa, sizeof(sa_family_t)) < 0 ||
        listen(fd, 4) < 0 ||
        getsockname(fd, (struct sockaddr *)sa, salen) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static int
read_response(int fd, uint8_t *buf, size_t size, uint32_t *out_len)
{
    uint32_t want = 10, got = 0;
    ssize_t n;

    while (got < want) {
        n = read(fd, buf + got, size - got);
        if (n <= 0) {
            return -1;
        }
        got += (uint32_t)n;
        if (got >= 6 && want == 10) {
            want = (uint32_t)buf[2] << 24 | (uint32_t)buf[3] << 16 |
                   (uint32_t)buf[4] << 8 | buf[5];
            if (want < 10 || want > size) {
                return -1;
            }
        }
    }
    *out_len = got;
    return 0;
}

int
main(int argc, char **argv)
{
    struct sockaddr_un sa = { 0 };
    socklen_t salen;
    posix_spawn_file_actions_t fa;
    const struct tpmcmd_def *d;
    struct tpmcmd c;
    uint8_t resp[4096];
    uint32_t rlen = 0;
    double t0, t1;
    int lfd, cfd, argi = 1, status = 0, ok;
    pid_t pid;

    d = tpmcmd_find("GetRandom32");
    if (argi < argc && strcmp(argv[argi], "--tpm12") == 0) {
        d = tpmcmd_find("TPM12_GetRandom32");
        argi++;
    }
    if (argi < argc && strcmp(argv[argi], "--") == 0) {
        argi++;
    }
    if (argi >= argc) {
        fprintf(stderr, "usage: startbench [--tpm12] -- PROG ARGS...\n");
        return 2;
    }
    d->build(&c);
    lfd = listen_auto(&sa, &salen);
    cfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (lfd < 0 || cfd < 0) {
        perror("startbench: socket");
        return 1;
    }
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, lfd, 3);

    t0 = now_us();
    if (posix_spawn(&pid, argv[argi], &fa, NULL, argv + argi, environ)) {
        perror("startbench: posix_spawn");
        return 1;
    }
    ok = connect(cfd, (struct sockaddr *)&sa, salen) == 0 &&
         write(cfd, c.b, c.len) == (ssize_t)c.len &&
         read_response(cfd, resp, sizeof(resp), &rlen) == 0;
    t1 = now_us();

    kill(pid, SIGTERM);
    waitpid(pid, &status, 0);
    posix_spawn_file_actions_destroy(&fa);
    if (!ok) {
        fprintf(stderr, "startbench: no answer from %s\n", argv[argi]);
        return 1;
    }
    printf("{\"us\": %.1f, \"rc\": %u}\n", t1 - t0, tpmcmd_rc(resp, rlen));
    return 0;
}
