/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Where the benchmark sends its command bytes: libtpms in this process
 * (through src/common/tpm.h), a TPM character device (CUSE), or the data
 * channel of a `swtpm socket` on a Unix or TCP socket.
 */
#ifndef BENCH_TARGET_H
#define BENCH_TARGET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TARGET_RESP_MAX 4096

enum target_type {
    TARGET_INPROC,      /* spec: inproc:STATEDIR[:tpm12] */
    TARGET_DEV,         /* dev:PATH */
    TARGET_UNIX,        /* unix:PATH */
    TARGET_TCP,         /* tcp:PORT (127.0.0.1) */
};

struct target {
    char name[64];
    enum target_type type;
    char arg[512];
    int fd;                     /* -1 for inproc */
    uint8_t resp[TARGET_RESP_MAX];
    uint32_t resp_len;
};

/*
 * Parse NAME=SPEC into t (not opened yet).  Returns 0 or -EINVAL with a
 * message in err.
 */
int target_parse(struct target *t, const char *s, char *err, size_t errlen);

/*
 * Open the target.  An inproc target starts libtpms on its state
 * directory (TPM 2 unless tpm12) and sends TPM_Startup(CLEAR); only one
 * inproc target can exist per process.  Returns 0 or a negative errno
 * with a message in err.
 */
int target_open(struct target *t, bool tpm12, char *err, size_t errlen);

/*
 * Send one command and read the whole response into t->resp / resp_len.
 * Returns 0 or a negative errno.
 */
int target_roundtrip(struct target *t, const uint8_t *cmd, uint32_t len);

/* Close (an inproc target stops libtpms with its automatic shutdown). */
void target_close(struct target *t);

/*
 * Start libtpms on an empty directory, start the TPM and shut it down in
 * order, leaving a permanent state (tpm2-00.permall) with fresh seeds.
 */
int target_make_state(const char *dir, char *err, size_t errlen);

#endif
