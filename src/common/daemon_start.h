/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The one start-up sequence of both TPM daemons (docs/cli.md §3.1):
 * print modes, log, NOTIFY_SOCKET and fork, identity, channels, state
 * and TPM, pid file, device, confinement, ready, serve, and the orderly
 * end.  Where swtpm and swtpm_cuse differ, the difference is data in
 * their struct daemon_start_ops or one of its hooks.
 */
#ifndef SWTPM_DAEMON_START_H
#define SWTPM_DAEMON_START_H

#include <stdbool.h>

#include "daemon_proc.h"
#include "daemon_tpm.h"

/* When the daemon drops root (chroot, --runas, no new privileges). */
enum daemon_order {
    /* swtpm: right after the fork; the log, the print modes, channels,
     * state and pid file are opened as the --runas user in the chroot. */
    DAEMON_DROP_FIRST = 1,
    /* swtpm_cuse, as upstream: the print modes first (no root needed),
     * the log and the state as root, the device created, then the pid
     * file and the drop; leaving the session comes after Landlock. */
    DAEMON_DEVICE_FIRST,
};

/* Exit codes of the steps that fail in common code (each tool's CLI
 * contract: docs/conventions.md §3). */
struct daemon_start_codes {
    int log, fork, tpm, key, pid, chroot, user, confine, seccomp;
};

/*
 * One daemon's start-up, fixed per tool.  Each hook gets
 * daemon_start.arg and returns OPTS_CONTINUE to go on or the exit code,
 * having logged why; NULL hooks do nothing.
 */
struct daemon_start_ops {
    const char *prog;           /* "swtpm": messages before --log */
    enum daemon_order order;
    struct daemon_start_codes codes;
    bool cuse_caps;             /* --print-capabilities' CUSE list */
    bool create_dir;            /* the state directory, if missing */
    bool lock_now;              /* the state lock before the first command */
    int (*check)(void *arg);    /* before the log: root, device name */
    int (*channels)(void *arg); /* before the state: sockets */
    int (*device)(void *arg);   /* after the TPM: CUSE device, vtpm proxy,
                                 * signal handlers */
    int (*started)(void *arg);  /* after Landlock, before seccomp: threads
                                 * (they inherit Landlock from here on) */
    int (*serve)(void *arg);    /* until the end: its exit code */
    void (*stop)(void *arg);    /* at the end, whatever step was reached:
                                 * close channels and the device */
};

/* One run: what the front end parsed and owns. */
struct daemon_start {
    struct daemon_cfg *cfg;
    const struct daemon_user *user;
    struct tpm_instance *inst;
    struct pcap_writer *pcap_w;
    bool fork;                  /* -d (swtpm), no -f (swtpm_cuse) */
    /* Files the front end removes at exit by name (its Unix sockets),
     * read when confining; NULL or "": none. */
    const char *unlink_at_exit[2];
    const char *ready_line;     /* logged just before ready; NULL: none */
    void *arg;                  /* the hooks' argument */
};

/*
 * Run the daemon from the print modes to its end, then release the pid
 * file, --pcap, the TPM and the state.  A failure is logged once (on
 * stderr with ops->prog before --log is open) and passed to a waiting
 * parent.  Returns the exit code.
 */
int daemon_start(const struct daemon_start_ops *ops, struct daemon_start *s);

#endif
