// SPDX-License-Identifier: BSD-3-Clause
/*
 * Unit tests for stateobj.c: header and TLV decoding, AES-CBC
 * encrypt-then-MAC, legacy objects, migration blobs, and known-answer
 * vectors made by Debian's swtpm 0.7.1 (tests/unit/vectors/README).
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "crypto.h"
#include "ctrl_wire.h"
#include "stateobj.h"

#define VEC_DIR "tests/unit/vectors/"
#define KAT_RAW_LEN 1299

/* RAND_bytes is wrapped (test_stateobj.ldflags) to simulate RNG failure. */
int __wrap_RAND_bytes(unsigned char *buf, int num);
int __real_RAND_bytes(unsigned char *buf, int num);
static int rand_fail;

int
__wrap_RAND_bytes(unsigned char *buf, int num)
{
    if (rand_fail) {
        return 0;
    }
    return __real_RAND_bytes(buf, num);
}

static const struct state_key KEY128 = {
    { 0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77,
      0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff }, 16
};
static const struct state_key KEY256 = {
    { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19,
      20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31 }, 32
};

static uint8_t *
read_vec(const char *name, uint32_t *out_len)
{
    char path[256];
    uint8_t *buf = malloc(65536);
    ssize_t n;
    int fd;

    snprintf(path, sizeof(path), VEC_DIR "%s", name);
    fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    n = read(fd, buf, 65536);
    assert_true(n > 0);
    close(fd);
    *out_len = (uint32_t)n;
    return buf;
}

static void
hdr(uint8_t *p, uint8_t ver, uint8_t minver, uint16_t hsize, uint16_t flags,
    uint32_t totlen)
{
    p[0] = ver;
    p[1] = minver;
    be16_put(p + 2, hsize);
    be16_put(p + 4, flags);
    be32_put(p + 6, totlen);
}

static size_t
tlv(uint8_t *p, uint16_t tag, const void *val, uint32_t len)
{
    be16_put(p, tag);
    be32_put(p + 2, len);
    if (len) {
        memcpy(p + 6, val, len);
    }
    return 6 + (size_t)len;
}

/*
 * Hand-made encrypted TLVs: padded (already padded by the caller) is
 * CBC-encrypted with an IV of ivlen bytes (0: no IV TLV, zero IV) and an
 * HMAC TLV of hmaclen bytes.  Returns the bytes written at p.
 */
static size_t
enc_tlvs(uint8_t *p, const struct state_key *k, const uint8_t *padded,
         size_t plen, size_t ivlen, size_t hmaclen, uint16_t dtag,
         uint16_t ivtag)
{
    uint8_t iv[64] = { 0 }, ct[4096], mac[64] = { 0 };
    size_t off = 0, i;

    for (i = 0; i < ivlen; i++) {
        iv[i] = (uint8_t)(0xa0 + i);
    }
    assert_int_equal(crypto_aes_cbc(k->data, k->len, iv, true, padded, plen,
                                    ct), 0);
    assert_int_equal(crypto_hmac_sha256(k->data, k->len, ct, plen, iv, ivlen,
                                        mac), 0);
    off += tlv(p + off, dtag, ct, (uint32_t)plen);
    off += tlv(p + off, 3, mac, (uint32_t)hmaclen);
    if (ivlen) {
        off += tlv(p + off, ivtag, iv, (uint32_t)ivlen);
    }
    return off;
}

/* A whole file object around enc_tlvs(); returns its length. */
static uint32_t
enc_obj(uint8_t *obj, const struct state_key *k, const uint8_t *padded,
        size_t plen, size_t ivlen, size_t hmaclen)
{
    size_t n = 10 + enc_tlvs(obj + 10, k, padded, plen, ivlen, hmaclen, 2, 6);

    hdr(obj, 2, 1, 10, k->len == 32 ? 0x09 : 0x01, (uint32_t)n);
    return (uint32_t)n;
}

static uint32_t
decode_rc(const uint8_t *obj, uint32_t len, const struct state_key *k)
{
    uint8_t *raw = NULL;
    uint32_t rlen = 0, rc = 0;
    int r;

    r = stateobj_decode(obj, len, k, &raw, &rlen, &rc);
    if (r == 0) {
        free(raw);
        return TPM_SUCCESS;
    }
    assert_true(r < 0);
    assert_null(raw);
    return rc;
}

static void
roundtrip(const struct state_key *k, uint32_t len)
{
    uint8_t *in = malloc(len ? len : 1), *obj = NULL, *raw = NULL;
    uint32_t olen = 0, rlen = 0, rc = 0, i;

    for (i = 0; i < len; i++) {
        in[i] = (uint8_t)(i * 7 + 3);
    }
    assert_int_equal(stateobj_encode(in, len, k, &obj, &olen), 0);
    assert_int_equal(be32_get(obj + 6), olen);
    assert_int_equal(stateobj_decode(obj, olen, k, &raw, &rlen, &rc), 0);
    assert_int_equal(rlen, len);
    assert_memory_equal(raw, in, len);
    free(in);
    free(obj);
    free(raw);
}

static void
test_stateobj_encode_plain_layout(void **state)
{
    static const uint8_t want[] = {
        2, 1, 0, 10, 0, 0, 0, 0, 0, 19, 0, 1, 0, 0, 0, 3, 'a', 'b', 'c'
    };
    uint8_t *obj = NULL;
    uint32_t olen = 0;

    assert_int_equal(stateobj_encode((const uint8_t *)"abc", 3, NULL, &obj,
                                     &olen), 0);
    assert_int_equal(olen, sizeof(want));
    assert_memory_equal(obj, want, sizeof(want));
    free(obj);
}

static void
check_enc_layout(const struct state_key *k, uint32_t len, uint16_t flags,
                 uint32_t ctlen)
{
    uint8_t in[64] = { 0 }, *obj = NULL;
    uint32_t olen = 0;

    assert_int_equal(stateobj_encode(in, len, k, &obj, &olen), 0);
    assert_int_equal(olen, 10 + 6 + ctlen + 6 + 32 + 6 + k->len);
    assert_int_equal(be16_get(obj + 4), flags);
    assert_int_equal(be16_get(obj + 10), 2);
    assert_int_equal(be32_get(obj + 12), ctlen);
    assert_int_equal(be16_get(obj + 16 + ctlen), 3);
    assert_int_equal(be32_get(obj + 18 + ctlen), 32);
    assert_int_equal(be16_get(obj + 54 + ctlen), 6);
    assert_int_equal(be32_get(obj + 56 + ctlen), k->len);
    free(obj);
}

static void
test_stateobj_encode_aes128_layout(void **state)
{
    check_enc_layout(&KEY128, 0, 0x0001, 16);
    check_enc_layout(&KEY128, 15, 0x0001, 16);
    check_enc_layout(&KEY128, 16, 0x0001, 32);
}

/* swtpm pads AES-256 to a multiple of 32, with 1..32 pad bytes. */
static void
test_stateobj_encode_aes256_layout(void **state)
{
    check_enc_layout(&KEY256, 0, 0x0009, 32);
    check_enc_layout(&KEY256, 17, 0x0009, 32);
    check_enc_layout(&KEY256, 32, 0x0009, 64);
}

static void
test_stateobj_encode_roundtrip(void **state)
{
    static const uint32_t lens[] = { 0, 1, 15, 16, 17, 31, 32, 33, 1299 };
    size_t i;

    for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
        roundtrip(NULL, lens[i]);
        roundtrip(&KEY128, lens[i]);
        roundtrip(&KEY256, lens[i]);
    }
}

static void
test_stateobj_encode_fresh_iv(void **state)
{
    uint8_t in[20] = { 0 }, *a = NULL, *b = NULL;
    uint32_t alen = 0, blen = 0;

    assert_int_equal(stateobj_encode(in, 20, &KEY128, &a, &alen), 0);
    assert_int_equal(stateobj_encode(in, 20, &KEY128, &b, &blen), 0);
    assert_int_equal(alen, blen);
    assert_memory_not_equal(a + alen - 16, b + blen - 16, 16);
    assert_memory_not_equal(a + 16, b + 16, 32);
    free(a);
    free(b);
}

static void
test_stateobj_encode_rng_failure(void **state)
{
    uint8_t in[20] = { 0 }, *obj = NULL;
    uint32_t olen = 0;

    rand_fail = 1;
    assert_int_equal(stateobj_encode(in, 20, &KEY256, &obj, &olen), -EIO);
    rand_fail = 0;
    assert_null(obj);
}

static void
test_stateobj_encode_too_large(void **state)
{
    uint8_t in[1] = { 0 }, *obj = NULL;
    uint32_t olen = 0;

    assert_int_equal(stateobj_encode(in, STATEOBJ_MAX_LEN, NULL, &obj, &olen),
                     -EFBIG);
    assert_int_equal(stateobj_encode(in, UINT32_MAX, &KEY128, &obj, &olen),
                     -EFBIG);
    assert_null(obj);
}

static void
test_stateobj_decode_short(void **state)
{
    uint8_t obj[10];

    hdr(obj, 2, 1, 10, 0, 9);
    assert_int_equal(decode_rc(obj, 0, NULL), TPM_BAD_PARAMETER);
    assert_int_equal(decode_rc(obj, 9, NULL), TPM_BAD_PARAMETER);
}

/* Buffer longer (or shorter) than totlen. */
static void
test_stateobj_decode_totlen_mismatch(void **state)
{
    uint8_t obj[32] = { 0 };

    hdr(obj, 2, 1, 10, 0, 16);
    tlv(obj + 10, 1, NULL, 0);
    assert_int_equal(decode_rc(obj, 16, NULL), TPM_SUCCESS);
    assert_int_equal(decode_rc(obj, 17, NULL), TPM_BAD_PARAMETER);
    assert_int_equal(decode_rc(obj, 15, NULL), TPM_BAD_PARAMETER);
}

/* docs/state.md §3.1: length, totlen, min_version, hdrsize, in that order. */
static void
test_stateobj_decode_header_order(void **state)
{
    uint8_t obj[16] = { 0 };

    hdr(obj, 2, 3, 12, 0, 17);
    assert_int_equal(decode_rc(obj, 16, NULL), TPM_BAD_PARAMETER);
    hdr(obj, 2, 3, 12, 0, 16);
    assert_int_equal(decode_rc(obj, 16, NULL), TPM_BAD_VERSION);
    hdr(obj, 2, 2, 12, 0, 16);
    assert_int_equal(decode_rc(obj, 16, NULL), TPM_BAD_DATASIZE);
    hdr(obj, 2, 2, 10, 0, 16);
    tlv(obj + 10, 1, NULL, 0);
    assert_int_equal(decode_rc(obj, 16, NULL), TPM_SUCCESS);
}

static void
test_stateobj_decode_bad_version(void **state)
{
    uint8_t obj[16] = { 0 };

    hdr(obj, 3, 1, 10, 0, 16);
    tlv(obj + 10, 1, NULL, 0);
    assert_int_equal(decode_rc(obj, 16, NULL), TPM_BAD_VERSION);
    hdr(obj, 0, 0, 10, 0, 16);
    assert_int_equal(decode_rc(obj, 16, NULL), TPM_BAD_VERSION);
}

static void
test_stateobj_decode_max_size(void **state)
{
    uint32_t len = STATEOBJ_MAX_LEN, rlen = 0, rc = 0;
    uint8_t *obj = calloc(1, (size_t)len + 1), *raw = NULL;

    hdr(obj, 2, 1, 10, 0, len);
    be16_put(obj + 10, 1);
    be32_put(obj + 12, len - 16);
    assert_int_equal(stateobj_decode(obj, len, NULL, &raw, &rlen, &rc), 0);
    assert_int_equal(rlen, len - 16);
    free(raw);
    hdr(obj, 2, 1, 10, 0, len + 1);
    assert_int_equal(decode_rc(obj, len + 1, NULL), TPM_BAD_PARAMETER);
    free(obj);
}

/* Unknown tags are skipped; truncated or overlong TLVs end the search. */
static void
test_stateobj_decode_tlv_search(void **state)
{
    uint8_t obj[64] = { 0 }, *raw = NULL;
    uint32_t n = 10, rlen = 0, rc = 0;

    n += (uint32_t)tlv(obj + n, 99, "zz", 2);
    n += (uint32_t)tlv(obj + n, 1, "hi", 2);
    hdr(obj, 2, 1, 10, 0, n);
    assert_int_equal(stateobj_decode(obj, n, NULL, &raw, &rlen, &rc), 0);
    assert_int_equal(rlen, 2);
    assert_memory_equal(raw, "hi", 2);
    free(raw);

    /* Length of the DATA TLV runs one byte past the end. */
    be32_put(obj + 20, 3);
    assert_int_equal(decode_rc(obj, n, NULL), TPM_FAIL);
    /* The skipped TLV claims 4 GiB: the search must stop there. */
    be32_put(obj + 20, 2);
    be32_put(obj + 12, 0xffffffffu);
    assert_int_equal(decode_rc(obj, n, NULL), TPM_FAIL);
}

static void
test_stateobj_decode_tlv_truncated(void **state)
{
    uint8_t obj[32] = { 0 };

    hdr(obj, 2, 1, 10, 0, 13);
    obj[10] = 0;
    obj[11] = 1;
    assert_int_equal(decode_rc(obj, 13, NULL), TPM_FAIL);
    hdr(obj, 2, 1, 10, 0, 10);
    assert_int_equal(decode_rc(obj, 10, NULL), TPM_FAIL);
}

static void
test_stateobj_decode_tampered(void **state)
{
    uint8_t in[100] = { 1 }, *obj = NULL;
    uint32_t olen = 0;

    assert_int_equal(stateobj_encode(in, 100, &KEY256, &obj, &olen), 0);
    obj[olen - 40] ^= 1;        /* HMAC */
    assert_int_equal(decode_rc(obj, olen, &KEY256), TPM_DECRYPT_ERROR);
    obj[olen - 40] ^= 1;
    obj[20] ^= 0x80;            /* ciphertext */
    assert_int_equal(decode_rc(obj, olen, &KEY256), TPM_DECRYPT_ERROR);
    obj[20] ^= 0x80;
    obj[olen - 1] ^= 1;         /* last IV byte: unused by CBC, MACed */
    assert_int_equal(decode_rc(obj, olen, &KEY256), TPM_DECRYPT_ERROR);
    obj[olen - 1] ^= 1;
    assert_int_equal(decode_rc(obj, olen, &KEY256), TPM_SUCCESS);
    free(obj);
}

static void
test_stateobj_decode_wrong_key(void **state)
{
    struct state_key other = KEY128;
    uint8_t in[40] = { 1 }, *obj = NULL;
    uint32_t olen = 0;

    other.data[0] ^= 1;
    assert_int_equal(stateobj_encode(in, 40, &KEY128, &obj, &olen), 0);
    assert_int_equal(decode_rc(obj, olen, &KEY256), TPM_BAD_KEY_PROPERTY);
    assert_int_equal(decode_rc(obj, olen, &other), TPM_DECRYPT_ERROR);
    free(obj);
    assert_int_equal(stateobj_encode(in, 40, &KEY256, &obj, &olen), 0);
    assert_int_equal(decode_rc(obj, olen, &KEY128), TPM_BAD_KEY_PROPERTY);
    free(obj);
}

/* A key configured means "encrypted", and no key means "tag 1" (docs/state.md
 * §3.3). */
static void
test_stateobj_decode_key_mismatch(void **state)
{
    uint8_t in[40] = { 1 }, *obj = NULL;
    uint32_t olen = 0;

    assert_int_equal(stateobj_encode(in, 40, NULL, &obj, &olen), 0);
    assert_int_equal(decode_rc(obj, olen, &KEY128), TPM_FAIL);
    free(obj);
    assert_int_equal(stateobj_encode(in, 40, &KEY128, &obj, &olen), 0);
    assert_int_equal(decode_rc(obj, olen, NULL), TPM_FAIL);
    free(obj);
}

static void
test_stateobj_decode_iv_variants(void **state)
{
    uint8_t padded[32], obj[256], *raw = NULL;
    uint32_t n, rlen = 0, rc = 0;

    memset(padded, 7, 16);
    memset(padded + 16, 16, 16);
    /* No IV TLV: zero IV, HMAC over the ciphertext only. */
    n = enc_obj(obj, &KEY128, padded, 32, 0, 32);
    assert_int_equal(stateobj_decode(obj, n, &KEY128, &raw, &rlen, &rc), 0);
    assert_int_equal(rlen, 16);
    free(raw);
    /* 32-byte IV with a 128-bit key (upstream's growing IV buffer). */
    n = enc_obj(obj, &KEY128, padded, 32, 32, 32);
    assert_int_equal(decode_rc(obj, n, &KEY128), TPM_SUCCESS);
    n = enc_obj(obj, &KEY128, padded, 32, 16, 32);
    assert_int_equal(decode_rc(obj, n, &KEY128), TPM_SUCCESS);
    n = enc_obj(obj, &KEY128, padded, 32, 15, 32);
    assert_int_equal(decode_rc(obj, n, &KEY128), TPM_FAIL);
    /* HMAC TLV must hold at least 32 bytes; extra bytes are ignored. */
    n = enc_obj(obj, &KEY128, padded, 32, 16, 31);
    assert_int_equal(decode_rc(obj, n, &KEY128), TPM_FAIL);
    n = enc_obj(obj, &KEY128, padded, 32, 16, 40);
    assert_int_equal(decode_rc(obj, n, &KEY128), TPM_SUCCESS);
}

static void
test_stateobj_decode_missing_tlvs(void **state)
{
    uint8_t in[20] = { 0 }, *obj = NULL;
    uint32_t olen = 0;

    assert_int_equal(stateobj_encode(in, 20, &KEY128, &obj, &olen), 0);
    be16_put(obj + 10, 9);                 /* data TLV renamed */
    assert_int_equal(decode_rc(obj, olen, &KEY128), TPM_FAIL);
    be16_put(obj + 10, 2);
    be16_put(obj + 10 + 6 + 32, 9);         /* HMAC TLV renamed */
    assert_int_equal(decode_rc(obj, olen, &KEY128), TPM_FAIL);
    free(obj);
}

static void
test_stateobj_decode_bad_padding(void **state)
{
    uint8_t padded[64], obj[256];
    uint32_t n;

    memset(padded, 0, sizeof(padded));
    n = enc_obj(obj, &KEY128, padded, 16, 16, 32);          /* p = 0 */
    assert_int_equal(decode_rc(obj, n, &KEY128), TPM_DECRYPT_ERROR);
    memset(padded, 17, 32);                                 /* p > 16 */
    n = enc_obj(obj, &KEY128, padded, 32, 16, 32);
    assert_int_equal(decode_rc(obj, n, &KEY128), TPM_DECRYPT_ERROR);
    memset(padded, 4, 16);
    padded[13] = 5;                                         /* mixed */
    n = enc_obj(obj, &KEY128, padded, 16, 16, 32);
    assert_int_equal(decode_rc(obj, n, &KEY128), TPM_DECRYPT_ERROR);
    memset(padded, 32, 64);                   /* p = 32 fine for AES-256 */
    n = enc_obj(obj, &KEY256, padded, 64, 32, 32);
    assert_int_equal(decode_rc(obj, n, &KEY256), TPM_SUCCESS);
    memset(padded, 33, 64);
    n = enc_obj(obj, &KEY256, padded, 64, 32, 32);
    assert_int_equal(decode_rc(obj, n, &KEY256), TPM_DECRYPT_ERROR);
}

/* Ciphertext shorter than the key or not block-aligned, valid HMAC. */
static void
test_stateobj_decode_bad_ct_len(void **state)
{
    uint8_t padded[48], obj[256];
    uint32_t n;

    memset(padded, 16, sizeof(padded));
    n = enc_obj(obj, &KEY256, padded, 16, 32, 32);
    assert_int_equal(decode_rc(obj, n, &KEY256), TPM_DECRYPT_ERROR);
    n = enc_obj(obj, &KEY128, padded, 32, 16, 32);
    /* Cut one byte off the ciphertext and fix the MAC and lengths. */
    {
        uint8_t ct[31], iv[16], mac[32], o2[256];
        uint32_t m = 10;

        memcpy(ct, obj + 16, 31);
        memcpy(iv, obj + n - 16, 16);
        assert_int_equal(crypto_hmac_sha256(KEY128.data, 16, ct, 31, iv, 16,
                                            mac), 0);
        m += (uint32_t)tlv(o2 + m, 2, ct, 31);
        m += (uint32_t)tlv(o2 + m, 3, mac, 32);
        m += (uint32_t)tlv(o2 + m, 6, iv, 16);
        hdr(o2, 2, 1, 10, 1, m);
        assert_int_equal(decode_rc(o2, m, &KEY128), TPM_DECRYPT_ERROR);
    }
}

/* Legacy version 1 (docs/state.md §4.6): untagged payload, SHA-256 + zero-IV
 * CBC. */
static void
test_stateobj_decode_legacy(void **state)
{
    static const uint8_t zero_iv[16];
    uint8_t obj[256], buf[96], *raw = NULL;
    uint32_t rlen = 0, rc = 0;

    hdr(obj, 1, 1, 10, 0, 15);
    memcpy(obj + 10, "hello", 5);
    assert_int_equal(stateobj_decode(obj, 15, NULL, &raw, &rlen, &rc), 0);
    assert_int_equal(rlen, 5);
    assert_memory_equal(raw, "hello", 5);
    free(raw);

    /* SHA-256(blob) || blob (5 bytes) = 37, padded with 11 x 11 to 48. */
    assert_int_equal(crypto_sha256((const uint8_t *)"hello", 5, buf), 0);
    memcpy(buf + 32, "hello", 5);
    memset(buf + 37, 11, 11);
    assert_int_equal(crypto_aes_cbc(KEY128.data, 16, zero_iv, true, buf, 48,
                                    obj + 10), 0);
    hdr(obj, 1, 1, 10, 0, 58);
    assert_int_equal(stateobj_decode(obj, 58, &KEY128, &raw, &rlen, &rc), 0);
    assert_int_equal(rlen, 5);
    assert_memory_equal(raw, "hello", 5);
    free(raw);

    buf[0] ^= 1;
    assert_int_equal(crypto_aes_cbc(KEY128.data, 16, zero_iv, true, buf, 48,
                                    obj + 10), 0);
    assert_int_equal(decode_rc(obj, 58, &KEY128), TPM_FAIL);
}

static void
check_kat_raw(const uint8_t *raw, uint32_t rlen)
{
    uint32_t plen = 0;
    uint8_t *plain = read_vec("plain.permall", &plen);

    /* Same libtpms permanent-state preamble as the unencrypted file. */
    assert_int_equal(rlen, KAT_RAW_LEN);
    assert_memory_equal(raw, plain + 16, 12);
    free(plain);
}

/* Decode a vector, then re-encode and decode it with our code. */
static void
kat_file(const char *name, const struct state_key *k)
{
    uint8_t *obj, *raw = NULL, *obj2 = NULL, *raw2 = NULL;
    uint32_t olen = 0, rlen = 0, o2len = 0, r2len = 0, rc = 0;

    obj = read_vec(name, &olen);
    assert_int_equal(stateobj_decode(obj, olen, k, &raw, &rlen, &rc), 0);
    check_kat_raw(raw, rlen);
    assert_int_equal(stateobj_encode(raw, rlen, k, &obj2, &o2len), 0);
    assert_int_equal(o2len, olen);
    assert_memory_equal(obj2, obj, 10);
    assert_int_equal(stateobj_decode(obj2, o2len, k, &raw2, &r2len, &rc), 0);
    assert_int_equal(r2len, rlen);
    assert_memory_equal(raw2, raw, rlen);
    free(obj);
    free(obj2);
    free(raw);
    free(raw2);
}

static void
test_stateobj_decode_kat_plain(void **state)
{
    uint32_t olen = 0;
    uint8_t *obj = read_vec("plain.permall", &olen);

    assert_int_equal(olen, 1315);
    kat_file("plain.permall", NULL);
    free(obj);
}

static void
test_stateobj_decode_kat_aes128(void **state)
{
    uint32_t olen = 0;
    uint8_t *obj = read_vec("k128.permall", &olen);

    kat_file("k128.permall", &KEY128);
    assert_int_equal(decode_rc(obj, olen, &KEY256), TPM_BAD_KEY_PROPERTY);
    free(obj);
}

static void
test_stateobj_decode_kat_aes256(void **state)
{
    kat_file("k256.permall", &KEY256);
}

static void
pwd_key(const char *pwd, size_t keylen, struct state_key *k)
{
    assert_int_equal(crypto_pbkdf2_swtpm((const uint8_t *)pwd, strlen(pwd),
                                         k->data, keylen), 0);
    k->len = keylen;
}

/* The passphrase file's newline is part of the passphrase. */
static void
test_stateobj_decode_kat_pbkdf2(void **state)
{
    struct state_key k;
    uint32_t olen = 0;
    uint8_t *obj;

    pwd_key("secretpass\n", 16, &k);
    kat_file("pwd.permall", &k);
    pwd_key("secretpass", 16, &k);
    obj = read_vec("pwd.permall", &olen);
    assert_int_equal(decode_rc(obj, olen, &k), TPM_DECRYPT_ERROR);
    free(obj);
}

static void
test_stateobj_decode_max_size_plain_no_overflow(void **state)
{
    uint8_t obj[16];

    /* totlen claims the maximum but the buffer is small. */
    hdr(obj, 2, 1, 10, 0, STATEOBJ_MAX_LEN);
    assert_int_equal(decode_rc(obj, 16, NULL), TPM_BAD_PARAMETER);
}

static uint32_t
parse_rc(const uint8_t *blob, uint32_t len, bool req_enc,
         const struct state_key *fk, const struct state_key *mk)
{
    uint8_t *raw = NULL;
    uint32_t rlen = 0, rc = 0;
    int r;

    r = migblob_parse(blob, len, req_enc, fk, mk, &raw, &rlen, &rc);
    free(raw);
    return r == 0 ? TPM_SUCCESS : rc;
}

static void
test_migblob_build_plain_layout(void **state)
{
    static const uint8_t want[] = {
        2, 1, 0, 10, 0, 4, 0, 0, 0, 25, 0, 4, 0, 0, 0, 9,
        0, 1, 0, 0, 0, 3, 'a', 'b', 'c'
    };
    uint8_t *blob = NULL;
    uint32_t len = 0;
    bool enc = true;

    assert_int_equal(migblob_build((const uint8_t *)"abc", 3, NULL, NULL,
                                   &blob, &len, &enc), 0);
    assert_false(enc);
    assert_int_equal(len, sizeof(want));
    assert_memory_equal(blob, want, sizeof(want));
    free(blob);
}

static void
check_blob_layout(const struct state_key *fk, const struct state_key *mk,
                  uint16_t flags)
{
    uint8_t in[40] = { 0 }, *blob = NULL;
    uint32_t len = 0, ctlen;
    bool enc = false;

    assert_int_equal(migblob_build(in, 40, fk, mk, &blob, &len, &enc), 0);
    assert_int_equal(be16_get(blob + 4), flags);
    assert_true(enc == (fk != NULL));
    if (mk) {
        assert_int_equal(be16_get(blob + 10), 5);
        ctlen = be32_get(blob + 12);
        assert_int_equal(ctlen % mk->len, 0);
        assert_int_equal(be16_get(blob + 16 + ctlen), 3);
        assert_int_equal(be16_get(blob + 54 + ctlen), 7);
        assert_int_equal(be32_get(blob + 56 + ctlen), mk->len);
        assert_int_equal(len, 10 + 6 + ctlen + 38 + 6 + mk->len);
    } else {
        assert_int_equal(be16_get(blob + 10), 4);
        assert_int_equal(be16_get(blob + 16), fk ? 2 : 1);
    }
    free(blob);
}

static void
test_migblob_build_flags(void **state)
{
    check_blob_layout(NULL, &KEY128, 0x0006);
    check_blob_layout(NULL, &KEY256, 0x0016);
    check_blob_layout(&KEY128, NULL, 0x0005);
    check_blob_layout(&KEY256, NULL, 0x000d);
    check_blob_layout(&KEY256, &KEY128, 0x000f);
    check_blob_layout(&KEY128, &KEY256, 0x0017);
}

static void
test_migblob_build_roundtrip(void **state)
{
    const struct state_key *keys[] = { NULL, &KEY128, &KEY256 };
    uint8_t in[333], *blob = NULL, *raw = NULL;
    uint32_t len = 0, rlen = 0, rc = 0;
    size_t f, m, i;
    bool enc;

    for (i = 0; i < sizeof(in); i++) {
        in[i] = (uint8_t)(i ^ 0x5a);
    }
    for (f = 0; f < 3; f++) {
        for (m = 0; m < 3; m++) {
            assert_int_equal(migblob_build(in, sizeof(in), keys[f], keys[m],
                                           &blob, &len, &enc), 0);
            assert_int_equal(migblob_parse(blob, len, enc, keys[f], keys[m],
                                           &raw, &rlen, &rc), 0);
            assert_int_equal(rlen, sizeof(in));
            assert_memory_equal(raw, in, sizeof(in));
            free(raw);
            free(blob);
        }
    }
}

static void
test_migblob_build_rng_failure(void **state)
{
    uint8_t in[20] = { 0 }, *blob = NULL;
    uint32_t len = 0;
    bool enc;

    rand_fail = 1;
    assert_int_equal(migblob_build(in, 20, NULL, &KEY128, &blob, &len, &enc),
                     -EIO);
    assert_int_equal(migblob_build(in, 20, &KEY128, NULL, &blob, &len, &enc),
                     -EIO);
    rand_fail = 0;
    assert_null(blob);
    assert_int_equal(migblob_build(in, STATEOBJ_MAX_LEN, NULL, NULL, &blob,
                                   &len, &enc), -EFBIG);
}

/* Zero length or a bare header: hide the stored object. */
static void
test_migblob_parse_empty(void **state)
{
    uint8_t blob[10] = { 0 }, *raw = (uint8_t *)1;
    uint32_t rlen = 1, rc = 0;

    assert_int_equal(migblob_parse(blob, 0, false, NULL, NULL, &raw, &rlen,
                                   &rc), 0);
    assert_null(raw);
    assert_int_equal(rlen, 0);
    hdr(blob, 2, 1, 10, 4, 10);
    raw = (uint8_t *)1;
    assert_int_equal(migblob_parse(blob, 10, false, NULL, NULL, &raw, &rlen,
                                   &rc), 0);
    assert_null(raw);
}

static void
test_migblob_parse_header_errors(void **state)
{
    uint8_t blob[32] = { 0 };

    hdr(blob, 2, 1, 10, 4, 10);
    assert_int_equal(parse_rc(blob, 9, false, NULL, NULL), TPM_BAD_PARAMETER);
    assert_int_equal(parse_rc(blob, 11, false, NULL, NULL), TPM_BAD_PARAMETER);
    hdr(blob, 2, 3, 11, 4, 16);
    assert_int_equal(parse_rc(blob, 16, false, NULL, NULL), TPM_BAD_VERSION);
    hdr(blob, 2, 1, 11, 4, 16);
    assert_int_equal(parse_rc(blob, 16, false, NULL, NULL), TPM_BAD_DATASIZE);
    /* No migration data TLV (tag 4). */
    hdr(blob, 2, 1, 10, 4, 16);
    tlv(blob + 10, 1, NULL, 0);
    assert_int_equal(parse_rc(blob, 16, false, NULL, NULL), TPM_FAIL);
    /* Tag 4 whose length runs past the end. */
    be16_put(blob + 10, 4);
    be32_put(blob + 12, 1);
    assert_int_equal(parse_rc(blob, 16, false, NULL, NULL), TPM_FAIL);
}

static void
test_migblob_parse_missing_keys(void **state)
{
    uint8_t in[20] = { 0 }, *blob = NULL;
    uint32_t len = 0;
    bool enc;

    assert_int_equal(migblob_build(in, 20, NULL, &KEY128, &blob, &len, &enc),
                     0);
    assert_int_equal(parse_rc(blob, len, false, NULL, NULL), TPM_KEYNOTFOUND);
    assert_int_equal(parse_rc(blob, len, false, NULL, &KEY256),
                     TPM_BAD_KEY_PROPERTY);
    blob[20] ^= 1;
    assert_int_equal(parse_rc(blob, len, false, NULL, &KEY128),
                     TPM_DECRYPT_ERROR);
    free(blob);

    assert_int_equal(migblob_build(in, 20, &KEY256, NULL, &blob, &len, &enc),
                     0);
    assert_int_equal(parse_rc(blob, len, true, NULL, NULL), TPM_KEYNOTFOUND);
    assert_int_equal(parse_rc(blob, len, false, NULL, NULL), TPM_KEYNOTFOUND);
    assert_int_equal(parse_rc(blob, len, false, &KEY128, NULL),
                     TPM_BAD_KEY_PROPERTY);
    /* Header flag cleared: the request's ENCRYPTED flag still applies. */
    be16_put(blob + 4, 0x0004 | 0x0008);
    assert_int_equal(parse_rc(blob, len, true, &KEY256, NULL), TPM_SUCCESS);
    assert_int_equal(parse_rc(blob, len, false, &KEY256, NULL), TPM_FAIL);
    free(blob);
}

/* Unencrypted blobs are accepted when a migration key is set (docs/state.md
 * §5.2). */
static void
test_migblob_parse_unencrypted_with_keys(void **state)
{
    uint8_t in[20] = { 3 }, *blob = NULL;
    uint32_t len = 0;
    bool enc;

    assert_int_equal(migblob_build(in, 20, NULL, NULL, &blob, &len, &enc), 0);
    assert_int_equal(parse_rc(blob, len, false, &KEY128, &KEY256),
                     TPM_SUCCESS);
    /* The request says ENCRYPTED but the inner stream is tag 1. */
    assert_int_equal(parse_rc(blob, len, true, &KEY128, NULL), TPM_FAIL);
    free(blob);
}

static void
test_migblob_parse_legacy(void **state)
{
    uint8_t blob[16], *raw = NULL;
    uint32_t rlen = 0, rc = 0;

    hdr(blob, 1, 1, 10, 4, 16);
    memcpy(blob + 10, "legacy", 6);
    assert_int_equal(migblob_parse(blob, 16, false, NULL, NULL, &raw, &rlen,
                                   &rc), 0);
    assert_int_equal(rlen, 6);
    assert_memory_equal(raw, "legacy", 6);
    free(raw);
}

/* Parse an upstream blob, check the raw state, rebuild it likewise. */
static void
kat_blob(const char *name, const struct state_key *fk,
         const struct state_key *mk)
{
    uint8_t *blob, *raw = NULL, *b2 = NULL, *raw2 = NULL;
    uint32_t len = 0, rlen = 0, l2 = 0, r2len = 0, rc = 0;
    bool enc;

    blob = read_vec(name, &len);
    assert_int_equal(migblob_parse(blob, len, false, fk, mk, &raw, &rlen,
                                   &rc), 0);
    check_kat_raw(raw, rlen);
    /* swtpm_ioctl --save asks for the state decrypted: filekey NULL. */
    assert_int_equal(migblob_build(raw, rlen, NULL, mk, &b2, &l2, &enc), 0);
    assert_int_equal(l2, len);
    assert_memory_equal(b2, blob, 10);
    assert_int_equal(migblob_parse(b2, l2, false, fk, mk, &raw2, &r2len,
                                   &rc), 0);
    assert_int_equal(r2len, rlen);
    assert_memory_equal(raw2, raw, rlen);
    free(blob);
    free(raw);
    free(b2);
    free(raw2);
}

static void
test_migblob_parse_kat_plain(void **state)
{
    kat_blob("nomig.blob", NULL, NULL);
}

static void
test_migblob_parse_kat_aes128(void **state)
{
    uint32_t len = 0;
    uint8_t *blob = read_vec("mig128.blob", &len);

    kat_blob("mig128.blob", NULL, &KEY128);
    assert_int_equal(parse_rc(blob, len, false, NULL, NULL), TPM_KEYNOTFOUND);
    free(blob);
}

static void
test_migblob_parse_kat_pbkdf2_aes256(void **state)
{
    struct state_key mk;

    pwd_key("secretpass\n", 32, &mk);
    kat_blob("migpwd256.blob", &KEY256, &mk);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stateobj_encode_plain_layout),
        cmocka_unit_test(test_stateobj_encode_aes128_layout),
        cmocka_unit_test(test_stateobj_encode_aes256_layout),
        cmocka_unit_test(test_stateobj_encode_roundtrip),
        cmocka_unit_test(test_stateobj_encode_fresh_iv),
        cmocka_unit_test(test_stateobj_encode_rng_failure),
        cmocka_unit_test(test_stateobj_encode_too_large),
        cmocka_unit_test(test_stateobj_decode_short),
        cmocka_unit_test(test_stateobj_decode_totlen_mismatch),
        cmocka_unit_test(test_stateobj_decode_header_order),
        cmocka_unit_test(test_stateobj_decode_bad_version),
        cmocka_unit_test(test_stateobj_decode_max_size),
        cmocka_unit_test(test_stateobj_decode_max_size_plain_no_overflow),
        cmocka_unit_test(test_stateobj_decode_tlv_search),
        cmocka_unit_test(test_stateobj_decode_tlv_truncated),
        cmocka_unit_test(test_stateobj_decode_tampered),
        cmocka_unit_test(test_stateobj_decode_wrong_key),
        cmocka_unit_test(test_stateobj_decode_key_mismatch),
        cmocka_unit_test(test_stateobj_decode_iv_variants),
        cmocka_unit_test(test_stateobj_decode_missing_tlvs),
        cmocka_unit_test(test_stateobj_decode_bad_padding),
        cmocka_unit_test(test_stateobj_decode_bad_ct_len),
        cmocka_unit_test(test_stateobj_decode_legacy),
        cmocka_unit_test(test_stateobj_decode_kat_plain),
        cmocka_unit_test(test_stateobj_decode_kat_aes128),
        cmocka_unit_test(test_stateobj_decode_kat_aes256),
        cmocka_unit_test(test_stateobj_decode_kat_pbkdf2),
        cmocka_unit_test(test_migblob_build_plain_layout),
        cmocka_unit_test(test_migblob_build_flags),
        cmocka_unit_test(test_migblob_build_roundtrip),
        cmocka_unit_test(test_migblob_build_rng_failure),
        cmocka_unit_test(test_migblob_parse_empty),
        cmocka_unit_test(test_migblob_parse_header_errors),
        cmocka_unit_test(test_migblob_parse_missing_keys),
        cmocka_unit_test(test_migblob_parse_unencrypted_with_keys),
        cmocka_unit_test(test_migblob_parse_legacy),
        cmocka_unit_test(test_migblob_parse_kat_plain),
        cmocka_unit_test(test_migblob_parse_kat_aes128),
        cmocka_unit_test(test_migblob_parse_kat_pbkdf2_aes256),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
