// SPDX-License-Identifier: BSD-3-Clause
/*
 * swtpm_localca's procedure (docs/setup-and-bios.md §7): find the config
 * and options files, open the CA (creating it under its lock if
 * missing), take a serial number, and run the swtpm_cert command line
 * upstream would run, in-process, with the CA key already loaded.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fdio.h"
#include "certtool.h"
#include "conf.h"
#include "localca.h"
#include "log.h"
#include "tool.h"
#include "toolenv.h"

#define SYSCONF_DIR   "/etc"
#define CONF_NAME     "swtpm-localca.conf"
#define OPTIONS_NAME  "swtpm-localca.options"
/* swtpm_cert's own words around the options file's */
#define ARGS_OWN      48
#define PATH_LEN      4096

/* given, else the user's config dir if readable, else /etc
 * (docs/setup-and-bios.md §7). */
static int
pick_file(const char *given, const char *name, char *out, size_t outlen)
{
    char dir[PATH_LEN];

    if (given) {
        snprintf(out, outlen, "%s", given);
    } else if (user_config_dir(dir, sizeof(dir)) == 0 &&
               path_join(out, outlen, dir, name) == 0 &&
               access(out, R_OK) == 0) {
        return 0;
    } else {
        path_join(out, outlen, SYSCONF_DIR, name);
    }
    if (access(out, R_OK) < 0) {
        int e = errno;
        char who[128];

        effective_user(who, sizeof(who));
        log_err("Need read rights on %s file %s for %s: %s",
                strcmp(name, CONF_NAME) == 0 ? "config" : "options", out,
                who, strerror(e));
        return -e;
    }
    return 0;
}

/* The ECC form of --ek: x=<hex>,y=<hex>[,id=<curve>] (modifies s). */
static int
split_ecc(char *s, const char **x, const char **y, const char **id)
{
    char *save = NULL;

    for (char *t = strtok_r(s, ",", &save); t; t = strtok_r(NULL, ",",
                                                             &save)) {
        if (strncmp(t, "x=", 2) == 0) {
            *x = t + 2;
        } else if (strncmp(t, "y=", 2) == 0) {
            *y = t + 2;
        } else if (strncmp(t, "id=", 3) == 0) {
            *id = t + 3;
        } else {
            return -EINVAL;
        }
    }
    return *x && *y ? 0 : -EINVAL;
}

static bool
is_hex(const char *s)
{
    return *s && strspn(s, "0123456789abcdefABCDEF") == strlen(s);
}

/* Check --ek before a serial number is spent on it. */
static int
check_ek(const char *ek)
{
    const char *x = NULL, *y = NULL, *id = NULL;
    char *copy;
    int r;

    if (!strchr(ek, '=')) {
        r = is_hex(ek) ? 0 : -EINVAL;
    } else if ((copy = strdup(ek)) == NULL) {
        return -ENOMEM;
    } else {
        r = split_ecc(copy, &x, &y, &id);
        if (r == 0 && (!is_hex(x) || !is_hex(y))) {
            r = -EINVAL;
        }
        free(copy);
    }
    if (r == -EINVAL) {
        log_err("Invalid --ek '%s': need a hex modulus or "
                "x=<hex>,y=<hex>[,id=<curve>]", ek);
    }
    return r;
}

/* The command line: as many words as the options file has, plus ours. */
struct args {
    const char **v;
    size_t max;
    size_t n;
};

static void
add(struct args *a, const char *s)
{
    if (a->n < a->max) {
        a->v[a->n++] = s;
    }
}

/* Upstream's swtpm_cert command line (docs/setup-and-bios.md §7 step 5), minus
 * passwords: the CA key is loaded already. */
static void
build_args(const struct opts *o, struct args *a, char **words,
           const char *subject, char *ek, const char *out_cert,
           const char *signkey, const char *issuercert, const char *serial)
{
    const char *x = NULL, *y = NULL, *id = NULL;
    bool ek_type = strcmp(o->type, "ek") == 0;

    add(a, "swtpm_cert");
    add(a, "--subject");
    add(a, subject);
    for (size_t i = 0; words && words[i]; i++) {
        add(a, words[i]);
    }
    add(a, o->tpm2 ? "--tpm2" : "--add-header");
    if (ek_type && o->allow_signing) {
        add(a, "--allow-signing");
        if (o->decryption) {
            add(a, "--decryption");
        }
    }
    if (ek_type && o->spec_family) {
        add(a, "--tpm-spec-family");
        add(a, o->spec_family);
        add(a, "--tpm-spec-level");
        add(a, o->spec_level ? o->spec_level : "");
        add(a, "--tpm-spec-revision");
        add(a, o->spec_revision ? o->spec_revision : "");
    }
    /* Given ones follow the options file's words, so they win there. */
    if (o->tpm_manufacturer) {
        add(a, "--tpm-manufacturer");
        add(a, o->tpm_manufacturer);
    }
    if (o->tpm_model) {
        add(a, "--tpm-model");
        add(a, o->tpm_model);
    }
    if (o->tpm_version) {
        add(a, "--tpm-version");
        add(a, o->tpm_version);
    }
    if (!ek_type) {
        add(a, "--type");
        add(a, o->type);
    }
    add(a, "--out-cert");
    add(a, out_cert);
    if (strchr(ek, '=') && split_ecc(ek, &x, &y, &id) == 0) {
        add(a, "--ecc-x");
        add(a, x);
        add(a, "--ecc-y");
        add(a, y);
        if (id) {
            add(a, "--ecc-curveid");
            add(a, id);
        }
    } else {
        add(a, "--modulus");
        add(a, ek);
    }
    add(a, "--signkey");
    add(a, signkey);
    add(a, "--issuercert");
    add(a, issuercert);
    add(a, "--days");
    add(a, "-1");
    add(a, "--serial");
    add(a, serial);
    a->v[a->n] = NULL;
}

/* Read the options file into argv words (docs/setup-and-bios.md §5.4). */
static int
read_words(const char *path, char ***out)
{
    char *text = NULL;
    int r = conf_read(path, &text);

    if (r < 0) {
        log_err("Cannot read options file '%s': %s", path,
                fd_open_strerror(-r));
        return r;
    }
    *out = conf_words(text);
    free(text);
    return *out ? 0 : -ENOMEM;
}

/* Run the certificate command line with the CA's key and cert. */
static int
issue(struct args *a, void *key, void *cert)
{
    char err[CERTTOOL_ERR_MAX] = "";
    struct certtool_opts co;
    int r;

    r = certtool_parse((int)a->n, (char **)a->v, &co, err, sizeof(err));
    if (r == CERTTOOL_OK) {
        r = certtool_validate(&co, err, sizeof(err));
    }
    if (r == CERTTOOL_OK) {
        r = certtool_issue(&co, key, cert, err, sizeof(err));
    }
    if (r != CERTTOOL_OK) {
        log_err("Could not create %s certificate locally: %s",
                co.type ? co.type : "EK", err);
        return -EINVAL;
    }
    return 0;
}

int
run(const struct opts *o)
{
    char conf[PATH_LEN], optsf[PATH_LEN], out[PATH_LEN + 32];
    char cn[1024], subject[1040], serial[64];
    char signkey[PATH_LEN], issuercert[PATH_LEN];
    char *ek = strdup(o->ek), **words = NULL;
    struct localca *ca = NULL;
    struct args a = { .v = NULL };
    size_t nwords = 0;
    void *key = NULL, *cert = NULL;
    bool ek_type = strcmp(o->type, "ek") == 0;
    int r;

    r = ek ? check_ek(o->ek) : -ENOMEM;
    if (r == 0) {
        r = pick_file(o->configfile, CONF_NAME, conf, sizeof(conf));
    }
    if (r == 0) {
        r = pick_file(o->optsfile, OPTIONS_NAME, optsf, sizeof(optsf));
    }
    if (r == 0) {
        r = read_words(optsf, &words);
    }
    if (r == 0) {
        while (words && words[nwords]) {
            nwords++;
        }
        a.max = nwords + ARGS_OWN;
        a.v = calloc(a.max + 1, sizeof(*a.v));
        r = a.v ? 0 : -ENOMEM;
    }
    if (r == 0) {
        r = localca_open_conf(conf, &ca);
    }
    if (r == 0) {
        r = localca_reserve(ca, serial, sizeof(serial), &key, &cert);
    }
    if (r < 0) {
        goto out;
    }
    localca_subject_cn(o->vmid, cn, sizeof(cn));
    snprintf(subject, sizeof(subject), "CN=%s", cn);
    snprintf(out, sizeof(out), "%s/%s.cert", o->dir, o->type);
    /* certtool wants the paths; the key and cert are loaded already */
    snprintf(signkey, sizeof(signkey), "%s", "(loaded)");
    snprintf(issuercert, sizeof(issuercert), "%s", "(loaded)");
    build_args(o, &a, words, subject, ek, out, signkey, issuercert, serial);
    r = issue(&a, key, cert);
    /* the serial is spent only by a certificate that was made */
    if (r == 0 && localca_commit(ca) < 0) {
        unlink(out);
        r = -EIO;
    }
    if (r == 0) {
        say("Successfully created %s certificate locally.",
            ek_type ? "EK" : "platform");
    }
out:
    free(a.v);
    conf_free_words(words);
    localca_free(ca);
    free(ek);
    return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
