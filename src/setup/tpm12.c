// SPDX-License-Identifier: BSD-3-Clause
/*
 * TPM 1.2 manufacturing (docs/setup-and-bios.md §3): physical presence,
 * EK, TakeOwnership with OAEP-encrypted secrets, certificates in NV with
 * the TCG header, and the global NV lock.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>
#include <openssl/sha.h>

#include "certs.h"
#include "log.h"
#include "setup.h"
#include "tpm12_names.h"

#define TPM_EK_CERT_INDEX         0x1000f000u
#define TPM_PLATFORM_CERT_INDEX   0x1000f002u
#define TPM_NV_ATTRS_CERT         0x00020002u   /* OWNERREAD|OWNERWRITE */
#define TPM_NV_INDEX_LOCK         0xffffffffu
#define EK_MODULUS_LEN            256

static int
simple_cmd(struct setup_ctx *ctx, uint32_t ord, const uint8_t *param,
           size_t plen, const char *what)
{
    const uint8_t *resp;
    uint32_t len;
    struct buf cmd;

    buf_start_cmd(&cmd, TPM_TAG_RQU_COMMAND_12, ord);
    buf_bytes(&cmd, param, plen);
    return setup_tpm_cmd(ctx, &cmd, what, &resp, &len);
}

static int
enable_tpm(struct setup_ctx *ctx)
{
    static const uint8_t pp_cmd_enable[] = { 0x00, 0x20 };
    static const uint8_t pp_present[] = { 0x00, 0x08 };
    static const uint8_t deact_false[] = { 0x00 };
    int r;

    r = simple_cmd(ctx, TSC_ORD_PHYSICAL_PRESENCE, pp_cmd_enable, 2,
                   "TSC_PhysicalPresence");
    if (r == 0) {
        r = simple_cmd(ctx, TSC_ORD_PHYSICAL_PRESENCE, pp_present, 2,
                       "TSC_PhysicalPresence");
    }
    if (r == 0) {
        r = simple_cmd(ctx, TPM_ORD_PHYSICAL_ENABLE, NULL, 0,
                       "TPM_PhysicalEnable");
    }
    if (r == 0) {
        r = simple_cmd(ctx, TPM_ORD_PHYSICAL_SET_DEACT, deact_false, 1,
                       "TPM_PhysicalSetDeactivated");
    }
    return r;
}

/* TPM_CreateEndorsementKeyPair exactly as upstream (fixed antiReplay). */
static int
create_ek(struct setup_ctx *ctx, uint8_t modulus[EK_MODULUS_LEN])
{
    static const uint8_t params[] = {
        0x38, 0xf0, 0x30, 0x81, 0x07, 0x2b, 0x0c, 0xa9, 0x10, 0x98,
        0x08, 0xc0, 0x4b, 0x05, 0x11, 0xc9, 0x50, 0x23, 0x52, 0xc4,
        0x00, 0x00, 0x00, 0x01, 0x00, 0x03, 0x00, 0x02,
        0x00, 0x00, 0x00, 0x0c, 0x00, 0x00, 0x08, 0x00,
        0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00,
    };
    const uint8_t *resp;
    uint32_t len;
    struct buf cmd;
    struct reader rd;
    const uint8_t *mod;
    int r;

    buf_start_cmd(&cmd, TPM_TAG_RQU_COMMAND_12, TPM_ORD_CREATE_EK);
    buf_bytes(&cmd, params, sizeof(params));
    r = setup_tpm_cmd(ctx, &cmd, "TPM_CreateEndorsementKeyPair", &resp,
                      &len);
    if (r < 0) {
        return r;
    }
    reader_init(&rd, resp, len);
    rd_bytes(&rd, 34);
    if (rd_u32(&rd) != EK_MODULUS_LEN ||
        !(mod = rd_bytes(&rd, EK_MODULUS_LEN))) {
        log_err("malformed TPM_CreateEndorsementKeyPair response");
        return -EBADMSG;
    }
    memcpy(modulus, mod, EK_MODULUS_LEN);
    say("Successfully created EK.");
    return 0;
}

/* RSA-OAEP(SHA-1, label "TCPA") of a 20-byte secret under the EK. */
static int
oaep_encrypt(const uint8_t modulus[EK_MODULUS_LEN], const uint8_t in[20],
             uint8_t out[EK_MODULUS_LEN])
{
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *pctx = NULL, *ectx = NULL;
    EVP_PKEY *pkey = NULL;
    BIGNUM *n = BN_bin2bn(modulus, EK_MODULUS_LEN, NULL), *e = BN_new();
    char *label = OPENSSL_strdup("TCPA");
    size_t olen = EK_MODULUS_LEN;
    int r = -EINVAL;

    if (!bld || !n || !e || !label || !BN_set_word(e, 65537) ||
        !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) ||
        !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e) ||
        !(params = OSSL_PARAM_BLD_to_param(bld)) ||
        !(pctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL)) ||
        EVP_PKEY_fromdata_init(pctx) != 1 ||
        EVP_PKEY_fromdata(pctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1 ||
        !(ectx = EVP_PKEY_CTX_new(pkey, NULL)) ||
        EVP_PKEY_encrypt_init(ectx) != 1 ||
        EVP_PKEY_CTX_set_rsa_padding(ectx, RSA_PKCS1_OAEP_PADDING) != 1 ||
        EVP_PKEY_CTX_set_rsa_oaep_md(ectx, EVP_sha1()) != 1 ||
        EVP_PKEY_CTX_set_rsa_mgf1_md(ectx, EVP_sha1()) != 1 ||
        EVP_PKEY_CTX_set0_rsa_oaep_label(ectx, label, 4) != 1) {
        goto out;
    }
    label = NULL;               /* owned by ectx now */
    if (EVP_PKEY_encrypt(ectx, out, &olen, in, 20) == 1 &&
        olen == EK_MODULUS_LEN) {
        r = 0;
    }
out:
    OPENSSL_free(label);
    EVP_PKEY_CTX_free(ectx);
    EVP_PKEY_CTX_free(pctx);
    EVP_PKEY_free(pkey);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    BN_free(n);
    BN_free(e);
    return r;
}

/* Owner/SRK secret: SHA-1 of the password, or of 20 zero bytes. */
static void
make_secret(const char *pw, bool well_known, const char *dflt,
            uint8_t out[20])
{
    static const uint8_t zeros[20];

    if (well_known) {
        EVP_Digest(zeros, sizeof(zeros), out, NULL, EVP_sha1(), NULL);
    } else {
        pw = pw ? pw : dflt;
        EVP_Digest(pw, strlen(pw), out, NULL, EVP_sha1(), NULL);
    }
}

/* TPM_OIAP: a session handle and its first nonceEven. */
static int
oiap_start(struct setup_ctx *ctx, uint32_t *out_handle,
           uint8_t out_nonce[20])
{
    const uint8_t *resp;
    uint32_t len;
    struct buf cmd;
    struct reader rd;
    const uint8_t *nonce;
    int r;

    buf_start_cmd(&cmd, TPM_TAG_RQU_COMMAND_12, TPM_ORD_OIAP);
    r = setup_tpm_cmd(ctx, &cmd, "TPM_OIAP", &resp, &len);
    if (r < 0) {
        return r;
    }
    reader_init(&rd, resp, len);
    rd_bytes(&rd, 10);
    *out_handle = rd_u32(&rd);
    nonce = rd_bytes(&rd, 20);
    if (!nonce) {
        log_err("malformed TPM_OIAP response");
        return -EBADMSG;
    }
    memcpy(out_nonce, nonce, 20);
    return 0;
}

static int
take_ownership(struct setup_ctx *ctx, const uint8_t modulus[EK_MODULUS_LEN])
{
    static const uint8_t srk_params[] = {
        0x00, 0x28, 0x00, 0x00, 0x00, 0x11, 0x00, 0x00, 0x00, 0x00, 0x01,
        0x00, 0x00, 0x00, 0x01, 0x00, 0x03, 0x00, 0x01,
        0x00, 0x00, 0x00, 0x0c, 0x00, 0x00, 0x08, 0x00,
        0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00,
    };
    static const uint8_t nonce_odd[20] = { 1, 2, 3, 4, 5, 6 };
    const struct opts *o = ctx->o;
    uint8_t owner[20], srk[20], enc_owner[EK_MODULUS_LEN];
    uint8_t enc_srk[EK_MODULUS_LEN], digest[20], nonce_even[20];
    uint8_t hmsg[20 + 20 + 20 + 1], auth[20];
    unsigned int alen = 0;
    const uint8_t *resp;
    uint32_t len, handle;
    struct buf cmd;
    size_t pstart;
    int r;

    make_secret(o->ownerpass, o->owner_well_known, "ooo", owner);
    make_secret(o->srkpass, o->srk_well_known, "sss", srk);
    if (oaep_encrypt(modulus, owner, enc_owner) < 0 ||
        oaep_encrypt(modulus, srk, enc_srk) < 0) {
        log_err("cannot encrypt the owner and SRK secrets with the EK");
        r = -EINVAL;
        goto out;
    }
    r = oiap_start(ctx, &handle, nonce_even);
    if (r < 0) {
        goto out;
    }
    buf_start_cmd(&cmd, TPM_TAG_RQU_AUTH1_COMMAND_12, TPM_ORD_TAKE_OWNERSHIP);
    pstart = cmd.len;
    buf_u16(&cmd, 0x0005);                  /* TPM_PID_OWNER */
    buf_u32(&cmd, EK_MODULUS_LEN);
    buf_bytes(&cmd, enc_owner, EK_MODULUS_LEN);
    buf_u32(&cmd, EK_MODULUS_LEN);
    buf_bytes(&cmd, enc_srk, EK_MODULUS_LEN);
    buf_bytes(&cmd, srk_params, sizeof(srk_params));
    /* digest = SHA-1(ordinal || parameters) (1.2 authorization) */
    memcpy(cmd.data + pstart - 4, "\0\0\0\x0d", 4);     /* ordinal */
    if (!EVP_Digest(cmd.data + pstart - 4, cmd.len - pstart + 4, digest,
                    NULL, EVP_sha1(), NULL)) {
        r = -EINVAL;
        goto out;
    }
    memcpy(hmsg, digest, 20);
    memcpy(hmsg + 20, nonce_even, 20);
    memcpy(hmsg + 40, nonce_odd, 20);
    hmsg[60] = 0;                           /* continueAuthSession */
    if (!HMAC(EVP_sha1(), owner, 20, hmsg, sizeof(hmsg), auth, &alen)) {
        r = -EINVAL;
        goto out;
    }
    buf_u32(&cmd, handle);
    buf_bytes(&cmd, nonce_odd, 20);
    buf_u8(&cmd, 0);
    buf_bytes(&cmd, auth, 20);
    r = setup_tpm_cmd(ctx, &cmd, "TPM_TakeOwnership", &resp, &len);
    if (r == 0) {
        say("Successfully took ownership of the TPM.");
    }
out:
    explicit_bzero(owner, sizeof(owner));
    explicit_bzero(srk, sizeof(srk));
    return r;
}

/* TPM_NV_DefineSpace without authorization (101 bytes, docs/setup-and-bios.md
 * §3). */
static int
nv_define(struct setup_ctx *ctx, uint32_t index, uint32_t attrs,
          uint32_t size)
{
    static const uint8_t zeros[20];
    const uint8_t *resp;
    uint32_t len;
    struct buf cmd;

    buf_start_cmd(&cmd, TPM_TAG_RQU_COMMAND_12, TPM_ORD_NV_DEFINE_SPACE);
    buf_u16(&cmd, 0x0018);
    buf_u32(&cmd, index);
    for (int i = 0; i < 2; i++) {           /* pcrInfoRead, pcrInfoWrite */
        buf_u16(&cmd, 3);
        buf_bytes(&cmd, zeros, 3);
        buf_u8(&cmd, 0x1f);
        buf_bytes(&cmd, zeros, 20);
    }
    buf_u16(&cmd, 0x0017);
    buf_u32(&cmd, attrs);
    buf_bytes(&cmd, zeros, 3);
    buf_u32(&cmd, size);
    buf_bytes(&cmd, zeros, 20);
    return setup_tpm_cmd(ctx, &cmd, "TPM_NV_DefineSpace", &resp, &len);
}

static int
nv_store(struct setup_ctx *ctx, uint32_t index, const uint8_t *data,
         size_t size)
{
    const uint8_t *resp;
    uint32_t len;
    struct buf cmd;
    int r;

    r = nv_define(ctx, index, TPM_NV_ATTRS_CERT, (uint32_t)size);
    if (r < 0) {
        return r;
    }
    buf_start_cmd(&cmd, TPM_TAG_RQU_COMMAND_12, TPM_ORD_NV_WRITE_VALUE);
    buf_u32(&cmd, index);
    buf_u32(&cmd, 0);
    buf_u32(&cmd, (uint32_t)size);
    buf_bytes(&cmd, data, size);
    return setup_tpm_cmd(ctx, &cmd, "TPM_NV_WriteValue", &resp, &len);
}

static int
make_certs(struct setup_ctx *ctx, const uint8_t modulus[EK_MODULUS_LEN])
{
    struct cert_req req = {
        .tpm2 = false, .modulus = modulus, .modulus_len = EK_MODULUS_LEN,
    };
    uint8_t *ek = NULL, *plat = NULL;
    size_t ek_len = 0, plat_len = 0;
    int r;

    req.type = CERT_EK;
    r = certs_create(ctx, &req, &ek, &ek_len);
    if (r == 0 && ctx->o->create_platform_cert) {
        req.type = CERT_PLATFORM;
        r = certs_create(ctx, &req, &plat, &plat_len);
    }
    if (r == 0) {
        r = nv_store(ctx, TPM_EK_CERT_INDEX, ek, ek_len);
        if (r == 0) {
            say("Successfully created NVRAM area for EK certificate.");
        }
    }
    if (r == 0 && plat) {
        r = nv_store(ctx, TPM_PLATFORM_CERT_INDEX, plat, plat_len);
        if (r == 0) {
            say("Successfully created NVRAM area for Platform "
                "certificate.");
        }
    }
    free(ek);
    free(plat);
    return r;
}

int
tpm12_manufacture(struct setup_ctx *ctx)
{
    const struct opts *o = ctx->o;
    uint8_t modulus[EK_MODULUS_LEN];
    int r;

    r = enable_tpm(ctx);
    if (r == 0 && o->createek) {
        r = create_ek(ctx, modulus);
    }
    if (r == 0 && o->take_ownership) {
        r = take_ownership(ctx, modulus);
    }
    /* the platform certificate needs --create-ek-cert too (Notes) */
    if (r == 0 && o->create_ek_cert) {
        r = make_certs(ctx, modulus);
    }
    if (r == 0 && o->lock_nvram) {
        r = nv_define(ctx, TPM_NV_INDEX_LOCK, 0, 0);
        if (r == 0) {
            say("Successfully locked NVRAM access.");
        }
    }
    return r;
}
