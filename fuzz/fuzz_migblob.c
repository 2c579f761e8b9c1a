// SPDX-License-Identifier: BSD-3-Clause
/*
 * libFuzzer harness: migblob_parse() on SET_STATEBLOB blobs (any client
 * of the control channel sends these).
 *
 * Input: byte 0 bits 0-2 pick the state file key, bits 3-5 the migration
 * key (fuzz_keys.h), bit 6 is the request's ENCRYPTED flag; the rest is
 * the blob in an exact-size buffer.  With bit 7 set and a migration key,
 * the rest is an IV and ciphertext that the harness wraps with a valid
 * HMAC, so the inner stream after decryption is arbitrary.  A parsed blob must survive a
 * migblob_build()/migblob_parse() round trip with the same keys.
 */
#include <assert.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ctrl_wire.h"
#include "fuzz_keys.h"
#include "stateobj.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
round_trip(const uint8_t *raw, uint32_t len, const struct state_key *fk,
           const struct state_key *mk)
{
    uint8_t *blob = NULL, *raw2 = NULL;
    uint32_t blen = 0, len2 = 0, rc = 0;
    bool enc = false;

    assert(migblob_build(raw, len, fk, mk, &blob, &blen, &enc) == 0);
    assert(enc == (fk != NULL));
    assert(migblob_parse(blob, blen, enc, fk, mk, &raw2, &len2, &rc) == 0);
    assert(len2 == len && (len == 0 || memcmp(raw, raw2, len) == 0));
    free(blob);
    free(raw2);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const struct state_key *fk, *mk;
    uint8_t *blob, *raw = NULL;
    uint32_t len, rawlen = 0, rc = 0;
    bool req_enc;
    int r;

    if (size < 1 || size - 1 > STATEOBJ_MAX_LEN) {
        return 0;
    }
    fuzz_keys_init();
    fk = fuzz_key(data[0]);
    mk = fuzz_key(data[0] >> 3);
    req_enc = data[0] & 0x40;
    if ((data[0] & 0x80) && mk) {
        if (size - 1 < mk->len || size - 1 > 1024 * 1024) {
            return 0;
        }
        /* MIG_DATA | MIG_ENCRYPTED (| MIG_256), and the file key flags
         * the request asked for. */
        blob = fuzz_wrap_with_hmac(mk, data + 1, size - 1,
                                   (uint16_t)(0x06 |
                                   (mk->len == 32 ? 0x10 : 0) |
                                   (fk ? (fk->len == 32 ? 0x09 : 0x01) : 0)),
                                   5, 7, &len);
    } else {
        len = (uint32_t)(size - 1);
        blob = malloc(len ? len : 1);
        if (!blob) {
            return 0;
        }
        memcpy(blob, data + 1, len);
    }
    r = migblob_parse(blob, len, req_enc, fk, mk, &raw, &rawlen, &rc);
    if (r == 0) {
        assert(raw ? rawlen <= len : rawlen == 0);
        if (raw) {
            round_trip(raw, rawlen, fk, mk);
        }
        free(raw);
    } else {
        assert(rc != TPM_SUCCESS);
    }
    free(blob);
    return 0;
}
