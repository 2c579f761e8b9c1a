// SPDX-License-Identifier: BSD-3-Clause
/*
 * TPM 2 manufacturing (docs/setup-and-bios.md §4): storage primary key,
 * EKs with the TCG templates, certificates in NV, PCR bank allocation.
 * Commands are marshalled by hand exactly as docs/setup-and-bios.md §4 lists
 * them.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <tss2/tss2_tpm2_types.h>

#include "bytes.h"
#include "certs.h"
#include "fdio.h"
#include "log.h"
#include "setup.h"


#define SPK_HANDLE          0x81000001u
#define PLATFORM_CERT_INDEX 0x01c08000u
#define NV_ATTRS_CERT       0x42072001u     /* 4.4 */
#define NV_CHUNK            1024

static const uint8_t policy_a_sha256[] = {
    0x83, 0x71, 0x97, 0x67, 0x44, 0x84, 0xb3, 0xf8, 0x1a, 0x90, 0xcc, 0x8d,
    0x46, 0xa5, 0xd7, 0x24, 0xfd, 0x52, 0xd7, 0x6e, 0x06, 0x52, 0x0b, 0x64,
    0xf2, 0xa1, 0xda, 0x1b, 0x33, 0x14, 0x69, 0xaa,
};
static const uint8_t policy_b_sha384[] = {
    0xb2, 0x6e, 0x7d, 0x28, 0xd1, 0x1a, 0x50, 0xbc, 0x53, 0xd8, 0x82, 0xbc,
    0xf5, 0xfd, 0x3a, 0x1a, 0x07, 0x41, 0x48, 0xbb, 0x35, 0xd3, 0xb4, 0xe4,
    0xcb, 0x1c, 0x0a, 0xd9, 0xbd, 0xe4, 0x19, 0xca, 0xcb, 0x47, 0xba, 0x09,
    0x69, 0x96, 0x46, 0x15, 0x0f, 0x9f, 0xc0, 0x00, 0xf3, 0xf8, 0x0e, 0x12,
};

/* One row of the EK table (docs/setup-and-bios.md §4.2); only the rows libtpms
 * 0.9 supports. */
struct ek_desc {
    const char *keydesc;        /* file name part: ek-<keydesc>.crt */
    const char *logname;        /* "RSA 2048", "secp384r1" */
    const char *curve;          /* NULL for RSA */
    uint16_t type;
    uint16_t name_alg;
    uint32_t attrs;
    const uint8_t *policy;
    size_t policy_len;
    uint16_t sym_bits;
    uint16_t key_bits;          /* RSA */
    uint16_t curve_id;          /* ECC */
    size_t unique_len;          /* RSA: modulus; ECC: each of x and y */
    uint32_t handle;
    uint32_t cert_index;
    uint32_t tmpl_index;
};

static const struct ek_desc ek_rsa2048 = {
    "rsa2048", "RSA 2048", NULL, TPM2_ALG_RSA, TPM2_ALG_SHA256, 0x000300b2,
    policy_a_sha256, sizeof(policy_a_sha256), 128, 2048, 0, 256,
    0x81010001u, 0x01c00002u, 0x01c00004u,
};
static const struct ek_desc ek_rsa3072 = {
    "rsa3072", "RSA 3072", NULL, TPM2_ALG_RSA, 0x000c, 0x000300f2,
    policy_b_sha384, sizeof(policy_b_sha384), 256, 3072, 0, 0,
    0x8101001cu, 0x01c0001cu, 0x01c0001du,
};
static const struct ek_desc ek_p384 = {
    "secp384r1", "secp384r1", "secp384r1", TPM2_ALG_ECC, 0x000c, 0x000300f2,
    policy_b_sha384, sizeof(policy_b_sha384), 256, 0, 0x0004, 0,
    0x81010016u, 0x01c00016u, 0x01c00017u,
};

/* The PW session (authorization area) swtpm_setup uses: attributes 00. */
static void
put_pw_session(struct buf *b)
{
    buf_u32(b, 9);
    buf_u32(b, TPM2_RS_PW);
    buf_u16(b, 0);          /* nonce */
    buf_u8(b, 0);           /* attributes */
    buf_u16(b, 0);          /* hmac */
}

/* TPMT_PUBLIC of an EK (docs/setup-and-bios.md §4.2), honouring
 * --allow-signing/--decryption. */
static void
put_ek_template(struct buf *b, const struct ek_desc *d, bool sign,
                bool decrypt)
{
    static const uint8_t zeros[512];
    uint32_t attrs = d->attrs;

    if (sign) {
        attrs = (d->attrs & 0x40) | (decrypt ? 0x000600b2 : 0x000400b2);
    }
    buf_u16(b, d->type);
    buf_u16(b, d->name_alg);
    buf_u32(b, attrs);
    buf_tpm2b(b, d->policy, d->policy_len);
    if (sign) {
        buf_u16(b, TPM2_ALG_NULL);
    } else {
        buf_u16(b, TPM2_ALG_AES);
        buf_u16(b, d->sym_bits);
        buf_u16(b, TPM2_ALG_CFB);
    }
    buf_u16(b, TPM2_ALG_NULL);              /* scheme */
    if (d->type == TPM2_ALG_RSA) {
        buf_u16(b, d->key_bits);
        buf_u32(b, 0);                      /* exponent: default */
        buf_tpm2b(b, zeros, d->unique_len);
    } else {
        buf_u16(b, d->curve_id);
        buf_u16(b, TPM2_ALG_NULL);          /* kdf */
        buf_tpm2b(b, zeros, d->unique_len);
        buf_tpm2b(b, zeros, d->unique_len);
    }
}

/* The SPK template (docs/setup-and-bios.md §4.3): RSA 3072 or, with --ecc, ECC
 * P-384. */
static void
put_spk_template(struct buf *b, bool ecc)
{
    static const uint8_t zeros[384];

    buf_u16(b, ecc ? TPM2_ALG_ECC : TPM2_ALG_RSA);
    buf_u16(b, 0x000c);
    buf_u32(b, 0x00030472);
    buf_u16(b, 0);                          /* empty authPolicy */
    buf_u16(b, TPM2_ALG_AES);
    buf_u16(b, 256);
    buf_u16(b, TPM2_ALG_CFB);
    buf_u16(b, TPM2_ALG_NULL);
    if (ecc) {
        buf_u16(b, 0x0004);
        buf_u16(b, TPM2_ALG_NULL);
        buf_tpm2b(b, zeros, 48);
        buf_tpm2b(b, zeros, 48);
    } else {
        buf_u16(b, 3072);
        buf_u32(b, 0);
        buf_tpm2b(b, zeros, 384);
    }
}

/* The public key of a CreatePrimary response, checked against d. */
struct ek_pub {
    uint32_t handle;
    const uint8_t *n;           /* RSA modulus or ECC x */
    size_t n_len;
    const uint8_t *y;
    size_t y_len;
};

/* Skip a TPMT_SYM_DEF_OBJECT / scheme: alg, then details unless NULL. */
static void
skip_alg_details(struct reader *r, bool symmetric)
{
    uint16_t alg = rd_u16(r);

    if (alg != TPM2_ALG_NULL) {
        rd_u16(r);
        if (symmetric) {
            rd_u16(r);
        }
    }
}

/* Callers: libtpms' CreatePrimary response (trusted but bounds-checked). */
static int
parse_create_primary(const uint8_t *resp, uint32_t len, uint16_t type,
                     struct ek_pub *out)
{
    struct reader r;
    uint16_t pub_len, l1 = 0, l2 = 0;
    const uint8_t *a, *b = NULL;

    reader_init(&r, resp, len);
    rd_bytes(&r, 10);
    out->handle = rd_u32(&r);
    rd_u32(&r);                             /* parameterSize */
    pub_len = rd_u16(&r);
    if (r.bad || pub_len > len - r.off) {
        return -EBADMSG;
    }
    reader_init(&r, resp + r.off, pub_len);
    if (rd_u16(&r) != type) {
        return -EBADMSG;
    }
    rd_u16(&r);                             /* nameAlg */
    rd_u32(&r);                             /* attributes */
    rd_tpm2b(&r, &l1);                      /* authPolicy */
    skip_alg_details(&r, true);
    skip_alg_details(&r, false);
    if (type == TPM2_ALG_RSA) {
        rd_u16(&r);                         /* keyBits */
        rd_u32(&r);                         /* exponent */
        a = rd_tpm2b(&r, &l1);
    } else {
        rd_u16(&r);                         /* curveID */
        skip_alg_details(&r, false);        /* kdf */
        a = rd_tpm2b(&r, &l1);
        b = rd_tpm2b(&r, &l2);
    }
    if (r.bad || !a || l1 == 0 || (type == TPM2_ALG_ECC && l2 != l1)) {
        return -EBADMSG;
    }
    out->n = a;
    out->n_len = l1;
    out->y = b;
    out->y_len = l2;
    return 0;
}

static int
create_primary(struct setup_ctx *ctx, uint32_t hierarchy,
               const struct buf *tmpl, const uint8_t **out_resp,
               uint32_t *out_len)
{
    struct buf cmd;

    buf_start_cmd(&cmd, TPM2_ST_SESSIONS, TPM2_CC_CreatePrimary);
    buf_u32(&cmd, hierarchy);
    put_pw_session(&cmd);
    buf_u16(&cmd, 4);                       /* inSensitive: empty */
    buf_u16(&cmd, 0);
    buf_u16(&cmd, 0);
    buf_tpm2b(&cmd, tmpl->data, tmpl->len);
    buf_u16(&cmd, 0);                       /* outsideInfo */
    buf_u32(&cmd, 0);                       /* creationPCR */
    return setup_tpm_cmd(ctx, &cmd, "TPM2_CreatePrimary", out_resp, out_len);
}

static int
evict_control(struct setup_ctx *ctx, uint32_t obj, uint32_t persistent)
{
    const uint8_t *resp;
    uint32_t len;
    struct buf cmd;

    buf_start_cmd(&cmd, TPM2_ST_SESSIONS, TPM2_CC_EvictControl);
    buf_u32(&cmd, TPM2_RH_OWNER);
    buf_u32(&cmd, obj);
    put_pw_session(&cmd);
    buf_u32(&cmd, persistent);
    return setup_tpm_cmd(ctx, &cmd, "TPM2_EvictControl", &resp, &len);
}

static int
flush_context(struct setup_ctx *ctx, uint32_t handle)
{
    const uint8_t *resp;
    uint32_t len;
    struct buf cmd;

    buf_start_cmd(&cmd, TPM2_ST_NO_SESSIONS, TPM2_CC_FlushContext);
    buf_u32(&cmd, handle);
    return setup_tpm_cmd(ctx, &cmd, "TPM2_FlushContext", &resp, &len);
}

/* NV_DefineSpace + NV_Write chunks (+ NV_WriteLock) of data
 * (docs/setup-and-bios.md §4.4). */
static int
nv_store(struct setup_ctx *ctx, uint32_t index, const uint8_t *data,
         size_t len, bool lock)
{
    const uint8_t *resp;
    uint32_t rlen;
    struct buf cmd;
    int r;

    if (len == 0 || len > 0xffff) {
        log_err("cannot store %zu bytes in NV index 0x%x", len, index);
        return -EINVAL;
    }
    buf_start_cmd(&cmd, TPM2_ST_SESSIONS, TPM2_CC_NV_DefineSpace);
    buf_u32(&cmd, TPM2_RH_PLATFORM);
    put_pw_session(&cmd);
    buf_u16(&cmd, 0);                       /* auth */
    buf_u16(&cmd, 14);                      /* TPM2B_NV_PUBLIC size */
    buf_u32(&cmd, index);
    buf_u16(&cmd, TPM2_ALG_SHA256);
    buf_u32(&cmd, NV_ATTRS_CERT);
    buf_u16(&cmd, 0);                       /* authPolicy */
    buf_u16(&cmd, (uint16_t)len);
    r = setup_tpm_cmd(ctx, &cmd, "TPM2_NV_DefineSpace", &resp, &rlen);
    for (size_t off = 0; r == 0 && off < len; off += NV_CHUNK) {
        size_t n = len - off < NV_CHUNK ? len - off : NV_CHUNK;

        buf_start_cmd(&cmd, TPM2_ST_SESSIONS, TPM2_CC_NV_Write);
        buf_u32(&cmd, TPM2_RH_PLATFORM);
        buf_u32(&cmd, index);
        put_pw_session(&cmd);
        buf_tpm2b(&cmd, data + off, n);
        buf_u16(&cmd, (uint16_t)off);
        r = setup_tpm_cmd(ctx, &cmd, "TPM2_NV_Write", &resp, &rlen);
    }
    if (r == 0 && lock) {
        buf_start_cmd(&cmd, TPM2_ST_SESSIONS, TPM2_CC_NV_WriteLock);
        buf_u32(&cmd, TPM2_RH_PLATFORM);
        buf_u32(&cmd, index);
        put_pw_session(&cmd);
        r = setup_tpm_cmd(ctx, &cmd, "TPM2_NV_WriteLock", &resp, &rlen);
    }
    return r;
}

/* Keep a copy as <dir>/ek-<keydesc>.crt (DER, 0640). */
static int
write_cert_file(const char *dir, const char *keydesc, const uint8_t *der,
                size_t len)
{
    char path[SETUP_PATH_MAX];
    int fd, r = 0;

    snprintf(path, sizeof(path), "%s/ek-%s.crt", dir, keydesc);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC,
              0640);
    if (fd < 0) {
        r = errno;
        log_errno(r, "cannot write EK certificate file '%s'", path);
        return -r;
    }
    r = -fd_write_full(fd, der, len);
    if (r) {
        log_errno(r, "cannot write EK certificate file '%s'", path);
    }
    if (close(fd) < 0 && r == 0) {
        r = errno;
        log_errno(r, "cannot write EK certificate file '%s'", path);
    }
    return -r;
}

/* Make the certificate(s) for one EK and store them in NV (step 3). */
static int
ek_certs(struct setup_ctx *ctx, const struct ek_desc *d,
         const struct ek_pub *pub, bool first)
{
    const struct opts *o = ctx->o;
    struct cert_req req = {
        .tpm2 = true,
        .is_ecc = d->type == TPM2_ALG_ECC,
        .modulus = pub->n, .modulus_len = pub->n_len,
        .ecc_x = pub->n, .ecc_y = pub->y, .ecc_len = pub->n_len,
        .curve = d->curve,
    };
    uint8_t *ek = NULL, *plat = NULL;
    size_t ek_len = 0, plat_len = 0;
    int r = 0;

    if (o->create_ek_cert) {
        req.type = CERT_EK;
        req.more = first && o->create_platform_cert;
        r = certs_create(ctx, &req, &ek, &ek_len);
    }
    if (r == 0 && first && o->create_platform_cert) {
        req.type = CERT_PLATFORM;
        req.more = false;
        r = certs_create(ctx, &req, &plat, &plat_len);
    }
    if (r == 0 && ek) {
        r = nv_store(ctx, d->cert_index, ek, ek_len, o->lock_nvram);
        if (r == 0) {
            say("Successfully created NVRAM area 0x%x for %s EK "
                "certificate.", d->cert_index, d->logname);
        }
    }
    if (r == 0 && plat) {
        r = nv_store(ctx, PLATFORM_CERT_INDEX, plat, plat_len,
                     o->lock_nvram);
        if (r == 0) {
            say("Successfully created NVRAM area 0x%x for platform "
                "certificate.", PLATFORM_CERT_INDEX);
        }
    }
    if (r == 0 && ek && o->ek_cert_dir) {
        r = write_cert_file(o->ek_cert_dir, d->keydesc, ek, ek_len);
    }
    free(ek);
    free(plat);
    return r;
}

static int
create_ek(struct setup_ctx *ctx, const struct ek_desc *d, bool first)
{
    const struct opts *o = ctx->o;
    const uint8_t *resp;
    uint32_t len;
    struct buf tmpl = { .len = 0 };
    struct ek_pub pub;
    uint8_t keybuf[2 * 512];
    int r;

    put_ek_template(&tmpl, d, o->allow_signing, o->decryption);
    r = create_primary(ctx, TPM2_RH_ENDORSEMENT, &tmpl, &resp, &len);
    if (r < 0) {
        return r;
    }
    if (parse_create_primary(resp, len, d->type, &pub) < 0) {
        log_err("malformed TPM2_CreatePrimary response (%u bytes) for the "
                "%s EK", len, d->logname);
        return -EBADMSG;
    }
    /* pub points into the response buffer: copy before the next command */
    if (pub.n_len + pub.y_len > sizeof(keybuf)) {
        return -EBADMSG;
    }
    memcpy(keybuf, pub.n, pub.n_len);
    if (pub.y) {
        memcpy(keybuf + pub.n_len, pub.y, pub.y_len);
        pub.y = keybuf + pub.n_len;
    }
    pub.n = keybuf;
    r = evict_control(ctx, pub.handle, d->handle);
    if (r < 0) {
        return r;
    }
    say("Successfully created %s EK with handle 0x%x.", d->logname,
        d->handle);
    if (o->allow_signing) {
        r = nv_store(ctx, d->tmpl_index, tmpl.data, tmpl.len, o->lock_nvram);
        if (r < 0) {
            return r;
        }
        say("Successfully created NVRAM area 0x%x for %s EK template.",
            d->tmpl_index, d->logname);
    }
    if (o->create_ek_cert || (first && o->create_platform_cert)) {
        r = ek_certs(ctx, d, &pub, first);
    }
    return r;
}

static int
create_spk(struct setup_ctx *ctx)
{
    const uint8_t *resp;
    uint32_t len, handle;
    struct buf tmpl = { .len = 0 };
    int r;

    put_spk_template(&tmpl, ctx->o->ecc);
    r = create_primary(ctx, TPM2_RH_OWNER, &tmpl, &resp, &len);
    if (r < 0) {
        return r;
    }
    if (len < 14) {
        return -EBADMSG;
    }
    handle = be32_get(resp + 10);
    r = evict_control(ctx, handle, SPK_HANDLE);
    if (r == 0) {
        r = flush_context(ctx, handle);
    }
    if (r == 0) {
        say("Successfully created storage primary key with handle 0x%x.",
            SPK_HANDLE);
    }
    return r;
}

static int
allocate_pcrs(struct setup_ctx *ctx)
{
    const uint8_t *resp;
    uint32_t len;
    struct buf cmd, sel = { .len = 0 };
    char active[256], all[256];
    int r;

    buf_start_cmd(&cmd, TPM2_ST_NO_SESSIONS, TPM2_CC_GetCapability);
    buf_u32(&cmd, 5);                       /* TPM_CAP_PCRS */
    buf_u32(&cmd, 0);
    buf_u32(&cmd, 64);
    r = setup_tpm_cmd(ctx, &cmd, "TPM2_GetCapability", &resp, &len);
    if (r < 0) {
        return r;
    }
    r = pcrs_build_allocation(resp, len, ctx->pcr_banks, &sel, active,
                              sizeof(active), all, sizeof(all));
    if (r == -ENOENT) {
        log_err("none of the requested PCR banks '%s' is available; the "
                "TPM has %s", ctx->pcr_banks, all);
        return r;
    }
    if (r < 0) {
        log_err("malformed TPM2_GetCapability(PCRS) response");
        return r;
    }
    buf_start_cmd(&cmd, TPM2_ST_SESSIONS, TPM2_CC_PCR_Allocate);
    buf_u32(&cmd, TPM2_RH_PLATFORM);
    put_pw_session(&cmd);
    buf_bytes(&cmd, sel.data, sel.len);
    r = setup_tpm_cmd(ctx, &cmd, "TPM2_PCR_Allocate", &resp, &len);
    if (r == 0) {
        say("Successfully activated PCR banks %s among %s.", active, all);
    }
    return r;
}

int
tpm2_manufacture(struct setup_ctx *ctx)
{
    static const uint8_t shutdown[] = {
        0x80, 0x01, 0, 0, 0, 0x0c, 0, 0, 0x01, 0x45, 0, 0 };
    const struct opts *o = ctx->o;
    const struct ek_desc *ek1 = ctx->rsa_bits == 3072 ? &ek_rsa3072
                                                      : &ek_rsa2048;
    const uint8_t *resp;
    uint32_t len;
    struct buf cmd = { .len = 0 };
    int r = 0;

    if (!o->reconfigure) {
        if (o->create_spk) {
            r = create_spk(ctx);
        }
        if (r == 0 && o->createek) {
            r = create_ek(ctx, ek1, /* first= */ true);
        }
        if (r == 0 && o->createek) {
            r = create_ek(ctx, &ek_p384, /* first= */ false);
        }
    }
    if (r == 0 && strcmp(ctx->pcr_banks, "-") != 0) {
        r = allocate_pcrs(ctx);
    }
    if (r == 0) {
        buf_bytes(&cmd, shutdown, sizeof(shutdown));
        r = setup_tpm_cmd(ctx, &cmd, "TPM2_Shutdown", &resp, &len);
    }
    return r;
}
