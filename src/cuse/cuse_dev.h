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
 * The device steps of swtpm_cuse's start-up (daemon_start.h), each
 * logging its own failure.  cuse_dev_open(): create /dev/<name> and
 * answer the kernel's INIT, so that it exists (inst must be set up);
 * OPTS_CONTINUE, EXIT_SUCCESS when a signal ended it first, or
 * EXIT_GENERIC.  cuse_dev_start_worker(): the thread for slow commands;
 * OPTS_CONTINUE or EXIT_GENERIC.  cuse_dev_serve(): until SHUTDOWN or a
 * signal; the exit code.  cuse_dev_close(): finish the worker, stop the
 * TPM in order, remove the device; after any of the others.
 */
int cuse_dev_open(struct cuse_opts *o, struct tpm_instance *inst);
int cuse_dev_start_worker(void);
int cuse_dev_serve(void);
void cuse_dev_close(void);

#endif
