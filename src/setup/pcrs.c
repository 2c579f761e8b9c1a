// SPDX-License-Identifier: BSD-3-Clause
/* PCR bank names and the TPM2_PCR_Allocate selection (docs/setup-and-bios.md
 * §4.6). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "setup.h"

#define PCRS_MAX_BANKS 20       /* more in a response is an error */

static const struct {
    uint16_t alg;
    const char *name;
} bank_names[] = {
    { 0x0004, "sha1" },
    { 0x000b, "sha256" },
    { 0x000c, "sha384" },
    { 0x000d, "sha512" },
    { 0x0012, "sm3-256" },
    { 0x0027, "sha3-256" },
    { 0x0028, "sha3-384" },
    { 0x0029, "sha3-512" },
};

static const char *
bank_name(uint16_t alg, char *tmp, size_t tmplen)
{
    for (size_t i = 0; i < sizeof(bank_names) / sizeof(bank_names[0]);
         i++) {
        if (bank_names[i].alg == alg) {
            return bank_names[i].name;
        }
    }
    snprintf(tmp, tmplen, "%02x", alg);
    return tmp;
}

static int
bank_alg(const char *name, size_t len)
{
    for (size_t i = 0; i < sizeof(bank_names) / sizeof(bank_names[0]);
         i++) {
        if (strlen(bank_names[i].name) == len &&
            strncmp(bank_names[i].name, name, len) == 0) {
            return bank_names[i].alg;
        }
    }
    return -1;
}

int
pcrs_check_names(const char *list, char *err, size_t errlen)
{
    const char *p = list;

    if (strcmp(list, "-") == 0) {
        return 0;
    }
    for (;;) {
        const char *c = strchr(p, ',');
        size_t n = c ? (size_t)(c - p) : strlen(p);

        if (bank_alg(p, n) < 0) {
            snprintf(err, errlen, "unsupported PCR bank '%.*s' in '%s'; "
                     "valid banks are sha1, sha256, sha384, sha512, "
                     "sm3-256, sha3-256, sha3-384, sha3-512", (int)n, p,
                     list);
            return -EINVAL;
        }
        if (!c) {
            return 0;
        }
        p = c + 1;
    }
}

static void
append_name(char *out, size_t outlen, const char *name)
{
    size_t n = strlen(out);

    snprintf(out + n, outlen - n, "%s%s", n ? "," : "", name);
}

/* Callers: libtpms' GetCapability(PCRS) response. */
int
pcrs_build_allocation(const uint8_t *resp, size_t len,
                      const char *requested, struct buf *sel,
                      char *out_active, size_t active_len,
                      char *out_all, size_t all_len)
{
    uint16_t algs[PCRS_MAX_BANKS];
    bool used[PCRS_MAX_BANKS] = { false };
    struct reader r;
    uint16_t count;
    size_t nsel = 0;
    char tmp[8];
    const char *p = requested;

    out_active[0] = out_all[0] = '\0';
    reader_init(&r, resp, len);
    rd_bytes(&r, 17);
    count = rd_u16(&r);         /* low half of the u32 count at 15 */
    if (r.bad || count > PCRS_MAX_BANKS) {
        return -EBADMSG;
    }
    for (uint16_t i = 0; i < count; i++) {
        algs[i] = rd_u16(&r);
        rd_bytes(&r, rd_u8(&r));
        append_name(out_all, all_len, bank_name(algs[i], tmp, sizeof(tmp)));
    }
    if (r.bad) {
        return -EBADMSG;
    }
    sel->len = 0;
    buf_u32(sel, count);
    while (p && *p) {
        const char *c = strchr(p, ',');
        size_t n = c ? (size_t)(c - p) : strlen(p);
        int alg = bank_alg(p, n);

        for (uint16_t i = 0; alg >= 0 && i < count; i++) {
            if (algs[i] == alg && !used[i]) {
                used[i] = true;
                buf_u16(sel, algs[i]);
                buf_bytes(sel, "\x03\xff\xff\xff", 4);
                append_name(out_active, active_len,
                            bank_name(algs[i], tmp, sizeof(tmp)));
                nsel++;
            }
        }
        p = c ? c + 1 : NULL;
    }
    if (nsel == 0) {
        return -ENOENT;
    }
    for (uint16_t i = 0; i < count; i++) {
        if (!used[i]) {
            buf_u16(sel, algs[i]);
            buf_bytes(sel, "\x03\0\0\0", 4);
        }
    }
    return sel->overflow ? -EBADMSG : 0;
}
