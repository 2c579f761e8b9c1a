// SPDX-License-Identifier: BSD-3-Clause
/*
 * The transport floor for `make bench`: a server that speaks the swtpm
 * socket data channel (a TPM command in, a TPM response out) and does no
 * work at all: it answers every command with a canned 10-byte
 * TPM_RC_SUCCESS header.  The round trip to it is what the socket and the
 * scheduler cost by themselves.
 *
 *   nowork unix:PATH | tcp:PORT     (127.0.0.1; serves until killed)
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define CMD_MAX 4096

static const uint8_t canned[10] = { 0x80, 0x01, 0, 0, 0, 10, 0, 0, 0, 0 };

static int
read_full(int fd, uint8_t *buf, size_t len)
{
    size_t got = 0;
    ssize_t n;

    while (got < len) {
        n = read(fd, buf + got, len - got);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return -1;
        }
        got += (size_t)n;
    }
    return 0;
}

static void
serve(int c)
{
    uint8_t buf[CMD_MAX];
    uint32_t size;

    for (;;) {
        if (read_full(c, buf, 10) < 0) {
            return;
        }
        size = (uint32_t)buf[2] << 24 | (uint32_t)buf[3] << 16 |
               (uint32_t)buf[4] << 8 | buf[5];
        if (size < 10 || size > CMD_MAX ||
            read_full(c, buf + 10, size - 10) < 0) {
            return;
        }
        if (write(c, canned, sizeof(canned)) != sizeof(canned)) {
            return;
        }
    }
}

static int
listen_on(const char *spec)
{
    int s, one = 1;

    if (strncmp(spec, "unix:", 5) == 0) {
        struct sockaddr_un a = { .sun_family = AF_UNIX };

        if (strlen(spec + 5) >= sizeof(a.sun_path)) {
            return -1;
        }
        strcpy(a.sun_path, spec + 5);
        unlink(a.sun_path);
        s = socket(AF_UNIX, SOCK_STREAM, 0);
        if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof(a)) < 0) {
            return -1;
        }
    } else if (strncmp(spec, "tcp:", 4) == 0) {
        struct sockaddr_in a = { .sin_family = AF_INET };

        a.sin_port = htons((uint16_t)atoi(spec + 4));
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        s = socket(AF_INET, SOCK_STREAM, 0);
        if (s < 0) {
            return -1;
        }
        setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (bind(s, (struct sockaddr *)&a, sizeof(a)) < 0) {
            return -1;
        }
    } else {
        return -1;
    }
    return listen(s, 4) < 0 ? -1 : s;
}

int
main(int argc, char **argv)
{
    int s, c, one = 1;

    if (argc != 2) {
        fprintf(stderr, "usage: nowork unix:PATH|tcp:PORT\n");
        return 2;
    }
    s = listen_on(argv[1]);
    if (s < 0) {
        perror("nowork: cannot listen");
        return 1;
    }
    for (;;) {
        c = accept(s, NULL, NULL);
        if (c < 0) {
            continue;
        }
        setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        serve(c);
        close(c);
    }
}
