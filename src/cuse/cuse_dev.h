/* SPDX-License-Identifier: BSD-3-Clause */
/* The CUSE character device: TPM commands by write()/read(), control by
 * ioctl(), one opener at a time (docs/control-channel.md §9). */
#ifndef SWTPM_CUSE_DEV_H
#define SWTPM_CUSE_DEV_H

#include <stdbool.h>

#include "ctrl.h"
#include "daemon_proc.h"

/*
 * Exit codes of the CLI contract (docs/cli.md §5, man/swtpm_cuse.8):
 * upstream's values, the last three being its negative codes -14, -13
 * and -10 as an exit status.
 */
enum cuse_exit {
    /* 0 and 1 are <stdlib.h>'s EXIT_SUCCESS and EXIT_FAILURE (1: a stray
     * argument, a log or print failure, chroot failed, SET_STATEBLOB found
     * the storage locked) */
    EXIT_GENERIC = 255,     /* bad major/minor, device exists, no state */
    EXIT_NO_NAME = 254,
    EXIT_BAD_SUBOPT = 253,
    EXIT_NOT_ROOT = 252,
    EXIT_NO_USER = 251,
    EXIT_RUNAS = 246,       /* after detaching: cannot become the user */
    EXIT_PIDFILE = 243,     /* after detaching: cannot write the pid file */
    EXIT_SECCOMP = 242,     /* after detaching: cannot install seccomp */
};

struct cuse_opts {
    const char *name;
    unsigned int major, minor;
    bool foreground;
    struct daemon_cfg cfg;
    struct daemon_user user;    /* --runas, resolved before the fork */
};

/*
 * Create /dev/<name>, serve it until SHUTDOWN or a signal, then stop the
 * TPM in order.  inst must have an open, locked store.  Returns the exit
 * code for main().
 */
int cuse_dev_run(struct cuse_opts *o, struct tpm_instance *inst);

#endif
