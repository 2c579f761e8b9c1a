// SPDX-License-Identifier: BSD-3-Clause
/*
 * The main loop of swtpm socket / chardev: one poll() over the listening
 * sockets, one control client and one data client (docs/control-channel.md
 * §7.10, §8.1).  Control requests are read by ctrl_sock_serve(); TPM
 * commands are assembled here by their header's size field, so a client
 * that stalls mid-command delays nobody but itself.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>


#include "ctrl_sock.h"
#include "fdio.h"
#include "log.h"
#include "swtpm.h"

/* Room for the 9-byte TCG prefix plus the largest command. */
#define DATA_BUF_MAX (9 + TPM_CMD_MAX)
/* A TPM command started must be complete within this, however its
 * bytes are spread: a trickling client may not hold the data channel. */
#define DATA_MSG_TIMEOUT_MS 5000
#define DATA_WRITE_TIMEOUT_MS 10000
#define TCG_SEND_COMMAND 8u

enum data_kind {
    DATA_ACCEPTED,      /* from the --server listener */
    DATA_PERSISTENT,    /* --fd, tcp fd=, chardev: exit when it closes */
    DATA_PASSED,        /* CMD_SET_DATAFD: exit with -t, else wait for
                           another */
};

struct loop {
    struct loop_cfg *cfg;
    struct tpm_instance *tpm;
    struct ctrl_engine eng;
    int ctrl_fd;                /* control client, -1 if none */
    bool ctrl_is_unix;
    int data_fd;                /* data client, -1 if none */
    enum data_kind data_kind;
    uint8_t buf[DATA_BUF_MAX];
    size_t have;
    int64_t msg_deadline;       /* 0: no partial command pending */
    bool done;
    int code;
};

static volatile sig_atomic_t stop_signal;

static void
on_signal(int sig)
{
    stop_signal = sig;
}

void
loop_signals_setup(void)
{
    struct sigaction sa;
    sigset_t set;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
    /* Delivered only inside ppoll(), so no call is ever interrupted. */
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigprocmask(SIG_BLOCK, &set, NULL);
}

/*
 * tpm_instance.lock_pause: sleep between lock attempts with SIGTERM and
 * SIGINT deliverable (they are blocked everywhere but in ppoll()), so a
 * signal ends a lock wait at once instead of after it.
 */
static bool
pause_for_lock(void *arg, int ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
    sigset_t none;

    (void)arg;
    sigemptyset(&none);
    if (!stop_signal) {
        ppoll(NULL, 0, &ts, &none);
    }
    return !stop_signal;
}

static void
set_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);

    if (fl >= 0) {
        fcntl(fd, F_SETFL, fl | O_NONBLOCK);
    }
}

static void
finish(struct loop *l, int code)
{
    l->done = true;
    l->code = code;
}

static bool
has_data_channel(const struct loop *l)
{
    return l->data_fd >= 0 || l->cfg->data.listen_fd >= 0;
}

static void
data_close(struct loop *l)
{
    if (l->data_fd < 0) {
        return;
    }
    close(l->data_fd);
    l->data_fd = -1;
    l->have = 0;
    l->msg_deadline = 0;
    explicit_bzero(l->buf, sizeof(l->buf));
}

/* The data client left (or was dropped): exit or wait for the next. */
static void
data_gone(struct loop *l)
{
    enum data_kind kind = l->data_kind;

    data_close(l);
    /* -t means any data client, also one QEMU or libvirt passed by
     * CMD_SET_DATAFD: the emulator must not outlive its VM. */
    if (kind == DATA_PERSISTENT || l->cfg->terminate) {
        log_info("data connection closed; terminating");
        finish(l, EXIT_SUCCESS);
    }
}

static int
write_all(int fd, const uint8_t *p, size_t len)
{
    int64_t deadline = fd_clock_ms() + DATA_WRITE_TIMEOUT_MS;
    struct pollfd pfd = { .fd = fd, .events = POLLOUT };
    ssize_t n;
    int64_t left;

    while (len > 0) {
        n = write(fd, p, len);
        if (n > 0) {
            p += n;
            len -= (size_t)n;
            continue;
        }
        if (n < 0 && errno != EAGAIN && errno != EINTR) {
            return -errno;
        }
        left = deadline - fd_clock_ms();
        if (left <= 0 || poll(&pfd, 1, (int)left) == 0) {
            return -ETIMEDOUT;
        }
    }
    return 0;
}

/* Send a response, wrapped as 8.2 says when the command was. */
static int
data_reply(struct loop *l, const uint8_t *resp, uint32_t len, bool tcg)
{
    uint8_t out[8 + 2 * TPM_CMD_MAX];

    if (!tcg) {
        return write_all(l->data_fd, resp, len);
    }
    if (len > sizeof(out) - 8) {
        return -E2BIG;
    }
    /* One write: some peers (the vTPM proxy) are message based. */
    be32_put(out, len);
    memcpy(out + 4, resp, len);
    be32_put(out + 4 + len, 0);
    return write_all(l->data_fd, out, (size_t)len + 8);
}

/* A command larger than the TPM's buffer: refuse it, then hang up. */
static void
data_too_big(struct loop *l, uint32_t size, bool tcg)
{
    const uint8_t *r;
    uint32_t rlen;

    log_warn("TPM command of %u bytes exceeds the %u-byte buffer; "
             "closing the data connection", size, (unsigned int)TPM_CMD_MAX);
    if (tpm_too_big_response(l->tpm, &r, &rlen) == 0) {
        data_reply(l, r, rlen, tcg);
    }
    data_gone(l);
}

/*
 * Run every complete command in the buffer.  A command is complete when
 * its header's size field is satisfied (docs/control-channel.md §8.1
 * improvement); the TCG prefix (docs/control-channel.md §8.2) is recognised on
 * a TPM 2 by its leading 00000008.
 */
static void
data_process(struct loop *l)
{
    const uint8_t *resp;
    uint32_t size, rlen;
    size_t off, used;
    bool tcg, consumed = false;
    int r;

    while (l->data_fd >= 0 && !l->done && l->have >= 10) {
        tcg = l->tpm->tpm2 && be32_get(l->buf) == TCG_SEND_COMMAND;
        off = tcg ? 9 : 0;
        if (l->have < off + 10) {
            break;
        }
        size = be32_get(l->buf + off + 2);
        if (size < 10) {
            size = 10;  /* let the TPM reject the header it got */
        }
        if (size > TPM_CMD_MAX) {
            data_too_big(l, size, tcg);
            return;
        }
        if (l->have < off + size) {
            break;
        }
        if (tcg) {
            tpm_set_prefix_locality(l->tpm, l->buf[4]);
        }
        r = tpm_process(l->tpm, l->buf + off, size, &resp, &rlen);
        if (r < 0 && stop_signal) {
            return;     /* a signal ended the lock wait: loop_run exits */
        }
        if (r < 0) {
            log_err("cannot take the TPM state lock for a command; "
                    "terminating");
            finish(l, EXIT_FAILURE);
            return;
        }
        used = off + size;
        memmove(l->buf, l->buf + used, l->have - used);
        l->have -= used;
        consumed = true;
        if (data_reply(l, resp, rlen, tcg) < 0) {
            log_info("cannot send the TPM response; closing the data "
                     "connection");
            data_gone(l);
            return;
        }
        if (l->cfg->disconnect && l->data_kind == DATA_ACCEPTED) {
            data_gone(l);
            return;
        }
    }
    /* The clock runs from the first byte of the incomplete command on;
     * more bytes of the same command do not restart it. */
    if (!l->have) {
        l->msg_deadline = 0;
    } else if (!l->msg_deadline || consumed) {
        l->msg_deadline = fd_clock_ms() + DATA_MSG_TIMEOUT_MS;
    }
}

static void
data_readable(struct loop *l)
{
    ssize_t n;

    n = read(l->data_fd, l->buf + l->have, sizeof(l->buf) - l->have);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
        return;
    }
    if (n <= 0) {
        data_gone(l);
        return;
    }
    l->have += (size_t)n;
    data_process(l);
}

static int accept_client(int lfd);

/* The fd of the data side to watch: the client, else the listener. */
static int
data_watch_fd(const struct loop *l)
{
    return l->data_fd >= 0 ? l->data_fd : l->cfg->data.listen_fd;
}

/* The loop and reader state while a control request is being served. */
struct ctrl_wait {
    struct loop *l;
    struct ctrl_sock_io *io;
};

/*
 * Called by the control reader while it waits for a slow control client:
 * serve the data channel (a trickled control body never stalls TPM
 * commands) and notice signals.  false: give the control request up.
 */
static bool
serve_data_meanwhile(void *arg)
{
    struct ctrl_wait *w = arg;
    struct loop *l = w->l;
    struct pollfd p = { .fd = data_watch_fd(l), .events = POLLIN };
    int fd;

    if (stop_signal || l->done) {
        return false;
    }
    if (p.fd >= 0 && poll(&p, 1, 0) > 0) {
        if (l->data_fd >= 0) {
            data_readable(l);
        } else {
            fd = accept_client(l->cfg->data.listen_fd);
            if (fd >= 0) {
                l->data_fd = fd;
                l->data_kind = DATA_ACCEPTED;
            }
        }
    }
    w->io->other_fd = data_watch_fd(l);
    return !l->done && !stop_signal;
}

static void
ctrl_readable(struct loop *l)
{
    sigset_t none;
    struct ctrl_sock_io io = {
        .unix_socket = l->ctrl_is_unix,
        .has_data_channel = has_data_channel(l),
        .serve_other = serve_data_meanwhile,
        .sigmask = &none,
    };
    struct ctrl_wait w = { .l = l, .io = &io };
    int r;

    /* Signals arrive while the reader waits, as in the main ppoll(). */
    sigemptyset(&none);
    io.other_fd = data_watch_fd(l);
    io.other_arg = &w;
    r = ctrl_sock_serve(&l->eng, l->ctrl_fd, &io);
    if (io.new_datafd >= 0) {
        set_nonblock(io.new_datafd);
        l->data_fd = io.new_datafd;
        l->data_kind = DATA_PASSED;
        l->have = 0;
    }
    if (l->eng.fatal && stop_signal) {
        l->eng.fatal = false;   /* a signal ended the lock wait */
    } else if (l->eng.fatal) {
        log_err("cannot take the TPM state lock; terminating");
        finish(l, EXIT_FAILURE);
    } else if (l->eng.exit_requested) {
        finish(l, EXIT_SUCCESS);
    }
    if (r == -ETIMEDOUT) {
        log_warn("control client sent no complete request in time; "
                 "closing its connection");
    }
    if (r == -ECANCELED) {
        log_info("control request abandoned");
    }
    if (r < 0) {
        close(l->ctrl_fd);
        l->ctrl_fd = -1;
        if (l->cfg->ctrl_terminate && !l->done && !stop_signal) {
            log_info("control connection closed; terminating");
            finish(l, EXIT_SUCCESS);
        }
    }
}

static int
accept_client(int lfd)
{
    int fd;

    do {
        fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
    } while (fd < 0 && errno == EINTR);
    return fd;
}

/* Wait for one round of events and handle them. */
static void
loop_once(struct loop *l)
{
    struct pollfd p[4];
    enum { P_CL, P_C, P_DL, P_D };
    int idx[4] = { -1, -1, -1, -1 }, n = 0, fd;
    struct timespec ts, *tsp = NULL;
    sigset_t none;
    int64_t left;

#define ADD(slot, f) do { idx[slot] = n; \
        p[n].fd = (f); p[n].events = POLLIN; p[n].revents = 0; n++; } \
        while (0)
    if (l->ctrl_fd >= 0) {
        ADD(P_C, l->ctrl_fd);
    } else if (l->cfg->ctrl.listen_fd >= 0) {
        ADD(P_CL, l->cfg->ctrl.listen_fd);
    }
    if (l->data_fd >= 0) {
        ADD(P_D, l->data_fd);
    } else if (l->cfg->data.listen_fd >= 0) {
        ADD(P_DL, l->cfg->data.listen_fd);
    }
#undef ADD
    if (l->msg_deadline) {
        left = l->msg_deadline - fd_clock_ms();
        if (left < 0) {
            left = 0;
        }
        ts.tv_sec = left / 1000;
        ts.tv_nsec = (left % 1000) * 1000000;
        tsp = &ts;
    }
    sigemptyset(&none);
    if (ppoll(p, (nfds_t)n, tsp, &none) < 0) {
        return;     /* a signal: the caller looks at stop_signal */
    }
    if (l->msg_deadline && fd_clock_ms() >= l->msg_deadline &&
        (idx[P_D] < 0 || !p[idx[P_D]].revents)) {
        log_warn("data client stalled in the middle of a TPM command; "
                 "closing its connection");
        data_gone(l);
        return;
    }
    if (idx[P_C] >= 0 && p[idx[P_C]].revents) {
        /* The data side may have been served meanwhile: the events
         * polled above are stale now, so poll again. */
        ctrl_readable(l);
        return;
    } else if (idx[P_CL] >= 0 && p[idx[P_CL]].revents) {
        fd = accept_client(l->cfg->ctrl.listen_fd);
        if (fd >= 0) {
            l->ctrl_fd = fd;
        }
    }
    if (l->done) {
        return;
    }
    if (idx[P_D] >= 0 && p[idx[P_D]].revents && l->data_fd == p[idx[P_D]].fd) {
        data_readable(l);
    } else if (idx[P_DL] >= 0 && p[idx[P_DL]].revents && l->data_fd < 0) {
        fd = accept_client(l->cfg->data.listen_fd);
        if (fd >= 0) {
            l->data_fd = fd;
            l->data_kind = DATA_ACCEPTED;
        }
    }
}

int
loop_run(struct loop_cfg *cfg, struct tpm_instance *tpm)
{
    static struct loop l;

    memset(&l, 0, sizeof(l));
    l.cfg = cfg;
    l.tpm = tpm;
    ctrl_engine_init(&l.eng, tpm, CTRL_FE_SOCKET);
    tpm->lock_pause = pause_for_lock;
    l.ctrl_fd = cfg->ctrl.conn_fd;
    l.ctrl_is_unix = cfg->ctrl.is_unix;
    cfg->ctrl.conn_fd = -1;
    l.data_fd = cfg->data.conn_fd;
    l.data_kind = DATA_PERSISTENT;
    cfg->data.conn_fd = -1;
    if (l.ctrl_fd >= 0) {
        set_nonblock(l.ctrl_fd);
    }
    if (l.data_fd >= 0) {
        set_nonblock(l.data_fd);
    }
    while (!l.done) {
        if (stop_signal) {
            log_info("terminating on signal %d", (int)stop_signal);
            finish(&l, EXIT_SUCCESS);
            break;
        }
        loop_once(&l);
    }
    if (l.ctrl_fd >= 0) {
        close(l.ctrl_fd);
    }
    data_close(&l);
    tpm_stop(tpm);      /* with the automatic TPM2_Shutdown
                         * (docs/control-channel.md §8.4) */
    ctrl_engine_free(&l.eng);
    return l.code;
}
