// SPDX-License-Identifier: BSD-3-Clause
/* The options both emulator daemons share: rows, handler, help, parsers. */
#include "daemon_opts.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
daemon_cfg_init(struct daemon_cfg *c)
{
    memset(c, 0, sizeof(*c));
    c->state_mode = 0640;
    c->state_lock = true;
    c->pid_fd = -1;
    c->pid_dir_fd = -1;
    c->seccomp = SECCOMP_ACTION_KILL;
}

static int
parse_group(const char *kind, const char *s, const char *const *allowed,
            struct subopts *so, char *err, size_t errlen)
{
    char msg[200];

    if (subopts_parse(s, allowed, so, msg, sizeof(msg)) < 0) {
        snprintf(err, errlen, "Error parsing %s options: %s", kind, msg);
        return -EINVAL;
    }
    return 0;
}

static int
parse_tpmstate(struct daemon_cfg *c, const char *s,
               char *err, size_t errlen)
{
    static const char *const names[] = {
        "dir", "backend-uri", "mode", "lock", "backup", "fsync", NULL };
    struct subopts so;
    const char *dir, *uri, *mode;
    int r = -EINVAL;

    if (parse_group("tpmstate", s, names, &so, err, errlen) < 0) {
        return -EINVAL;
    }
    dir = subopts_get(&so, "dir");
    uri = subopts_get(&so, "backend-uri");
    if (!dir && uri) {
        if (strncmp(uri, "dir://", 6) == 0) {
            dir = uri + 6;
        } else if (state_file_uri_path(uri)) {
            /* state_open() takes the URI itself for the file backend. */
            dir = *state_file_uri_path(uri) ? uri : "";
        } else {
            snprintf(err, errlen, "backend-uri '%s' is not supported; use "
                     "dir://<path> or file://<path>", uri);
            goto out;
        }
    }
    if (!dir || !*dir) {
        snprintf(err, errlen, "--tpmstate needs dir=<path>, "
                 "backend-uri=dir://<path> or backend-uri=file://<path>");
        goto out;
    }
    if (strlen(dir) + 20 >= sizeof(c->state_path)) {
        snprintf(err, errlen, "state directory path is too long");
        goto out;
    }
    snprintf(c->state_path, sizeof(c->state_path), "%s", dir);
    mode = subopts_get(&so, "mode");
    if (mode) {
        if (parse_mode(mode, &c->state_mode) < 0) {
            snprintf(err, errlen, "tpmstate mode must be octal <= 0777, "
                     "got '%s'", mode);
            goto out;
        }
        c->state_mode_explicit = true;
    }
    c->state_lock = subopts_bool(&so, "lock", true);
    r = 0;
out:
    subopts_free(&so);
    return r;
}

static int
parse_locality(struct daemon_cfg *c, const char *s,
               char *err, size_t errlen)
{
    static const char *const names[] = {
        "reject-locality-4", "allow-set-locality", NULL };
    struct subopts so;

    if (parse_group("locality", s, names, &so, err, errlen) < 0) {
        return -EINVAL;
    }
    c->reject_locality4 = subopts_bool(&so, "reject-locality-4", false);
    c->allow_set_locality = subopts_bool(&so, "allow-set-locality", false);
    subopts_free(&so);
    return 0;
}

static int
parse_flags(struct daemon_cfg *c, const char *s,
            char *err, size_t errlen)
{
    static const char *const names[] = {
        "not-need-init", "startup-clear", "startup-state",
        "startup-deactivated", "startup-none", "disable-auto-shutdown",
        NULL };
    struct subopts so;

    if (parse_group("flags", s, names, &so, err, errlen) < 0) {
        return -EINVAL;
    }
    c->not_need_init = subopts_bool(&so, "not-need-init", false);
    c->disable_auto_shutdown =
        subopts_bool(&so, "disable-auto-shutdown", false);
    /* Priority as upstream: clear > state > deactivated > none. */
    if (subopts_bool(&so, "startup-clear", false)) {
        c->startup = TPM_STARTUP_CLEAR;
    } else if (subopts_bool(&so, "startup-state", false)) {
        c->startup = TPM_STARTUP_STATE;
    } else if (subopts_bool(&so, "startup-deactivated", false)) {
        c->startup = TPM_STARTUP_DEACTIVATED;
    } else {
        c->startup = TPM_STARTUP_NONE;
    }
    if (c->startup != TPM_STARTUP_NONE) {
        c->not_need_init = true;
    }
    subopts_free(&so);
    return 0;
}

static int
parse_pid(struct daemon_cfg *c, const char *s,
          char *err, size_t errlen)
{
    static const char *const names[] = { "file", "fd", NULL };
    struct subopts so;
    const char *file, *fd;
    int r = -EINVAL;

    if (parse_group("pid", s, names, &so, err, errlen) < 0) {
        return -EINVAL;
    }
    file = subopts_get(&so, "file");
    fd = subopts_get(&so, "fd");
    if (file) {
        snprintf(c->pid_path, sizeof(c->pid_path), "%s", file);
    } else if (fd) {
        if (parse_fd(fd, &c->pid_fd) < 0) {
            snprintf(err, errlen, "pid fd must be a number, got '%s'", fd);
            goto out;
        }
    } else {
        snprintf(err, errlen, "--pid needs file=<path> or fd=<n>");
        goto out;
    }
    r = 0;
out:
    subopts_free(&so);
    return r;
}

static int
parse_seccomp(struct daemon_cfg *c, const char *s,
              char *err, size_t errlen)
{
    static const char *const names[] = { "action", NULL };
    struct subopts so;
    const char *a;
    int r = 0;

    if (parse_group("seccomp", s, names, &so, err, errlen) < 0) {
        return -EINVAL;
    }
    a = subopts_get(&so, "action");
    if (!a || strcmp(a, "kill") == 0) {
        c->seccomp = SECCOMP_ACTION_KILL;
    } else if (strcmp(a, "log") == 0) {
        c->seccomp = SECCOMP_ACTION_LOG;
    } else if (strcmp(a, "none") == 0) {
        c->seccomp = SECCOMP_ACTION_NONE;
    } else {
        snprintf(err, errlen, "seccomp action must be kill, log or none, "
                 "got '%s'", a);
        r = -EINVAL;
    }
    subopts_free(&so);
    return r;
}

static int
parse_confine(struct daemon_cfg *c, const char *s, char *err, size_t errlen)
{
    static const char *const names[] = { "mode", NULL };
    struct subopts so;
    const char *m;
    int r = 0;

    if (parse_group("confine", s, names, &so, err, errlen) < 0) {
        return -EINVAL;
    }
    m = subopts_get(&so, "mode");
    if (!m || strcmp(m, "auto") == 0) {
        c->confine = CONFINE_MODE_AUTO;
    } else if (strcmp(m, "required") == 0) {
        c->confine = CONFINE_MODE_REQUIRED;
    } else if (strcmp(m, "none") == 0) {
        c->confine = CONFINE_MODE_NONE;
    } else {
        snprintf(err, errlen, "confine mode must be auto, required or "
                 "none, got '%s'", m);
        r = -EINVAL;
    }
    subopts_free(&so);
    return r;
}

static int
parse_migration(struct daemon_cfg *c, const char *s,
                char *err, size_t errlen)
{
    static const char *const names[] = {
        "incoming", "release-lock-outgoing", NULL };
    struct subopts so;

    if (parse_group("migration", s, names, &so, err, errlen) < 0) {
        return -EINVAL;
    }
    c->incoming = subopts_bool(&so, "incoming", false);
    c->release_lock_outgoing = subopts_bool(&so, "release-lock-outgoing",
                                            false);
    subopts_free(&so);
    return 0;
}

static const char *const log_names[] = {
    "file", "fd", "level", "prefix", "truncate", NULL };

int
daemon_parse_log(const char *s, struct subopts *out, unsigned long *level,
                 char *err, size_t errlen)
{
    const char *lvl;

    if (parse_group("log", s, log_names, out, err, errlen) < 0) {
        return -EINVAL;
    }
    *level = 1;
    lvl = subopts_get(out, "level");
    if (lvl && parse_uint(lvl, 0, 100, level) < 0) {
        snprintf(err, errlen, "log level must be a number 0-100, got '%s'",
                 lvl);
        subopts_free(out);
        return -EINVAL;
    }
    return 0;
}

/* Store one shared option; 1 taken, 0 not one, -EINVAL for a bad value
 * (err). */
static int
take_opt(struct daemon_cfg *c, int opt, const char *arg, char *err,
         size_t errlen)
{
    switch (opt) {
    case 'R': c->chroot_dir = arg; break;
    case 'r': c->runas = arg; break;
    case DAEMON_OPT_FLAGS: c->flags_opt = arg; break;
    case DAEMON_OPT_KEY: c->key_opt = arg; break;
    case DAEMON_OPT_LOCALITY: c->locality_opt = arg; break;
    case DAEMON_OPT_LOG: c->log_opt = arg; break;
    case DAEMON_OPT_MIGRATION: c->migration_opt = arg; break;
    case DAEMON_OPT_MIGKEY: c->migkey_opt = arg; break;
    case DAEMON_OPT_PCAP: c->pcap_opt = arg; break;
    case DAEMON_OPT_PID: c->pid_opt = arg; break;
    case DAEMON_OPT_PRINT_CAPS: c->print_caps = true; break;
    case DAEMON_OPT_PRINT_INFO:
        if (parse_ulong_base0(arg, UINT32_MAX, &c->info_flags) < 0) {
            snprintf(err, errlen, "--print-info needs a number such as 0x3, "
                     "got '%s'", arg);
            return -EINVAL;
        }
        c->print_info = true;
        break;
    case DAEMON_OPT_PRINT_STATES: c->print_states = true; break;
    case DAEMON_OPT_SECCOMP: c->seccomp_opt = arg; break;
    case DAEMON_OPT_CONFINE: c->confine_opt = arg; break;
    case DAEMON_OPT_TPM2: c->tpm2 = true; break;
    case DAEMON_OPT_TPMSTATE: c->tpmstate_opt = arg; break;
    default: return 0;
    }
    return 1;
}

int
daemon_getopt(int argc, char **argv, const char *shortopts,
              const struct option *longopts, struct daemon_cfg *c,
              char *err, size_t errlen)
{
    int opt, r;

    while ((opt = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
        r = take_opt(c, opt, optarg, err, errlen);
        if (r < 0) {
            return DAEMON_GETOPT_BAD;
        }
        if (r == 0) {
            return opt;
        }
    }
    return -1;
}

void
daemon_usage(FILE *f, bool cuse)
{
    fprintf(f,
"  --tpm2                    emulate a TPM 2.0 (default: TPM 1.2)\n"
"  --tpmstate dir=DIR|backend-uri=dir://DIR|backend-uri=file://FILE\n"
"         [,mode=OCTAL][,lock[=BOOL]][,backup][,fsync]\n"
"                            the TPM state (default: $TPM_PATH);\n"
"                            backup, fsync: accepted, always in effect\n"
"  --key file=PATH|fd=N|pwdfile=PATH|pwdfd=N[,mode=aes-128-cbc|\n"
"        aes-256-cbc][,format=hex|binary][,kdf=pbkdf2|sha512][,remove]\n"
"                            encrypt the state files\n"
"  --migration-key ...       the same syntax: encrypt state blobs\n"
"  --log file=PATH|fd=N[,level=N][,prefix=STR][,truncate]\n"
"  --pid file=PATH|fd=N      write the pid once %s\n"
"  --locality reject-locality-4[,allow-set-locality]\n"
"  --flags not-need-init[,startup-clear|startup-state|\n"
"          startup-deactivated|startup-none][,disable-auto-shutdown]\n"
"  --migration incoming[,release-lock-outgoing]\n"
"  --seccomp action=kill|log|none   syscall filter (default kill)\n"
"  --confine mode=auto|required|none\n"
"                            Landlock: reach only this instance's files\n"
"                            once serving (default auto: if the kernel\n"
"                            has it)\n"
"  -r, --runas USER          %s\n"
"  -R, --chroot DIR          %s\n"
"  --print-capabilities      print supported features as JSON\n"
"  --print-states            print the stored state objects as JSON\n"
"  --print-info FLAGS        print libtpms' TPMLIB_GetInfo(FLAGS) JSON: 0x1\n"
"                            specification, 0x2 attributes, 0x4 features\n"
"  --pcap file=PATH|fd=N[,truncate][,mode=OCTAL][,checksums]\n"
"                            record TPM commands and responses (pcapng)\n",
            cuse ? "the device exists" : "the sockets are ready",
            cuse ? "switch to USER once the device exists"
                 : "switch to USER before opening anything",
            cuse ? "chroot to DIR once the device exists"
                 : "chroot to DIR first");
}

/* --tpmstate, or TPM_PATH taken verbatim as upstream does (commas in it
 * are no sub-options). */
static int
parse_state_location(struct daemon_cfg *c, char *err, size_t errlen)
{
    const char *tpm_path = getenv("TPM_PATH");

    if (c->tpmstate_opt) {
        return parse_tpmstate(c, c->tpmstate_opt, err, errlen);
    }
    if (!tpm_path || !*tpm_path) {
        return 0;
    }
    if (strlen(tpm_path) + 20 >= sizeof(c->state_path)) {
        snprintf(err, errlen, "TPM_PATH is too long");
        return -EINVAL;
    }
    snprintf(c->state_path, sizeof(c->state_path), "%s", tpm_path);
    return 0;
}

int
daemon_apply_opts(struct daemon_cfg *c, char *err, size_t errlen)
{
    int r = parse_state_location(c, err, errlen);
    struct subopts so;
    unsigned long level;

    if (r == 0 && c->locality_opt) {
        r = parse_locality(c, c->locality_opt, err, errlen);
    }
    if (r == 0 && c->flags_opt) {
        r = parse_flags(c, c->flags_opt, err, errlen);
    }
    if (r == 0 && c->pid_opt) {
        r = parse_pid(c, c->pid_opt, err, errlen);
    }
    if (r == 0 && c->seccomp_opt) {
        r = parse_seccomp(c, c->seccomp_opt, err, errlen);
    }
    if (r == 0 && c->confine_opt) {
        r = parse_confine(c, c->confine_opt, err, errlen);
    }
    if (r == 0 && c->migration_opt) {
        r = parse_migration(c, c->migration_opt, err, errlen);
    }
    if (r == 0 && c->log_opt) {
        r = daemon_parse_log(c->log_opt, &so, &level, err, errlen);
        if (r == 0) {
            subopts_free(&so);
        }
    }
    if (r == 0 && c->pcap_opt) {
        r = pcap_parse(c->pcap_opt, &c->pcap, err, errlen);
    }
    if (r == 0 && c->startup == TPM_STARTUP_DEACTIVATED && c->tpm2) {
        snprintf(err, errlen, "--flags startup-deactivated is only valid "
                 "for a TPM 1.2");
        r = -EINVAL;
    }
    return r < 0 ? -EINVAL : 0;
}
