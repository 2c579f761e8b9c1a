// SPDX-License-Identifier: BSD-3-Clause
/*
 * libFuzzer harness: subopts_parse() and the number parsers (the daemon's
 * and every tool's command line).
 *
 * Input: byte 0 picks an allowed-name table, the rest is the option
 * string (NUL-terminated copy).  Checks: at most SUBOPT_MAX options, every
 * name allowed and non-empty, all pointers inside the owned copy, and the
 * number parsers accept only what they document.
 */
#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "subopt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const NAMES_KEY[] = {
    "file", "fd", "pwdfile", "pwdfd", "mode", "format", "remove", "kdf",
    NULL
};
static const char *const NAMES_STATE[] = {
    "dir", "mode", "backend-uri", "lock", NULL
};
static const char *const NAMES_LOG[] = {
    "file", "fd", "level", "prefix", "truncate", NULL
};
static const char *const NAMES_PROFILE[] = {
    "name", "profile", "file", "fd", "remove-disabled", NULL
};
static const char *const NAMES_NONE[] = { NULL };
static const char *const *const TABLES[] = {
    NAMES_KEY, NAMES_STATE, NAMES_LOG, NAMES_PROFILE, NAMES_NONE,
};

static bool
in_table(const char *const *t, const char *name)
{
    for (; *t; t++) {
        if (!strcmp(*t, name)) {
            return true;
        }
    }
    return false;
}

static bool
inside(const struct subopts *so, size_t buflen, const char *p)
{
    return p >= so->buf && p <= so->buf + buflen;
}

static void
check_numbers(const char *s)
{
    unsigned long v = 0;
    mode_t m = 0;

    /* Accepted numbers are plain digits (base 0: also 0x and octal). */
    if (parse_uint(s, 0, 1000000, &v) == 0) {
        assert(isdigit((unsigned char)s[0]) && v <= 1000000);
        for (const char *c = s; *c; c++) {
            assert(isdigit((unsigned char)*c));
        }
    }
    if (parse_ulong_base0(s, 0xffffffffu, &v) == 0) {
        assert(isdigit((unsigned char)s[0]) && v <= 0xffffffffu);
    }
    if (parse_mode(s, &m) == 0) {
        assert(isdigit((unsigned char)s[0]) && m <= 0777);
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *const *allowed;
    struct subopts so;
    char err[256];
    char *s;
    size_t len;

    if (size < 1 || size > 8192) {
        return 0;
    }
    allowed = TABLES[data[0] % (sizeof(TABLES) / sizeof(TABLES[0]))];
    s = malloc(size);
    if (!s) {
        return 0;
    }
    memcpy(s, data + 1, size - 1);
    s[size - 1] = '\0';
    len = strlen(s);

    err[0] = '\0';
    if (subopts_parse(s, allowed, &so, err, sizeof(err)) == 0) {
        assert(so.count <= SUBOPT_MAX);
        for (size_t i = 0; i < so.count; i++) {
            const struct subopt *o = &so.opt[i];
            assert(inside(&so, len, o->name) && o->name[0] != '\0');
            assert(in_table(allowed, o->name));
            assert(!strchr(o->name, ',') && !strchr(o->name, '='));
            if (o->value) {
                assert(inside(&so, len, o->value));
                assert(o->value[0] == '{' || !strchr(o->value, ','));
            }
            assert(subopts_find(&so, o->name) != NULL);
            (void)subopts_bool(&so, o->name, false);
            (void)subopts_get(&so, o->name);
        }
        subopts_free(&so);
    } else {
        assert(err[0] != '\0');
        assert(so.buf == NULL && so.count == 0);
    }
    check_numbers(s);
    free(s);
    return 0;
}
