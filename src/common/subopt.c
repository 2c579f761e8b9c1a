// SPDX-License-Identifier: BSD-3-Clause
/* The key=value,... sub-option syntax and number parsing for all tools. */
#include "subopt.h"

#include <ctype.h>
#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static bool
name_allowed(const char *const *allowed, const char *name)
{
    for (; *allowed; allowed++) {
        if (strcmp(*allowed, name) == 0) {
            return true;
        }
    }
    return false;
}

/* Find the end of a {...} value starting at p; NULL if unterminated. */
static char *
json_end(char *p)
{
    int depth = 0;

    for (; *p; p++) {
        if (*p == '{') {
            depth++;
        } else if (*p == '}' && --depth == 0) {
            return p + 1;
        }
    }
    return NULL;
}

int
subopts_parse(const char *str, const char *const *allowed,
              struct subopts *out, char *err, size_t errlen)
{
    char *p, *tok, *eq, *end;

    memset(out, 0, sizeof(*out));
    out->buf = strdup(str ? str : "");
    if (!out->buf) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    p = out->buf;
    while (*p) {
        tok = p;
        eq = NULL;
        for (; *p && *p != ','; p++) {
            if (*p == '=' && !eq) {
                eq = p;
                if (p[1] == '{') {
                    end = json_end(p + 1);
                    if (!end) {
                        snprintf(err, errlen, "Unterminated JSON map.");
                        goto fail;
                    }
                    if (*end != ',' && *end != '\0') {
                        snprintf(err, errlen,
                                 "Unexpected character following JSON map.");
                        goto fail;
                    }
                    p = end - 1;
                }
            }
        }
        if (*p == ',') {
            *p++ = '\0';
        }
        if (*tok == '\0') {
            continue;
        }
        if (eq) {
            *eq = '\0';
        }
        if ((eq && eq[1] == '\0') || !name_allowed(allowed, tok)) {
            snprintf(err, errlen, "Unknown option '%s%s'", tok,
                     eq ? "=" : "");
            if (eq && eq[1] != '\0') {
                snprintf(err, errlen, "Unknown option '%s'", tok);
            }
            goto fail;
        }
        if (out->count == SUBOPT_MAX) {
            snprintf(err, errlen, "too many options (at most %d)",
                     SUBOPT_MAX);
            goto fail;
        }
        out->opt[out->count].name = tok;
        out->opt[out->count].value = eq ? eq + 1 : NULL;
        out->count++;
    }
    return 0;
fail:
    subopts_free(out);
    return -EINVAL;
}

void
subopts_free(struct subopts *so)
{
    if (so) {
        free(so->buf);
        memset(so, 0, sizeof(*so));
    }
}

const struct subopt *
subopts_find(const struct subopts *so, const char *name)
{
    for (size_t i = 0; i < so->count; i++) {
        if (strcmp(so->opt[i].name, name) == 0) {
            return &so->opt[i];
        }
    }
    return NULL;
}

const char *
subopts_get(const struct subopts *so, const char *name)
{
    const struct subopt *o = subopts_find(so, name);

    return o ? o->value : NULL;
}

bool
subopts_has(const struct subopts *so, const char *name)
{
    return subopts_find(so, name) != NULL;
}

bool
subopts_bool(const struct subopts *so, const char *name, bool dflt)
{
    const struct subopt *o = subopts_find(so, name);

    if (!o) {
        return dflt;
    }
    if (!o->value) {
        return true;
    }
    return strcasecmp(o->value, "true") == 0 || strcmp(o->value, "1") == 0;
}

static int
parse_ul(const char *s, int base, unsigned long *out)
{
    char *end;
    unsigned long v;

    /* strtoul() skips any leading white space and takes a sign (and
     * negates "-1" to ULONG_MAX): only a digit may start a number. */
    if (!s || !isdigit((unsigned char)*s)) {
        return -EINVAL;
    }
    errno = 0;
    v = strtoul(s, &end, base);
    if (*end != '\0') {
        return -EINVAL;
    }
    if (errno == ERANGE) {
        return -ERANGE;
    }
    *out = v;
    return 0;
}

int
parse_uint(const char *s, unsigned long min, unsigned long max,
           unsigned long *out)
{
    unsigned long v;
    int r = parse_ul(s, 10, &v);

    if (r < 0) {
        return r;
    }
    if (v < min || v > max) {
        return -ERANGE;
    }
    *out = v;
    return 0;
}

int
parse_fd(const char *s, int *out)
{
    unsigned long v;
    int r = parse_uint(s, 0, PARSE_FD_MAX, &v);

    if (r == 0) {
        *out = (int)v;
    }
    return r;
}

int
parse_ulong_base0(const char *s, unsigned long max, unsigned long *out)
{
    unsigned long v;
    int r = parse_ul(s, 0, &v);

    if (r < 0) {
        return r;
    }
    if (v > max) {
        return -ERANGE;
    }
    *out = v;
    return 0;
}

int
parse_mode(const char *s, mode_t *out)
{
    unsigned long v;
    int r = parse_ul(s, 8, &v);

    if (r < 0) {
        return r;
    }
    if (v > 0777) {
        return -ERANGE;
    }
    *out = (mode_t)v;
    return 0;
}

int
parse_uid(const char *s, uid_t *out)
{
    unsigned long v;
    struct passwd *pw;

    if (parse_uint(s, 0, UINT_MAX - 1, &v) == 0) {
        *out = (uid_t)v;
        return 0;
    }
    pw = getpwnam(s);
    if (!pw) {
        return -ENOENT;
    }
    *out = pw->pw_uid;
    return 0;
}

int
parse_gid(const char *s, gid_t *out)
{
    unsigned long v;
    struct group *gr;

    if (parse_uint(s, 0, UINT_MAX - 1, &v) == 0) {
        *out = (gid_t)v;
        return 0;
    }
    gr = getgrnam(s);
    if (!gr) {
        return -ENOENT;
    }
    *out = gr->gr_gid;
    return 0;
}
