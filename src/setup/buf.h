/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Big-endian byte buffers for building TPM commands and a bounded reader
 * for parsing their responses.  Writers record overflow instead of
 * failing each call; readers fail once and stay failed.
 */
#ifndef SETUP_BUF_H
#define SETUP_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BUF_MAX 4096            /* largest command swtpm accepts */

struct buf {
    uint8_t data[BUF_MAX];
    size_t len;
    bool overflow;
};

void buf_u8(struct buf *b, uint8_t v);
void buf_u16(struct buf *b, uint16_t v);
void buf_u32(struct buf *b, uint32_t v);
void buf_bytes(struct buf *b, const void *p, size_t n);
/* A u16 length followed by the bytes (TPM2B). */
void buf_tpm2b(struct buf *b, const void *p, size_t n);
/* Empty b and put a command header: tag, a size that buf_finish_cmd()
 * fills in, and the ordinal or command code (the same on both TPMs). */
void buf_start_cmd(struct buf *b, uint16_t tag, uint32_t code);
/* Store the total length as u32 at offset 2 (the command header size). */
void buf_finish_cmd(struct buf *b);
/* Parse lowercase/uppercase hex into b; -EINVAL on odd length/non-hex. */
int buf_hex(struct buf *b, const char *hex);

struct reader {
    const uint8_t *p;
    size_t len;
    size_t off;
    bool bad;               /* a read went past the end */
};

void reader_init(struct reader *r, const uint8_t *p, size_t len);
uint8_t rd_u8(struct reader *r);
uint16_t rd_u16(struct reader *r);
uint32_t rd_u32(struct reader *r);
/* Pointer to the next n bytes (NULL and bad if short). */
const uint8_t *rd_bytes(struct reader *r, size_t n);
/* A TPM2B: sets *out_len; returns the contents or NULL. */
const uint8_t *rd_tpm2b(struct reader *r, uint16_t *out_len);

/* Lowercase hex of n bytes into out (2n+1 bytes). */
void hex_encode(const uint8_t *p, size_t n, char *out);

#endif
