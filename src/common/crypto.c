// SPDX-License-Identifier: BSD-3-Clause
/* OpenSSL wrappers for state encryption and key derivation. */
#include "crypto.h"

#include <errno.h>
#include <limits.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>

/* Upstream's PBKDF2 parameters (docs/state.md §4.1). */
#define PBKDF2_SALT "swtpm"
#define PBKDF2_ITERATIONS 1000

int
crypto_aes_cbc(const uint8_t *key, size_t keylen,
               const uint8_t iv[CRYPTO_AES_BLOCK], bool encrypt,
               const uint8_t *in, size_t len, uint8_t *out)
{
    const EVP_CIPHER *cipher;
    EVP_CIPHER_CTX *ctx;
    int outl = 0, finl = 0, r = -EIO;

    if (keylen == 16) {
        cipher = EVP_aes_128_cbc();
    } else if (keylen == 32) {
        cipher = EVP_aes_256_cbc();
    } else {
        return -EINVAL;
    }
    if (len % CRYPTO_AES_BLOCK != 0 || len > INT_MAX) {
        return -EINVAL;
    }
    ctx = EVP_CIPHER_CTX_new();
    if (!ctx) {
        return -ENOMEM;
    }
    if (EVP_CipherInit_ex(ctx, cipher, NULL, key, iv, encrypt ? 1 : 0) != 1 ||
        EVP_CIPHER_CTX_set_padding(ctx, 0) != 1 ||
        EVP_CipherUpdate(ctx, out, &outl, in, (int)len) != 1 ||
        EVP_CipherFinal_ex(ctx, out + outl, &finl) != 1 ||
        (size_t)outl + (size_t)finl != len) {
        goto out;
    }
    r = 0;
out:
    EVP_CIPHER_CTX_free(ctx);
    return r;
}

int
crypto_hmac_sha256(const uint8_t *key, size_t keylen,
                   const uint8_t *a, size_t alen,
                   const uint8_t *b, size_t blen,
                   uint8_t out[CRYPTO_SHA256_LEN])
{
    OSSL_PARAM params[2];
    EVP_MAC *mac;
    EVP_MAC_CTX *ctx = NULL;
    size_t outl = 0;
    int r = -EIO;

    mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    if (!mac) {
        return -EIO;
    }
    ctx = EVP_MAC_CTX_new(mac);
    if (!ctx) {
        goto out;
    }
    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
                                                 (char *)"SHA256", 0);
    params[1] = OSSL_PARAM_construct_end();
    if (EVP_MAC_init(ctx, key, keylen, params) != 1 ||
        EVP_MAC_update(ctx, a, alen) != 1 ||
        (blen && EVP_MAC_update(ctx, b, blen) != 1) ||
        EVP_MAC_final(ctx, out, &outl, CRYPTO_SHA256_LEN) != 1 ||
        outl != CRYPTO_SHA256_LEN) {
        goto out;
    }
    r = 0;
out:
    EVP_MAC_CTX_free(ctx);
    EVP_MAC_free(mac);
    return r;
}

static int
digest(const EVP_MD *md, const uint8_t *data, size_t len, uint8_t *out,
       unsigned int want)
{
    unsigned int outl = 0;

    if (EVP_Digest(data, len, out, &outl, md, NULL) != 1 || outl != want) {
        return -EIO;
    }
    return 0;
}

int
crypto_sha256(const uint8_t *data, size_t len, uint8_t out[CRYPTO_SHA256_LEN])
{
    return digest(EVP_sha256(), data, len, out, CRYPTO_SHA256_LEN);
}

int
crypto_sha512(const uint8_t *data, size_t len, uint8_t out[CRYPTO_SHA512_LEN])
{
    return digest(EVP_sha512(), data, len, out, CRYPTO_SHA512_LEN);
}

int
crypto_pbkdf2_swtpm(const uint8_t *pass, size_t passlen,
                    uint8_t *out, size_t outlen)
{
    if (passlen > INT_MAX || outlen > INT_MAX) {
        return -EINVAL;
    }
    if (PKCS5_PBKDF2_HMAC((const char *)pass, (int)passlen,
                          (const unsigned char *)PBKDF2_SALT,
                          (int)(sizeof(PBKDF2_SALT) - 1), PBKDF2_ITERATIONS,
                          EVP_sha512(), (int)outlen, out) != 1) {
        return -EIO;
    }
    return 0;
}

int
crypto_random(uint8_t *buf, size_t len)
{
    if (len > INT_MAX) {
        return -EINVAL;
    }
    /* Upstream falls back to hashing stack garbage; we refuse (docs/state.md
     * §4.2). */
    if (RAND_bytes(buf, (int)len) != 1) {
        return -EIO;
    }
    return 0;
}
