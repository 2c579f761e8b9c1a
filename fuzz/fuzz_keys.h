/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Fixed keys for the state object harnesses: the ones that made
 * the files in tests/unit/vectors, so seeds built from those vectors decrypt.
 */
#ifndef FUZZ_KEYS_H
#define FUZZ_KEYS_H

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "ctrl_wire.h"

#include "crypto.h"
#include "key.h"

#define FUZZ_NKEYS 5

/* Index 0 = no key; 1 k128.hex; 2 k256.hex; 3/4 pwd.txt via PBKDF2. */
static struct state_key fuzz_keys[FUZZ_NKEYS];

static void
fuzz_keys_init(void)
{
    static const char pwd[] = "secretpass\n";
    static int done;

    if (done) {
        return;
    }
    for (int i = 0; i < 16; i++) {
        fuzz_keys[1].data[i] = (uint8_t)(0x11 * i);
    }
    fuzz_keys[1].len = 16;
    for (int i = 0; i < 32; i++) {
        fuzz_keys[2].data[i] = (uint8_t)i;
    }
    fuzz_keys[2].len = 32;
    assert(crypto_pbkdf2_swtpm((const uint8_t *)pwd, strlen(pwd),
                               fuzz_keys[3].data, 16) == 0);
    fuzz_keys[3].len = 16;
    assert(crypto_pbkdf2_swtpm((const uint8_t *)pwd, strlen(pwd),
                               fuzz_keys[4].data, 32) == 0);
    fuzz_keys[4].len = 32;
    done = 1;
}

/* Key number sel % 8 (5-7 also mean "no key"), or NULL. */
static const struct state_key *
fuzz_key(unsigned sel)
{
    sel %= 8;
    return sel >= 1 && sel < FUZZ_NKEYS ? &fuzz_keys[sel] : NULL;
}

static void
fuzz_put_tlv(uint8_t *p, uint16_t tag, uint32_t len)
{
    be16_put(p, tag);
    be32_put(p + 2, len);
}

/*
 * p = IV (k->len bytes) + ciphertext: return a malloc'd version-2 object
 * with header flags and TLVs [data_tag: ct][3: HMAC(ct || iv)][iv_tag:
 * iv], the HMAC computed with k, as swtpm writes them (docs/state.md §4.2).
 */
static uint8_t *
fuzz_wrap_with_hmac(const struct state_key *k, const uint8_t *p, size_t n,
                    uint16_t flags, uint16_t data_tag, uint16_t iv_tag,
                    uint32_t *out_len)
{
    const uint8_t *iv = p, *ct = p + k->len;
    uint32_t ctlen = (uint32_t)(n - k->len);
    uint32_t total = 10 + 6 + ctlen + 6 + 32 + 6 + (uint32_t)k->len;
    uint8_t *obj = malloc(total), *q;

    assert(obj && n >= k->len);
    obj[0] = 2;
    obj[1] = 1;
    be16_put(obj + 2, 10);
    be16_put(obj + 4, flags);
    be32_put(obj + 6, total);
    q = obj + 10;
    fuzz_put_tlv(q, data_tag, ctlen);
    memcpy(q + 6, ct, ctlen);
    q += 6 + ctlen;
    fuzz_put_tlv(q, 3, 32);
    assert(crypto_hmac_sha256(k->data, k->len, ct, ctlen, iv, k->len,
                              q + 6) == 0);
    q += 6 + 32;
    fuzz_put_tlv(q, iv_tag, (uint32_t)k->len);
    memcpy(q + 6, iv, k->len);
    *out_len = total;
    return obj;
}

#endif
