// SPDX-License-Identifier: BSD-3-Clause
/* The start-up sequence of swtpm and swtpm_cuse (docs/cli.md §3.1). */
#include "daemon_start.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "subopt.h"

struct run {
    const struct daemon_start_ops *ops;
    struct daemon_start *s;
    bool log_open;              /* --log applied: errors go through it */
};

/* The one report of a failed step; returns code.  An empty err: the
 * step's callee has logged already. */
static int
fail(const struct run *r, const char *err, int code)
{
    if (err[0] && r->log_open) {
        log_err("%s", err);
    } else if (err[0]) {
        fprintf(stderr, "%s: %s\n", r->ops->prog, err);
    }
    return code;
}

static int
start_print(struct run *r)
{
    const struct daemon_start_ops *ops = r->ops;
    const struct daemon_print_rules rules = {
        .prog = ops->prog, .cuse = ops->cuse_caps,
        .create_dir = ops->create_dir, .lock_now = ops->lock_now,
        .tpm_code = ops->codes.tpm, .key_code = ops->codes.key,
    };

    return daemon_print_mode(r->s->cfg, r->s->inst, r->s->pcap_w, &rules);
}

static int
start_log(struct run *r)
{
    char err[600], prefix[32];

    snprintf(prefix, sizeof(prefix), "%s: ", r->ops->prog);
    if (daemon_setup_log(r->s->cfg->log_opt, prefix, err, sizeof(err)) < 0) {
        return fail(r, err, r->ops->codes.log);
    }
    r->log_open = true;
    return OPTS_CONTINUE;
}

/* NOTIFY_SOCKET before chroot and --runas hide it, then the fork. */
static int
start_fork(struct run *r)
{
    char err[128];

    if (daemon_print_wanted(r->s->cfg)) {
        return OPTS_CONTINUE;
    }
    daemon_notify_open();
    if (r->s->fork && daemon_fork() < 0) {
        snprintf(err, sizeof(err), "cannot fork: %s", strerror(errno));
        return fail(r, err, r->ops->codes.fork);
    }
    return OPTS_CONTINUE;
}

/* chroot, --runas, and nothing we exec could gain privileges (seccomp
 * and Landlock need that too). */
static int
start_identity(struct run *r)
{
    char err[600];

    if (daemon_chroot(r->s->cfg->chroot_dir, err, sizeof(err)) < 0) {
        return fail(r, err, r->ops->codes.chroot);
    }
    if (daemon_become_user(r->s->user, err, sizeof(err)) < 0) {
        return fail(r, err, r->ops->codes.user);
    }
    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    return OPTS_CONTINUE;
}

/* A state directory made here as root goes to the --runas user, or it
 * could not write its state (upstream creates it at INIT, as that
 * user). */
static int
give_new_state(struct run *r, char *err, size_t errlen)
{
    const struct daemon_user *u = r->s->user;
    const struct state_store *st = r->s->inst->store;

    if (!u->set ||
        fchown(state_fd(st), u->uid, u->gid) == 0) {
        return 0;
    }
    snprintf(err, errlen, "cannot give the new state directory '%.256s' "
             "to uid %u: %s", r->s->cfg->state_path, (unsigned int)u->uid,
             strerror(errno));
    return -EPERM;
}

/* Open (and for lock_now lock) the state, the keys, libtpms, --pcap. */
static int
start_state(struct run *r)
{
    const struct daemon_cfg *c = r->s->cfg;
    const char *path = state_file_uri_path(c->state_path);
    struct stat sb;
    char err[600];
    bool missing;
    int e;

    missing = r->ops->create_dir &&
              stat(path ? path : c->state_path, &sb) < 0 && errno == ENOENT;
    e = daemon_open_tpm(c, r->s->inst, r->s->pcap_w, r->ops->create_dir,
                        r->ops->lock_now, err, sizeof(err));
    if (e == 0 && missing) {
        e = give_new_state(r, err, sizeof(err));
    }
    if (e < 0) {
        return fail(r, err, e == -EKEYREJECTED ? r->ops->codes.key
                                              : r->ops->codes.tpm);
    }
    return OPTS_CONTINUE;
}

static int
start_pid(struct run *r)
{
    char err[600];

    if (daemon_write_pid(r->s->cfg, err, sizeof(err)) < 0) {
        return fail(r, err, r->ops->codes.pid);
    }
    return OPTS_CONTINUE;
}

/* --flags not-need-init: start the TPM now. */
static int
start_tpm(struct run *r)
{
    char err[600];

    if (daemon_autostart_tpm(r->s->cfg, r->s->inst, err, sizeof(err)) < 0) {
        return fail(r, err, r->ops->codes.tpm);
    }
    return OPTS_CONTINUE;
}

/* Leave the session and stdio (setsid is not on the allowlist); only
 * after a fork. */
static int
start_detach(struct run *r)
{
    daemon_detach();
    return OPTS_CONTINUE;
}

static int
start_confine(struct run *r)
{
    char err[600];

    if (daemon_confine(r->s->cfg, r->s->inst->store, r->s->unlink_at_exit,
                       err, sizeof(err)) < 0) {
        return fail(r, err, r->ops->codes.confine);
    }
    return OPTS_CONTINUE;
}

static int
start_seccomp(struct run *r)
{
    char err[600];

    if (seccomp_install(r->s->cfg->seccomp, err, sizeof(err)) < 0) {
        return fail(r, err, r->ops->codes.seccomp);
    }
    return OPTS_CONTINUE;
}

static int
start_ready(struct run *r)
{
    if (r->s->ready_line) {
        log_info("%s", r->s->ready_line);
    }
    daemon_ready();
    return OPTS_CONTINUE;
}

/* The pid file, --pcap, the TPM and the state, after the front end's
 * channels and device. */
static void
stop(const struct run *r)
{
    struct tpm_instance *inst = r->s->inst;

    if (r->ops->stop) {
        r->ops->stop(r->s->arg);
    }
    pcap_close(inst->pcap);
    daemon_remove_pid(r->s->cfg);
    tpm_cleanup(inst);
    state_free(inst->store);
    inst->store = NULL;
}

/* The front end's hooks, as steps. */
static int
start_check(struct run *r)
{
    return r->ops->check ? r->ops->check(r->s->arg) : OPTS_CONTINUE;
}

static int
start_channels(struct run *r)
{
    return r->ops->channels ? r->ops->channels(r->s->arg) : OPTS_CONTINUE;
}

static int
start_device(struct run *r)
{
    return r->ops->device ? r->ops->device(r->s->arg) : OPTS_CONTINUE;
}

static int
start_threads(struct run *r)
{
    return r->ops->started ? r->ops->started(r->s->arg) : OPTS_CONTINUE;
}

static int
start_serve(struct run *r)
{
    return r->ops->serve ? r->ops->serve(r->s->arg) : OPTS_CONTINUE;
}

/* For which daemons a step runs. */
enum step_when {
    BOTH,
    DROP_FIRST = DAEMON_DROP_FIRST,     /* swtpm */
    DEVICE_FIRST = DAEMON_DEVICE_FIRST, /* swtpm_cuse */
};

/*
 * The sequence, top to bottom (docs/cli.md §3.1).  A step returns
 * OPTS_CONTINUE to go on, or the exit code, having logged why.  The
 * two orders differ as upstream's do: swtpm drops root right after the
 * fork and opens everything as its user; swtpm_cuse prints without
 * root, opens its log and state and creates the device as root, and
 * drops root once the device exists.
 */
static const struct step {
    int (*run)(struct run *r);
    enum step_when when;
} steps[] = {
    { start_print, DEVICE_FIRST },      /* --print-*: no root needed */
    { start_check, BOTH },              /* root, the device's name */
    { start_log, DEVICE_FIRST },
    { start_fork, BOTH },               /* NOTIFY_SOCKET, -d / no -f */
    { start_identity, DROP_FIRST },     /* chroot, --runas */
    { start_log, DROP_FIRST },
    { start_print, DROP_FIRST },
    { start_channels, BOTH },           /* sockets, --chardev */
    { start_state, BOTH },              /* state, keys, libtpms, --pcap */
    { start_pid, DROP_FIRST },
    { start_tpm, BOTH },                /* --flags not-need-init */
    { start_device, BOTH },             /* CUSE device, vtpm proxy */
    { start_pid, DEVICE_FIRST },        /* once /dev/NAME exists */
    { start_identity, DEVICE_FIRST },
    { start_detach, DROP_FIRST },
    { start_confine, BOTH },            /* Landlock, its filter */
    { start_threads, BOTH },            /* the CUSE worker */
    { start_detach, DEVICE_FIRST },
    { start_seccomp, BOTH },            /* the allowlist */
    { start_ready, BOTH },              /* parent exits 0, READY=1 */
    { start_serve, BOTH },
};

int
daemon_start(const struct daemon_start_ops *ops, struct daemon_start *s)
{
    struct run r = { .ops = ops, .s = s };
    int code = OPTS_CONTINUE;

    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]) &&
                       code == OPTS_CONTINUE; i++) {
        if (steps[i].when == BOTH || (int)steps[i].when == (int)ops->order) {
            code = steps[i].run(&r);
        }
    }
    if (code == OPTS_CONTINUE) {
        code = 0;               /* no serve hook: nothing to serve */
    }
    if (code) {
        daemon_fail(code);
    }
    stop(&r);
    return code;
}
