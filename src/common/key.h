/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Symmetric keys for state files (--key) and migration blobs
 * (--migration-key): key files (hex or binary), fds, and passphrases with
 * PBKDF2-SHA512 or SHA-512 derivation (docs/state.md §4.1).
 */
#ifndef SWTPM_KEY_H
#define SWTPM_KEY_H

#include <stddef.h>
#include <stdint.h>

struct state_key {
    uint8_t data[32];
    size_t len;             /* 0 = no key configured; else 16 or 32 */
};

/*
 * Parse a --key/--migration-key sub-option string (file=, fd=, pwdfile=,
 * pwdfd=, mode=, format=, remove, kdf=) and load the key it names.
 * Returns 0, or a negative errno with a message for the user in err that
 * names the file or fd and what is wrong with it.
 */
int key_load_from_opts(const char *optstr, struct state_key *out,
                       char *err, size_t errlen);

/* Wipe a key (explicit_bzero); accepts NULL. */
void key_wipe(struct state_key *k);

#endif
