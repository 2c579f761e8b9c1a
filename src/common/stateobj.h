/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Pure encoders/decoders of the upstream-compatible state object format
 * (10-byte header + TLVs, optional AES-CBC encrypt-then-MAC) and of the
 * migration blobs carried by GET/SET_STATEBLOB (docs/state.md §3-5).
 * No I/O here: buffers in, buffers out.  Every length is checked.
 */
#ifndef SWTPM_STATEOBJ_H
#define SWTPM_STATEOBJ_H

#include <stdbool.h>
#include <stdint.h>

#include "key.h"

#define STATEOBJ_HDR_LEN 10
/* Upper bound for any object or blob we accept (defence in depth). */
#define STATEOBJ_MAX_LEN (16u * 1024 * 1024)

/*
 * Encode raw libtpms bytes as a state file object: [1] or, with a file
 * key (filekey && filekey->len), [2,3,6] with fresh IV.  *out is malloc'd.
 * Returns 0 or -ENOMEM/-EIO (crypto failure).
 */
int stateobj_encode(const uint8_t *raw, uint32_t len,
                    const struct state_key *filekey,
                    uint8_t **out, uint32_t *out_len);

/*
 * Decode a state file object into raw libtpms bytes.  With a file key the
 * payload must be encrypted (as upstream).  Returns 0, or a negative
 * errno with *out_tpm_rc set to the TPM result of docs/state.md §3-5
 * (TPM_BAD_PARAMETER, TPM_BAD_VERSION, TPM_BAD_DATASIZE, TPM_BAD_KEY_PROPERTY,
 * TPM_DECRYPT_ERROR, TPM_FAIL).  Accepts version 1 (legacy) objects.
 */
int stateobj_decode(const uint8_t *obj, uint32_t len,
                    const struct state_key *filekey,
                    uint8_t **out_raw, uint32_t *out_len,
                    uint32_t *out_tpm_rc);

/*
 * Build a migration blob (GET_STATEBLOB) from raw libtpms bytes: inner
 * stream encrypted with filekey if filekey && filekey->len (the caller
 * passes NULL when the client asked for DECRYPTED), wrapped with migkey if
 * set.  *out_encrypted tells whether the inner stream is encrypted.
 */
int migblob_build(const uint8_t *raw, uint32_t len,
                  const struct state_key *filekey,
                  const struct state_key *migkey,
                  uint8_t **out, uint32_t *out_len, bool *out_encrypted);

/*
 * Parse a migration blob (SET_STATEBLOB).  req_encrypted is the request's
 * PTM_STATE_FLAG_ENCRYPTED.  A zero-length blob or a header with no
 * payload yields *out_raw == NULL, *out_len == 0 (hide the object).
 * Errors as stateobj_decode, plus TPM_KEYNOTFOUND for a missing key.
 */
int migblob_parse(const uint8_t *blob, uint32_t len, bool req_encrypted,
                  const struct state_key *filekey,
                  const struct state_key *migkey,
                  uint8_t **out_raw, uint32_t *out_len,
                  uint32_t *out_tpm_rc);

#endif
