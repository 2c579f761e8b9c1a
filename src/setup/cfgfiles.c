// SPDX-License-Identifier: BSD-3-Clause
/*
 * --create-config-files (docs/setup-and-bios.md §5.5): the per-user
 * swtpm_setup.conf, swtpm-localca.conf and swtpm-localca.options.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "fdio.h"
#include "run.h"

#define NFILES 3

static const char *const file_names[NFILES] = {
    "swtpm_setup.conf", "swtpm-localca.conf", "swtpm-localca.options",
};

struct ccf_flags {
    bool overwrite;
    bool root;
    bool skip_if_exist;
};

/* Tokens split at ',' or ' '; 0 or -EINVAL naming the bad token. */
static int
parse_flags(const char *arg, struct ccf_flags *f)
{
    char *copy = strdup(arg ? arg : ""), *save = NULL, *tok;
    int r = 0;

    if (!copy) {
        return -ENOMEM;
    }
    for (tok = strtok_r(copy, ", ", &save); tok && r == 0;
         tok = strtok_r(NULL, ", ", &save)) {
        if (strcmp(tok, "overwrite") == 0) {
            f->overwrite = true;
        } else if (strcmp(tok, "root") == 0) {
            f->root = true;
        } else if (strcmp(tok, "skip-if-exist") == 0) {
            f->skip_if_exist = true;
        } else {
            fprintf(stderr, "unknown --create-config-files flag '%s'; use "
                    "overwrite, root or skip-if-exist\n", tok);
            r = -EINVAL;
        }
    }
    free(copy);
    return r;
}

static void
underscore_spaces(char *s)
{
    for (; *s; s++) {
        if (*s == ' ') {
            *s = '_';
        }
    }
}

/* A config file is replaced whole, so a failure keeps the old one. */
static int
write_file(const char *path, const char *text)
{
    return fd_replace_file(path, text, strlen(text), 0644);
}

/* The three file contents (docs/setup-and-bios.md §5.5); false on allocation
 * failure. */
static bool
make_contents(const char *cfg, char *out[NFILES])
{
    char exe[SETUP_PATH_MAX] = "/usr/bin/swtpm_setup", *bindir;
    struct utsname u;
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

    if (n > 0) {
        exe[n] = '\0';
    }
    bindir = dirname(exe);
    if (uname(&u) < 0) {
        memset(&u, 0, sizeof(u));
    }
    underscore_spaces(u.sysname);
    underscore_spaces(u.version);
    if (asprintf(&out[0],
                 "# Program invoked for creating certificates\n"
                 "create_certs_tool = %s/swtpm_localca\n"
                 "create_certs_tool_config = %s/swtpm-localca.conf\n"
                 "create_certs_tool_options = %s/swtpm-localca.options\n"
                 "# Comma-separated list (no spaces) of PCR banks to "
                 "activate by default\n"
                 "active_pcr_banks = sha256\n", bindir, cfg, cfg) < 0) {
        out[0] = NULL;
    }
    if (asprintf(&out[1],
                 "statedir = %s/var/lib/swtpm-localca\n"
                 "signingkey = %s/var/lib/swtpm-localca/signkey.pem\n"
                 "issuercert = %s/var/lib/swtpm-localca/issuercert.pem\n"
                 "certserial = %s/var/lib/swtpm-localca/certserial\n",
                 cfg, cfg, cfg, cfg) < 0) {
        out[1] = NULL;
    }
    if (asprintf(&out[2],
                 "--platform-manufacturer %s\n"
                 "--platform-version %s\n"
                 "--platform-model %s\n", u.sysname, u.version,
                 u.sysname) < 0) {
        out[2] = NULL;
    }
    return out[0] && out[1] && out[2];
}

int
create_config_files(const char *arg)
{
    struct ccf_flags f = { false, false, false };
    char cfg[SETUP_PATH_MAX], paths[NFILES][SETUP_PATH_MAX + 32];
    char ca[SETUP_PATH_MAX + 32], *text[NFILES] = { NULL, NULL, NULL };
    bool exists = false;
    int r, i;

    if (parse_flags(arg, &f) < 0) {
        return EXIT_FAILURE;
    }
    if (f.overwrite && f.skip_if_exist) {
        fprintf(stderr, "'overwrite' and 'skip-if-exist' cannot be used "
                "together\n");
        return EXIT_FAILURE;
    }
    if (geteuid() == 0 && !f.root) {
        fprintf(stderr, "the 'root' flag is required to write the config "
                "files into root's config directory\n");
        return EXIT_FAILURE;
    }
    if (user_config_dir(cfg, sizeof(cfg)) < 0) {
        fprintf(stderr, "cannot find the user config directory: neither "
                "XDG_CONFIG_HOME nor HOME is set\n");
        return EXIT_FAILURE;
    }
    for (i = 0; i < NFILES; i++) {
        if (path_join(paths[i], sizeof(paths[i]), cfg, file_names[i]) < 0) {
            fprintf(stderr, "config directory '%s' is too long\n", cfg);
            return EXIT_FAILURE;
        }
        exists = exists || access(paths[i], F_OK) == 0;
    }
    if (exists && f.skip_if_exist) {
        return EXIT_SUCCESS;
    }
    if (exists && !f.overwrite) {
        fprintf(stderr, "config files already exist in '%s'; use "
                "'overwrite' or 'skip-if-exist'\n", cfg);
        return EXIT_FAILURE;
    }
    snprintf(ca, sizeof(ca), "%s/var/lib/swtpm-localca", cfg);
    r = mkdir_parents(ca, 0775);
    if (r < 0) {
        fprintf(stderr, "cannot create directory '%s': %s\n", ca,
                strerror(-r));
        return EXIT_FAILURE;
    }
    if (!make_contents(cfg, text)) {
        r = -ENOMEM;
    }
    for (i = 0; r == 0 && i < NFILES; i++) {
        printf("Writing %s.\n", paths[i]);
        r = write_file(paths[i], text[i]);
        if (r < 0) {
            fprintf(stderr, "cannot write '%s': %s\n", paths[i],
                    strerror(-r));
        }
    }
    if (r < 0) {
        for (i = 0; i < NFILES; i++) {
            unlink(paths[i]);
        }
    }
    for (i = 0; i < NFILES; i++) {
        free(text[i]);
    }
    return r == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
