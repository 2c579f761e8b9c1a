/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Options and process setup shared by the emulator daemons (CUSE and
 * socket): the sub-option groups of docs/cli.md §3, the pid file,
 * privilege drop, and the daemonize-with-readiness handshake.
 */
#ifndef SWTPM_DAEMON_H
#define SWTPM_DAEMON_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "tpm.h"

enum seccomp_action {
    SECCOMP_ACTION_KILL = 0,    /* default */
    SECCOMP_ACTION_LOG,
    SECCOMP_ACTION_NONE,
};

struct daemon_cfg {
    bool tpm2;
    /* --tpmstate / TPM_PATH */
    char state_path[4096];
    mode_t state_mode;
    bool state_mode_explicit;
    bool state_lock;
    /* --locality */
    bool reject_locality4;
    bool allow_set_locality;
    /* --flags */
    bool not_need_init;
    enum tpm_startup startup;
    bool disable_auto_shutdown;
    /* --migration */
    bool incoming;
    bool release_lock_outgoing;
    /* --pid */
    char pid_path[4096];
    int pid_fd;                 /* -1 if none */
    /* The pid file this process wrote: its directory (kept open so the
     * file can be removed after --chroot) and inode; dir_fd -1 if none. */
    int pid_dir_fd;
    dev_t pid_dev;
    ino_t pid_ino;
    /* --seccomp */
    enum seccomp_action seccomp;
    /* raw strings, applied later */
    const char *key_opt;
    const char *migkey_opt;
    const char *log_opt;
    const char *runas;
    const char *chroot_dir;
};

void daemon_cfg_init(struct daemon_cfg *c);

/* Each parser fills c from one option's value; err gets the message. */
int daemon_parse_tpmstate(struct daemon_cfg *c, const char *s,
                          char *err, size_t errlen);
int daemon_parse_locality(struct daemon_cfg *c, const char *s,
                          char *err, size_t errlen);
int daemon_parse_flags(struct daemon_cfg *c, const char *s,
                       char *err, size_t errlen);
int daemon_parse_pid(struct daemon_cfg *c, const char *s,
                     char *err, size_t errlen);
int daemon_parse_seccomp(struct daemon_cfg *c, const char *s,
                         char *err, size_t errlen);
int daemon_parse_migration(struct daemon_cfg *c, const char *s,
                           char *err, size_t errlen);
/* Check --log syntax without opening anything. */
int daemon_check_log(const char *s, char *err, size_t errlen);

/* Open the log sink of --log (or keep stderr with default prefix). */
int daemon_setup_log(const char *s, const char *default_prefix,
                     char *err, size_t errlen);

/* Load --key and --migration-key into the instance. */
int daemon_load_keys(const struct daemon_cfg *c, struct tpm_instance *inst,
                     char *err, size_t errlen);

/* Write the pid file (O_NOFOLLOW, 0644, no newline). */
int daemon_write_pid(struct daemon_cfg *c, char *err, size_t errlen);
/* Remove the pid file only if this process wrote it and it still holds
 * our pid; never touches a file another run created. */
void daemon_remove_pid(struct daemon_cfg *c);

/* chroot (if set) then switch to user runas (if set); verified. */
int daemon_chroot(const char *dir, char *err, size_t errlen);
int daemon_drop_privileges(const char *runas, char *err, size_t errlen);

/*
 * Fork.  The parent waits until the child calls daemon_ready() (then
 * exits 0) or exits/fails (then exits with the child's status).  Returns
 * in the child only.  Returns -errno if fork fails.
 */
int daemon_fork(void);
/* Leave the session and detach stdio (before seccomp: it needs setsid). */
void daemon_detach(void);
/* Tell the waiting parent we are ready (detaching first if not done). */
void daemon_ready(void);
/* Tell the waiting parent we failed with exit code code. */
void daemon_fail(int code);

/* Install the default-deny syscall allowlist (seccomp.c). */
int seccomp_install(enum seccomp_action action, char *err, size_t errlen);

#endif
