// SPDX-License-Identifier: BSD-3-Clause
/* swtpm_cuse: a TPM 1.2 or 2.0 emulator on a CUSE character device. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libtpms/tpm_library.h>

#include "cuse_dev.h"
#include "daemon_start.h"
#include "log.h"
#include "pcap.h"
#include "subopt.h"
#include "version.h"

static void
usage(FILE *f, const char *prg)
{
    fprintf(f,
"TPM emulator CUSE interface version %s\n"
"\n"
"Usage: %s -n NAME [options]\n"
"\n"
"  -n, --name NAME           create the character device /dev/NAME\n"
"                            (required)\n"
"  -M, --maj N               device major number (0-65535)\n"
"  -m, --min N               device minor number (0-65535)\n"
"  -f, --foreground          stay in the foreground (for supervisors)\n",
            SWTPM_COMPAT_VERSION, prg);
    daemon_usage(f, /* cuse= */ true);
    fprintf(f,
"  -h, --help                show this help\n"
"  -v, --version             show the version\n"
"\n"
"The command returns once /dev/NAME can be opened.  Exit codes: 0 ok,\n"
"1 usage, 251 unknown --runas user, 252 not root, 253 bad sub-option,\n"
"254 missing --name, 255 other errors (each explained on stderr);\n"
"after the device exists: 242 seccomp, 243 pid file, 246 --runas.\n");
}

static const struct option long_opts[] = {
    DAEMON_LONG_OPTS,
    { "foreground", no_argument, NULL, 'f' },
    { "help", no_argument, NULL, 'h' },
    { "maj", required_argument, NULL, 'M' },
    { "min", required_argument, NULL, 'm' },
    { "name", required_argument, NULL, 'n' },
    { "version", no_argument, NULL, 'v' },
    { NULL, 0, NULL, 0 },
};

struct opts {
    struct cuse_opts cuse;
    struct pcap_writer pcap_w;
    struct tpm_instance *inst;
    char ready_line[256];
};

static int
parse_devnum(const char *what, const char *s, unsigned int *out)
{
    unsigned long v;

    if (parse_uint(s, 0, 65535, &v) < 0) {
        fprintf(stderr, "swtpm_cuse: %s must be 0-65535, got '%s'\n", what,
                s);
        return -1;
    }
    *out = (unsigned int)v;
    return 0;
}

/* OPTS_CONTINUE, or the exit code. */
static int
parse_args(int argc, char **argv, struct opts *o)
{
    char err[300];
    int c;

    while ((c = daemon_getopt(argc, argv, DAEMON_SHORT_OPTS "M:fhm:n:v",
                              long_opts, &o->cuse.cfg, err,
                              sizeof(err))) != -1) {
        switch (c) {
        case 'M':
            if (parse_devnum("major", optarg, &o->cuse.major) < 0) {
                return EXIT_GENERIC;
            }
            break;
        case 'f': o->cuse.foreground = true; break;
        case 'h': usage(stdout, argv[0]); return EXIT_SUCCESS;
        case 'm':
            if (parse_devnum("minor", optarg, &o->cuse.minor) < 0) {
                return EXIT_GENERIC;
            }
            break;
        case 'n':
            if (!o->cuse.name) {
                o->cuse.name = optarg;  /* first occurrence wins */
            }
            break;
        case 'v':
            printf("TPM emulator CUSE interface version %s, %s\n"
                   SWTPM_RELEASE_LINE, SWTPM_COMPAT_VERSION,
                   SWTPM_COPYRIGHT);
            return EXIT_SUCCESS;
        case DAEMON_GETOPT_BAD:
            fprintf(stderr, "swtpm_cuse: %s\n", err);
            return EXIT_FAILURE;
        default:
            fprintf(stderr, "Try '%s --help' for the options.\n", argv[0]);
            return EXIT_FAILURE;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "swtpm_cuse: unknown parameter '%s'\n", argv[optind]);
        return EXIT_FAILURE;
    }
    return OPTS_CONTINUE;
}

/* Apply the sub-option groups; returns -1 or an exit code. */
static int
opts_validate(struct opts *o)
{
    char err[512];

    if (daemon_apply_opts(&o->cuse.cfg, err, sizeof(err)) < 0) {
        fprintf(stderr, "swtpm_cuse: %s\n", err);
        return EXIT_BAD_SUBOPT;
    }
    /* Before the fork and any chroot hide /etc/passwd. */
    if (daemon_resolve_user(o->cuse.cfg.runas, &o->cuse.user, err,
                            sizeof(err)) < 0) {
        fprintf(stderr, "swtpm_cuse: %s\n", err);
        return EXIT_NO_USER;
    }
    return OPTS_CONTINUE;
}

static int
check_device(const char *name)
{
    char path[300];
    struct stat st;

    if (!name) {
        fprintf(stderr, "swtpm_cuse: missing device name: use -n NAME to "
                "create /dev/NAME\n");
        return EXIT_NO_NAME;
    }
    if (!*name || strchr(name, '/') || strlen(name) > 200 ||
        strcmp(name, ".") == 0 || strcmp(name, "..") == 0) {
        fprintf(stderr, "swtpm_cuse: invalid device name '%s': use a plain "
                "name such as vtpm0\n", name);
        return EXIT_GENERIC;
    }
    snprintf(path, sizeof(path), "/dev/%s", name);
    if (lstat(path, &st) == 0) {
        fprintf(stderr, "swtpm_cuse: %s already exists; is another "
                "emulator running? (stop it with 'swtpm_ioctl -s %s')\n",
                path, path);
        return EXIT_GENERIC;
    }
    return OPTS_CONTINUE;
}

/* Before anything is opened: root, the device's name, a state. */
static int
check(void *arg)
{
    struct opts *o = arg;
    int code;

    if (geteuid() != 0 || setuid(0) < 0) {
        fprintf(stderr, "swtpm_cuse: must run as root to create a CUSE "
                "device (use -r USER to drop privileges afterwards)\n");
        return EXIT_NOT_ROOT;
    }
    code = check_device(o->cuse.name);
    if (code != OPTS_CONTINUE) {
        return code;
    }
    if (!o->cuse.cfg.state_path[0]) {
        fprintf(stderr, "swtpm_cuse: no TPM state directory is defined: "
                "use --tpmstate dir=DIR or set TPM_PATH\n");
        return EXIT_GENERIC;
    }
    return OPTS_CONTINUE;
}

static int
open_device(void *arg)
{
    struct opts *o = arg;

    return cuse_dev_open(&o->cuse, o->inst);
}

static int
start_worker(void *arg)
{
    (void)arg;
    return cuse_dev_start_worker();
}

static int
serve(void *arg)
{
    (void)arg;
    return cuse_dev_serve();
}

static void
close_device(void *arg)
{
    (void)arg;
    cuse_dev_close();
}

/* docs/cli.md §3.1, as upstream: the state (created if missing, locked
 * at once) and the device as root, then the pid file and the drop; the
 * worker starts after Landlock.  Exit codes: cuse_dev.h. */
static const struct daemon_start_ops start_ops = {
    .prog = "swtpm_cuse",
    .order = DAEMON_DEVICE_FIRST,
    .codes = { .log = EXIT_FAILURE, .fork = EXIT_GENERIC,
               .tpm = EXIT_GENERIC, .key = EXIT_BAD_SUBOPT,
               .pid = EXIT_PIDFILE, .chroot = EXIT_FAILURE,
               .user = EXIT_RUNAS, .confine = EXIT_GENERIC,
               .seccomp = EXIT_SECCOMP },
    .cuse_caps = true,
    .create_dir = true,
    .lock_now = true,
    .check = check,
    .device = open_device,
    .started = start_worker,
    .serve = serve,
    .stop = close_device,
};

static int
run(struct opts *o)
{
    static struct tpm_instance inst;
    struct daemon_start s = {
        .cfg = &o->cuse.cfg, .user = &o->cuse.user, .inst = &inst,
        .pcap_w = &o->pcap_w, .fork = !o->cuse.foreground,
        .ready_line = o->ready_line, .arg = o,
    };

    o->inst = &inst;
    snprintf(o->ready_line, sizeof(o->ready_line),
             "CUSE TPM device /dev/%s is ready",
             o->cuse.name ? o->cuse.name : "");
    return daemon_start(&start_ops, &s);
}

int
main(int argc, char **argv)
{
    struct opts o;
    int code;

    memset(&o, 0, sizeof(o));
    daemon_cfg_init(&o.cuse.cfg);
    code = parse_args(argc, argv, &o);
    if (code != OPTS_CONTINUE) {
        return code;
    }
    code = opts_validate(&o);
    if (code != OPTS_CONTINUE) {
        return code;
    }
    return run(&o);
}
