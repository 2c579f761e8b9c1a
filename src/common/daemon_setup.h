/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Start-up steps shared by the emulator daemons (swtpm_cuse and
 * swtpm socket/chardev): applying the option groups, --print-states,
 * resolving the --runas user before any chroot, and opening, locking and
 * optionally starting the TPM.  Errors come back as messages for the
 * front end to print.
 */
#ifndef SWTPM_DAEMON_SETUP_H
#define SWTPM_DAEMON_SETUP_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "daemon.h"

/* The raw values of the option groups, as given on the command line. */
struct daemon_opt_strings {
    const char *tpmstate, *locality, *flags, *pid, *seccomp, *migration;
};

/*
 * Parse every group into c (TPM_PATH when --tpmstate is absent) and check
 * --log's syntax.  Returns 0 or -EINVAL with a message in err.
 */
int daemon_apply_opts(struct daemon_cfg *c, const struct daemon_opt_strings *s,
                      char *err, size_t errlen);

/* --print-states: the JSON on stdout; returns the exit status (0 or 1). */
int daemon_print_states(const struct daemon_cfg *c, const char *prog);

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
 * later chroot hides it).  NULL runas: out->set = false.  Returns 0 or
 * -ENOENT with a message in err.
 */
int daemon_resolve_user(const char *runas, struct daemon_user *out,
                        char *err, size_t errlen);

/* Switch to a resolved user for good, and verify it held. */
int daemon_become_user(const struct daemon_user *u, char *err,
                       size_t errlen);

/*
 * Open (creating it with create_dir) and lock the state directory, load
 * the keys and set up libtpms for inst as c describes.  lock_now takes
 * the directory lock at once (unless lock=false or --migration incoming).
 * Returns 0, -EKEYREJECTED for a key that cannot be loaded, or another
 * negative errno; err says what happened and what to do.
 */
int daemon_open_tpm(const struct daemon_cfg *c, struct tpm_instance *inst,
                    bool create_dir, bool lock_now, char *err,
                    size_t errlen);

/*
 * With --flags not-need-init or startup-*: start the TPM and send the
 * Startup command.  A TPM error in the Startup response is only logged.
 * Returns 0, -ENOLCK when the state lock is held elsewhere (already
 * logged: err is empty), or -EIO with a message in err.
 */
int daemon_autostart_tpm(const struct daemon_cfg *c,
                         struct tpm_instance *inst, char *err,
                         size_t errlen);

#endif
