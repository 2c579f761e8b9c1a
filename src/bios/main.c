// SPDX-License-Identifier: BSD-3-Clause
/*
 * swtpm_bios: send the TPM commands a PC firmware would send at boot
 * (startup, physical presence, enable/activate, self test) to a TPM
 * emulator (docs/cli.md §8, docs/setup-and-bios.md §1).  This file
 * parses the command line; seq.c runs the sequence.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bios.h"
#include "log.h"
#include "subopt.h"
#include "version.h"

#define DEFAULT_TPM_PORT 6545
#define DEFAULT_DEVICE   "/dev/tpm0"

static void
print_version(void)
{
    printf("TPM emulator BIOS emulator version %s, %s\n",
           SWTPM_COMPAT_VERSION, SWTPM_COPYRIGHT);
}

static void
usage(const char *prog)
{
    print_version();
    printf("\n"
"Usage: %s [options]\n"
"\n"
"Connection (default: $TPM_DEVICE or %s; TCP when\n"
"$TCSD_USE_TCP_DEVICE is set, to $TCSD_TCP_DEVICE_HOSTNAME and\n"
"$TCSD_TCP_DEVICE_PORT):\n"
"  --tpm-device <device>  TPM character device\n"
"  --tcp [<host>]:[<port>] TPM data port (default 127.0.0.1:%u)\n"
"  --unix <path>          TPM data Unix socket\n"
"\n"
"Options (later ones of -c, -s, -d, -n, -o override earlier ones):\n"
"  --tpm2     the TPM is a TPM 2 (default: TPM 1.2)\n"
"  -c         startup with clear state (default)\n"
"  -s         startup resuming the saved state\n"
"  -d         TPM 1.2: startup deactivated, nothing else\n"
"             TPM 2: no startup\n"
"  -n         do not send a startup command\n"
"  -o         TPM 1.2: only the startup command, no physical presence,\n"
"             enable or activate\n"
"  -cs        run the TPM self test\n"
"  -ea        TPM 1.2: activate the TPM if it is deactivated and exit\n"
"             with 129 because it then needs a reset\n"
"  -u         give up physical presence (TPM 2: set a random platform\n"
"             hierarchy password)\n"
"  -h, --help     print this help and exit\n"
"  -v, --version  print the version and exit\n"
"\n"
"Exit status: 0 success, 1 usage error, 128 a TPM command failed,\n"
"129 the TPM needs a reset (-ea), 255 cannot talk to the TPM.\n",
           prog, DEFAULT_DEVICE, DEFAULT_TPM_PORT);
}

enum {
    LOPT_CS = 256,
    LOPT_EA,
    LOPT_TCP,
    LOPT_DEVICE,
    LOPT_TPM2,
    LOPT_UNIX,
};

static const struct option long_opts[] = {
    { "cs", no_argument, NULL, LOPT_CS },
    { "ea", no_argument, NULL, LOPT_EA },
    { "help", no_argument, NULL, 'h' },
    { "tcp", required_argument, NULL, LOPT_TCP },
    { "tpm-device", required_argument, NULL, LOPT_DEVICE },
    { "tpm2", no_argument, NULL, LOPT_TPM2 },
    { "unix", required_argument, NULL, LOPT_UNIX },
    { "version", no_argument, NULL, 'v' },
    { NULL, 0, NULL, 0 },
};

struct conn_args {
    const char *device;
    const char *tcp;
    const char *unix_path;
};

/* OPTS_CONTINUE, or the exit code (help and version: success). */
static int
parse_args(int argc, char **argv, struct opts *o, struct conn_args *ca)
{
    int c;

    o->startup = STARTUP_CLEAR;
    o->follow_ups = true;
    while ((c = getopt_long_only(argc, argv, "cdhnosuv", long_opts,
                                 NULL)) != -1) {
        switch (c) {
        case 'c':
            o->startup = STARTUP_CLEAR;
            o->follow_ups = true;
            break;
        case 'd':
            o->startup = STARTUP_DEACTIVATED;
            o->follow_ups = false;
            break;
        case 'h':
            usage(argv[0]);
            return BIOS_EXIT_OK;
        case 'n':
            o->startup = STARTUP_NONE;
            o->follow_ups = true;
            break;
        case 'o':
            o->follow_ups = false;
            break;
        case 's':
            o->startup = STARTUP_STATE;
            o->follow_ups = true;
            break;
        case 'u': o->unassert_pp = true; break;
        case 'v':
            /* Upstream's man page: "Display version and exit". */
            print_version();
            fputs(SWTPM_RELEASE_LINE, stdout);
            return BIOS_EXIT_OK;
        case LOPT_CS: o->self_test = true; break;
        case LOPT_EA: o->ensure_activated = true; break;
        case LOPT_TCP: ca->tcp = optarg; break;
        case LOPT_DEVICE: ca->device = optarg; break;
        case LOPT_TPM2: o->tpm2 = true; break;
        case LOPT_UNIX: ca->unix_path = optarg; break;
        default:
            usage(argv[0]);
            return BIOS_EXIT_USAGE;
        }
    }
    /* Upstream ignores surplus arguments; say so, but carry on. */
    if (optind < argc) {
        log_warn("ignoring extra argument '%s'", argv[optind]);
    }
    return OPTS_CONTINUE;
}

/* Environment fallback: TCSD_USE_TCP_DEVICE, then TPM_DEVICE. */
static int
target_from_env(struct opts *o)
{
    const char *host = getenv("TCSD_TCP_DEVICE_HOSTNAME");
    const char *port = getenv("TCSD_TCP_DEVICE_PORT");
    unsigned long p = DEFAULT_TPM_PORT;

    if (!getenv("TCSD_USE_TCP_DEVICE")) {
        o->target.kind = CLIENT_DEVICE;
        o->target.path = getenv("TPM_DEVICE") ? getenv("TPM_DEVICE")
                                              : DEFAULT_DEVICE;
        return 0;
    }
    if (port && parse_uint(port, 1, 65535, &p) < 0) {
        log_err("TCSD_TCP_DEVICE_PORT must be a port 1-65535, got '%s'",
                port);
        return -1;
    }
    if (!host || !*host) {
        host = "127.0.0.1";
    }
    if (strlen(host) >= sizeof(o->target.host)) {
        log_err("TCSD_TCP_DEVICE_HOSTNAME is too long");
        return -1;
    }
    o->target.kind = CLIENT_TCP;
    strcpy(o->target.host, host);
    o->target.port = (unsigned int)p;
    return 0;
}

/* Priority: --tpm-device, --tcp, --unix, then the environment.
 * OPTS_CONTINUE, or the exit code. */
static int
opts_validate(struct opts *o, const struct conn_args *ca)
{
    if (ca->device) {
        o->target.kind = CLIENT_DEVICE;
        o->target.path = ca->device;
    } else if (ca->tcp) {
        if (client_parse_tcp(ca->tcp, DEFAULT_TPM_PORT, &o->target) < 0) {
            log_err("cannot parse --tcp '%s': expected [host]:[port] "
                    "with port 1-65535", ca->tcp);
            return BIOS_EXIT_USAGE;
        }
    } else if (ca->unix_path) {
        o->target.kind = CLIENT_UNIX;
        o->target.path = ca->unix_path;
    } else if (target_from_env(o) < 0) {
        return BIOS_EXIT_USAGE;
    }
    return OPTS_CONTINUE;
}

int
main(int argc, char **argv)
{
    struct opts o = { 0 };
    struct conn_args ca = { 0 };
    int r;

    log_set_prefix("swtpm_bios: ");
    r = parse_args(argc, argv, &o, &ca);
    if (r == OPTS_CONTINUE) {
        r = opts_validate(&o, &ca);
    }
    return r == OPTS_CONTINUE ? run(&o) : r;
}
