// SPDX-License-Identifier: BSD-3-Clause
/*
 * swtpm_ioctl: send one control command to a TPM emulator over its CUSE
 * device, TCP or Unix control socket (docs/cli.md §7).  This file parses
 * the command line; run.c and blob.c do the work.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ioctl.h"
#include "log.h"
#include "subopt.h"
#include "version.h"

#define DEFAULT_CTRL_PORT 6546

static void
print_version(void)
{
    printf("TPM emulator control tool version %s, %s\n",
           SWTPM_COMPAT_VERSION, SWTPM_COPYRIGHT);
}

static void
usage(const char *prog)
{
    print_version();
    printf("\n"
"Usage: %s [connection] <command> [<device>]\n"
"\n"
"Connection (one of):\n"
"  --tpm-device <device>  CUSE character device, e.g. /dev/vtpm0\n"
"                         (or give the device as the last argument)\n"
"  --tcp [<host>]:[<port>]\n"
"                         TCP control port; host defaults to 127.0.0.1,\n"
"                         port to %u\n"
"  --unix <path>          Unix control socket\n"
"\n"
"Commands (exactly one):\n"
"  -c                     print the capability flags\n"
"  -i                     initialize (start) the TPM; deletes the\n"
"                         volatile state once it has been read\n"
"  --stop                 stop the TPM; the emulator keeps running\n"
"  -s                     shut the TPM down and end the emulator\n"
"  -e                     print the tpmEstablished flag\n"
"  -r <locality>          reset tpmEstablished from locality 0-4\n"
"  -l <locality>          use locality 0-4 for further TPM commands\n"
"  -v                     store the volatile state\n"
"  -C                     cancel the TPM command in progress\n"
"  -h <data>              hash <data> (or stdin if '-') as the\n"
"                         locality-4 _TPM_Hash sequence\n"
"  --save <type> <file>   write state blob <type> to <file>\n"
"  --load <type> <file>   load state blob <type> from <file>;\n"
"                         <type>: permanent, volatile or savestate\n"
"  -g                     print the configuration flags\n"
"  -b <size>              set the TPM buffer size (0 = query)\n"
"  --info <flags>         print TPM information as JSON\n"
"                         (1 specification, 2 attributes, 4 features)\n"
"  --lock-storage <retries>\n"
"                         lock the emulator's state storage\n"
"  --version              print the version and exit\n"
"  --help                 print this help and exit\n"
"\n"
"Exit status: 0 on success, 1 on any error.\n",
           prog, DEFAULT_CTRL_PORT);
}

static int
set_op(struct opts *o, enum ioctl_op op)
{
    if (o->op != OP_NONE && o->op != op) {
        fprintf(stderr, "Only one command may be given.\n");
        return -1;
    }
    o->op = op;
    return 0;
}

static int
parse_locality(const char *arg, uint32_t *out)
{
    unsigned long v;

    if (parse_uint(arg, 0, 4, &v) < 0) {
        log_err("locality must be 0-4, got '%s'", arg);
        return -1;
    }
    *out = (uint32_t)v;
    return 0;
}

static int
parse_blob_type(const char *arg, uint32_t *out)
{
    if (strcmp(arg, "permanent") == 0) {
        *out = PTM_BLOB_TYPE_PERMANENT;
    } else if (strcmp(arg, "volatile") == 0) {
        *out = PTM_BLOB_TYPE_VOLATILE;
    } else if (strcmp(arg, "savestate") == 0) {
        *out = PTM_BLOB_TYPE_SAVESTATE;
    } else {
        log_err("unknown state blob type '%s' "
                "(use permanent, volatile or savestate)", arg);
        return -1;
    }
    return 0;
}

/* --save/--load take the file name from the next argument. */
static int
take_file(struct opts *o, int argc, char **argv, const char *optname)
{
    if (optind >= argc || argv[optind][0] == '-') {
        fprintf(stderr, "Missing filename argument for --%s option\n",
                optname);
        return -1;
    }
    o->file = argv[optind++];
    return 0;
}

enum {
    LOPT_HELP = 256,
    LOPT_INFO,
    LOPT_LOAD,
    LOPT_LOCK,
    LOPT_SAVE,
    LOPT_STOP,
    LOPT_TCP,
    LOPT_DEVICE,
    LOPT_UNIX,
    LOPT_VERSION,
};

static const struct option long_opts[] = {
    { "b", required_argument, NULL, 'b' },
    { "C", no_argument, NULL, 'C' },
    { "c", no_argument, NULL, 'c' },
    { "e", no_argument, NULL, 'e' },
    { "g", no_argument, NULL, 'g' },
    { "h", required_argument, NULL, 'h' },
    { "help", no_argument, NULL, LOPT_HELP },
    { "i", no_argument, NULL, 'i' },
    { "info", required_argument, NULL, LOPT_INFO },
    { "l", required_argument, NULL, 'l' },
    { "load", required_argument, NULL, LOPT_LOAD },
    { "lock-storage", required_argument, NULL, LOPT_LOCK },
    { "r", required_argument, NULL, 'r' },
    { "s", no_argument, NULL, 's' },
    { "save", required_argument, NULL, LOPT_SAVE },
    { "stop", no_argument, NULL, LOPT_STOP },
    { "tcp", required_argument, NULL, LOPT_TCP },
    { "tpm-device", required_argument, NULL, LOPT_DEVICE },
    { "unix", required_argument, NULL, LOPT_UNIX },
    { "v", no_argument, NULL, 'v' },
    { "version", no_argument, NULL, LOPT_VERSION },
    { NULL, 0, NULL, 0 },
};

/* Options that take a number or a name; 0, or -1 after an error. */
static int
parse_valued(struct opts *o, int c, int argc, char **argv)
{
    unsigned long v;

    switch (c) {
    case 'b':
        if (parse_uint(optarg, 0, UINT32_MAX, &v) < 0) {
            log_err("buffer size must be a number, got '%s'", optarg);
            return -1;
        }
        o->number = (uint32_t)v;
        return set_op(o, OP_BUFFERSIZE);
    case 'h':
        o->hash_data = optarg;
        return set_op(o, OP_HASH);
    case 'l':
        return parse_locality(optarg, &o->number) < 0 ? -1 :
               set_op(o, OP_LOCALITY);
    case 'r':
        return parse_locality(optarg, &o->number) < 0 ? -1 :
               set_op(o, OP_RESET_ESTABLISHED);
    case LOPT_INFO:
        if (parse_ulong_base0(optarg, ULONG_MAX, &v) < 0) {
            log_err("info flags must be a number, got '%s'", optarg);
            return -1;
        }
        o->info_flags = v;
        return set_op(o, OP_INFO);
    case LOPT_LOCK:
        if (parse_uint(optarg, 0, UINT32_MAX, &v) < 0) {
            log_err("lock retries must be a number, got '%s'", optarg);
            return -1;
        }
        o->number = (uint32_t)v;
        return set_op(o, OP_LOCK_STORAGE);
    case LOPT_LOAD:
    case LOPT_SAVE:
        if (set_op(o, c == LOPT_LOAD ? OP_LOAD : OP_SAVE) < 0 ||
            parse_blob_type(optarg, &o->blob_type) < 0) {
            return -1;
        }
        return take_file(o, argc, argv, c == LOPT_LOAD ? "load" : "save");
    default:
        return -1;
    }
}

static int
parse_connection(struct opts *o, int c)
{
    int r;

    switch (c) {
    case LOPT_DEVICE:
        o->target.kind = CLIENT_DEVICE;
        o->target.path = optarg;
        return 0;
    case LOPT_UNIX:
        o->target.kind = CLIENT_UNIX;
        o->target.path = optarg;
        return 0;
    default:
        r = client_parse_tcp(optarg, DEFAULT_CTRL_PORT, &o->target);
        if (r < 0) {
            log_err("cannot parse --tcp '%s': expected [host]:[port] "
                    "with port 1-65535", optarg);
            return -1;
        }
        return 0;
    }
}

/* OPTS_CONTINUE, or the exit code (help and version: success). */
static int
parse_args(int argc, char **argv, struct opts *o)
{
    int c, r;

    opterr = 1;
    while ((c = getopt_long_only(argc, argv, "b:Ccegh:il:r:sv", long_opts,
                                 NULL)) != -1) {
        switch (c) {
        case 'C': r = set_op(o, OP_CANCEL); break;
        case 'c': r = set_op(o, OP_CAPABILITY); break;
        case 'e': r = set_op(o, OP_ESTABLISHED); break;
        case 'g': r = set_op(o, OP_CONFIG); break;
        case 'i': r = set_op(o, OP_INIT); break;
        case 's': r = set_op(o, OP_SHUTDOWN); break;
        case 'v': r = set_op(o, OP_STORE_VOLATILE); break;
        case LOPT_STOP: r = set_op(o, OP_STOP); break;
        case LOPT_HELP:
            usage(argv[0]);
            return EXIT_SUCCESS;
        case LOPT_VERSION:
            print_version();
            fputs(SWTPM_RELEASE_LINE, stdout);
            return EXIT_SUCCESS;
        case LOPT_DEVICE:
        case LOPT_TCP:
        case LOPT_UNIX:
            r = parse_connection(o, c);
            break;
        case '?':
            fprintf(stderr, "Try '%s --help' for more information.\n",
                    argv[0]);
            return EXIT_FAILURE;
        default:
            r = parse_valued(o, c, argc, argv);
            break;
        }
        if (r < 0) {
            return EXIT_FAILURE;
        }
    }
    return OPTS_CONTINUE;
}

/* OPTS_CONTINUE, or the exit code. */
static int
opts_validate(struct opts *o, int argc, char **argv)
{
    if (o->op == OP_NONE) {
        fprintf(stderr, "No valid command.\n");
        return EXIT_FAILURE;
    }
    if (o->target.kind == 0) {
        if (optind >= argc) {
            fprintf(stderr, "Error: Missing device name.\n");
            return EXIT_FAILURE;
        }
        o->target.kind = CLIENT_DEVICE;
        o->target.path = argv[optind++];
    }
    /* Upstream ignores surplus arguments; say so, but carry on. */
    if (optind < argc) {
        log_warn("ignoring extra argument '%s'", argv[optind]);
    }
    return OPTS_CONTINUE;
}

int
main(int argc, char **argv)
{
    struct opts o = { 0 };
    int r;

    log_set_prefix("swtpm_ioctl: ");
    r = parse_args(argc, argv, &o);
    if (r == OPTS_CONTINUE) {
        r = opts_validate(&o, argc, argv);
    }
    return r == OPTS_CONTINUE ? run(&o) : r;
}
