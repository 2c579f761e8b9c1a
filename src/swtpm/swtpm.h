/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * swtpm socket / chardev: shared types of the front end (options, the
 * channel sockets, the main loop).  docs/cli.md §3-4, docs/control-channel.md
 * §7.9-7.10 and §8.
 */
#ifndef SWTPM_SWTPM_H
#define SWTPM_SWTPM_H

#include <stdbool.h>
#include <stdlib.h>
#include <sys/types.h>

#include "tpm.h"

/* One --server or --ctrl channel as given on the command line. */
struct chan_opts {
    bool given;
    bool is_unix;
    char path[108];             /* unixio path= */
    char bindaddr[256];         /* tcp, default 127.0.0.1 */
    char ifname[64];
    unsigned int port;
    bool has_port;
    int fd;                     /* fd=: listening (tcp server: connected) */
    int clientfd;               /* --ctrl clientfd=: connected */
    mode_t mode;                /* unixio path mode, default 0770 */
    uid_t uid;
    gid_t gid;
    bool has_uid, has_gid;
    bool disconnect;            /* --server */
    bool terminate;             /* --ctrl */
};

/* The sockets made from the options, before the main loop. */
struct chan {
    int listen_fd;              /* -1: none */
    int conn_fd;                /* already connected (fd=, clientfd=) */
    bool is_unix;
    char unlink_path[108];      /* our socket file, removed at exit */
};

struct loop_cfg {
    struct chan ctrl;
    struct chan data;
    bool ctrl_terminate;
    bool disconnect;            /* data: close after each response */
    bool terminate;             /* -t: exit when the data client leaves */
    bool data_persistent;       /* --fd / tcp fd= / chardev: exit on close */
    bool data_is_chardev;       /* message-oriented device (vTPM proxy) */
};

/*
 * Parse one --server / --ctrl value.  Returns 0 or -EINVAL with a message
 * in err.
 */
int chan_parse(const char *s, bool is_ctrl, struct chan_opts *out,
               char *err, size_t errlen);

/* Create the listening socket (or adopt fds) of o; 0 or -errno + err. */
int chan_open(const struct chan_opts *o, struct chan *out,
              char *err, size_t errlen);
void chan_close(struct chan *c);

/*
 * systemd socket activation: if $LISTEN_PID is this process, unset the
 * LISTEN_* variables and describe fd 3 (data) and fd 4 (control, if
 * LISTEN_FDS is 2) as --server / --ctrl values in server and ctrl (len
 * bytes each).  Returns how many were passed (0: not activated), or
 * -EINVAL with a message in err.
 */
int activation_channels(char *server, char *ctrl, size_t len,
                        char *err, size_t errlen);

/* Serve until SHUTDOWN, a signal, or a terminating hang-up.  Returns
 * the process exit code. */
int loop_run(struct loop_cfg *cfg, struct tpm_instance *tpm);

/* SIGTERM/SIGINT stop the loop; call before the loop (blocks them). */
void loop_signals_setup(void);

/* Create a vTPM proxy device; returns the server-side fd or -errno. */
int vtpm_proxy_create(bool tpm2, char *devname, size_t len,
                      char *err, size_t errlen);

#endif
