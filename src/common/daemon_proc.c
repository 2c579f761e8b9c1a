// SPDX-License-Identifier: BSD-3-Clause
/* The daemons' process: log, pid file, user, confinement, fork. */
#include "daemon_proc.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <openssl/crypto.h>

#include "fdio.h"
#include "landlock.h"
#include "log.h"
#include "sdnotify.h"
#include "subopt.h"

int
daemon_setup_log(const char *s, const char *default_prefix,
                 char *err, size_t errlen)
{
    struct subopts so;
    const char *file, *fdstr;
    unsigned long v;
    int fd = -1, flags, r = -EINVAL;

    if (!s) {
        log_set_prefix(default_prefix);
        return 0;
    }
    if (daemon_parse_log(s, &so, &v, err, errlen) < 0) {
        return -EINVAL;
    }
    file = subopts_get(&so, "file");
    fdstr = subopts_get(&so, "fd");
    log_set_level((unsigned int)v);
    log_set_prefix(subopts_get(&so, "prefix"));
    if (file && strcmp(file, "-") == 0) {
        log_set_level(0);
        r = 0;
        goto out;
    }
    if (file) {
        /* O_NONBLOCK: a FIFO without a reader fails (ENXIO) instead of
         * holding the start in open(), and one whose reader stops
         * reading drops lines instead of stopping the TPM. */
        flags = O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK |
                (subopts_bool(&so, "truncate", false) ? O_TRUNC : O_APPEND);
        fd = open(file, flags, 0600);
        if (fd < 0) {
            snprintf(err, errlen, "cannot open log file '%s': %s%s", file,
                     strerror(errno), errno == ENXIO ?
                     " (a FIFO with no reader: start the reader first)" : "");
            goto out;
        }
    } else if (fdstr) {
        if (parse_fd(fdstr, &fd) < 0 ||
            (flags = fcntl(fd, F_GETFL)) < 0 ||
            (flags & O_ACCMODE) == O_RDONLY) {
            snprintf(err, errlen, "log fd '%s' is not a writable file "
                     "descriptor", fdstr);
            goto out;
        }
    } else {
        /* Like upstream: without file= or fd=, lines go to stderr. */
        fd = STDERR_FILENO;
    }
    log_set_fd(fd);
    log_set_tee_stderr(true);
    r = 0;
out:
    subopts_free(&so);
    return r;
}

/* Open the directory of path (O_PATH) and point *out_base into path. */
static int
open_parent_dir(const char *path, const char **out_base)
{
    char dir[4096];
    const char *slash = strrchr(path, '/');
    int fd;

    if (!slash) {
        snprintf(dir, sizeof(dir), ".");
    } else if (slash == path) {
        snprintf(dir, sizeof(dir), "/");
    } else {
        snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
    }
    fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        return -errno;
    }
    *out_base = slash ? slash + 1 : path;
    return fd;
}

/* Write s to fd, stat it into *st and close it. */
static int
write_close(int fd, const char *s, struct stat *st)
{
    int r = fd_write_full(fd, s, strlen(s));

    if (r == 0 && fstat(fd, st) < 0) {
        r = -errno;
    }
    close(fd);
    return r;
}

/*
 * An existing pid file is rewritten in place, as upstream does: whoever
 * made it may hold it open (Debian's swtpm_setup reads the mkstemp file
 * it passed us).  A new one is written in full beside the path and then
 * renamed to it without replacing anything, so a reader polling for the
 * file (a supervisor of swtpm_cuse -f) never sees it empty.  Where no
 * file may be made beside it, the in-place write creates it.  O_NOFOLLOW
 * refuses a symlink at the path.
 */
static int
put_pid_file(int dir_fd, const char *base, const char *pid, struct stat *st)
{
    const int wr = O_WRONLY | O_NOFOLLOW | O_CLOEXEC;
    char tmp[48];
    int fd, r;

    fd = openat(dir_fd, base, wr | O_TRUNC);
    if (fd >= 0 || errno != ENOENT) {
        return fd < 0 ? -errno : write_close(fd, pid, st);
    }
    snprintf(tmp, sizeof(tmp), ".swtpm-pid.%s.tmp", pid);
    fd = openat(dir_fd, tmp, wr | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) {
        fd = openat(dir_fd, base, wr | O_CREAT | O_TRUNC, 0644);
        return fd < 0 ? -errno : write_close(fd, pid, st);
    }
    r = write_close(fd, pid, st);
    if (r == 0 && renameat2(dir_fd, tmp, dir_fd, base,
                            RENAME_NOREPLACE) < 0) {
        r = -errno;
    }
    if (r < 0) {
        unlinkat(dir_fd, tmp, 0);
    }
    if (r == -EEXIST || r == -EINVAL) {
        /* Made meanwhile by someone else, or no RENAME_NOREPLACE here. */
        fd = openat(dir_fd, base, wr | O_CREAT | O_TRUNC, 0644);
        r = fd < 0 ? -errno : write_close(fd, pid, st);
    }
    return r;
}

/*
 * Upstream removes the file behind --pid fd=N at exit, found by the
 * descriptor's name, and closes the descriptor once written.  We find the
 * name the same way and keep the directory and the file's identity, so
 * daemon_remove_pid() removes it only while it is still the file we
 * wrote.  Without /proc (a chroot) or for an unlinked file the name is
 * unknown: then the file stays, as nothing says which one to remove.
 */
static void
remember_pid_fd_file(struct daemon_cfg *c, const struct stat *st)
{
    char link[64];
    const char *base;
    ssize_t n;
    int dir_fd;

    snprintf(link, sizeof(link), "/proc/self/fd/%d", c->pid_fd);
    n = readlink(link, c->pid_path, sizeof(c->pid_path) - 1);
    close(c->pid_fd);
    c->pid_fd = -1;
    if (n <= 0 || c->pid_path[0] != '/') {
        c->pid_path[0] = '\0';
        return;
    }
    c->pid_path[n] = '\0';
    dir_fd = open_parent_dir(c->pid_path, &base);
    if (dir_fd < 0) {
        c->pid_path[0] = '\0';
        return;
    }
    c->pid_dir_fd = dir_fd;
    c->pid_dev = st->st_dev;
    c->pid_ino = st->st_ino;
}

int
daemon_write_pid(struct daemon_cfg *c, char *err, size_t errlen)
{
    char pid[32];
    const char *base = NULL;
    struct stat stbuf;
    int dir_fd, r;

    snprintf(pid, sizeof(pid), "%d", (int)getpid());
    if (c->pid_fd >= 0) {
        if (fstat(c->pid_fd, &stbuf) < 0 || !S_ISREG(stbuf.st_mode)) {
            snprintf(err, errlen, "pid fd %d is not a regular file",
                     c->pid_fd);
            return -EINVAL;
        }
        r = fd_write_full(c->pid_fd, pid, strlen(pid));
        if (r < 0) {
            snprintf(err, errlen, "cannot write pid file: %s",
                     strerror(-r));
            return r;
        }
        remember_pid_fd_file(c, &stbuf);
        return 0;
    }
    if (!c->pid_path[0]) {
        return 0;
    }
    dir_fd = open_parent_dir(c->pid_path, &base);
    r = dir_fd < 0 ? dir_fd : put_pid_file(dir_fd, base, pid, &stbuf);
    if (r < 0) {
        snprintf(err, errlen, "cannot write pid file '%s': %s", c->pid_path,
                 strerror(-r));
        if (dir_fd >= 0) {
            close(dir_fd);
        }
        return r;
    }
    c->pid_dir_fd = dir_fd;
    c->pid_dev = stbuf.st_dev;
    c->pid_ino = stbuf.st_ino;
    return 0;
}

/* The name of the pid file we wrote, in c->pid_dir_fd. */
static const char *
pid_base(const struct daemon_cfg *c)
{
    const char *base = strrchr(c->pid_path, '/');

    return base ? base + 1 : c->pid_path;
}

void
daemon_remove_pid(struct daemon_cfg *c)
{
    char buf[32], want[32];
    const char *base;
    struct stat stbuf;
    ssize_t n;
    int fd;

    if (c->pid_dir_fd < 0) {
        return;
    }
    base = pid_base(c);
    fd = openat(c->pid_dir_fd, base, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd >= 0) {
        n = read(fd, buf, sizeof(buf) - 1);
        buf[n > 0 ? n : 0] = '\0';
        snprintf(want, sizeof(want), "%d", (int)getpid());
        if (fstat(fd, &stbuf) == 0 && stbuf.st_dev == c->pid_dev &&
            stbuf.st_ino == c->pid_ino && strcmp(buf, want) == 0) {
            unlinkat(c->pid_dir_fd, base, 0);
        }
        close(fd);
    }
    close(c->pid_dir_fd);
    c->pid_dir_fd = -1;
}

int
daemon_resolve_user(const char *runas, struct daemon_user *out,
                    char *err, size_t errlen)
{
    struct passwd *pw;
    unsigned long v;

    memset(out, 0, sizeof(*out));
    if (!runas) {
        return 0;
    }
    out->set = true;
    if (parse_uint(runas, 0, 0xfffffffeUL, &v) == 0) {
        /* A number is used as both uid and gid, without groups. */
        out->uid = (uid_t)v;
        out->gid = (gid_t)v;
        return 0;
    }
    pw = getpwnam(runas);
    if (!pw) {
        snprintf(err, errlen, "user '%s' for --runas does not exist",
                 runas);
        return -ENOENT;
    }
    out->uid = pw->pw_uid;
    out->gid = pw->pw_gid;
    out->ngroups = DAEMON_USER_MAX_GROUPS;
    if (getgrouplist(pw->pw_name, pw->pw_gid, out->groups,
                     &out->ngroups) < 0) {
        /* More groups than we keep: the primary group is enough. */
        out->groups[0] = pw->pw_gid;
        out->ngroups = 1;
    }
    return 0;
}

int
daemon_become_user(const struct daemon_user *u, char *err, size_t errlen)
{
    uid_t ruid, euid, suid;

    if (!u->set) {
        return 0;
    }
    if (setgroups((size_t)u->ngroups, u->ngroups ? u->groups : NULL) < 0 ||
        setresgid(u->gid, u->gid, u->gid) < 0 ||
        setresuid(u->uid, u->uid, u->uid) < 0) {
        snprintf(err, errlen, "cannot switch to uid %u: %s",
                 (unsigned int)u->uid, strerror(errno));
        return -EPERM;
    }
    /* Verify the change held: no way back to the old identity. */
    if (getresuid(&ruid, &euid, &suid) < 0 || ruid != u->uid ||
        euid != u->uid || suid != u->uid ||
        (u->uid != 0 && setuid(0) == 0)) {
        snprintf(err, errlen, "privilege drop to uid %u did not hold",
                 (unsigned int)u->uid);
        return -EPERM;
    }
    return 0;
}

int
daemon_chroot(const char *dir, char *err, size_t errlen)
{
    if (!dir) {
        return 0;
    }
    if (chroot(dir) < 0 || chdir("/") < 0) {
        int r = -errno;

        snprintf(err, errlen, "cannot chroot to '%s': %s", dir,
                 strerror(-r));
        return r;
    }
    return 0;
}

/* Room for the state, the pid file and its directory, and the
 * directories of two sockets. */
#define CONFINE_MAX_RULES 5

/* The rules for what daemon_remove_pid() and the front end's exit still
 * remove by name; the descriptors they open go to fds. */
static size_t
exit_rules(const struct daemon_cfg *c, const char *const *unlink_at_exit,
           struct landlock_rule *rules, int *fds)
{
    const char *base;
    size_t n = 0;
    int fd;

    if (c->pid_dir_fd >= 0) {
        rules[n++] = (struct landlock_rule){ c->pid_dir_fd,
                                             LANDLOCK_GRANT_UNLINK };
        fd = openat(c->pid_dir_fd, pid_base(c),
                    O_PATH | O_NOFOLLOW | O_CLOEXEC);
        if (fd >= 0) {
            fds[n] = fd;
            rules[n++] = (struct landlock_rule){ fd, LANDLOCK_GRANT_READ };
        }
    }
    for (size_t i = 0; i < 2; i++) {
        if (!unlink_at_exit[i] || !unlink_at_exit[i][0]) {
            continue;
        }
        fd = open_parent_dir(unlink_at_exit[i], &base);
        if (fd >= 0) {
            fds[n] = fd;
            rules[n++] = (struct landlock_rule){ fd, LANDLOCK_GRANT_UNLINK };
        }
    }
    return n;
}

/*
 * What this instance still reaches once confined (docs/cli.md §4): its
 * state directory (everything the store does happens in it, through
 * state_fd(st)) or its state file, and what it removes at exit: its pid
 * file (read, then removed from its directory) and its Unix sockets
 * (removed from theirs).  The log, --pcap, the channels and the keys are
 * open descriptors or read already, which Landlock leaves alone.
 * Without Landlock and in auto mode: one warning, and go on.
 */
static int
confine_files(const struct daemon_cfg *c, const struct state_store *st,
              const char *const *unlink_at_exit, char *err, size_t errlen)
{
    struct landlock_rule rules[CONFINE_MAX_RULES];
    int fds[CONFINE_MAX_RULES];
    size_t n = 0;
    int r;

    for (size_t i = 0; i < CONFINE_MAX_RULES; i++) {
        fds[i] = -1;
    }
    if (st && state_fd(st) >= 0) {
        rules[n++] = (struct landlock_rule){
            state_fd(st),
            state_is_file(st) ? LANDLOCK_GRANT_FILE : LANDLOCK_GRANT_STORE };
    }
    n += exit_rules(c, unlink_at_exit, rules + n, fds + n);
    /* Read now what is read once, lazily, and out of reach afterwards:
     * OpenSSL's configuration (at libtpms' first key) and glibc's
     * /etc/localtime (syslog's time stamps). */
    OPENSSL_init_crypto(OPENSSL_INIT_LOAD_CONFIG, NULL);
    tzset();
    r = landlock_confine(rules, n);
    for (size_t i = 0; i < CONFINE_MAX_RULES; i++) {
        if (fds[i] >= 0) {
            close(fds[i]);
        }
    }
    if (r >= 0) {
        log_info("confined to this instance's files with Landlock ABI %d",
                 r);
        return 0;
    }
    if ((r == -ENOSYS || r == -EOPNOTSUPP) &&
        c->confine == CONFINE_MODE_AUTO) {
        log_warn("the kernel has no Landlock: this instance can reach "
                 "every file its user can (--confine mode=required "
                 "refuses to start without it)");
        return 0;
    }
    if (r == -ENOSYS || r == -EOPNOTSUPP) {
        snprintf(err, errlen, "--confine mode=required: the kernel has no "
                 "Landlock (Linux 5.13 or later with landlock in its lsm= "
                 "list); use --confine mode=auto to run without it");
    } else {
        snprintf(err, errlen, "cannot confine this instance with Landlock: "
                 "%s", strerror(-r));
    }
    return r;
}

int
daemon_confine(const struct daemon_cfg *c, const struct state_store *st,
               const char *const unlink_at_exit[2], char *err,
               size_t errlen)
{
    int r;

    if (c->confine == CONFINE_MODE_NONE) {
        return 0;
    }
    r = confine_files(c, st, unlink_at_exit, err, errlen);
    /* --seccomp action=none means no filter at all, as upstream has
     * it: then Landlock goes on alone. */
    if (r == 0 && c->seccomp != SECCOMP_ACTION_NONE) {
        r = seccomp_install_confine(err, errlen);
    }
    return r;
}

/* Readiness pipe: the child writes one byte: 0 = ready, else exit code. */
static int ready_fd = -1;
/* /dev/null, opened at fork time: a later chroot may not have one. */
static int null_fd = -1;

int
daemon_fork(void)
{
    int p[2], status;
    unsigned char code;
    pid_t pid;
    ssize_t n;

    if (pipe2(p, O_CLOEXEC) < 0) {
        return -errno;
    }
    pid = fork();
    if (pid < 0) {
        close(p[0]);
        close(p[1]);
        return -errno;
    }
    if (pid == 0) {
        close(p[0]);
        ready_fd = p[1];
        null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
        return 0;
    }
    close(p[1]);
    do {
        n = read(p[0], &code, 1);
    } while (n < 0 && errno == EINTR);
    if (n == 1) {
        _exit(code);
    }
    /* The child died before reporting: pass its status on. */
    if (waitpid(pid, &status, 0) == pid) {
        if (WIFEXITED(status)) {
            _exit(WEXITSTATUS(status) ? WEXITSTATUS(status) : 1);
        }
        if (WIFSIGNALED(status)) {
            fprintf(stderr, "daemon killed by signal %d during start\n",
                    WTERMSIG(status));
        }
    }
    _exit(1);
}

static void
daemon_report(unsigned char code)
{
    if (ready_fd < 0) {
        return;
    }
    while (write(ready_fd, &code, 1) < 0 && errno == EINTR) {
    }
    close(ready_fd);
    ready_fd = -1;
}

static bool detached;

void
daemon_detach(void)
{
    int fd;

    if (ready_fd < 0 || detached) {
        return;
    }
    detached = true;
    log_set_tee_stderr(false);
    setsid();
    fd = null_fd;
    if (fd < 0) {
        return;
    }
    dup2(fd, STDIN_FILENO);
    dup2(fd, STDOUT_FILENO);
    if (log_get_fd() == STDERR_FILENO) {
        /* Nobody reads our stderr once the caller has returned. */
        log_use_syslog("swtpm");
    }
    dup2(fd, STDERR_FILENO);
    close(fd);
    null_fd = -1;
}

static int notify_fd = -1;

void
daemon_notify_open(void)
{
    const char *addr = getenv("NOTIFY_SOCKET");
    int r = sdnotify_open(addr, &notify_fd);

    if (r < 0) {
        log_warn("cannot use NOTIFY_SOCKET '%s': %s", addr, strerror(-r));
    }
}

void
daemon_ready(void)
{
    int r;

    log_set_tee_stderr(false);
    daemon_detach();
    daemon_report(0);
    r = sdnotify_send_close(notify_fd, "READY=1");
    notify_fd = -1;
    if (r < 0) {
        log_warn("cannot notify systemd: %s", strerror(-r));
    }
}

void
daemon_fail(int code)
{
    daemon_report((unsigned char)(code ? code : 1));
}
