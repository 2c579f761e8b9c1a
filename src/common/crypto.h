/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Thin wrappers around the OpenSSL primitives the state code needs:
 * AES-CBC without cipher padding, HMAC-SHA256, SHA-256/512, PBKDF2 and
 * the CSPRNG.  All return 0 or -EIO (OpenSSL failure) / -EINVAL.
 */
#ifndef SWTPM_CRYPTO_H
#define SWTPM_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CRYPTO_AES_BLOCK 16
#define CRYPTO_SHA256_LEN 32
#define CRYPTO_SHA512_LEN 64

/*
 * AES-CBC over len bytes (a multiple of 16) with no padding; keylen 16
 * selects AES-128, 32 AES-256.  in and out may be the same buffer.
 */
int crypto_aes_cbc(const uint8_t *key, size_t keylen,
                   const uint8_t iv[CRYPTO_AES_BLOCK], bool encrypt,
                   const uint8_t *in, size_t len, uint8_t *out);

/* HMAC-SHA256(key, a || b); b may be NULL when blen is 0. */
int crypto_hmac_sha256(const uint8_t *key, size_t keylen,
                       const uint8_t *a, size_t alen,
                       const uint8_t *b, size_t blen,
                       uint8_t out[CRYPTO_SHA256_LEN]);

int crypto_sha256(const uint8_t *data, size_t len,
                  uint8_t out[CRYPTO_SHA256_LEN]);
int crypto_sha512(const uint8_t *data, size_t len,
                  uint8_t out[CRYPTO_SHA512_LEN]);

/* PBKDF2-HMAC-SHA512 with upstream's salt "swtpm" and 1000 iterations. */
int crypto_pbkdf2_swtpm(const uint8_t *pass, size_t passlen,
                        uint8_t *out, size_t outlen);

/* Fresh random bytes from the OpenSSL CSPRNG; never falls back. */
int crypto_random(uint8_t *buf, size_t len);

#endif
