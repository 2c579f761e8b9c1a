// SPDX-License-Identifier: BSD-3-Clause
/*
 * State objects and migration blobs: the 10-byte header, the TLV payload
 * and swtpm's AES-CBC encrypt-then-MAC scheme (docs/state.md §3-5).  Pure
 * functions over buffers; all input is untrusted and every length is
 * checked before use.
 */
#include "stateobj.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "crypto.h"
#include "ctrl_wire.h"
#include "log.h"

#define HDR_VERSION      2
#define HDR_MIN_VERSION  1

#define FLAG_ENCRYPTED          0x01u
#define FLAG_MIG_ENCRYPTED      0x02u
#define FLAG_MIG_DATA           0x04u
#define FLAG_ENCRYPTED_256      0x08u
#define FLAG_MIG_256            0x10u

#define TAG_DATA                1
#define TAG_ENCRYPTED_DATA      2
#define TAG_HMAC                3
#define TAG_MIGRATION_DATA      4
#define TAG_ENC_MIGRATION_DATA  5
#define TAG_IVEC_DATA           6
#define TAG_IVEC_MIGRATION      7

#define TLV_HDR_LEN 6

struct objhdr {
    uint8_t version;
    uint16_t flags;
    const uint8_t *payload;
    uint32_t plen;
};

struct tlv {
    const uint8_t *val;
    uint32_t len;
};

/* Which TLV tags and header flags belong to the file or migration key. */
struct enc_tags {
    uint16_t data;
    uint16_t iv;
    uint16_t flag_256;
};

static const struct enc_tags FILE_TAGS = {
    TAG_ENCRYPTED_DATA, TAG_IVEC_DATA, FLAG_ENCRYPTED_256
};
static const struct enc_tags MIG_TAGS = {
    TAG_ENC_MIGRATION_DATA, TAG_IVEC_MIGRATION, FLAG_MIG_256
};

static bool
has_key(const struct state_key *k)
{
    return k && k->len;
}

static int
fail(uint32_t *out_tpm_rc, uint32_t rc, int err)
{
    *out_tpm_rc = rc;
    return err;
}

/* Validate the header in the order of docs/state.md §3.1. */
static int
hdr_parse(const uint8_t *obj, uint32_t len, struct objhdr *out,
          uint32_t *out_tpm_rc)
{
    if (len < STATEOBJ_HDR_LEN) {
        return fail(out_tpm_rc, TPM_BAD_PARAMETER, -EBADMSG);
    }
    if (be32_get(obj + 6) != len || len > STATEOBJ_MAX_LEN) {
        return fail(out_tpm_rc, TPM_BAD_PARAMETER, -EBADMSG);
    }
    if (obj[1] > HDR_VERSION) {
        return fail(out_tpm_rc, TPM_BAD_VERSION, -EPROTO);
    }
    if (be16_get(obj + 2) != STATEOBJ_HDR_LEN) {
        return fail(out_tpm_rc, TPM_BAD_DATASIZE, -EBADMSG);
    }
    /* 2 = TLV, 1 = legacy untagged; nothing else is defined. */
    if (obj[0] != 1 && obj[0] != 2) {
        return fail(out_tpm_rc, TPM_BAD_VERSION, -EPROTO);
    }
    out->version = obj[0];
    out->flags = be16_get(obj + 4);
    out->payload = obj + STATEOBJ_HDR_LEN;
    out->plen = len - STATEOBJ_HDR_LEN;
    return 0;
}

static void
hdr_put(uint8_t *p, uint16_t flags, uint32_t totlen)
{
    p[0] = HDR_VERSION;
    p[1] = HDR_MIN_VERSION;
    be16_put(p + 2, STATEOBJ_HDR_LEN);
    be16_put(p + 4, flags);
    be32_put(p + 6, totlen);
}

/*
 * Find the first TLV with tag.  Unknown tags are skipped; a TLV whose
 * length runs past the end (or a truncated TLV header) ends the search.
 */
static bool
tlv_find(const uint8_t *buf, uint32_t len, uint16_t tag, struct tlv *out)
{
    uint32_t off = 0, l;

    while (len - off >= TLV_HDR_LEN) {
        l = be32_get(buf + off + 2);
        if (l > len - off - TLV_HDR_LEN) {
            return false;
        }
        if (be16_get(buf + off) == tag) {
            out->val = buf + off + TLV_HDR_LEN;
            out->len = l;
            return true;
        }
        off += TLV_HDR_LEN + l;
    }
    return false;
}

static uint8_t *
tlv_put_hdr(uint8_t *p, uint16_t tag, uint32_t len)
{
    be16_put(p, tag);
    be32_put(p + 2, len);
    return p + TLV_HDR_LEN;
}

/* swtpm's padding: p = keylen - len % keylen, so 1..keylen bytes. */
static uint32_t
pad_len(uint32_t len, size_t keylen)
{
    return (uint32_t)(keylen - len % keylen);
}

/* Size of the [data, HMAC, IV] TLVs that enc_tlvs() writes. */
static uint32_t
enc_tlvs_len(uint32_t len, size_t keylen)
{
    return 3 * TLV_HDR_LEN + len + pad_len(len, keylen) +
           CRYPTO_SHA256_LEN + (uint32_t)keylen;
}

/*
 * Encrypt plain (len <= STATEOBJ_MAX_LEN) with k and write the TLVs
 * [t->data: ciphertext, HMAC, t->iv: IV] to out, which has room for
 * enc_tlvs_len() bytes (docs/state.md §4.2).  The IV TLV is as long as the key;
 * only its first 16 bytes feed CBC, all of it is covered by the HMAC.
 */
static int
enc_tlvs(const struct state_key *k, const struct enc_tags *t,
         const uint8_t *plain, uint32_t len, uint8_t *out)
{
    uint32_t pad = pad_len(len, k->len), ctlen = len + pad;
    uint8_t *ct, *mac, *iv, *buf;
    int r;

    buf = malloc(ctlen);
    if (!buf) {
        return -ENOMEM;
    }
    memcpy(buf, plain, len);
    memset(buf + len, (int)pad, pad);

    ct = tlv_put_hdr(out, t->data, ctlen);
    mac = tlv_put_hdr(ct + ctlen, TAG_HMAC, CRYPTO_SHA256_LEN);
    iv = tlv_put_hdr(mac + CRYPTO_SHA256_LEN, t->iv, (uint32_t)k->len);

    r = crypto_random(iv, k->len);
    if (r < 0) {
        log_debug("cannot get random bytes for the IV");
        goto out;
    }
    r = crypto_aes_cbc(k->data, k->len, iv, /* encrypt= */ true,
                       buf, ctlen, ct);
    if (r < 0) {
        goto out;
    }
    r = crypto_hmac_sha256(k->data, k->len, ct, ctlen, iv, k->len, mac);
out:
    OPENSSL_cleanse(buf, ctlen);
    free(buf);
    return r;
}

/*
 * Strip and check swtpm's padding from a decrypted buffer.  Returns the
 * plaintext length or -EBADMSG.
 */
static int
unpad(const uint8_t *buf, uint32_t len, size_t keylen, uint32_t *out_len)
{
    uint8_t p;
    uint32_t i;

    if (len == 0) {
        return -EBADMSG;
    }
    p = buf[len - 1];
    if (p == 0 || p > keylen || p > len) {
        return -EBADMSG;
    }
    for (i = len - p; i < len; i++) {
        if (buf[i] != p) {
            return -EBADMSG;
        }
    }
    *out_len = len - p;
    return 0;
}

/*
 * CBC-decrypt ct (length already checked) and strip the padding into a
 * malloc'd buffer.  Returns 0 or a negative errno with *out_tpm_rc.
 */
static int
cbc_decrypt(const struct state_key *k, const uint8_t *iv, const uint8_t *ct,
            uint32_t ctlen, uint8_t **out, uint32_t *out_len,
            uint32_t *out_tpm_rc)
{
    uint8_t *buf;
    uint32_t plen = 0;
    int r;

    if (ctlen < k->len || ctlen % CRYPTO_AES_BLOCK != 0) {
        log_debug("ciphertext length %u is not valid", ctlen);
        return fail(out_tpm_rc, TPM_DECRYPT_ERROR, -EBADMSG);
    }
    buf = malloc(ctlen);
    if (!buf) {
        return fail(out_tpm_rc, TPM_FAIL, -ENOMEM);
    }
    r = crypto_aes_cbc(k->data, k->len, iv, /* encrypt= */ false,
                       ct, ctlen, buf);
    if (r < 0) {
        *out_tpm_rc = TPM_FAIL;
        goto fail;
    }
    r = unpad(buf, ctlen, k->len, &plen);
    if (r < 0) {
        log_debug("bad padding after decryption");
        *out_tpm_rc = TPM_DECRYPT_ERROR;
        goto fail;
    }
    *out = buf;
    *out_len = plen;
    return 0;
fail:
    OPENSSL_cleanse(buf, ctlen);
    free(buf);
    return r;
}

/* Decrypt the TLVs [t->data, HMAC, t->iv] in p (docs/state.md §4.3). */
static int
dec_tlvs(const struct state_key *k, const struct enc_tags *t,
         const uint8_t *p, uint32_t plen, uint8_t **out, uint32_t *out_len,
         uint32_t *out_tpm_rc)
{
    static const uint8_t zero_iv[CRYPTO_AES_BLOCK];
    uint8_t mac[CRYPTO_SHA256_LEN];
    struct tlv data, hmac, iv = { zero_iv, 0 };
    bool have_iv;
    int r;

    if (!tlv_find(p, plen, TAG_HMAC, &hmac) ||
        !tlv_find(p, plen, t->data, &data)) {
        log_debug("encrypted data or its HMAC is missing");
        return fail(out_tpm_rc, TPM_FAIL, -EBADMSG);
    }
    have_iv = tlv_find(p, plen, t->iv, &iv);
    if (have_iv && iv.len < CRYPTO_AES_BLOCK) {
        log_debug("IV is %u bytes, need at least 16", iv.len);
        return fail(out_tpm_rc, TPM_FAIL, -EBADMSG);
    }
    if (hmac.len < CRYPTO_SHA256_LEN) {
        log_debug("HMAC is %u bytes, need 32", hmac.len);
        return fail(out_tpm_rc, TPM_FAIL, -EBADMSG);
    }
    /* Without an IV TLV the HMAC covers the ciphertext only. */
    r = crypto_hmac_sha256(k->data, k->len, data.val, data.len,
                           iv.val, iv.len, mac);
    if (r < 0) {
        return fail(out_tpm_rc, TPM_FAIL, r);
    }
    if (CRYPTO_memcmp(mac, hmac.val, CRYPTO_SHA256_LEN) != 0) {
        log_debug("HMAC mismatch: wrong key or corrupted data");
        return fail(out_tpm_rc, TPM_DECRYPT_ERROR, -EBADMSG);
    }
    return cbc_decrypt(k, iv.val, data.val, data.len, out, out_len,
                       out_tpm_rc);
}

/*
 * Legacy version-1 encryption (docs/state.md §4.6): zero IV, plaintext is
 * SHA-256(blob) || blob, no HMAC.
 */
static int
dec_legacy(const struct state_key *k, const uint8_t *p, uint32_t plen,
           uint8_t **out, uint32_t *out_len, uint32_t *out_tpm_rc)
{
    static const uint8_t zero_iv[CRYPTO_AES_BLOCK];
    uint8_t md[CRYPTO_SHA256_LEN];
    uint8_t *buf = NULL;
    uint32_t len = 0;
    int r;

    r = cbc_decrypt(k, zero_iv, p, plen, &buf, &len, out_tpm_rc);
    if (r < 0) {
        return r;
    }
    r = -EBADMSG;
    *out_tpm_rc = TPM_FAIL;
    if (len < CRYPTO_SHA256_LEN ||
        crypto_sha256(buf + CRYPTO_SHA256_LEN, len - CRYPTO_SHA256_LEN,
                      md) < 0 ||
        CRYPTO_memcmp(md, buf, CRYPTO_SHA256_LEN) != 0) {
        log_debug("legacy object: hash mismatch after decryption");
        goto out;
    }
    len -= CRYPTO_SHA256_LEN;
    memmove(buf, buf + CRYPTO_SHA256_LEN, len);
    *out = buf;
    *out_len = len;
    buf = NULL;
    r = 0;
out:
    if (buf) {
        OPENSSL_cleanse(buf, len);
        free(buf);
    }
    return r;
}

/* A malloc'd copy (at least 1 byte allocated so that 0 is not NULL). */
static int
dup_out(const uint8_t *p, uint32_t len, uint8_t **out, uint32_t *out_len,
        uint32_t *out_tpm_rc)
{
    uint8_t *b = malloc(len ? len : 1);

    if (!b) {
        return fail(out_tpm_rc, TPM_FAIL, -ENOMEM);
    }
    if (len) {
        memcpy(b, p, len);
    }
    *out = b;
    *out_len = len;
    return 0;
}

/*
 * Turn a payload into plaintext: decrypt with k when k is given (after
 * checking the key size flag), else take tag plain_tag (version 2) or the
 * whole payload (version 1).
 */
static int
payload_open(uint8_t version, uint16_t flags, const uint8_t *p,
             uint32_t plen, const struct state_key *k,
             const struct enc_tags *t, uint16_t plain_tag,
             uint8_t **out, uint32_t *out_len, uint32_t *out_tpm_rc)
{
    struct tlv v;

    if (k) {
        if (((flags & t->flag_256) ? 32u : 16u) != k->len) {
            log_debug("object was encrypted with a key of another size");
            return fail(out_tpm_rc, TPM_BAD_KEY_PROPERTY, -EKEYREJECTED);
        }
        if (version == 1) {
            return dec_legacy(k, p, plen, out, out_len, out_tpm_rc);
        }
        return dec_tlvs(k, t, p, plen, out, out_len, out_tpm_rc);
    }
    if (version == 1) {
        return dup_out(p, plen, out, out_len, out_tpm_rc);
    }
    if (!tlv_find(p, plen, plain_tag, &v)) {
        log_debug("no unencrypted data (TLV %u) found", plain_tag);
        return fail(out_tpm_rc, TPM_FAIL, -EBADMSG);
    }
    return dup_out(v.val, v.len, out, out_len, out_tpm_rc);
}

int
stateobj_encode(const uint8_t *raw, uint32_t len,
                const struct state_key *filekey,
                uint8_t **out, uint32_t *out_len)
{
    uint32_t total;
    uint16_t flags = 0;
    uint8_t *obj;
    int r;

    if (len > STATEOBJ_MAX_LEN - 1024) {
        return -EFBIG;
    }
    if (has_key(filekey)) {
        total = STATEOBJ_HDR_LEN + enc_tlvs_len(len, filekey->len);
        flags = FLAG_ENCRYPTED | (filekey->len == 32 ? FLAG_ENCRYPTED_256 : 0);
    } else {
        total = STATEOBJ_HDR_LEN + TLV_HDR_LEN + len;
    }
    obj = malloc(total);
    if (!obj) {
        return -ENOMEM;
    }
    hdr_put(obj, flags, total);
    if (has_key(filekey)) {
        r = enc_tlvs(filekey, &FILE_TAGS, raw, len, obj + STATEOBJ_HDR_LEN);
        if (r < 0) {
            free(obj);
            return r;
        }
    } else {
        memcpy(tlv_put_hdr(obj + STATEOBJ_HDR_LEN, TAG_DATA, len), raw, len);
    }
    *out = obj;
    *out_len = total;
    return 0;
}

/* Callers: state files on disk, which anyone with write access may alter. */
int
stateobj_decode(const uint8_t *obj, uint32_t len,
                const struct state_key *filekey,
                uint8_t **out_raw, uint32_t *out_len,
                uint32_t *out_tpm_rc)
{
    struct objhdr h;
    int r;

    r = hdr_parse(obj, len, &h, out_tpm_rc);
    if (r < 0) {
        return r;
    }
    /* With a file key every object is taken as encrypted (docs/state.md
     * §3.3). */
    return payload_open(h.version, h.flags, h.payload, h.plen,
                        has_key(filekey) ? filekey : NULL, &FILE_TAGS,
                        TAG_DATA, out_raw, out_len, out_tpm_rc);
}

/* Inner stream of a migration blob: [1] or [2,3,6]; *out malloc'd. */
static int
inner_build(const uint8_t *raw, uint32_t len, const struct state_key *fk,
            uint8_t **out, uint32_t *out_len)
{
    uint32_t total;
    uint8_t *buf;
    int r;

    total = fk ? enc_tlvs_len(len, fk->len) : TLV_HDR_LEN + len;
    buf = malloc(total);
    if (!buf) {
        return -ENOMEM;
    }
    if (fk) {
        r = enc_tlvs(fk, &FILE_TAGS, raw, len, buf);
        if (r < 0) {
            free(buf);
            return r;
        }
    } else {
        memcpy(tlv_put_hdr(buf, TAG_DATA, len), raw, len);
    }
    *out = buf;
    *out_len = total;
    return 0;
}

int
migblob_build(const uint8_t *raw, uint32_t len,
              const struct state_key *filekey,
              const struct state_key *migkey,
              uint8_t **out, uint32_t *out_len, bool *out_encrypted)
{
    const struct state_key *fk = has_key(filekey) ? filekey : NULL;
    const struct state_key *mk = has_key(migkey) ? migkey : NULL;
    uint16_t flags = FLAG_MIG_DATA;
    uint8_t *inner = NULL, *blob = NULL;
    uint32_t ilen = 0, total;
    int r;

    if (len > STATEOBJ_MAX_LEN - 1024) {
        return -EFBIG;
    }
    r = inner_build(raw, len, fk, &inner, &ilen);
    if (r < 0) {
        return r;
    }
    if (fk) {
        flags |= FLAG_ENCRYPTED | (fk->len == 32 ? FLAG_ENCRYPTED_256 : 0);
    }
    if (mk) {
        flags |= FLAG_MIG_ENCRYPTED | (mk->len == 32 ? FLAG_MIG_256 : 0);
        total = STATEOBJ_HDR_LEN + enc_tlvs_len(ilen, mk->len);
    } else {
        total = STATEOBJ_HDR_LEN + TLV_HDR_LEN + ilen;
    }
    blob = malloc(total);
    if (!blob) {
        r = -ENOMEM;
        goto out;
    }
    hdr_put(blob, flags, total);
    if (mk) {
        r = enc_tlvs(mk, &MIG_TAGS, inner, ilen, blob + STATEOBJ_HDR_LEN);
        if (r < 0) {
            goto out;
        }
    } else {
        memcpy(tlv_put_hdr(blob + STATEOBJ_HDR_LEN, TAG_MIGRATION_DATA, ilen),
               inner, ilen);
    }
    *out = blob;
    *out_len = total;
    *out_encrypted = fk != NULL;
    blob = NULL;
out:
    free(blob);
    OPENSSL_cleanse(inner, ilen);
    free(inner);
    return r;
}

/* Callers: any client of the control channel (SET_STATEBLOB). */
int
migblob_parse(const uint8_t *blob, uint32_t len, bool req_encrypted,
              const struct state_key *filekey,
              const struct state_key *migkey,
              uint8_t **out_raw, uint32_t *out_len,
              uint32_t *out_tpm_rc)
{
    const uint8_t *inner;
    uint8_t *mig = NULL;
    uint32_t ilen, miglen = 0;
    struct objhdr h;
    struct tlv v;
    int r;

    if (len == 0) {
        goto empty;
    }
    r = hdr_parse(blob, len, &h, out_tpm_rc);
    if (r < 0) {
        return r;
    }
    if (h.plen == 0) {
        goto empty;
    }
    if (h.flags & FLAG_MIG_ENCRYPTED) {
        if (!has_key(migkey)) {
            log_debug("blob is encrypted but no migration key is set");
            return fail(out_tpm_rc, TPM_KEYNOTFOUND, -ENOKEY);
        }
        r = payload_open(h.version, h.flags, h.payload, h.plen, migkey,
                         &MIG_TAGS, 0, &mig, &miglen, out_tpm_rc);
        if (r < 0) {
            return r;
        }
        inner = mig;
        ilen = miglen;
    } else if (h.version == 1) {
        inner = h.payload;
        ilen = h.plen;
    } else {
        if (!tlv_find(h.payload, h.plen, TAG_MIGRATION_DATA, &v)) {
            log_debug("blob has no migration data TLV");
            return fail(out_tpm_rc, TPM_FAIL, -EBADMSG);
        }
        inner = v.val;
        ilen = v.len;
    }
    if ((req_encrypted || (h.flags & FLAG_ENCRYPTED)) && !has_key(filekey)) {
        log_debug("state is encrypted but no state key is set");
        r = fail(out_tpm_rc, TPM_KEYNOTFOUND, -ENOKEY);
        goto out;
    }
    r = payload_open(h.version, h.flags, inner, ilen,
                     (req_encrypted || (h.flags & FLAG_ENCRYPTED)) ?
                     filekey : NULL, &FILE_TAGS, TAG_DATA,
                     out_raw, out_len, out_tpm_rc);
out:
    if (mig) {
        OPENSSL_cleanse(mig, miglen);
        free(mig);
    }
    return r;
empty:
    *out_raw = NULL;
    *out_len = 0;
    return 0;
}
