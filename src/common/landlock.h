/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Landlock: after start-up an emulator may reach only the files it still
 * needs (its state, its pid file), named by descriptors it already holds,
 * so a compromised libtpms cannot read or rewrite another instance's
 * state.  What each grant allows, and why, is in docs/cli.md §4.
 */
#ifndef SWTPM_LANDLOCK_H
#define SWTPM_LANDLOCK_H

#include <stddef.h>

/* What a rule lets the confined process do with the file or directory
 * behind its descriptor (and, for a directory, everything beneath it). */
enum landlock_grant {
    LANDLOCK_GRANT_STORE,   /* a state directory: read, write, create,
                             * truncate, rename within and remove files;
                             * list it */
    LANDLOCK_GRANT_FILE,    /* one file or block device: read, write,
                             * truncate */
    LANDLOCK_GRANT_READ,    /* one file: read */
    LANDLOCK_GRANT_UNLINK,  /* a directory: remove files in it */
};

struct landlock_rule {
    int fd;                 /* any descriptor of it, O_PATH will do */
    enum landlock_grant grant;
};

/* The kernel's Landlock ABI version (>= 1), -EOPNOTSUPP when Landlock is
 * built in but not enabled, -ENOSYS when the kernel has none. */
int landlock_abi(void);

/*
 * Confine the calling thread, and every thread and process it starts
 * later, to the n rules: no other file may be opened, created, removed,
 * renamed, linked or executed; with ABI 4 no TCP port may be bound or
 * connected to; with ABI 6 no signal may be sent outside the process.
 * Descriptors already open keep working.  It needs no-new-privileges
 * set or CAP_SYS_ADMIN.  Returns the ABI used, or a negative errno
 * (landlock_abi()'s, or the failing call's); logs nothing.
 */
int landlock_confine(const struct landlock_rule *rules, size_t n);

#endif
