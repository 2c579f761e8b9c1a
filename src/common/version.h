/* SPDX-License-Identifier: BSD-3-Clause */
/* The two version numbers the tools report (docs/cli.md §11). */
#ifndef SWTPM_VERSION_H
#define SWTPM_VERSION_H

/*
 * The upstream swtpm release whose interface these tools offer with
 * libtpms 0.9: what --version's first line and the "version" key of
 * --print-capabilities carry, because consumers choose features by it
 * (mkosi adds profile options for 0.10.0 and later, which need libtpms
 * 0.10).  Raise it only together with the features of that release.
 */
#define SWTPM_COMPAT_VERSION "0.9.0"

/* Our own copyright, where upstream's lines name IBM's. */
#define SWTPM_COPYRIGHT "Copyright (c) 2026 the SWTPM tools authors"

/*
 * The second line of every --version: our release (the VERSION file,
 * SWTPM_VERSION).  It ends with the upstream version again, so a parser
 * that takes the last word of the output, as mkosi does, still reads
 * SWTPM_COMPAT_VERSION; it contains no "version" for parsers that look
 * for that word.
 */
#define SWTPM_RELEASE_LINE \
    "SWTPM tools release " SWTPM_VERSION ", compatible with swtpm " \
    SWTPM_COMPAT_VERSION "\n"

#endif
