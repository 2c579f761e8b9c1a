// SPDX-License-Identifier: BSD-3-Clause
/*
 * Unit tests for daemon_start.c: the order of the start-up steps for
 * each daemon (docs/cli.md §3.1), that a print mode skips NOTIFY_SOCKET,
 * the fork and everything after it, and that a failed step stops the
 * sequence with its daemon's exit code, tells the waiting parent and
 * still releases what was opened.  The steps' callees are wrapped
 * (-Wl,--wrap=, test_daemon_start.ldflags): each one appends its name
 * to a trace, and the one named in fail_at fails.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "daemon_start.h"

static char trace[512];
static const char *fail_at;     /* the callee that fails; NULL: none */
static bool print_wanted;
static int fail_code_seen;

static bool
step(const char *name)
{
    size_t n = strlen(trace);

    snprintf(trace + n, sizeof(trace) - n, "%s%s", n ? " " : "", name);
    return fail_at && strcmp(fail_at, name) == 0;
}

static int
step_err(const char *name, char *err, size_t errlen)
{
    if (step(name)) {
        snprintf(err, errlen, "%s failed", name);
        return -EIO;
    }
    return 0;
}

/* The wrapped callees. */
int __wrap_daemon_print_mode(struct daemon_cfg *c, struct tpm_instance *inst,
                             struct pcap_writer *w,
                             const struct daemon_print_rules *rules);
bool __wrap_daemon_print_wanted(const struct daemon_cfg *c);
int __wrap_daemon_setup_log(const char *s, const char *default_prefix,
                            char *err, size_t errlen);
void __wrap_daemon_notify_open(void);
int __wrap_daemon_fork(void);
int __wrap_daemon_chroot(const char *dir, char *err, size_t errlen);
int __wrap_daemon_become_user(const struct daemon_user *u, char *err,
                              size_t errlen);
int __wrap_daemon_open_tpm(const struct daemon_cfg *c,
                           struct tpm_instance *inst, struct pcap_writer *w,
                           bool create_dir, bool lock_now, char *err,
                           size_t errlen);
int __wrap_daemon_write_pid(struct daemon_cfg *c, char *err, size_t errlen);
int __wrap_daemon_autostart_tpm(const struct daemon_cfg *c,
                                struct tpm_instance *inst, char *err,
                                size_t errlen);
void __wrap_daemon_detach(void);
int __wrap_daemon_confine(const struct daemon_cfg *c,
                          const struct state_store *st,
                          const char *const unlink_at_exit[2], char *err,
                          size_t errlen);
int __wrap_seccomp_install(enum seccomp_action action, char *err,
                           size_t errlen);
void __wrap_daemon_ready(void);
void __wrap_daemon_fail(int code);
void __wrap_daemon_remove_pid(struct daemon_cfg *c);
void __wrap_pcap_close(struct pcap_writer *w);
void __wrap_tpm_cleanup(struct tpm_instance *inst);
void __wrap_state_free(struct state_store *st);

int
__wrap_daemon_print_mode(struct daemon_cfg *c, struct tpm_instance *inst,
                         struct pcap_writer *w,
                         const struct daemon_print_rules *rules)
{
    step("print");
    return print_wanted ? 0 : OPTS_CONTINUE;
}

bool
__wrap_daemon_print_wanted(const struct daemon_cfg *c)
{
    return print_wanted;
}

int
__wrap_daemon_setup_log(const char *s, const char *default_prefix,
                        char *err, size_t errlen)
{
    return step_err("log", err, errlen);
}

void
__wrap_daemon_notify_open(void)
{
    step("notify");
}

int
__wrap_daemon_fork(void)
{
    return step("fork") ? -EAGAIN : 0;
}

int
__wrap_daemon_chroot(const char *dir, char *err, size_t errlen)
{
    return step_err("chroot", err, errlen);
}

int
__wrap_daemon_become_user(const struct daemon_user *u, char *err,
                          size_t errlen)
{
    return step_err("user", err, errlen);
}

int
__wrap_daemon_open_tpm(const struct daemon_cfg *c, struct tpm_instance *inst,
                       struct pcap_writer *w, bool create_dir, bool lock_now,
                       char *err, size_t errlen)
{
    if (fail_at && strcmp(fail_at, "key") == 0) {
        step("state");
        snprintf(err, errlen, "--key: cannot read it");
        return -EKEYREJECTED;
    }
    return step_err("state", err, errlen);
}

int
__wrap_daemon_write_pid(struct daemon_cfg *c, char *err, size_t errlen)
{
    return step_err("pid", err, errlen);
}

int
__wrap_daemon_autostart_tpm(const struct daemon_cfg *c,
                            struct tpm_instance *inst, char *err,
                            size_t errlen)
{
    return step_err("autostart", err, errlen);
}

void
__wrap_daemon_detach(void)
{
    step("detach");
}

int
__wrap_daemon_confine(const struct daemon_cfg *c,
                      const struct state_store *st,
                      const char *const unlink_at_exit[2], char *err,
                      size_t errlen)
{
    return step_err("landlock", err, errlen);
}

int
__wrap_seccomp_install(enum seccomp_action action, char *err, size_t errlen)
{
    return step_err("seccomp", err, errlen);
}

void
__wrap_daemon_ready(void)
{
    step("ready");
}

void
__wrap_daemon_fail(int code)
{
    step("fail");
    fail_code_seen = code;
}

void
__wrap_daemon_remove_pid(struct daemon_cfg *c)
{
    step("rmpid");
}

void
__wrap_pcap_close(struct pcap_writer *w)
{
}

void
__wrap_tpm_cleanup(struct tpm_instance *inst)
{
}

void
__wrap_state_free(struct state_store *st)
{
    step("close");
}

/* The front ends' hooks. */
static int
hook_check(void *arg)
{
    return step("check") ? 252 : OPTS_CONTINUE;
}

static int
hook_channels(void *arg)
{
    return step("channels") ? EXIT_FAILURE : OPTS_CONTINUE;
}

static int
hook_device(void *arg)
{
    return step("device") ? 255 : OPTS_CONTINUE;
}

static int
hook_started(void *arg)
{
    return step("worker") ? 255 : OPTS_CONTINUE;
}

static int
hook_serve(void *arg)
{
    step("serve");
    return 0;
}

static void
hook_stop(void *arg)
{
    step("stop");
}

static const struct daemon_start_ops sock_ops = {
    .prog = "swtpm",
    .order = DAEMON_DROP_FIRST,
    .codes = { .log = 1, .fork = 1, .tpm = 1, .key = 1, .pid = 1,
               .chroot = 1, .user = 1, .confine = 1, .seccomp = 1 },
    .channels = hook_channels,
    .device = hook_device,
    .serve = hook_serve,
    .stop = hook_stop,
};

/* swtpm_cuse's codes (cuse_dev.h), distinct per step. */
static const struct daemon_start_ops cuse_ops = {
    .prog = "swtpm_cuse",
    .order = DAEMON_DEVICE_FIRST,
    .codes = { .log = 1, .fork = 255, .tpm = 254, .key = 253, .pid = 243,
               .chroot = 2, .user = 246, .confine = 250, .seccomp = 242 },
    .create_dir = false,        /* no fchown of a real directory here */
    .lock_now = true,
    .check = hook_check,
    .device = hook_device,
    .started = hook_started,
    .serve = hook_serve,
    .stop = hook_stop,
};

static struct daemon_cfg cfg;
static struct daemon_user user;
static struct tpm_instance inst;
static struct pcap_writer pcap_w;

static int
run(const struct daemon_start_ops *ops)
{
    struct daemon_start s = {
        .cfg = &cfg, .user = &user, .inst = &inst, .pcap_w = &pcap_w,
        .fork = true,
    };

    return daemon_start(ops, &s);
}

static int
setup(void **state)
{
    (void)state;
    trace[0] = '\0';
    fail_at = NULL;
    print_wanted = false;
    fail_code_seen = -1;
    daemon_cfg_init(&cfg);
    memset(&user, 0, sizeof(user));
    return 0;
}

static void
test_daemon_start_socket_order(void **state)
{
    (void)state;
    assert_int_equal(run(&sock_ops), 0);
    assert_string_equal(trace,
        "notify fork chroot user log print channels state pid autostart "
        "device detach landlock seccomp ready serve stop rmpid close");
}

static void
test_daemon_start_cuse_order(void **state)
{
    (void)state;
    assert_int_equal(run(&cuse_ops), 0);
    assert_string_equal(trace,
        "print check log notify fork state autostart device pid chroot "
        "user landlock worker detach seccomp ready serve stop rmpid close");
}

static void
test_daemon_start_print_mode_starts_nothing(void **state)
{
    (void)state;
    print_wanted = true;
    assert_int_equal(run(&sock_ops), 0);
    /* swtpm prints as its user, after its log; nothing forks. */
    assert_string_equal(trace, "chroot user log print stop rmpid close");
    trace[0] = '\0';
    assert_int_equal(run(&cuse_ops), 0);
    assert_string_equal(trace, "print stop rmpid close");
}

static void
test_daemon_start_failure_codes(void **state)
{
    static const struct {
        const char *at;
        int code;
        const char *trace;
    } cases[] = {
        { "check", 252, "print check fail stop rmpid close" },
        { "log", 1, "print check log fail stop rmpid close" },
        { "fork", 255, "print check log notify fork fail stop rmpid close" },
        { "key", 253, "print check log notify fork state fail stop rmpid "
                      "close" },
        { "autostart", 254, "print check log notify fork state autostart "
                            "fail stop rmpid close" },
        { "pid", 243, "print check log notify fork state autostart device "
                      "pid fail stop rmpid close" },
        { "chroot", 2, "print check log notify fork state autostart device "
                       "pid chroot fail stop rmpid close" },
        { "user", 246, "print check log notify fork state autostart device "
                       "pid chroot user fail stop rmpid close" },
        { "landlock", 250, "print check log notify fork state autostart "
                           "device pid chroot user landlock fail stop rmpid "
                           "close" },
        { "worker", 255, "print check log notify fork state autostart "
                         "device pid chroot user landlock worker fail stop "
                         "rmpid close" },
        { "seccomp", 242, "print check log notify fork state autostart "
                          "device pid chroot user landlock worker detach "
                          "seccomp fail stop rmpid close" },
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        setup(NULL);
        fail_at = cases[i].at;
        assert_int_equal(run(&cuse_ops), cases[i].code);
        assert_int_equal(fail_code_seen, cases[i].code);
        assert_string_equal(trace, cases[i].trace);
    }
}

static void
test_daemon_start_socket_fails_before_its_log(void **state)
{
    (void)state;
    fail_at = "user";
    assert_int_equal(run(&sock_ops), 1);
    assert_string_equal(trace,
                        "notify fork chroot user fail stop rmpid close");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup(f, setup)
        T(test_daemon_start_socket_order),
        T(test_daemon_start_cuse_order),
        T(test_daemon_start_print_mode_starts_nothing),
        T(test_daemon_start_failure_codes),
        T(test_daemon_start_socket_fails_before_its_log),
#undef T
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
