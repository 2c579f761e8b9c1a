// SPDX-License-Identifier: BSD-3-Clause
/* Sub-option groups, pid file, privilege drop and daemonizing. */
#include "daemon.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "subopt.h"

void
daemon_cfg_init(struct daemon_cfg *c)
{
    memset(c, 0, sizeof(*c));
    c->state_mode = 0640;
    c->state_lock = true;
    c->pid_fd = -1;
    c->pid_dir_fd = -1;
    c->seccomp = SECCOMP_ACTION_KILL;
}

static int
parse_group(const char *kind, const char *s, const char *const *allowed,
            struct subopts *so, char *err, size_t errlen)
{
    char msg[200];

    if (subopts_parse(s, allowed, so, msg, sizeof(msg)) < 0) {
        snprintf(err, errlen, "Error parsing %s options: %s", kind, msg);
        return -EINVAL;
    }
    return 0;
}

int
daemon_parse_tpmstate(struct daemon_cfg *c, const char *s,
                      char *err, size_t errlen)
{
    static const char *const names[] = {
        "dir", "backend-uri", "mode", "lock", "backup", "fsync", NULL };
    struct subopts so;
    const char *dir, *uri, *mode;
    int r = -EINVAL;

    if (parse_group("tpmstate", s, names, &so, err, errlen) < 0) {
        return -EINVAL;
    }
    dir = subopts_get(&so, "dir");
    uri = subopts_get(&so, "backend-uri");
    if (!dir && uri) {
        if (strncmp(uri, "dir://", 6) == 0) {
            dir = uri + 6;
        } else if (strncmp(uri, "file://", 7) == 0) {
            /* state_open() takes the URI itself for the file backend. */
            dir = uri[7] ? uri : "";
        } else {
            snprintf(err, errlen, "backend-uri '%s' is not supported; use "
                     "dir://<path> or file://<path>", uri);
            goto out;
        }
    }
    if (!dir || !*dir) {
        snprintf(err, errlen, "--tpmstate needs dir=<path>, "
                 "backend-uri=dir://<path> or backend-uri=file://<path>");
        goto out;
    }
    if (strlen(dir) + 20 >= sizeof(c->state_path)) {
        snprintf(err, errlen, "state directory path is too long");
        goto out;
    }
    snprintf(c->state_path, sizeof(c->state_path), "%s", dir);
    mode = subopts_get(&so, "mode");
    if (mode) {
        if (parse_mode(mode, &c->state_mode) < 0) {
            snprintf(err, errlen, "tpmstate mode must be octal <= 0777, "
                     "got '%s'", mode);
            goto out;
        }
        c->state_mode_explicit = true;
    }
    c->state_lock = subopts_bool(&so, "lock", true);
    r = 0;
out:
    subopts_free(&so);
    return r;
}

int
daemon_parse_locality(struct daemon_cfg *c, const char *s,
                      char *err, size_t errlen)
{
    static const char *const names[] = {
        "reject-locality-4", "allow-set-locality", NULL };
    struct subopts so;

    if (parse_group("locality", s, names, &so, err, errlen) < 0) {
        return -EINVAL;
    }
    c->reject_locality4 = subopts_bool(&so, "reject-locality-4", false);
    c->allow_set_locality = subopts_bool(&so, "allow-set-locality", false);
    subopts_free(&so);
    return 0;
}

int
daemon_parse_flags(struct daemon_cfg *c, const char *s,
                   char *err, size_t errlen)
{
    static const char *const names[] = {
        "not-need-init", "startup-clear", "startup-state",
        "startup-deactivated", "startup-none", "disable-auto-shutdown",
        NULL };
    struct subopts so;

    if (parse_group("flags", s, names, &so, err, errlen) < 0) {
        return -EINVAL;
    }
    c->not_need_init = subopts_bool(&so, "not-need-init", false);
    c->disable_auto_shutdown =
        subopts_bool(&so, "disable-auto-shutdown", false);
    /* Priority as upstream: clear > state > deactivated > none. */
    if (subopts_bool(&so, "startup-clear", false)) {
        c->startup = TPM_STARTUP_CLEAR;
    } else if (subopts_bool(&so, "startup-state", false)) {
        c->startup = TPM_STARTUP_STATE;
    } else if (subopts_bool(&so, "startup-deactivated", false)) {
        c->startup = TPM_STARTUP_DEACTIVATED;
    } else {
        c->startup = TPM_STARTUP_NONE;
    }
    if (c->startup != TPM_STARTUP_NONE) {
        c->not_need_init = true;
    }
    subopts_free(&so);
    return 0;
}

int
daemon_parse_pid(struct daemon_cfg *c, const char *s,
                 char *err, size_t errlen)
{
    static const char *const names[] = { "file", "fd", NULL };
    struct subopts so;
    const char *file, *fd;
    int r = -EINVAL;

    if (parse_group("pid", s, names, &so, err, errlen) < 0) {
        return -EINVAL;
    }
    file = subopts_get(&so, "file");
    fd = subopts_get(&so, "fd");
    if (file) {
        snprintf(c->pid_path, sizeof(c->pid_path), "%s", file);
    } else if (fd) {
        if (parse_fd(fd, &c->pid_fd) < 0) {
            snprintf(err, errlen, "pid fd must be a number, got '%s'", fd);
            goto out;
        }
    } else {
        snprintf(err, errlen, "--pid needs file=<path> or fd=<n>");
        goto out;
    }
    r = 0;
out:
    subopts_free(&so);
    return r;
}

int
daemon_parse_seccomp(struct daemon_cfg *c, const char *s,
                     char *err, size_t errlen)
{
    static const char *const names[] = { "action", NULL };
    struct subopts so;
    const char *a;
    int r = 0;

    if (parse_group("seccomp", s, names, &so, err, errlen) < 0) {
        return -EINVAL;
    }
    a = subopts_get(&so, "action");
    if (!a || strcmp(a, "kill") == 0) {
        c->seccomp = SECCOMP_ACTION_KILL;
    } else if (strcmp(a, "log") == 0) {
        c->seccomp = SECCOMP_ACTION_LOG;
    } else if (strcmp(a, "none") == 0) {
        c->seccomp = SECCOMP_ACTION_NONE;
    } else {
        snprintf(err, errlen, "seccomp action must be kill, log or none, "
                 "got '%s'", a);
        r = -EINVAL;
    }
    subopts_free(&so);
    return r;
}

int
daemon_parse_migration(struct daemon_cfg *c, const char *s,
                       char *err, size_t errlen)
{
    static const char *const names[] = {
        "incoming", "release-lock-outgoing", NULL };
    struct subopts so;

    if (parse_group("migration", s, names, &so, err, errlen) < 0) {
        return -EINVAL;
    }
    c->incoming = subopts_bool(&so, "incoming", false);
    c->release_lock_outgoing = subopts_bool(&so, "release-lock-outgoing",
                                            false);
    subopts_free(&so);
    return 0;
}

static const char *const log_names[] = {
    "file", "fd", "level", "prefix", "truncate", NULL };

int
daemon_check_log(const char *s, char *err, size_t errlen)
{
    struct subopts so;
    const char *lvl;
    unsigned long v;
    int r = 0;

    if (parse_group("log", s, log_names, &so, err, errlen) < 0) {
        return -EINVAL;
    }
    lvl = subopts_get(&so, "level");
    if (lvl && parse_uint(lvl, 0, 100, &v) < 0) {
        snprintf(err, errlen, "log level must be a number 0-100, got '%s'",
                 lvl);
        r = -EINVAL;
    }
    subopts_free(&so);
    return r;
}

int
daemon_setup_log(const char *s, const char *default_prefix,
                 char *err, size_t errlen)
{
    struct subopts so;
    const char *file, *fdstr, *lvl;
    unsigned long v = 1;
    int fd = -1, flags, r = -EINVAL;

    if (!s) {
        log_set_prefix(default_prefix);
        return 0;
    }
    if (daemon_check_log(s, err, errlen) < 0 ||
        parse_group("log", s, log_names, &so, err, errlen) < 0) {
        return -EINVAL;
    }
    file = subopts_get(&so, "file");
    fdstr = subopts_get(&so, "fd");
    lvl = subopts_get(&so, "level");
    if (lvl) {
        parse_uint(lvl, 0, 100, &v);
    }
    log_set_level((unsigned int)v);
    log_set_prefix(subopts_get(&so, "prefix"));
    if (file && strcmp(file, "-") == 0) {
        log_set_level(0);
        r = 0;
        goto out;
    }
    if (file) {
        flags = O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC |
                (subopts_bool(&so, "truncate", false) ? O_TRUNC : O_APPEND);
        fd = open(file, flags, 0600);
        if (fd < 0) {
            snprintf(err, errlen, "cannot open log file '%s': %s", file,
                     strerror(errno));
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

int
daemon_load_keys(const struct daemon_cfg *c, struct tpm_instance *inst,
                 char *err, size_t errlen)
{
    char msg[300];

    if (c->key_opt &&
        key_load_from_opts(c->key_opt, &inst->store.filekey, msg,
                           sizeof(msg)) < 0) {
        snprintf(err, errlen, "--key: %s", msg);
        return -EINVAL;
    }
    if (c->migkey_opt &&
        key_load_from_opts(c->migkey_opt, &inst->migkey, msg,
                           sizeof(msg)) < 0) {
        snprintf(err, errlen, "--migration-key: %s", msg);
        return -EINVAL;
    }
    return 0;
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

int
daemon_write_pid(struct daemon_cfg *c, char *err, size_t errlen)
{
    char buf[32];
    const char *base = NULL;
    int fd = c->pid_fd, dir_fd = -1, n, r;
    struct stat stbuf;

    if (!c->pid_path[0] && fd < 0) {
        return 0;
    }
    if (c->pid_path[0]) {
        dir_fd = open_parent_dir(c->pid_path, &base);
        fd = dir_fd < 0 ? dir_fd
                        : openat(dir_fd, base, O_WRONLY | O_CREAT | O_TRUNC |
                                 O_NOFOLLOW | O_CLOEXEC, 0644);
        if (fd < 0 || fstat(fd, &stbuf) < 0) {
            r = fd < 0 && dir_fd < 0 ? dir_fd : -errno;
            snprintf(err, errlen, "cannot write pid file '%s': %s",
                     c->pid_path, strerror(-r));
            if (fd >= 0) {
                close(fd);
            }
            if (dir_fd >= 0) {
                close(dir_fd);
            }
            return r;
        }
        c->pid_dir_fd = dir_fd;
        c->pid_dev = stbuf.st_dev;
        c->pid_ino = stbuf.st_ino;
    } else if (fstat(fd, &stbuf) < 0 || !S_ISREG(stbuf.st_mode)) {
        snprintf(err, errlen, "pid fd %d is not a regular file", fd);
        return -EINVAL;
    }
    n = snprintf(buf, sizeof(buf), "%d", (int)getpid());
    if (write(fd, buf, (size_t)n) != n) {
        snprintf(err, errlen, "cannot write pid file: %s", strerror(errno));
        if (c->pid_path[0]) {
            close(fd);
        }
        return -EIO;
    }
    if (c->pid_path[0]) {
        close(fd);
    }
    return 0;
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
    base = strrchr(c->pid_path, '/');
    base = base ? base + 1 : c->pid_path;
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
daemon_chroot(const char *dir, char *err, size_t errlen)
{
    if (!dir) {
        return 0;
    }
    if (chroot(dir) < 0 || chdir("/") < 0) {
        snprintf(err, errlen, "cannot chroot to '%s': %s", dir,
                 strerror(errno));
        return -errno;
    }
    return 0;
}

int
daemon_drop_privileges(const char *runas, char *err, size_t errlen)
{
    struct passwd *pw = NULL;
    unsigned long v;
    uid_t uid;
    gid_t gid;
    uid_t ruid, euid, suid;

    if (!runas) {
        return 0;
    }
    if (parse_uint(runas, 0, 0xfffffffeUL, &v) == 0) {
        uid = (uid_t)v;
        gid = (gid_t)v;
        if (setgroups(0, NULL) < 0) {
            goto fail;
        }
    } else {
        pw = getpwnam(runas);
        if (!pw) {
            snprintf(err, errlen, "user '%s' does not exist", runas);
            return -ENOENT;
        }
        uid = pw->pw_uid;
        gid = pw->pw_gid;
        if (initgroups(pw->pw_name, gid) < 0) {
            goto fail;
        }
    }
    if (setresgid(gid, gid, gid) < 0 || setresuid(uid, uid, uid) < 0) {
        goto fail;
    }
    /* Verify the change held: no way back to the old identity. */
    if (getresuid(&ruid, &euid, &suid) < 0 || ruid != uid || euid != uid ||
        suid != uid || (uid != 0 && setuid(0) == 0)) {
        snprintf(err, errlen, "privilege drop to '%s' did not hold", runas);
        return -EPERM;
    }
    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    return 0;
fail:
    snprintf(err, errlen, "cannot switch to user '%s': %s", runas,
             strerror(errno));
    return -EPERM;
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

void
daemon_ready(void)
{
    log_set_tee_stderr(false);
    daemon_detach();
    daemon_report(0);
}

void
daemon_fail(int code)
{
    daemon_report((unsigned char)(code ? code : 1));
}
