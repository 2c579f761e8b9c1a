// SPDX-License-Identifier: BSD-3-Clause
/*
 * Benchmark command bytes, built field by field after TPM 2.0 Library
 * Part 3 (commands) and TPM 1.2 Main Part 3.  Authorisation uses the empty
 * password session (TPM_RS_PW) against the owner hierarchy, whose auth is
 * empty in a fresh state.
 */
#include "tpmcmd.h"

#include <string.h>

#define ST_NO_SESSIONS 0x8001u
#define ST_SESSIONS    0x8002u
#define TPM12_TAG_RQU  0x00c1u

#define CC_NV_DEFINE     0x12au
#define CC_CREATEPRIMARY 0x131u
#define CC_NV_WRITE      0x137u
#define CC_STARTUP       0x144u
#define CC_SHUTDOWN      0x145u
#define CC_FLUSH         0x165u
#define CC_GETRANDOM     0x17bu
#define CC_HASH          0x17du
#define CC_PCR_EXTEND    0x182u
#define ORD12_GETRANDOM  0x46u
#define ORD12_STARTUP    0x99u

#define RH_OWNER 0x40000001u
#define RH_NULL  0x40000007u
#define RS_PW    0x40000009u
#define ALG_RSA    0x0001u
#define ALG_AES    0x0006u
#define ALG_SHA256 0x000bu
#define ALG_NULL   0x0010u
#define ALG_ECC    0x0023u
#define ALG_CFB    0x0043u
#define ECC_NIST_P256 0x0003u

/* fixedTPM | fixedParent | sensitiveDataOrigin | userWithAuth | restricted
 * | decrypt: a storage parent like the SRK template. */
#define STORAGE_KEY_ATTRS 0x00030072u
/* NV: ownerwrite | authwrite | ownerread | authread, ordinary index. */
#define NV_ATTRS 0x00060006u

static void
put8(struct tpmcmd *c, uint8_t v)
{
    c->b[c->len++] = v;
}

static void
put16(struct tpmcmd *c, uint16_t v)
{
    put8(c, (uint8_t)(v >> 8));
    put8(c, (uint8_t)v);
}

static void
put32(struct tpmcmd *c, uint32_t v)
{
    put16(c, (uint16_t)(v >> 16));
    put16(c, (uint16_t)v);
}

static void
put_fill(struct tpmcmd *c, uint8_t v, uint32_t n)
{
    memset(c->b + c->len, v, n);
    c->len += n;
}

/* tag, size (patched by finish), command code */
static void
begin(struct tpmcmd *c, uint16_t tag, uint32_t cc)
{
    c->len = 0;
    put16(c, tag);
    put32(c, 0);
    put32(c, cc);
}

static void
finish(struct tpmcmd *c)
{
    c->b[2] = (uint8_t)(c->len >> 24);
    c->b[3] = (uint8_t)(c->len >> 16);
    c->b[4] = (uint8_t)(c->len >> 8);
    c->b[5] = (uint8_t)c->len;
}

/* authorizationSize + one empty password session */
static void
put_pw_session(struct tpmcmd *c)
{
    put32(c, 9);
    put32(c, RS_PW);
    put16(c, 0);        /* nonce */
    put8(c, 0);         /* sessionAttributes */
    put16(c, 0);        /* hmac (the password) */
}

/* symmetric AES-128-CFB, the storage parent's inner wrapper */
static void
put_aes128_cfb(struct tpmcmd *c)
{
    put16(c, ALG_AES);
    put16(c, 128);
    put16(c, ALG_CFB);
}

void
tpmcmd_startup(struct tpmcmd *c, int tpm2)
{
    if (tpm2) {
        begin(c, ST_NO_SESSIONS, CC_STARTUP);
        put16(c, 0);            /* TPM_SU_CLEAR */
    } else {
        begin(c, TPM12_TAG_RQU, ORD12_STARTUP);
        put16(c, 1);            /* TPM_ST_CLEAR */
    }
    finish(c);
}

void
tpmcmd_shutdown_state(struct tpmcmd *c)
{
    begin(c, ST_NO_SESSIONS, CC_SHUTDOWN);
    put16(c, 1);                /* TPM_SU_STATE */
    finish(c);
}

void
tpmcmd_flush(struct tpmcmd *c, uint32_t handle)
{
    begin(c, ST_NO_SESSIONS, CC_FLUSH);
    put32(c, handle);
    finish(c);
}

void
tpmcmd_nv_define(struct tpmcmd *c)
{
    begin(c, ST_SESSIONS, CC_NV_DEFINE);
    put32(c, RH_OWNER);
    put_pw_session(c);
    put16(c, 0);                /* auth of the new index */
    put16(c, 14);               /* TPM2B_NV_PUBLIC size */
    put32(c, TPMCMD_NV_INDEX);
    put16(c, ALG_SHA256);
    put32(c, NV_ATTRS);
    put16(c, 0);                /* authPolicy */
    put16(c, TPMCMD_NV_SIZE);
    finish(c);
}

static void
build_getrandom(struct tpmcmd *c)
{
    begin(c, ST_NO_SESSIONS, CC_GETRANDOM);
    put16(c, 32);
    finish(c);
}

/* PCR 16 (debug, resettable) extended in the SHA-256 bank. */
static void
build_pcr_extend(struct tpmcmd *c)
{
    begin(c, ST_SESSIONS, CC_PCR_EXTEND);
    put32(c, 16);
    put_pw_session(c);
    put32(c, 1);                /* TPML_DIGEST_VALUES count */
    put16(c, ALG_SHA256);
    put_fill(c, 0x5a, 32);
    finish(c);
}

/* 1024 bytes is MAX_DIGEST_BUFFER, the most TPM2_Hash takes. */
static void
build_hash_1k(struct tpmcmd *c)
{
    begin(c, ST_NO_SESSIONS, CC_HASH);
    put16(c, 1024);
    put_fill(c, 0xa5, 1024);
    put16(c, ALG_SHA256);
    put32(c, RH_NULL);          /* no ticket */
    finish(c);
}

/* Where NV_Write's data starts: header, two handles, auth area, size. */
#define NV_WRITE_DATA_AT (10 + 8 + 4 + 9 + 2)

static void
build_nv_write(struct tpmcmd *c)
{
    begin(c, ST_SESSIONS, CC_NV_WRITE);
    put32(c, RH_OWNER);
    put32(c, TPMCMD_NV_INDEX);
    put_pw_session(c);
    put16(c, TPMCMD_NV_SIZE);
    put_fill(c, 0x3c, TPMCMD_NV_SIZE);
    put16(c, 0);                /* offset */
    finish(c);
}

/* NV_Write only reaches the NV store if the data changes
 * (NvConditionallyWrite), so every iteration writes a new counter. */
static void
vary_nv_write(struct tpmcmd *c, uint64_t i)
{
    int k;

    for (k = 0; k < 8; k++) {
        c->b[NV_WRITE_DATA_AT + k] = (uint8_t)(i >> (8 * k));
    }
}

/* CreatePrimary under the owner hierarchy: header, auth, empty
 * inSensitive; the caller appends inPublic's contents. */
static uint32_t
begin_create_primary(struct tpmcmd *c)
{
    uint32_t size_at;

    begin(c, ST_SESSIONS, CC_CREATEPRIMARY);
    put32(c, RH_OWNER);
    put_pw_session(c);
    put16(c, 4);                /* TPM2B_SENSITIVE_CREATE */
    put16(c, 0);                /* userAuth */
    put16(c, 0);                /* data */
    size_at = c->len;
    put16(c, 0);                /* TPM2B_PUBLIC size, patched */
    return size_at;
}

static void
end_create_primary(struct tpmcmd *c, uint32_t size_at)
{
    uint32_t n = c->len - size_at - 2;

    c->b[size_at] = (uint8_t)(n >> 8);
    c->b[size_at + 1] = (uint8_t)n;
    put16(c, 0);                /* outsideInfo */
    put32(c, 0);                /* creationPCR: no selections */
    finish(c);
}

static void
build_create_primary_ecc(struct tpmcmd *c)
{
    uint32_t at = begin_create_primary(c);

    put16(c, ALG_ECC);
    put16(c, ALG_SHA256);
    put32(c, STORAGE_KEY_ATTRS);
    put16(c, 0);                /* authPolicy */
    put_aes128_cfb(c);
    put16(c, ALG_NULL);         /* scheme */
    put16(c, ECC_NIST_P256);
    put16(c, ALG_NULL);         /* kdf */
    put16(c, 0);                /* unique.x */
    put16(c, 0);                /* unique.y */
    end_create_primary(c, at);
}

static void
build_create_primary_rsa(struct tpmcmd *c)
{
    uint32_t at = begin_create_primary(c);

    put16(c, ALG_RSA);
    put16(c, ALG_SHA256);
    put32(c, STORAGE_KEY_ATTRS);
    put16(c, 0);                /* authPolicy */
    put_aes128_cfb(c);
    put16(c, ALG_NULL);         /* scheme */
    put16(c, 2048);
    put32(c, 0);                /* exponent: default 65537 */
    put16(c, 0);                /* unique.rsa */
    end_create_primary(c, at);
}

static void
build_tpm12_getrandom(struct tpmcmd *c)
{
    begin(c, TPM12_TAG_RQU, ORD12_GETRANDOM);
    put32(c, 32);
    finish(c);
}

const struct tpmcmd_def tpmcmd_defs[] = {
    { "GetRandom32", 1, TPMCMD_PLAIN, build_getrandom, NULL },
    { "PCR_Extend", 1, TPMCMD_PLAIN, build_pcr_extend, NULL },
    { "Hash1K", 1, TPMCMD_PLAIN, build_hash_1k, NULL },
    { "NV_Write64", 1, TPMCMD_NEEDS_NV_INDEX, build_nv_write,
      vary_nv_write },
    { "CreatePrimaryECC", 1, TPMCMD_CREATES_OBJECT,
      build_create_primary_ecc, NULL },
    { "CreatePrimaryRSA", 1, TPMCMD_CREATES_OBJECT,
      build_create_primary_rsa, NULL },
    { "TPM12_GetRandom32", 0, TPMCMD_PLAIN, build_tpm12_getrandom, NULL },
    { NULL, 0, TPMCMD_PLAIN, NULL, NULL },
};

const struct tpmcmd_def *
tpmcmd_find(const char *name)
{
    const struct tpmcmd_def *d;

    for (d = tpmcmd_defs; d->name; d++) {
        if (strcmp(d->name, name) == 0) {
            return d;
        }
    }
    return NULL;
}

uint32_t
tpmcmd_rc(const uint8_t *resp, uint32_t len)
{
    if (len < 10) {
        return 0xffffffffu;
    }
    return (uint32_t)resp[6] << 24 | (uint32_t)resp[7] << 16 |
           (uint32_t)resp[8] << 8 | resp[9];
}

uint32_t
tpmcmd_handle(const uint8_t *resp, uint32_t len)
{
    if (len < 14) {
        return 0;
    }
    return (uint32_t)resp[10] << 24 | (uint32_t)resp[11] << 16 |
           (uint32_t)resp[12] << 8 | resp[13];
}
