// SPDX-License-Identifier: BSD-3-Clause
/* The feature list printed by --print-capabilities. */
#include "caps.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libtpms/tpm_library.h>

#include "version.h"

/* Print ", \"rsa-keysize-N\"" for each size libtpms lists. */
static void
print_rsa_sizes(void)
{
    char *info, *p, *end;
    long v;

    if (TPMLIB_ChooseTPMVersion(TPMLIB_TPM_VERSION_2) != 0) {
        return;
    }
    info = TPMLIB_GetInfo(TPMLIB_INFO_TPMFEATURES);
    if (!info) {
        return;
    }
    p = strstr(info, "\"RSAKeySizes\":[");
    if (p) {
        p += strlen("\"RSAKeySizes\":[");
        while (*p && *p != ']') {
            v = strtol(p, &end, 10);
            if (end == p) {
                break;
            }
            printf(", \"rsa-keysize-%ld\"", v);
            p = end;
            if (*p == ',') {
                p++;
            }
        }
    }
    free(info);
}

int
caps_print(const char *type, bool tpm2, bool cuse)
{
    printf("{ \"type\": \"%s\", \"features\": [ \"tpm-1.2\", \"tpm-2.0\"",
           type);
    if (!cuse) {
        printf(", \"tpm-send-command-header\"");
    }
    /* Upstream lists ctrl-opt-terminate for CUSE too (docs/cli.md §9.1). */
    printf(", \"flags-opt-startup\", \"flags-opt-disable-auto-shutdown\", "
           "\"ctrl-opt-terminate\"");
    printf(", \"cmdarg-seccomp\", \"cmdarg-key-fd\", \"cmdarg-pwd-fd\", "
           "\"cmdarg-print-states\", \"cmdarg-chroot\", \"cmdarg-migration\", "
           "\"nvram-backend-dir\", \"nvram-backend-file\"");
    if (tpm2) {
        print_rsa_sizes();
    }
    /* Not "cmdarg-print-info": consumers (libvirt >= 10.10) take it to
     * mean --print-info 0x20 reports the active profile, which needs
     * libtpms 0.10 (docs/cli.md §9.1). */
    printf(", \"tpmstate-opt-lock\"");
    printf(", \"cmdarg-pcap\", \"systemd-notify\"");
    printf(" ], \"version\": \"%s\" }\n",
           SWTPM_COMPAT_VERSION);
    return 0;
}

int
caps_print_info(unsigned int flags)
{
    char *info = TPMLIB_GetInfo(flags);

    if (!info) {
        return -ENOMEM;
    }
    printf("%s\n", info);
    free(info);
    return 0;
}
