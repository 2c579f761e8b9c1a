// SPDX-License-Identifier: BSD-3-Clause
/*
 * libFuzzer harness: stateobj_decode() on state file objects (anyone with
 * write access to the state directory controls these bytes).
 *
 * Input: byte 0 bits 0-2 pick the file key (fuzz_keys.h), the rest is the
 * object, copied into an exact-size buffer.  With bit 3 set and a key,
 * the rest is instead an IV (as long as the key) and a ciphertext that
 * the harness wraps in a version-2 object with a valid HMAC, so that the
 * code behind the HMAC check (CBC, padding) sees arbitrary plaintext.
 * A decoded object must survive an encode/decode round trip.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ctrl_wire.h"
#include "fuzz_keys.h"
#include "stateobj.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
round_trip(const uint8_t *raw, uint32_t len, const struct state_key *k)
{
    uint8_t *obj = NULL, *raw2 = NULL;
    uint32_t olen = 0, len2 = 0, rc = 0;

    assert(stateobj_encode(raw, len, k, &obj, &olen) == 0);
    assert(stateobj_decode(obj, olen, k, &raw2, &len2, &rc) == 0);
    assert(len2 == len && (len == 0 || memcmp(raw, raw2, len) == 0));
    free(obj);
    free(raw2);
}

static void
put_tlv(uint8_t *p, uint16_t tag, uint32_t len)
{
    be16_put(p, tag);
    be32_put(p + 2, len);
}

/* [2: ct][3: HMAC(ct || iv)][6: iv] under a valid header; malloc'd. */
static uint8_t *
wrap_with_hmac(const struct state_key *k, const uint8_t *p, size_t n,
               uint32_t *out_len)
{
    const uint8_t *iv = p, *ct = p + k->len;
    uint32_t ctlen = (uint32_t)(n - k->len);
    uint32_t total = 10 + 6 + ctlen + 6 + 32 + 6 + (uint32_t)k->len;
    uint8_t *obj = malloc(total), *q;

    assert(obj);
    obj[0] = 2;
    obj[1] = 1;
    be16_put(obj + 2, 10);
    be16_put(obj + 4, k->len == 32 ? 0x09 : 0x01);
    be32_put(obj + 6, total);
    q = obj + 10;
    put_tlv(q, 2, ctlen);
    memcpy(q + 6, ct, ctlen);
    q += 6 + ctlen;
    put_tlv(q, 3, 32);
    assert(crypto_hmac_sha256(k->data, k->len, ct, ctlen, iv, k->len,
                              q + 6) == 0);
    q += 6 + 32;
    put_tlv(q, 6, (uint32_t)k->len);
    memcpy(q + 6, iv, k->len);
    *out_len = total;
    return obj;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const struct state_key *k;
    uint8_t *obj, *raw = NULL;
    uint32_t len, rawlen = 0, rc = 0;
    int r;

    if (size < 1 || size - 1 > STATEOBJ_MAX_LEN) {
        return 0;
    }
    fuzz_keys_init();
    k = fuzz_key(data[0]);
    if ((data[0] & 8) && k) {
        if (size - 1 < k->len || size - 1 > 1024 * 1024) {
            return 0;
        }
        obj = wrap_with_hmac(k, data + 1, size - 1, &len);
    } else {
        len = (uint32_t)(size - 1);
        obj = malloc(len ? len : 1);
        if (!obj) {
            return 0;
        }
        memcpy(obj, data + 1, len);
    }
    r = stateobj_decode(obj, len, k, &raw, &rawlen, &rc);
    if (r == 0) {
        assert(raw != NULL && rawlen <= len);
        round_trip(raw, rawlen, k);
        free(raw);
    } else {
        /* Every failure carries a TPM result for the control reply. */
        assert(rc != TPM_SUCCESS);
    }
    free(obj);
    return 0;
}
