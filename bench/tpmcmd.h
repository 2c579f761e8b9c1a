/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Hand-built TPM command bytes for the benchmarks: the same bytes go to
 * libtpms in-process, to a CUSE device and to a socket, so the only
 * difference between the measurements is the path the bytes take.
 */
#ifndef BENCH_TPMCMD_H
#define BENCH_TPMCMD_H

#include <stddef.h>
#include <stdint.h>

#define TPMCMD_MAX 1100         /* the largest command we build (Hash 1 KiB) */
#define TPMCMD_NV_INDEX 0x01500000u
#define TPMCMD_NV_SIZE 64u

struct tpmcmd {
    uint8_t b[TPMCMD_MAX];
    uint32_t len;
};

/* What a benchmark command needs around its timed round trip. */
enum tpmcmd_kind {
    TPMCMD_PLAIN = 0,           /* nothing */
    TPMCMD_NEEDS_NV_INDEX,      /* define TPMCMD_NV_INDEX once first */
    TPMCMD_CREATES_OBJECT,      /* flush the returned handle afterwards */
};

struct tpmcmd_def {
    const char *name;           /* as given to --cmds and in the output */
    int tpm2;                   /* 1: TPM 2 command, 0: TPM 1.2 */
    enum tpmcmd_kind kind;
    void (*build)(struct tpmcmd *c);
    /* NULL, or make iteration i's bytes differ from the previous ones
     * (the TPM skips NV writes of unchanged data). */
    void (*vary)(struct tpmcmd *c, uint64_t i);
};

/* The benchmark commands; ends with a NULL name. */
extern const struct tpmcmd_def tpmcmd_defs[];

/* Look a benchmark command up by name; NULL if unknown. */
const struct tpmcmd_def *tpmcmd_find(const char *name);

void tpmcmd_startup(struct tpmcmd *c, int tpm2);
void tpmcmd_shutdown_state(struct tpmcmd *c);
void tpmcmd_nv_define(struct tpmcmd *c);
void tpmcmd_flush(struct tpmcmd *c, uint32_t handle);

/* Response code of a response (TPM_FAIL-like 0xffffffff if too short). */
uint32_t tpmcmd_rc(const uint8_t *resp, uint32_t len);
/* The first handle after the header (CreatePrimary's objectHandle). */
uint32_t tpmcmd_handle(const uint8_t *resp, uint32_t len);

#endif
