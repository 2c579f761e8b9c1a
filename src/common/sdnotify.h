/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * systemd readiness without libsystemd: a datagram "READY=1" to the
 * socket named by $NOTIFY_SOCKET (a path, or "@name" for an abstract
 * socket), as sd_notify(3) describes the protocol.
 */
#ifndef SWTPM_SDNOTIFY_H
#define SWTPM_SDNOTIFY_H

/*
 * Connect a datagram socket to addr (the value of $NOTIFY_SOCKET) now,
 * before chroot, user switch and seccomp can get in the way.  NULL or
 * empty addr: *out_fd = -1 and 0.  Returns 0, -EAFNOSUPPORT for an addr
 * that starts with neither '/' nor '@', -ENAMETOOLONG, or the errno of
 * socket()/connect().  The caller owns *out_fd.
 */
int sdnotify_open(const char *addr, int *out_fd);

/*
 * Send state (e.g. "READY=1") on fd from sdnotify_open() and close it.
 * fd -1: nothing to do, 0.  Never blocks: a queue that is full gives
 * -EAGAIN.  Returns 0 or -errno of send().
 */
int sdnotify_send_close(int fd, const char *state);

#endif
