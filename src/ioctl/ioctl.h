/* SPDX-License-Identifier: BSD-3-Clause */
/* swtpm_ioctl: parsed options and the operations run on a connection. */
#ifndef SWTPM_IOCTL_H
#define SWTPM_IOCTL_H

#include <stdint.h>

#include "client.h"

enum ioctl_op {
    OP_NONE = 0,
    OP_CAPABILITY,
    OP_INIT,
    OP_STOP,
    OP_SHUTDOWN,
    OP_ESTABLISHED,
    OP_RESET_ESTABLISHED,
    OP_LOCALITY,
    OP_STORE_VOLATILE,
    OP_CANCEL,
    OP_HASH,
    OP_SAVE,
    OP_LOAD,
    OP_CONFIG,
    OP_BUFFERSIZE,
    OP_INFO,
    OP_LOCK_STORAGE,
};

struct opts {
    enum ioctl_op op;
    struct client_target target;
    uint32_t number;            /* locality, buffer size, retries */
    uint64_t info_flags;
    const char *hash_data;      /* "-" = stdin */
    uint32_t blob_type;
    const char *file;           /* --save / --load */
};

/* Run the operation; returns the exit code. */
int run(const struct opts *o);

/* Helpers shared by run.c and blob.c. */
void report_rc(const struct client *c, uint32_t cmd, uint32_t rc);
void report_err(const struct client *c, uint32_t cmd, int err);
int save_blob(struct client *c, const struct opts *o);
int load_blob(struct client *c, const struct opts *o);

#endif
