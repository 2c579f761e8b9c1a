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
        obj = fuzz_wrap_with_hmac(k, data + 1, size - 1,
                                  k->len == 32 ? 0x09 : 0x01, 2, 6, &len);
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
