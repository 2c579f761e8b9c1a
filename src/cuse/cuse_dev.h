/* SPDX-License-Identifier: BSD-3-Clause */
/* The CUSE character device: TPM commands by write()/read(), control by
 * ioctl(), one opener at a time (docs/control-channel.md §9). */
#ifndef SWTPM_CUSE_DEV_H
#define SWTPM_CUSE_DEV_H

#include <stdbool.h>

#include "ctrl.h"
#include "daemon.h"
#include "daemon_setup.h"

struct cuse_opts {
    const char *name;
    unsigned int major, minor;
    bool foreground;
    struct daemon_cfg cfg;
    struct daemon_user user;    /* --runas, resolved before the fork */
    int notify_fd;              /* $NOTIFY_SOCKET, -1: none (sdnotify.h) */
};

/*
 * Create /dev/<name>, serve it until SHUTDOWN or a signal, then stop the
 * TPM in order.  inst must have an open, locked store.  Returns the exit
 * code for main().
 */
int cuse_dev_run(struct cuse_opts *o, struct tpm_instance *inst);

#endif
