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
#include "daemon_tpm.h"
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

/* The exit code for a TPM that cannot start (cuse_dev.h's codes). */
static int
tpm_fail_code(int r)
{
    return r == -EKEYREJECTED ? EXIT_BAD_SUBOPT : EXIT_GENERIC;
}

/* --print-info opens the state as the daemon would: created if missing,
 * locked at once. */
static const struct daemon_print_rules print_rules = {
    .prog = "swtpm_cuse",
    .cuse = true,
    .create_dir = true,
    .lock_now = true,
    .fail_code = tpm_fail_code,
};

/* Open and lock the state, load keys, start the TPM if asked to. */
static int
prepare_tpm(struct opts *o, struct tpm_instance *inst)
{
    const struct daemon_user *u = &o->cuse.user;
    struct stat sb;
    char err[600];
    bool missing;
    int r;

    missing = stat(state_file_uri_path(o->cuse.cfg.state_path)
                   ? state_file_uri_path(o->cuse.cfg.state_path)
                   : o->cuse.cfg.state_path, &sb) < 0 && errno == ENOENT;
    r = daemon_open_tpm(&o->cuse.cfg, inst, &o->pcap_w,
                        /* create_dir= */ true, /* lock_now= */ true, err,
                        sizeof(err));
    /* Upstream creates it at INIT, as the --runas user: a directory we
     * made as root goes to that user, or it could not write its state. */
    if (r == 0 && missing && u->set &&
        fchown(inst->store.is_file ? inst->store.file_fd
                                   : inst->store.dir_fd,
               u->uid, u->gid) < 0) {
        r = -errno;
        snprintf(err, sizeof(err), "cannot give the new state directory "
                 "'%.256s' to uid %u: %s", o->cuse.cfg.state_path,
                 (unsigned int)u->uid, strerror(-r));
    }
    if (r == 0) {
        r = daemon_autostart_tpm(&o->cuse.cfg, inst, err, sizeof(err));
    }
    if (r < 0) {
        if (err[0]) {
            log_err("%s", err);
        }
        return tpm_fail_code(r);
    }
    return OPTS_CONTINUE;
}

static int
run(struct opts *o)
{
    static struct tpm_instance inst;
    char err[600];
    int code;

    code = daemon_print_mode(&o->cuse.cfg, &inst, &o->pcap_w, &print_rules);
    if (code != OPTS_CONTINUE) {
        return code;
    }
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
    if (daemon_setup_log(o->cuse.cfg.log_opt, "swtpm_cuse: ", err,
                         sizeof(err)) < 0) {
        fprintf(stderr, "swtpm_cuse: %s\n", err);
        return EXIT_FAILURE;
    }
    daemon_notify_open();
    if (!o->cuse.foreground && daemon_fork() < 0) {
        log_errno(errno, "cannot fork");
        return EXIT_GENERIC;
    }
    /* From here on we are the daemon; failures reach the parent. */
    code = prepare_tpm(o, &inst);
    if (code == OPTS_CONTINUE) {
        code = cuse_dev_run(&o->cuse, &inst);
    }
    if (code) {
        daemon_fail(code);
    }
    pcap_close(inst.pcap);
    daemon_remove_pid(&o->cuse.cfg);
    tpm_cleanup(&inst);
    state_close(&inst.store);
    return code;
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
