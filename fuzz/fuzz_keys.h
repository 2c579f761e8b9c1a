/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Fixed keys for the state object harnesses: the ones that made
 * the files in tests/unit/vectors, so seeds built from those vectors decrypt.
 */
#ifndef FUZZ_KEYS_H
#define FUZZ_KEYS_H

#include <assert.h>
#include <string.h>

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

#endif
