// SPDX-License-Identifier: BSD-3-Clause
/*
 * A default-deny syscall allowlist for the emulator daemons.  Upstream's
 * denylist killed the daemon after library updates; an allowlist fails
 * the other way, so every daemon code path is exercised by the
 * integration suite with the filter on.  With action=kill a violation is
 * trapped first so the log names the syscall, then the process dies.
 */
#include "daemon_proc.h"

#include <errno.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"

static const char *const allowed[] = {
    /* I/O on already-open descriptors and state files */
    "read", "write", "readv", "writev", "pread64", "pwrite64", "close",
    "openat", "open", "lseek", "fstat", "newfstatat", "stat", "lstat",
    "statx", "fsync", "fdatasync", "ftruncate", "fcntl", "flock",
    "rename", "renameat", "renameat2", "unlink", "unlinkat", "linkat", "mkdir",
    "mkdirat", "fchmod", "getdents64", "dup", "dup2", "dup3",
    "fadvise64",    /* file:// on a block device: drop this host's cache */
    /* memory */
    "mmap", "munmap", "mprotect", "mremap", "brk", "madvise",
    /* threads, signals, time */
    "futex", "rt_sigreturn", "rt_sigprocmask", "rt_sigaction",
    "sigaltstack", "restart_syscall", "nanosleep", "clock_nanosleep",
    "clock_gettime", "gettimeofday", "time", "sched_yield",
    /* glibc's get_nprocs() (sysconf), asked by the sanitizers' runtime
     * in a confined swtpm_cuse: read-only facts about ourselves */
    "sched_getaffinity",
    "set_robust_list", "rseq", "getpid", "gettid", "getppid", "tgkill",
    "exit", "exit_group", "poll", "ppoll", "getrandom",
    "getuid", "geteuid", "getgid", "getegid",
    /* syslog(3) */
    "socket", "connect", "sendto", "sendmsg",
    /* swtpm socket: clients on the channels bound before the filter */
    "accept", "accept4", "recvmsg", "recvfrom", "shutdown",
    NULL,
};

/* Append the decimal digits of v to buf at *n (async-signal-safe). */
static void
put_uint(char *buf, size_t *n, unsigned int v)
{
    char tmp[12];
    size_t k = 0;

    do {
        tmp[k++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (k) {
        buf[(*n)++] = tmp[--k];
    }
}

static void
put_str(char *buf, size_t *n, const char *s)
{
    while (*s) {
        buf[(*n)++] = *s++;
    }
}

/* Runs in signal context: only async-signal-safe calls. */
static void
sigsys_handler(int sig, siginfo_t *info, void *uctx)
{
    char msg[128];
    size_t n = 0;
    int fd = log_get_fd();

    (void)uctx;
    put_str(msg, &n, log_get_prefix());
    put_str(msg, &n, "seccomp: syscall ");
    put_uint(msg, &n, (unsigned int)info->si_syscall);
    put_str(msg, &n, " is not allowed; terminating\n");
    if (fd >= 0) {
        if (write(fd, msg, n) < 0) {
            /* nothing left to report to */
        }
    }
    signal(sig, SIG_DFL);
    raise(SIGKILL);
}

int
seccomp_install(enum seccomp_action action, char *err, size_t errlen)
{
    struct sigaction sa;
    scmp_filter_ctx ctx;
    uint32_t deny;
    int r, nr;

    if (action == SECCOMP_ACTION_NONE) {
        return 0;
    }
    deny = action == SECCOMP_ACTION_LOG ? SCMP_ACT_LOG : SCMP_ACT_TRAP;
    if (action == SECCOMP_ACTION_KILL) {
        memset(&sa, 0, sizeof(sa));
        sa.sa_sigaction = sigsys_handler;
        sa.sa_flags = SA_SIGINFO;
        sigaction(SIGSYS, &sa, NULL);
    }
    ctx = seccomp_init(deny);
    if (!ctx) {
        snprintf(err, errlen, "seccomp_init failed");
        return -ENOMEM;
    }
    /* Apply to every thread of the process, including a worker. */
    seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1);
    for (size_t i = 0; allowed[i]; i++) {
        nr = seccomp_syscall_resolve_name(allowed[i]);
        if (nr == __NR_SCMP_ERROR) {
            continue;   /* not on this architecture */
        }
        r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0);
        if (r < 0) {
            snprintf(err, errlen, "seccomp rule for %s: %s", allowed[i],
                     strerror(-r));
            seccomp_release(ctx);
            return r;
        }
    }
    /* stdio's isatty() check when libtpms first prints: TCGETS only. */
    r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
                         SCMP_A1(SCMP_CMP_EQ, TCGETS));
    if (r < 0) {
        snprintf(err, errlen, "seccomp rule for ioctl: %s", strerror(-r));
        seccomp_release(ctx);
        return r;
    }
    r = seccomp_load(ctx);
    seccomp_release(ctx);
    if (r < 0) {
        snprintf(err, errlen, "cannot load the seccomp filter: %s",
                 strerror(-r));
        return r;
    }
    return 0;
}

/*
 * What a confined emulator never does after start-up, refused with EPERM
 * unless --seccomp action=none: run a program, trace or read another process,
 * open a listening port, truncate a file by name (Landlock before ABI 3
 * does not cover truncate(2); we only use ftruncate), or leave the
 * filters through io_uring or a new namespace.  Signals: see
 * add_signal_rules().
 */
static const char *const confine_denied[] = {
    "execve", "execveat", "ptrace", "process_vm_readv",
    "process_vm_writev", "pidfd_getfd", "bind", "listen", "truncate",
    "io_uring_setup", "unshare", "setns", "mount",
    NULL,
};

/* socket(2) stays for syslog(3) only: AF_UNIX datagrams, which cannot
 * reach a stream socket such as another instance's control channel. */
static int
add_socket_rules(scmp_filter_ctx ctx)
{
    const uint32_t deny = SCMP_ACT_ERRNO(EPERM);
    int r;

    r = seccomp_rule_add(ctx, deny, SCMP_SYS(socket), 1,
                         SCMP_A0(SCMP_CMP_NE, AF_UNIX));
    /* The type's low four bits (SOCK_TYPE_MASK); CLOEXEC and NONBLOCK
     * may be or-ed in above them. */
    for (unsigned int t = 0; t < 16 && r == 0; t++) {
        if (t != SOCK_DGRAM) {
            r = seccomp_rule_add(ctx, deny, SCMP_SYS(socket), 1,
                                 SCMP_A1(SCMP_CMP_MASKED_EQ, 0xf, t));
        }
    }
    return r;
}

/* Signals only to ourselves (raise(3), abort(3), our threads): Landlock
 * scopes signals from ABI 6 only, and another instance of the same user
 * must not be stopped or killed.  The pid is this process's: the filter
 * is installed after any fork. */
static int
add_signal_rules(scmp_filter_ctx ctx)
{
    const uint32_t deny = SCMP_ACT_ERRNO(EPERM);
    const scmp_datum_t self = (scmp_datum_t)getpid();
    int r;

    r = seccomp_rule_add(ctx, deny, SCMP_SYS(kill), 1,
                         SCMP_A0(SCMP_CMP_NE, self));
    if (r == 0) {
        r = seccomp_rule_add(ctx, deny, SCMP_SYS(tgkill), 1,
                             SCMP_A0(SCMP_CMP_NE, self));
    }
    if (r == 0) {
        r = seccomp_rule_add(ctx, deny, SCMP_SYS(rt_sigqueueinfo), 1,
                             SCMP_A0(SCMP_CMP_NE, self));
    }
    if (r == 0) {
        r = seccomp_rule_add(ctx, deny, SCMP_SYS(rt_tgsigqueueinfo), 1,
                             SCMP_A0(SCMP_CMP_NE, self));
    }
    if (r == 0) {
        r = seccomp_rule_add(ctx, deny, SCMP_SYS(tkill), 0);
    }
    return r;
}

int
seccomp_install_confine(char *err, size_t errlen)
{
    scmp_filter_ctx ctx;
    int r = 0, nr;

    ctx = seccomp_init(SCMP_ACT_ALLOW);
    if (!ctx) {
        snprintf(err, errlen, "seccomp_init failed");
        return -ENOMEM;
    }
    seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1);
    for (size_t i = 0; confine_denied[i] && r == 0; i++) {
        nr = seccomp_syscall_resolve_name(confine_denied[i]);
        if (nr != __NR_SCMP_ERROR) {
            r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), nr, 0);
        }
    }
    if (r == 0) {
        r = add_socket_rules(ctx);
    }
    if (r == 0) {
        r = add_signal_rules(ctx);
    }
    if (r == 0) {
        r = seccomp_load(ctx);
    }
    seccomp_release(ctx);
    if (r < 0) {
        snprintf(err, errlen, "cannot load the confinement's seccomp "
                 "filter: %s", strerror(-r));
    }
    return r;
}
