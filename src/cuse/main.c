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

#include "caps.h"
#include "cuse_dev.h"
#include "daemon_setup.h"
#include "log.h"
#include "pcap.h"
#include "sdnotify.h"
#include "subopt.h"

static void
usage(FILE *f, const char *prg)
{
    fprintf(f,
"TPM emulator CUSE interface version %s\n"
"\n"
"Usage: %s -n NAME [options]\n"
"\n"
"  -n, --name NAME        create the character device /dev/NAME (required)\n"
"  -M, --maj N            device major number (0-65535)\n"
"  -m, --min N            device minor number (0-65535)\n"
"      --tpm2             emulate a TPM 2.0 (default: TPM 1.2)\n"
"      --tpmstate dir=DIR[,mode=OCTAL][,lock=BOOL][,backup][,fsync]\n"
"                         state directory (default: $TPM_PATH);\n"
"                         backup, fsync: accepted, always in effect\n"
"  -r, --runas USER       drop privileges to USER once the device exists\n"
"  -R, --chroot DIR       chroot to DIR once the device exists\n"
"      --log file=PATH|fd=N[,level=N][,prefix=STR][,truncate]\n"
"      --locality reject-locality-4[,allow-set-locality]\n"
"      --key file=PATH|fd=N|pwdfile=PATH|pwdfd=N[,mode=aes-128-cbc|\n"
"            aes-256-cbc][,format=hex|binary][,kdf=pbkdf2|sha512][,remove]\n"
"                         encrypt the state files\n"
"      --migration-key ...  the same syntax: encrypt state blobs\n"
"      --pid file=PATH|fd=N write the daemon's pid once the device exists\n"
"      --seccomp action=kill|log|none   syscall filter (default kill)\n"
"      --flags not-need-init[,startup-clear|startup-state|\n"
"            startup-deactivated|startup-none][,disable-auto-shutdown]\n"
"      --migration incoming[,release-lock-outgoing]\n"
"  -f, --foreground       stay in the foreground (for supervisors)\n"
"      --print-capabilities  print supported features as JSON\n"
"      --print-states     print the stored state objects as JSON\n"
"      --print-info FLAGS print libtpms' TPMLIB_GetInfo(FLAGS) JSON\n"
"      --pcap file=PATH|fd=N[,truncate][,mode=OCTAL][,checksums]\n"
"                         record TPM commands and responses (pcapng)\n"
"  -h, --help             show this help\n"
"  -v, --version          show the version\n"
"\n"
"The command returns once /dev/NAME can be opened.  Exit codes: 0 ok,\n"
"1 usage, 251 unknown --runas user, 252 not root, 253 bad sub-option,\n"
"254 missing --name, 255 other errors (each explained on stderr);\n"
"after the device exists: 242 seccomp, 243 pid file, 246 --runas.\n",
            SWTPM_VERSION, prg);
}

enum {
    OPT_TPM2 = 1000, OPT_TPMSTATE, OPT_LOG, OPT_LOCALITY, OPT_KEY,
    OPT_MIGKEY, OPT_PID, OPT_SECCOMP, OPT_FLAGS, OPT_MIGRATION,
    OPT_PRINT_CAPS, OPT_PRINT_STATES, OPT_PCAP, OPT_PRINT_INFO,
};

static const struct option long_opts[] = {
    { "chroot", required_argument, NULL, 'R' },
    { "flags", required_argument, NULL, OPT_FLAGS },
    { "foreground", no_argument, NULL, 'f' },
    { "help", no_argument, NULL, 'h' },
    { "key", required_argument, NULL, OPT_KEY },
    { "locality", required_argument, NULL, OPT_LOCALITY },
    { "log", required_argument, NULL, OPT_LOG },
    { "maj", required_argument, NULL, 'M' },
    { "migration", required_argument, NULL, OPT_MIGRATION },
    { "migration-key", required_argument, NULL, OPT_MIGKEY },
    { "min", required_argument, NULL, 'm' },
    { "name", required_argument, NULL, 'n' },
    { "pcap", required_argument, NULL, OPT_PCAP },
    { "pid", required_argument, NULL, OPT_PID },
    { "print-capabilities", no_argument, NULL, OPT_PRINT_CAPS },
    { "print-info", required_argument, NULL, OPT_PRINT_INFO },
    { "print-states", no_argument, NULL, OPT_PRINT_STATES },
    { "runas", required_argument, NULL, 'r' },
    { "seccomp", required_argument, NULL, OPT_SECCOMP },
    { "tpm2", no_argument, NULL, OPT_TPM2 },
    { "tpmstate", required_argument, NULL, OPT_TPMSTATE },
    { "version", no_argument, NULL, 'v' },
    { NULL, 0, NULL, 0 },
};

struct opts {
    struct cuse_opts cuse;
    bool print_caps, print_states, print_info;
    unsigned long info_flags;
    const char *tpmstate, *locality, *flags, *pid, *seccomp, *migration;
    const char *pcap_opt;
    struct pcap_opts pcap;
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
    int c;

    while ((c = getopt_long(argc, argv, "M:R:fhm:n:r:v", long_opts,
                            NULL)) != -1) {
        switch (c) {
        case 'M':
            if (parse_devnum("major", optarg, &o->cuse.major) < 0) {
                return EXIT_GENERIC;
            }
            break;
        case 'R': o->cuse.cfg.chroot_dir = optarg; break;
        case 'f': o->cuse.foreground = true; break;
        case 'h': usage(stdout, argv[0]); return EXIT_OK;
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
        case 'r': o->cuse.cfg.runas = optarg; break;
        case 'v':
            printf("TPM emulator CUSE interface version %s, Copyright (c) "
                   "2014-2015 IBM Corp. and others\n", SWTPM_VERSION);
            return EXIT_OK;
        case OPT_TPM2: o->cuse.cfg.tpm2 = true; break;
        case OPT_TPMSTATE: o->tpmstate = optarg; break;
        case OPT_LOG: o->cuse.cfg.log_opt = optarg; break;
        case OPT_LOCALITY: o->locality = optarg; break;
        case OPT_KEY: o->cuse.cfg.key_opt = optarg; break;
        case OPT_MIGKEY: o->cuse.cfg.migkey_opt = optarg; break;
        case OPT_PID: o->pid = optarg; break;
        case OPT_SECCOMP: o->seccomp = optarg; break;
        case OPT_FLAGS: o->flags = optarg; break;
        case OPT_MIGRATION: o->migration = optarg; break;
        case OPT_PRINT_CAPS: o->print_caps = true; break;
        case OPT_PRINT_STATES: o->print_states = true; break;
        case OPT_PCAP: o->pcap_opt = optarg; break;
        case OPT_PRINT_INFO:
            if (parse_ulong_base0(optarg, UINT32_MAX, &o->info_flags) < 0) {
                fprintf(stderr, "swtpm_cuse: --print-info needs a number "
                        "such as 0x3, got '%s'\n", optarg);
                return EXIT_USAGE;
            }
            o->print_info = true;
            break;
        default:
            fprintf(stderr, "Try '%s --help' for the options.\n", argv[0]);
            return EXIT_USAGE;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "swtpm_cuse: unknown parameter '%s'\n", argv[optind]);
        return EXIT_USAGE;
    }
    return OPTS_CONTINUE;
}

/* Apply the sub-option groups; returns -1 or an exit code. */
static int
opts_validate(struct opts *o)
{
    const struct daemon_opt_strings strs = {
        .tpmstate = o->tpmstate, .locality = o->locality,
        .flags = o->flags, .pid = o->pid, .seccomp = o->seccomp,
        .migration = o->migration,
    };
    char err[512];

    if (daemon_apply_opts(&o->cuse.cfg, &strs, err, sizeof(err)) < 0 ||
        (o->pcap_opt &&
         pcap_parse(o->pcap_opt, &o->pcap, err, sizeof(err)) < 0)) {
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

/* Open and lock the state, load keys, start the TPM if asked to. */
static int
prepare_tpm(struct opts *o, struct tpm_instance *inst)
{
    const struct daemon_user *u = &o->cuse.user;
    struct stat sb;
    char err[600];
    bool missing;
    int r;

    if (o->pcap.given) {
        r = pcap_open(&o->pcap, &o->pcap_w, err, sizeof(err));
        if (r < 0) {
            log_err("%s", err);
            return EXIT_GENERIC;
        }
        inst->pcap = &o->pcap_w;
    }
    missing = stat(strncmp(o->cuse.cfg.state_path, "file://", 7) == 0
                   ? o->cuse.cfg.state_path + 7 : o->cuse.cfg.state_path,
                   &sb) < 0 && errno == ENOENT;
    r = daemon_open_tpm(&o->cuse.cfg, inst, /* create_dir= */ true,
                        /* lock_now= */ true, err, sizeof(err));
    /* Upstream creates it at INIT, as the --runas user: a directory we
     * made as root goes to that user, or it could not write its state. */
    if (r == 0 && missing && u->set &&
        fchown(inst->store.is_file ? inst->store.file_fd
                                   : inst->store.dir_fd,
               u->uid, u->gid) < 0) {
        snprintf(err, sizeof(err), "cannot give the new state directory "
                 "'%.256s' to uid %u: %s", o->cuse.cfg.state_path,
                 (unsigned int)u->uid, strerror(errno));
        r = -errno;
    }
    if (r == 0) {
        r = daemon_autostart_tpm(&o->cuse.cfg, inst, err, sizeof(err));
    }
    if (r < 0) {
        if (err[0]) {
            log_err("%s", err);
        }
        return r == -EKEYREJECTED ? EXIT_BAD_SUBOPT : EXIT_GENERIC;
    }
    return OPTS_CONTINUE;
}

/* --print-info: with a state location the TPM runs first (docs/cli.md §3). */
static int
print_info(struct opts *o, struct tpm_instance *inst)
{
    int code = -1;

    inst->tpm2 = o->cuse.cfg.tpm2;
    if (tpm_setup(inst) < 0) {
        fprintf(stderr, "swtpm_cuse: libtpms cannot emulate this TPM\n");
        return EXIT_GENERIC;
    }
    if (o->cuse.cfg.state_path[0]) {
        o->cuse.cfg.not_need_init = true;
        code = prepare_tpm(o, inst);
    }
    if (code == OPTS_CONTINUE) {
        code = caps_print_info((unsigned int)o->info_flags) < 0 ? EXIT_USAGE
                                                               : EXIT_OK;
    }
    tpm_stop(inst);
    return code;
}

static int
run(struct opts *o)
{
    static struct tpm_instance inst;
    char err[600];
    int code, r;

    if (o->print_caps) {
        return caps_print("swtpm", o->cuse.cfg.tpm2, /* cuse= */ true) < 0
                   ? EXIT_USAGE : EXIT_OK;
    }
    if (o->print_states) {
        return daemon_print_states(&o->cuse.cfg, "swtpm_cuse");
    }
    if (o->print_info) {
        return print_info(o, &inst);
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
    if (daemon_setup_log(o->cuse.cfg.log_opt, "swtpm: ", err,
                         sizeof(err)) < 0) {
        fprintf(stderr, "swtpm_cuse: %s\n", err);
        return EXIT_USAGE;
    }
    /* Before chroot, --runas and seccomp can hide the socket. */
    r = sdnotify_open(getenv("NOTIFY_SOCKET"), &o->cuse.notify_fd);
    if (r < 0) {
        log_warn("cannot use NOTIFY_SOCKET '%s': %s",
                 getenv("NOTIFY_SOCKET"), strerror(-r));
    }
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
    o.cuse.notify_fd = -1;
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
