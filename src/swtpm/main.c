// SPDX-License-Identifier: BSD-3-Clause
/*
 * swtpm: a TPM 1.2 or 2.0 emulator.  `swtpm socket` serves TPM commands
 * and control requests on sockets, `swtpm chardev` on a character device
 * (the Linux vTPM proxy), `swtpm cuse` runs the sibling swtpm_cuse.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "pcap.h"
#include "subopt.h"
#include "daemon_start.h"
#include "swtpm.h"
#include "version.h"

enum iface {
    IFACE_SOCKET,
    IFACE_CHARDEV,
};

struct opts {
    enum iface iface;
    const char *prg;
    struct daemon_cfg cfg;
    struct daemon_user user;    /* --runas, resolved before chroot */
    struct chan_opts server, ctrl;
    const char *server_opt, *ctrl_opt, *chardev;
    int data_fd;                /* -f/--fd, -1 if none */
    bool terminate, daemon, vtpm_proxy;
    struct pcap_writer pcap_w;
};

static void
usage_top(FILE *f)
{
    fprintf(f,
"Usage: swtpm socket|chardev|cuse [options]\n"
"       swtpm -v|--version\n"
"       swtpm -h|--help\n"
"\n"
"  socket    TPM commands and control requests on TCP or Unix sockets\n"
"  chardev   TPM commands on a character device or a Linux vTPM proxy\n"
"  cuse      a CUSE character device (runs swtpm_cuse)\n"
"\n"
"'swtpm socket --help' and 'swtpm chardev --help' list their options.\n");
}

static void
usage(FILE *f, enum iface iface)
{
    bool sock = iface == IFACE_SOCKET;

    fprintf(f, "Usage: swtpm %s [options]\n\n", sock ? "socket" : "chardev");
    if (sock) {
        fprintf(f,
"  --server type=tcp[,port=N][,bindaddr=ADDR[,ifname=IF]][,fd=N]\n"
"           [,disconnect]    TPM commands on TCP (default 127.0.0.1;\n"
"                            port defaults to $TPM_PORT)\n"
"  --server type=unixio,path=PATH|fd=N[,mode=OCTAL][,uid=U][,gid=G]\n"
"                            TPM commands on a Unix socket\n"
"  -p, --port N              same as --server type=tcp,port=N,disconnect\n"
"  -f, --fd N                TPM commands on this connected socket\n"
"  -t, --terminate           exit when the data client disconnects\n");
    } else {
        fprintf(f,
"  --vtpm-proxy              create a Linux vTPM proxy device /dev/tpmN\n"
"                            (implies not-need-init, allow-set-locality)\n"
"  -c, --chardev PATH        TPM commands on this character device\n"
"  -f, --fd N                TPM commands on this character device fd\n");
    }
    fprintf(f,
"  --ctrl type=unixio,path=PATH|fd=N|clientfd=N[,mode=OCTAL][,uid=U]\n"
"         [,gid=G][,terminate]  control channel on a Unix socket\n"
"  --ctrl type=tcp,port=N[,bindaddr=ADDR[,ifname=IF]]|fd=N[,terminate]\n"
"                            control channel on TCP\n"
"  -d, --daemon              run in the background once ready\n");
    daemon_usage(f, /* cuse= */ false);
    fprintf(f,
"  -h, --help                show this help\n"
"\n"
"Exit codes: 0 normal end (CMD_SHUTDOWN, SIGTERM/SIGINT, hang-up with\n"
"terminate) and help/print options; 1 any error (explained on stderr).\n");
}

enum {
    OPT_CTRL = 1000, OPT_SERVER, OPT_VTPM_PROXY,
};

static const struct option long_opts[] = {
    DAEMON_LONG_OPTS,
    { "chardev", required_argument, NULL, 'c' },
    { "ctrl", required_argument, NULL, OPT_CTRL },
    { "daemon", no_argument, NULL, 'd' },
    { "fd", required_argument, NULL, 'f' },
    { "help", no_argument, NULL, 'h' },
    { "port", required_argument, NULL, 'p' },
    { "server", required_argument, NULL, OPT_SERVER },
    { "terminate", no_argument, NULL, 't' },
    { "vtpm-proxy", no_argument, NULL, OPT_VTPM_PROXY },
    { NULL, 0, NULL, 0 },
};
/* -f/--fd: a connected socket or a character device, >= 3 (docs/cli.md §4). */
static int
parse_data_fd(const char *s, int *out)
{
    unsigned long v;
    struct stat st;

    if (parse_uint(s, 3, 65535, &v) < 0) {
        fprintf(stderr, "swtpm: --fd must be a file descriptor >= 3, got "
                "'%s'\n", s);
        return -1;
    }
    if (fstat((int)v, &st) < 0 ||
        !(S_ISSOCK(st.st_mode) || S_ISCHR(st.st_mode))) {
        fprintf(stderr, "swtpm: --fd %lu is not an open socket or "
                "character device\n", v);
        return -1;
    }
    *out = (int)v;
    return 0;
}

/* -p/--port: sets TPM_PORT and means --server type=tcp,disconnect. */
static int
parse_port(struct opts *o, const char *s)
{
    unsigned long v;
    char buf[16];

    if (parse_ulong_base0(s, 65535, &v) < 0) {
        fprintf(stderr, "swtpm: port must be 0-65535, got '%s'\n", s);
        return -1;
    }
    snprintf(buf, sizeof(buf), "%lu", v);
    setenv("TPM_PORT", buf, 1);
    o->server_opt = "type=tcp,disconnect";
    return 0;
}

/* OPTS_CONTINUE, or the exit code. */
static int
parse_args(int argc, char **argv, struct opts *o)
{
    const char *shortopts = o->iface == IFACE_SOCKET
                                ? DAEMON_SHORT_OPTS "df:hp:t"
                                : DAEMON_SHORT_OPTS "c:df:h";
    char err[300];
    int c;

    while ((c = daemon_getopt(argc, argv, shortopts, long_opts, &o->cfg,
                              err, sizeof(err))) != -1) {
        switch (c) {
        case 'c': o->chardev = optarg; break;
        case 'd': o->daemon = true; break;
        case 'f':
            if (parse_data_fd(optarg, &o->data_fd) < 0) {
                return EXIT_FAILURE;
            }
            break;
        case 'h': usage(stdout, o->iface); return EXIT_SUCCESS;
        case 'p':
            if (parse_port(o, optarg) < 0) {
                return EXIT_FAILURE;
            }
            break;
        case 't': o->terminate = true; break;
        case OPT_CTRL: o->ctrl_opt = optarg; break;
        case OPT_SERVER: o->server_opt = optarg; break;
        case OPT_VTPM_PROXY: o->vtpm_proxy = true; break;
        case DAEMON_GETOPT_BAD:
            fprintf(stderr, "swtpm: %s\n", err);
            return EXIT_FAILURE;
        default:
            fprintf(stderr, "Try '%s %s --help' for the options.\n", o->prg,
                    o->iface == IFACE_SOCKET ? "socket" : "chardev");
            return EXIT_FAILURE;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "Unknown parameter '%s'\n", argv[optind]);
        return EXIT_FAILURE;
    }
    return OPTS_CONTINUE;
}

/* The sub-option groups shared with swtpm_cuse; 0 or -1 with err. */
static int
validate_groups(struct opts *o, char *err, size_t errlen)
{
    int r;

    r = daemon_apply_opts(&o->cfg, err, errlen);
    if (r == 0 && o->server_opt) {
        r = chan_parse(o->server_opt, false, &o->server, err, errlen);
    }
    if (r == 0 && o->ctrl_opt) {
        r = chan_parse(o->ctrl_opt, true, &o->ctrl, err, errlen);
    }
    if (r == 0) {
        /* Before any chroot hides /etc/passwd. */
        r = daemon_resolve_user(o->cfg.runas, &o->user, err, errlen);
    }
    return r < 0 ? -1 : 0;
}

/* No channel on the command line: systemd's sockets, if it passed any. */
static int
use_activation(struct opts *o, char *err, size_t errlen)
{
    static char server[40], ctrl[40];
    int n;

    if (o->iface != IFACE_SOCKET || o->server_opt || o->ctrl_opt ||
        o->data_fd >= 0 || daemon_print_wanted(&o->cfg)) {
        return 0;
    }
    n = activation_channels(server, ctrl, sizeof(server), err, errlen);
    if (n >= 1) {
        o->server_opt = server;
    }
    if (n >= 2) {
        o->ctrl_opt = ctrl;
    }
    return n < 0 ? -1 : 0;
}

/* Cross-option rules; OPTS_CONTINUE or the exit code. */
static int
opts_validate(struct opts *o)
{
    char err[512];
    int sources;

    if (use_activation(o, err, sizeof(err)) < 0 ||
        validate_groups(o, err, sizeof(err)) < 0) {
        fprintf(stderr, "swtpm: %s\n", err);
        return EXIT_FAILURE;
    }
    if (daemon_print_wanted(&o->cfg)) {
        return OPTS_CONTINUE;
    }
    if (o->iface == IFACE_SOCKET && (o->vtpm_proxy || o->chardev)) {
        fprintf(stderr, "swtpm: --vtpm-proxy and --chardev belong to "
                "'swtpm chardev'\n");
        return EXIT_FAILURE;
    }
    if (o->iface == IFACE_CHARDEV && (o->server_opt || o->terminate)) {
        fprintf(stderr, "swtpm: --server, --port and --terminate belong to "
                "'swtpm socket'\n");
        return EXIT_FAILURE;
    }
    if (o->iface == IFACE_SOCKET) {
        if (o->data_fd >= 0 && o->server.given) {
            fprintf(stderr, "swtpm: --fd cannot be combined with --server "
                    "or --port\n");
            return EXIT_FAILURE;
        }
        if (o->data_fd < 0 && !o->server.given && !o->ctrl.given) {
            fprintf(stderr, "swtpm: no channel given: use --server, --port, "
                    "--fd or --ctrl\n");
            return EXIT_FAILURE;
        }
    } else {
        sources = (o->chardev != NULL) + (o->data_fd >= 0) + o->vtpm_proxy;
        if (sources != 1) {
            fprintf(stderr, "swtpm: chardev needs exactly one of "
                    "--vtpm-proxy, --chardev or --fd\n");
            return EXIT_FAILURE;
        }
        if (o->vtpm_proxy) {
            /* The kernel starts the TPM itself and sets localities. */
            o->cfg.not_need_init = true;
            o->cfg.allow_set_locality = true;
        }
    }
    if (!o->cfg.state_path[0]) {
        fprintf(stderr, "swtpm: no TPM state directory is defined: use "
                "--tpmstate dir=DIR or set TPM_PATH\n");
        return EXIT_FAILURE;
    }
    return OPTS_CONTINUE;
}

/* What one run of the daemon holds: the hooks' argument. */
struct daemon {
    struct opts *o;
    struct loop_cfg lc;
    struct tpm_instance inst;
};

/* Sockets and devices for the loop; OPTS_CONTINUE or the exit code. */
static int
open_channels(void *arg)
{
    struct daemon *d = arg;
    struct opts *o = d->o;
    struct loop_cfg *lc = &d->lc;
    char err[600];

    if (chan_open(&o->ctrl, &lc->ctrl, err, sizeof(err)) < 0 ||
        chan_open(&o->server, &lc->data, err, sizeof(err)) < 0) {
        log_err("%s", err);
        return EXIT_FAILURE;
    }
    lc->ctrl_terminate = o->ctrl.terminate;
    lc->disconnect = o->server.disconnect;
    lc->terminate = o->terminate;
    if (o->data_fd >= 0) {
        lc->data.conn_fd = o->data_fd;
    }
    if (o->chardev) {
        lc->data.conn_fd = open(o->chardev, O_RDWR | O_CLOEXEC | O_NOCTTY);
        if (lc->data.conn_fd < 0) {
            log_errno(errno, "cannot open character device '%s'",
                      o->chardev);
            return EXIT_FAILURE;
        }
    }
    lc->data_is_chardev = o->iface == IFACE_CHARDEV;
    return OPTS_CONTINUE;
}

/* Once the TPM is set up: --vtpm-proxy's device (the kernel talks to
 * the TPM at once), then the signal handlers. */
static int
open_device(void *arg)
{
    struct daemon *d = arg;
    char err[600], dev[128];
    int fd;

    if (d->o->vtpm_proxy) {
        fd = vtpm_proxy_create(d->inst.tpm2, dev, sizeof(dev), err,
                               sizeof(err));
        if (fd < 0) {
            log_err("%s", err);
            return EXIT_FAILURE;
        }
        d->lc.data.conn_fd = fd;
        printf("New TPM device: %s\n", dev);
        fflush(stdout);
    }
    loop_signals_setup();
    return OPTS_CONTINUE;
}

static int
serve(void *arg)
{
    struct daemon *d = arg;

    return loop_run(&d->lc, &d->inst);
}

static void
close_channels(void *arg)
{
    struct daemon *d = arg;

    chan_close(&d->lc.ctrl);
    chan_close(&d->lc.data);
}

/* docs/cli.md §3.1: chroot and --runas first, everything opened as that
 * user; the state is never created and is locked at the first command,
 * as upstream does.  Every failure exits 1. */
static const struct daemon_start_ops start_ops = {
    .prog = "swtpm",
    .order = DAEMON_DROP_FIRST,
    .codes = { .log = EXIT_FAILURE, .fork = EXIT_FAILURE,
               .tpm = EXIT_FAILURE, .key = EXIT_FAILURE,
               .pid = EXIT_FAILURE, .chroot = EXIT_FAILURE,
               .user = EXIT_FAILURE, .confine = EXIT_FAILURE,
               .seccomp = EXIT_FAILURE },
    .cuse_caps = false,
    .create_dir = false,
    .lock_now = false,
    .channels = open_channels,
    .device = open_device,
    .serve = serve,
    .stop = close_channels,
};

static int
run(struct opts *o)
{
    static struct daemon d;
    struct daemon_start s = {
        .cfg = &o->cfg, .user = &o->user, .inst = &d.inst,
        .pcap_w = &o->pcap_w, .fork = o->daemon,
        .unlink_at_exit = { d.lc.ctrl.unlink_path, d.lc.data.unlink_path },
        .arg = &d,
    };

    d.o = o;
    d.lc.ctrl.listen_fd = d.lc.ctrl.conn_fd = -1;
    d.lc.data.listen_fd = d.lc.data.conn_fd = -1;
    return daemon_start(&start_ops, &s);
}

/* `swtpm cuse ARGS`: the sibling swtpm_cuse binary does the work.  Its
 * argv[0] is "PRG cuse", so its usage and hints name what the user ran. */
static int
exec_cuse(const char *prg, char **argv)
{
    char self[PATH_MAX], path[PATH_MAX + 16], name[PATH_MAX + 8];
    ssize_t n;

    n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n < 0) {
        fprintf(stderr, "swtpm: cannot find my own binary: %s\n",
                strerror(errno));
        return EXIT_FAILURE;
    }
    self[n] = '\0';
    snprintf(path, sizeof(path), "%s/swtpm_cuse", dirname(self));
    snprintf(name, sizeof(name), "%s cuse", prg);
    argv[0] = name;
    execv(path, argv);
    fprintf(stderr, "swtpm: cannot run '%s': %s\n", path, strerror(errno));
    return EXIT_FAILURE;
}

int
main(int argc, char **argv)
{
    struct opts o;
    int code;

    if (argc < 2) {
        fprintf(stderr, "Missing TPM interface type.\n");
        return EXIT_FAILURE;
    }
    if (!strcmp(argv[1], "-v") || !strcmp(argv[1], "--version")) {
        printf("TPM emulator version %s, %s\n" SWTPM_RELEASE_LINE,
               SWTPM_COMPAT_VERSION, SWTPM_COPYRIGHT);
        return EXIT_SUCCESS;
    }
    if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        usage_top(stdout);
        return EXIT_SUCCESS;
    }
    if (!strcmp(argv[1], "cuse")) {
        return exec_cuse(argv[0], argv + 1);
    }
    memset(&o, 0, sizeof(o));
    o.prg = argv[0];
    o.data_fd = -1;
    daemon_cfg_init(&o.cfg);
    if (!strcmp(argv[1], "socket")) {
        o.iface = IFACE_SOCKET;
    } else if (!strcmp(argv[1], "chardev")) {
        o.iface = IFACE_CHARDEV;
    } else {
        fprintf(stderr, "Unsupported TPM interface type '%s'.\n", argv[1]);
        usage_top(stderr);
        return EXIT_FAILURE;
    }
    code = parse_args(argc - 1, argv + 1, &o);
    if (code != OPTS_CONTINUE) {
        return code;
    }
    code = opts_validate(&o);
    if (code != OPTS_CONTINUE) {
        return code;
    }
    return run(&o);
}
