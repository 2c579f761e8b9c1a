// SPDX-License-Identifier: BSD-3-Clause
/* Config file parsing for swtpm_setup and the built-in local CA. */
#include "conf.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fdio.h"

int
conf_read(const char *path, char **out_text)
{
    char *text = NULL;
    size_t len = 0;
    ssize_t n;
    int fd, r = 0;

    fd = fd_open_input(path);
    if (fd < 0) {
        return fd;
    }
    text = malloc(CONF_MAX_SIZE + 1);
    if (!text) {
        r = -ENOMEM;
        goto out;
    }
    n = fd_read_full(fd, text, CONF_MAX_SIZE);
    if (n < 0) {
        r = (int)n;
        goto out;
    }
    len = (size_t)n;
    text[len] = '\0';
    *out_text = text;
    text = NULL;
out:
    free(text);
    close(fd);
    return r;
}

/* Append n bytes to a growing string; false on allocation failure. */
static bool
str_append(char **s, size_t *len, const char *p, size_t n)
{
    char *t = realloc(*s, *len + n + 1);

    if (!t) {
        return false;
    }
    memcpy(t + *len, p, n);
    *len += n;
    t[*len] = '\0';
    *s = t;
    return true;
}

/* Expand ${NAME} in [p, p+n); unset variables become empty. */
static char *
expand_env(const char *p, size_t n)
{
    char *out = NULL, name[256];
    size_t len = 0, i = 0;
    bool ok = str_append(&out, &len, "", 0);

    while (ok && i < n) {
        const char *end;

        if (p[i] == '$' && i + 1 < n && p[i + 1] == '{' &&
            (end = memchr(p + i + 2, '}', n - i - 2)) != NULL &&
            (size_t)(end - (p + i + 2)) < sizeof(name)) {
            size_t nl = (size_t)(end - (p + i + 2));
            const char *v;

            memcpy(name, p + i + 2, nl);
            name[nl] = '\0';
            v = getenv(name);
            ok = str_append(&out, &len, v ? v : "", v ? strlen(v) : 0);
            i = (size_t)(end - p) + 1;
            continue;
        }
        ok = str_append(&out, &len, p + i, 1);
        i++;
    }
    if (!ok) {
        free(out);
        return NULL;
    }
    return out;
}

char *
conf_get(const char *text, const char *key)
{
    size_t klen = strlen(key);
    const char *line = text;

    while (line && *line) {
        const char *eol = strchr(line, '\n');
        const char *end = eol ? eol : line + strlen(line);
        const char *v = line + klen;

        if ((size_t)(end - line) >= klen && strncmp(line, key, klen) == 0) {
            while (v < end && (*v == ' ' || *v == '\t')) {
                v++;
            }
            if (v < end && *v == '=') {
                const char *ve;

                v++;
                while (v < end && (*v == ' ' || *v == '\t')) {
                    v++;
                }
                for (ve = v; ve < end && *ve != '#'; ve++) {
                }
                while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t' ||
                                  ve[-1] == '\r')) {
                    ve--;
                }
                return expand_env(v, (size_t)(ve - v));
            }
        }
        line = eol ? eol + 1 : NULL;
    }
    return NULL;
}

char **
conf_words(const char *text)
{
    char **words = calloc(1, sizeof(char *));
    size_t count = 0;
    const char *p = text;

    while (words && *p) {
        const char *eol = strchr(p, '\n');
        const char *end = eol ? eol : p + strlen(p);

        while (p < end) {
            const char *sp = memchr(p, ' ', (size_t)(end - p));
            const char *we = sp ? sp : end;
            char **nw;

            if (we > p && !(we - p == 1 && *p == '\r')) {
                nw = realloc(words, (count + 2) * sizeof(char *));
                if (!nw) {
                    conf_free_words(words);
                    return NULL;
                }
                words = nw;
                words[count] = strndup(p, (size_t)(we - p));
                if (words[count] && words[count][we - p - 1] == '\r') {
                    words[count][we - p - 1] = '\0';
                }
                words[++count] = NULL;
            }
            p = sp ? sp + 1 : end;
        }
        p = eol ? eol + 1 : end;
    }
    return words;
}

void
conf_free_words(char **words)
{
    if (!words) {
        return;
    }
    for (size_t i = 0; words[i]; i++) {
        free(words[i]);
    }
    free(words);
}
