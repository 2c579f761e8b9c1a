// SPDX-License-Identifier: BSD-3-Clause
/*
 * swtpm_setup's run (docs/setup-and-bios.md §2): log file, privileges,
 * state checks, config, then manufacturing in a private temporary
 * directory inside the state directory whose result replaces the old
 * state with one rename, so a failure leaves the old state untouched.
 */
#include "fdio.h"
#include "run.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <libtpms/tpm_library.h>

#include "bytes.h"
#include "certs.h"
#include "conf.h"
#include "daemon_proc.h"
#include "ext.h"
#include "key.h"
#include "log.h"
#include "state.h"
#include "statedir.h"
#include "version.h"

#define SYSCONF_SETUP "/etc/swtpm_setup.conf"

int
setup_tpm_cmd(struct setup_ctx *ctx, struct buf *cmd, const char *what,
              const uint8_t **out_resp, uint32_t *out_len)
{
    const uint8_t *resp;
    uint32_t len, rc;

    buf_finish_cmd(cmd);
    if (cmd->overflow) {
        log_err("%s command does not fit in %d bytes", what, BUF_MAX);
        return -E2BIG;
    }
    if (ctx->ext) {
        if (ext_tpm_cmd(ctx->ext, cmd->data, (uint32_t)cmd->len, &resp,
                        &len) < 0) {
            log_err("%s failed: no response from the TPM emulator", what);
            return -EIO;
        }
    } else if (tpm_process(ctx->tpm, cmd->data, (uint32_t)cmd->len, &resp,
                           &len) < 0) {
        log_err("%s failed: the TPM could not process it", what);
        return -EIO;
    }
    if (len < 10) {
        log_err("%s failed: short response of %u bytes", what, len);
        return -EIO;
    }
    rc = be32_get(resp + 6);
    if (rc != 0) {
        log_err("%s failed with TPM result 0x%x", what, rc);
        return -EIO;
    }
    *out_resp = resp;
    *out_len = len;
    return 0;
}

/* --print-capabilities (docs/cli.md §9.2). */
static void
print_capabilities(void)
{
    printf("{ \"type\": \"swtpm_setup\", \"features\": [ \"tpm-1.2\", "
           "\"tpm-2.0\", \"cmdarg-keyfile-fd\", \"cmdarg-pwdfile-fd\", "
           "\"tpm12-not-need-root\", \"cmdarg-write-ek-cert-files\", "
           "\"cmdarg-create-config-files\", "
           "\"cmdarg-reconfigure-pcr-banks\", \"tpm2-rsa-keysize-2048\", "
           "\"tpm2-rsa-keysize-3072\" ], \"version\": \"%s\" }\n",
           SWTPM_COMPAT_VERSION);
}

static int
open_logfile(const char *path)
{
    int r = say_to_logfile(path);

    if (r < 0) {
        fprintf(stderr, "cannot open log file '%s': %s\n", path,
                strerror(-r));
        return -1;
    }
    return 0;
}

/* Read a config file that was named or found; a FIFO, a device or an
 * I/O error there is an error (logged), not a silent default. */
static int
load_found_config(const char *path, char **out_text)
{
    int r = conf_read(path, out_text);

    if (r < 0) {
        log_err("cannot read config file '%s': %s", path,
                fd_open_strerror(-r));
    }
    return r;
}

/* The config file: --config, the user's, or the system one (docs/cli.md
 * §10). */
static int
load_config(const struct opts *o, char **out_text)
{
    char dir[SETUP_PATH_MAX], path[SETUP_PATH_MAX + 32];

    *out_text = NULL;
    if (o->config) {
        return load_found_config(o->config, out_text);
    }
    if (user_config_dir(dir, sizeof(dir)) == 0) {
        snprintf(path, sizeof(path), "%s/swtpm_setup.conf", dir);
        if (access(path, R_OK) == 0) {
            return load_found_config(path, out_text);
        }
    }
    if (access(SYSCONF_SETUP, R_OK) == 0) {
        return load_found_config(SYSCONF_SETUP, out_text);
    }
    *out_text = strdup("");
    return *out_text ? 0 : -ENOMEM;
}

/*
 * --keyfile... as a --key sub-option string (precedence: docs/cli.md §10) in
 * optstr (optlen >= SETUP_PATH_MAX + 64; "" without a key), loaded into
 * key unless an external emulator (--tpm) will load it itself.
 */
static int
load_state_key(const struct opts *o, struct state_key *key, char *optstr,
               size_t optlen)
{
    const char *mode = o->cipher ? o->cipher : "aes-128-cbc";
    char err[600];
    int r;

    if (strcmp(mode, "aes-cbc") == 0) {
        mode = "aes-128-cbc";
    }
    if (o->keyfile) {
        snprintf(optstr, optlen, "file=%s,mode=%s", o->keyfile,
                 mode);
    } else if (o->pwdfile) {
        snprintf(optstr, optlen, "pwdfile=%s,mode=%s", o->pwdfile,
                 mode);
    } else if (o->keyfile_fd >= 0) {
        snprintf(optstr, optlen, "fd=%d,mode=%s", o->keyfile_fd,
                 mode);
    } else if (o->pwdfile_fd >= 0) {
        snprintf(optstr, optlen, "pwdfd=%d,mode=%s", o->pwdfile_fd,
                 mode);
    } else {
        optstr[0] = '\0';
        return 0;
    }
    if ((o->keyfile && strchr(o->keyfile, ',')) ||
        (o->pwdfile && strchr(o->pwdfile, ','))) {
        log_err("key file names must not contain ','");
        return -EINVAL;
    }
    if (o->tpm_prog) {
        return 0;
    }
    r = key_load_from_opts(optstr, key, err, sizeof(err));
    if (r < 0) {
        log_err("%s", err);
    }
    return r;
}

/* Pull a "key":"value" or "key":number out of libtpms' info JSON. */
static void
json_field(const char *json, const char *key, char *out, size_t outlen)
{
    char pat[40];
    const char *p;
    size_t n = 0;

    out[0] = '\0';
    snprintf(pat, sizeof(pat), "\"%s\":", key);
    p = strstr(json, pat);
    if (!p) {
        return;
    }
    p += strlen(pat);
    if (*p == '"') {
        p++;
    }
    while (p[n] && p[n] != '"' && p[n] != ',' && p[n] != '}' &&
           n + 1 < outlen) {
        n++;
    }
    memcpy(out, p, n);
    out[n] = '\0';
}

void
tpm_ident_parse(const char *json, struct tpm_ident *id)
{
    char num[24];

    memset(id, 0, sizeof(*id));
    json_field(json, "family", id->family, sizeof(id->family));
    json_field(json, "level", num, sizeof(num));
    id->level = strtoul(num, NULL, 10);
    json_field(json, "revision", num, sizeof(num));
    id->revision = strtoul(num, NULL, 10);
    json_field(json, "manufacturer", id->manufacturer,
               sizeof(id->manufacturer));
    json_field(json, "model", id->model, sizeof(id->model));
    json_field(json, "version", id->version, sizeof(id->version));
}

static void
get_ident(struct tpm_ident *id)
{
    char *json = TPMLIB_GetInfo(TPMLIB_INFO_TPMSPECIFICATION |
                                TPMLIB_INFO_TPMATTRIBUTES);

    memset(id, 0, sizeof(*id));
    if (json) {
        tpm_ident_parse(json, id);
        free(json);
    }
}

/* tpm_run() with an external emulator (--tpm) on state_dir. */
static int
ext_run(struct setup_ctx *ctx, const char *state_dir)
{
    int r;

    r = ext_start(ctx->o, state_dir, ctx->keyopt[0] ? ctx->keyopt : NULL,
                  &ctx->ident, &ctx->ext);
    if (r < 0) {
        return r;
    }
    r = ctx->o->tpm2 ? tpm2_manufacture(ctx) : tpm12_manufacture(ctx);
    ext_stop(ctx->ext);
    ctx->ext = NULL;
    return r;
}

/* The end of a run that held libtpms' writes: they go to the store if
 * the run (result r) succeeded, else they are dropped.  Returns the
 * run's result. */
static int
flush_held(struct setup_ctx *ctx, const char *state_dir, int r)
{
    struct tpm_instance *tpm = ctx->tpm;
    int fr = 0;

    if (tpm->hold_writes && r == 0) {
        fr = tpm_flush_held(tpm);
    } else {
        tpm_drop_held(tpm);
    }
    tpm->hold_writes = false;
    if (fr < 0) {
        log_errno(-fr, "cannot write the new TPM state in '%s'%s%s",
                  state_dir, state_why(tpm->store) ? ": " : "",
                  state_why(tpm->store) ? state_why(tpm->store) : "");
        return fr;
    }
    return r;
}

static int
tpm_run(struct setup_ctx *ctx, const char *state_dir)
{
    uint32_t rc = 0;
    char msg[512];
    int r;

    if (ctx->o->tpm_prog) {
        return ext_run(ctx, state_dir);
    }
    if (tpm_setup(ctx->tpm) < 0) {
        log_err("libtpms cannot emulate a TPM %s",
                ctx->o->tpm2 ? "2" : "1.2");
        return -EINVAL;
    }
    /* A scratch state is read by no one before it is flushed: libtpms'
     * writes wait in memory, and only the last of each object is written
     * (one file instead of about 15 for the permall). */
    ctx->tpm->hold_writes = state_is_scratch(ctx->tpm->store);
    get_ident(&ctx->ident);
    r = tpm_start(ctx->tpm, false, &rc);
    if (r == -EIO) {
        tpm_start_strerror(ctx->tpm, rc, msg, sizeof(msg));
        log_err("%s", msg);
    }
    if (r < 0) {
        return flush_held(ctx, state_dir, -EIO);
    }
    r = tpm_send_startup(ctx->tpm, TPM_STARTUP_CLEAR, &rc);
    if (r == 0 && rc != 0) {
        log_err("TPM startup failed with TPM result 0x%x", rc);
        r = -EIO;
    }
    if (r == 0) {
        r = ctx->o->tpm2 ? tpm2_manufacture(ctx) : tpm12_manufacture(ctx);
    }
    tpm_stop(ctx->tpm);
    return flush_held(ctx, state_dir, r);
}

/*
 * A private scratch directory for a new state: inside the state
 * directory, or for a file:// state in $TMPDIR (default /tmp), since a
 * block device's directory is no place for one.  *out_parent_fd is the
 * directory it was made in.
 */
static int
make_scratch(const struct state_store *real, char *tmpl, size_t len,
             int *out_parent_fd)
{
    const char *where = state_path(real);
    int r;

    if (state_is_file(real)) {
        where = getenv("TMPDIR");
        where = where && *where ? where : "/tmp";
    }
    snprintf(tmpl, len, "%s/" STATEDIR_TEMP_PREFIX "XXXXXX", where);
    if (!mkdtemp(tmpl)) {
        r = errno;
        log_errno(r, "cannot create a temporary directory in '%s'", where);
        return -r;
    }
    if (!state_is_file(real)) {
        *out_parent_fd = state_fd(real);
        return 0;
    }
    *out_parent_fd = open(where, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
    if (*out_parent_fd < 0) {
        r = errno;
        rmdir(tmpl);
        log_errno(r, "cannot open the temporary directory '%s'", where);
        return -r;
    }
    return 0;
}

/*
 * --reconfigure --tpm PROGRAM: PROGRAM may know no journal nor our swap,
 * so it works on the real state in place, after the journal is folded
 * into the main file (docs/state.md §9).
 */
static int
reconfigure_ext(struct setup_ctx *ctx, struct state_store *real)
{
    struct tpm_instance *tpm = ctx->tpm;
    int r;

    r = state_fold_journal(real);
    if (r < 0) {
        log_err("cannot write the journaled TPM state in '%s' "
                "into its main file before starting '%s': %s",
                state_path(real), ctx->o->tpm_prog,
                state_why(real) ? state_why(real) : strerror(-r));
        return r;
    }
    state_unlock(real);     /* the emulator locks it itself */
    /* The TPM works on the real store itself, then gives it back. */
    state_move(tpm->store, real);
    r = tpm_run(ctx, state_is_file(tpm->store) ? ctx->o->state_path
                                               : state_path(tpm->store));
    state_move(real, tpm->store);
    return r;
}

/*
 * --reconfigure: the TPM to change is the real one's newest state, loaded
 * as a start of ours loads it (journal, fallbacks), copied into scratch.
 */
static int
copy_state(struct state_store *real, struct state_store *scratch)
{
    uint8_t *buf;
    uint32_t len, rc = 0;
    int r = 0;

    for (size_t i = 0; r == 0 && i < STATE_OBJS; i++) {
        buf = NULL;
        len = 0;
        r = state_load(real, state_obj_names[i], &buf, &len, &rc);
        if (r == -ENOENT) {
            r = 0;
            continue;
        }
        if (r < 0) {
            log_err("cannot read the TPM state '%s' in '%s' to "
                    "reconfigure it: %s", state_obj_names[i],
                    state_path(real),
                    state_why(real) ? state_why(real) : strerror(-r));
        } else {
            r = state_save(scratch, state_obj_names[i], buf, len, &rc);
            if (r < 0) {
                log_errno(-r, "cannot copy the TPM state '%s' into '%s'",
                          state_obj_names[i], state_path(scratch));
            }
        }
        if (buf) {
            explicit_bzero(buf, len);
            free(buf);
        }
    }
    return r;
}

/*
 * Swap the flushed scratch state in: one transaction, the old TPM with
 * all its generations or the new one, also after a crash (docs/state.md
 * §7.5).  A reconfigured TPM keeps its identity.
 */
static int
swap_in(struct setup_ctx *ctx, struct state_store *real,
        struct state_store *scratch)
{
    int r;

    r = ctx->o->reconfigure ? state_reconfigure_from(real, scratch)
                            : state_replace_from(real, scratch);
    if (r < 0) {
        log_errno(-r, "cannot put the new state into '%s'%s%s",
                  state_path(real), state_why(real) ? ": " : "",
                  state_why(real) ? state_why(real) : "");
        return r;
    }
    if (ctx->o->reconfigure) {
        return 0;       /* the same TPM: nothing else to clear away */
    }
    /* The other TPM version's state goes too, as upstream's. */
    r = state_remove_others(real);
    if (r < 0) {
        log_errno(-r, "cannot remove old state files in '%s'",
                  state_path(real));
    }
    return r;
}

/*
 * Manufacture (or with --reconfigure, change a copy of the real state)
 * in <state>/.swtpm_setup.XXXXXX (file://: $TMPDIR), then swap the new
 * state in.  The real directory stays locked throughout.
 */
static int
manufacture(struct setup_ctx *ctx, struct state_store *real)
{
    char tmpl[SETUP_PATH_MAX + 32], err[600];
    const char *base;
    struct tpm_instance *tpm = ctx->tpm;
    int parent_fd = -1, r;

    if (ctx->o->reconfigure && ctx->o->tpm_prog) {
        return reconfigure_ext(ctx, real);
    }
    r = make_scratch(real, tmpl, sizeof(tmpl), &parent_fd);
    if (r < 0) {
        return r;
    }
    base = strrchr(tmpl, '/') + 1;
    r = state_open(tpm->store, tmpl, ctx->o->tpm2, 0640, false, false,
                   err, sizeof(err));
    if (r < 0) {
        log_err("%s", err);
        goto out;
    }
    state_set_filekey(tpm->store, state_filekey(real));
    /* Scratch directory: one flush at the end instead of two fsyncs per
     * libtpms state write (about 16 of them during manufacturing). */
    state_set_scratch(tpm->store);
    if (ctx->o->reconfigure) {
        r = copy_state(real, tpm->store);
    }
    if (r == 0) {
        r = tpm_run(ctx, tmpl);
    }
    if (r == 0) {
        r = state_sync(tpm->store);
        if (r < 0) {
            log_errno(-r, "cannot flush the new state in '%s'", tmpl);
        }
    }
    if (r == 0) {
        r = swap_in(ctx, real, tpm->store);
    }
    state_close(tpm->store);
out:
    statedir_remove_temp(parent_fd, base);
    if (parent_fd >= 0 && parent_fd != state_fd(real)) {
        close(parent_fd);
    }
    return r;
}

static void
log_banner(bool start, bool reconfigure)
{
    char date[80], who[160];
    time_t now = time(NULL);
    struct tm tm;
    struct passwd *pw = getpwuid(geteuid());
    struct group *gr = getgrgid(getegid());

    strftime(date, sizeof(date), "%a %d %b %Y %I:%M:%S %p %Z",
             localtime_r(&now, &tm));
    if (!start) {
        say("Ending vTPM manufacturing @ %s", date);
        return;
    }
    snprintf(who, sizeof(who), "%s:%s", pw ? pw->pw_name : "?",
             gr ? gr->gr_name : "?");
    say("Starting vTPM %s as %s @ %s",
        reconfigure ? "reconfiguration" : "manufacturing", who, date);
}

/* Step 7: PCR banks and RSA size from options, config, defaults. */
static int
resolve_defaults(struct setup_ctx *ctx, char **pcr_owned)
{
    const struct opts *o = ctx->o;
    char err[300], *cfg_rsa = NULL;
    const char *rsa = o->rsa_keysize;

    *pcr_owned = NULL;
    ctx->pcr_banks = o->pcr_banks;
    if (!ctx->pcr_banks) {
        *pcr_owned = conf_get(ctx->conf_text, "active_pcr_banks");
        ctx->pcr_banks = *pcr_owned && **pcr_owned ? *pcr_owned : "sha256";
        if (pcrs_check_names(ctx->pcr_banks, err, sizeof(err)) < 0) {
            log_err("config active_pcr_banks: %s", err);
            return -EINVAL;
        }
    }
    if (!rsa) {
        cfg_rsa = conf_get(ctx->conf_text, "rsa_keysize");
        rsa = cfg_rsa && *cfg_rsa ? cfg_rsa : "2048";
    }
    if (strcmp(rsa, "2048") == 0) {
        ctx->rsa_bits = 2048;
    } else if (strcmp(rsa, "3072") == 0 || strcmp(rsa, "max") == 0) {
        ctx->rsa_bits = 3072;
    } else {
        log_err("unsupported RSA key size '%s' (config rsa_keysize); "
                "libtpms 0.9 supports 2048 and 3072", rsa);
        free(cfg_rsa);
        return -EINVAL;
    }
    free(cfg_rsa);
    return 0;
}

static int
run_setup(struct setup_ctx *ctx, struct state_store *real)
{
    const struct opts *o = ctx->o;
    struct state_key key = { .len = 0 };
    char *pcr_owned = NULL;
    bool exit0 = false;
    int r;

    r = resolve_defaults(ctx, &pcr_owned);
    if (r == 0) {
        r = load_state_key(o, &key, ctx->keyopt, sizeof(ctx->keyopt));
        state_set_filekey(real, &key);
        key_wipe(&key);
    }
    if (r == 0) {
        r = statedir_lock(o, real, &exit0);
    }
    if (r < 0 || exit0) {
        free(pcr_owned);
        return r;
    }
    log_banner(true, o->reconfigure);
    if (o->create_ek_cert || o->create_platform_cert) {
        r = certs_init(ctx, &ctx->certs);
    }
    if (r == 0) {
        r = manufacture(ctx, real);
    }
    if (r == 0) {
        say("Successfully authored TPM state.");
    } else {
        log_err("An error occurred. Authoring the TPM state failed.");
    }
    log_banner(false, false);
    certs_free(ctx->certs);
    ctx->certs = NULL;
    free(pcr_owned);
    return r;
}

int
run(struct opts *o)
{
    struct state_store *real;
    struct tpm_instance tpm = { .tpm2 = o->tpm2 };
    struct setup_ctx ctx = { .o = o, .tpm = &tpm };
    char *conf = NULL, err[600];
    bool exit0 = false;
    int r;

    if (o->print_caps) {
        print_capabilities();
        return EXIT_SUCCESS;
    }
    if (o->create_config_files) {
        return create_config_files(o->ccf_arg);
    }
    log_set_level(LOG_LVL_INFO);
    if (o->logfile && open_logfile(o->logfile) < 0) {
        return EXIT_FAILURE;
    }
    if (o->runas) {
        struct daemon_user user;
        struct passwd *pw;

        if (daemon_resolve_user(o->runas, &user, err, sizeof(err)) < 0 ||
            daemon_become_user(&user, err, sizeof(err)) < 0) {
            log_err("%s", err);
            return EXIT_FAILURE;
        }
        /* the per-user CA and config belong to the new user */
        pw = getpwuid(getuid());
        if (pw) {
            setenv("HOME", pw->pw_dir, 1);
        }
    }
    real = state_new();
    tpm.store = state_new();
    if (!real || !tpm.store) {
        log_err("cannot open the state: out of memory");
        state_free(tpm.store);
        state_free(real);
        return EXIT_FAILURE;
    }
    r = statedir_open(o, real, &exit0);
    if (r == 0 && !exit0) {
        r = load_config(o, &conf);
    }
    if (r == 0 && !exit0) {
        ctx.conf_text = conf;
        r = run_setup(&ctx, real);
    }
    tpm_cleanup(&tpm);
    state_free(tpm.store);
    state_free(real);
    free(conf);
    return r == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
