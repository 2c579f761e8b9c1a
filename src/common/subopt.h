/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Parsing of the upstream `name[=value],name[=value]...` sub-option syntax
 * (docs/cli.md §2) and of plain numbers on the command line.
 */
#ifndef SWTPM_SUBOPT_H
#define SWTPM_SUBOPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define SUBOPT_MAX 16

/*
 * Every front end's parse_args() and opts_validate() return this to go on,
 * or else the exit code to stop with (0 after --help and --version).
 */
#define OPTS_CONTINUE (-1)

struct subopt {
    char *name;
    char *value;        /* NULL for a bare `name` (boolean true) */
};

struct subopts {
    struct subopt opt[SUBOPT_MAX];
    size_t count;
    char *buf;          /* owned copy of the input that opt[] points into */
};

/*
 * Split str into tokens, accepting only names in allowed (NULL-terminated).
 * A value starting with '{' runs to the matching '}'.  On error returns
 * -EINVAL and writes a message naming the bad token to err (errlen bytes).
 * Free with subopts_free().
 */
int subopts_parse(const char *str, const char *const *allowed,
                  struct subopts *out, char *err, size_t errlen);
void subopts_free(struct subopts *so);

/* First occurrence of name (first wins, as upstream), or NULL. */
const struct subopt *subopts_find(const struct subopts *so, const char *name);
/* Value of name or NULL if absent or bare. */
const char *subopts_get(const struct subopts *so, const char *name);
bool subopts_has(const struct subopts *so, const char *name);
/* Boolean: absent => dflt; bare, "true" or "1" => true; else false. */
bool subopts_bool(const struct subopts *so, const char *name, bool dflt);

/* Decimal unsigned in [min, max]; 0 or -EINVAL/-ERANGE. */
int parse_uint(const char *s, unsigned long min, unsigned long max,
               unsigned long *out);
/*
 * A file descriptor number given on the command line or in a sub-option:
 * decimal 0-PARSE_FD_MAX (whether it is open is the caller's check).  0
 * or -EINVAL/-ERANGE; the caller words the error for its option.
 */
#define PARSE_FD_MAX 65535
int parse_fd(const char *s, int *out);
/* Like parse_uint but base 0 (0x.., 0..). */
int parse_ulong_base0(const char *s, unsigned long max, unsigned long *out);
/* Octal file mode <= 0777, with or without leading 0. */
int parse_mode(const char *s, mode_t *out);
/* Decimal uid/gid, else a user/group name looked up with getpwnam/getgrnam */
int parse_uid(const char *s, uid_t *out);
int parse_gid(const char *s, gid_t *out);

#endif
