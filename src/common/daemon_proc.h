/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What the emulator daemons do to their own process: open the log, fork
 * with a readiness pipe, write the pid file, drop root (chroot, --runas
 * user), confine themselves (Landlock, seccomp) and report readiness;
 * daemon_start.c calls them in order.  swtpm_setup's --runas uses the
 * same user switch.  Errors come back as messages in err for the caller
 * to print; nothing here exits.
 */
#ifndef SWTPM_DAEMON_PROC_H
#define SWTPM_DAEMON_PROC_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "daemon_opts.h"
#include "state.h"

/* Open the log sink of --log (or keep stderr with default_prefix). */
int daemon_setup_log(const char *s, const char *default_prefix,
                     char *err, size_t errlen);

/* Write the pid file (O_NOFOLLOW, 0644, no newline). */
int daemon_write_pid(struct daemon_cfg *c, char *err, size_t errlen);
/* Remove the pid file only if this process wrote it and it still holds
 * our pid; never touches a file another run created. */
void daemon_remove_pid(struct daemon_cfg *c);

#define DAEMON_USER_MAX_GROUPS 64

struct daemon_user {
    bool set;
    uid_t uid;
    gid_t gid;
    int ngroups;
    gid_t groups[DAEMON_USER_MAX_GROUPS];
};

/*
 * Look the --runas user up now, while /etc/passwd is still reachable (a
 * later chroot hides it).  A number is both uid and gid, without groups.
 * NULL runas: out->set = false.  Returns 0 or -ENOENT with a message in
 * err.
 */
int daemon_resolve_user(const char *runas, struct daemon_user *out,
                        char *err, size_t errlen);

/* Switch to a resolved user for good and verify it held.  Not set:
 * nothing.  0 or -EPERM with a message in err. */
int daemon_become_user(const struct daemon_user *u, char *err,
                       size_t errlen);

/* chroot(dir) and chdir("/"); NULL dir: nothing.  0 or -errno with a
 * message in err. */
int daemon_chroot(const char *dir, char *err, size_t errlen);

/*
 * Confine the process with Landlock to what c and st (the instance's
 * state, open by then; NULL: none) say this instance still needs: its
 * state, its pid file, and the directories of the files in
 * unlink_at_exit (NULL or "": none), which the front end removes at exit
 * by name; then the confinement's seccomp filter unless c->seccomp is
 * none (docs/cli.md §3.2).  Nothing with c->confine none.  Without
 * Landlock in the kernel and c->confine auto, one warning is logged and
 * 0 returned.  0 or -errno with a message in err.
 */
int daemon_confine(const struct daemon_cfg *c, const struct state_store *st,
                   const char *const unlink_at_exit[2], char *err,
                   size_t errlen);

/* Install the default-deny syscall allowlist (seccomp.c). */
int seccomp_install(enum seccomp_action action, char *err, size_t errlen);
/* Install the confinement's filter: EPERM for what a confined daemon
 * never does (seccomp.c lists it).  0 or -errno with a message in err. */
int seccomp_install_confine(char *err, size_t errlen);

/*
 * Fork.  The parent waits until the child calls daemon_ready() (then
 * exits 0) or exits/fails (then exits with the child's status).  Returns
 * in the child only.  Returns -errno if fork fails.
 */
int daemon_fork(void);
/* Leave the session and detach stdio (before seccomp: it needs setsid). */
void daemon_detach(void);
/*
 * $NOTIFY_SOCKET: connect to systemd now, before chroot, --runas and
 * seccomp could hide the socket.  A failure is logged as a warning: it
 * costs the unit a start timeout only.
 */
void daemon_notify_open(void);
/* Tell the waiting parent we are ready (detaching first if not done),
 * then systemd (READY=1) if daemon_notify_open() connected. */
void daemon_ready(void);
/* Tell the waiting parent we failed with exit code code. */
void daemon_fail(int code);

#endif
