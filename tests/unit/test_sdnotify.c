// SPDX-License-Identifier: BSD-3-Clause
/* Unit tests for sdnotify.c: $NOTIFY_SOCKET addresses and the message. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "sdnotify.h"

static void
test_sdnotify_open_no_address(void **state)
{
    int fd = 5;

    (void)state;
    assert_int_equal(sdnotify_open(NULL, &fd), 0);
    assert_int_equal(fd, -1);
    assert_int_equal(sdnotify_open("", &fd), 0);
    assert_int_equal(fd, -1);
    assert_int_equal(sdnotify_send_close(-1, "READY=1"), 0);
}

static void
test_sdnotify_open_bad_addresses(void **state)
{
    char longpath[200];
    int fd;

    (void)state;
    assert_int_equal(sdnotify_open("run/notify", &fd), -EAFNOSUPPORT);
    assert_int_equal(fd, -1);
    memset(longpath, 'a', sizeof(longpath) - 1);
    longpath[0] = '/';
    longpath[sizeof(longpath) - 1] = '\0';
    assert_int_equal(sdnotify_open(longpath, &fd), -ENAMETOOLONG);
    assert_int_equal(sdnotify_open("/nonexistent-dir/notify", &fd),
                     -ENOENT);
    assert_int_equal(fd, -1);
}

/* An abstract "@name" reaches a listener bound to "\0name". */
static void
test_sdnotify_abstract_ready(void **state)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    char name[64], buf[32];
    socklen_t len;
    int srv, fd;
    ssize_t n;

    (void)state;
    snprintf(name, sizeof(name), "@swtpm-unit-%d", (int)getpid());
    memcpy(sa.sun_path + 1, name + 1, strlen(name) - 1);
    len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(name));
    srv = socket(AF_UNIX, SOCK_DGRAM, 0);
    assert_true(srv >= 0);
    assert_int_equal(bind(srv, (struct sockaddr *)&sa, len), 0);
    assert_int_equal(sdnotify_open(name, &fd), 0);
    assert_true(fd >= 0);
    assert_int_equal(sdnotify_send_close(fd, "READY=1"), 0);
    n = recv(srv, buf, sizeof(buf), 0);
    assert_int_equal(n, 7);
    assert_memory_equal(buf, "READY=1", 7);
    close(srv);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sdnotify_open_no_address),
        cmocka_unit_test(test_sdnotify_open_bad_addresses),
        cmocka_unit_test(test_sdnotify_abstract_ready),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
