// SPDX-License-Identifier: BSD-3-Clause
/* Bounded big-endian marshalling for TPM commands and responses. */
#include "buf.h"

#include <errno.h>
#include <string.h>

#include "bytes.h"

void
buf_bytes(struct buf *b, const void *p, size_t n)
{
    if (b->overflow || n > sizeof(b->data) - b->len) {
        b->overflow = true;
        return;
    }
    if (n) {
        memcpy(b->data + b->len, p, n);
    }
    b->len += n;
}

void
buf_u8(struct buf *b, uint8_t v)
{
    buf_bytes(b, &v, 1);
}

void
buf_u16(struct buf *b, uint16_t v)
{
    uint8_t x[2];

    be16_put(x, v);
    buf_bytes(b, x, 2);
}

void
buf_u32(struct buf *b, uint32_t v)
{
    uint8_t x[4];

    be32_put(x, v);
    buf_bytes(b, x, 4);
}

void
buf_tpm2b(struct buf *b, const void *p, size_t n)
{
    if (n > 0xffff) {
        b->overflow = true;
        return;
    }
    buf_u16(b, (uint16_t)n);
    buf_bytes(b, p, n);
}

void
buf_start_cmd(struct buf *b, uint16_t tag, uint32_t code)
{
    b->len = 0;
    b->overflow = false;
    buf_u16(b, tag);
    buf_u32(b, 0);
    buf_u32(b, code);
}

void
buf_finish_cmd(struct buf *b)
{
    if (b->len < 10) {
        b->overflow = true;
        return;
    }
    be32_put(b->data + 2, (uint32_t)b->len);
}

static int
hexval(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

int
buf_hex(struct buf *b, const char *hex)
{
    size_t n = strlen(hex);

    if (n % 2) {
        return -EINVAL;
    }
    for (size_t i = 0; i < n; i += 2) {
        int hi = hexval(hex[i]), lo = hexval(hex[i + 1]);

        if (hi < 0 || lo < 0) {
            return -EINVAL;
        }
        buf_u8(b, (uint8_t)(hi << 4 | lo));
    }
    return b->overflow ? -E2BIG : 0;
}

void
reader_init(struct reader *r, const uint8_t *p, size_t len)
{
    r->p = p;
    r->len = len;
    r->off = 0;
    r->bad = false;
}

const uint8_t *
rd_bytes(struct reader *r, size_t n)
{
    const uint8_t *p;

    if (r->bad || n > r->len - r->off) {
        r->bad = true;
        return NULL;
    }
    p = r->p + r->off;
    r->off += n;
    return p;
}

uint8_t
rd_u8(struct reader *r)
{
    const uint8_t *p = rd_bytes(r, 1);

    return p ? p[0] : 0;
}

uint16_t
rd_u16(struct reader *r)
{
    const uint8_t *p = rd_bytes(r, 2);

    return p ? be16_get(p) : 0;
}

uint32_t
rd_u32(struct reader *r)
{
    const uint8_t *p = rd_bytes(r, 4);

    return p ? be32_get(p) : 0;
}

const uint8_t *
rd_tpm2b(struct reader *r, uint16_t *out_len)
{
    uint16_t n = rd_u16(r);
    const uint8_t *p = rd_bytes(r, n);

    *out_len = p ? n : 0;
    return p;
}

void
hex_encode(const uint8_t *p, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";

    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 15];
    }
    out[2 * n] = '\0';
}
