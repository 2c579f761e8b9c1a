/* SPDX-License-Identifier: BSD-3-Clause */
/* swtpm_localca: options of main.c for run.c. */
#ifndef LOCALCA_TOOL_H
#define LOCALCA_TOOL_H

#include <stdbool.h>
#include <stdlib.h>

struct opts {
    const char *type;               /* ek | platform */
    const char *ek;                 /* hex modulus or x=..,y=..[,id=..] */
    const char *dir;
    const char *vmid;
    const char *optsfile;
    const char *configfile;
    const char *logfile;
    const char *spec_family;
    const char *spec_revision;
    const char *spec_level;
    const char *tpm_manufacturer;
    const char *tpm_model;
    const char *tpm_version;
    bool tpm2;
    bool allow_signing;
    bool decryption;
};

/* Make the certificate; returns the exit code (errors were logged). */
int run(const struct opts *o);

#endif
