// SPDX-License-Identifier: BSD-3-Clause
/*
 * CUSE device callbacks.  The FUSE loop runs on one thread; the slow TPM
 * commands (key creation, take-ownership) run on one worker thread so
 * that PTM_CANCEL_TPM_CMD and non-waiting ioctls stay responsive.  A read
 * that arrives while the worker is busy is answered when it finishes.
 */
#define FUSE_USE_VERSION 31
#include "cuse_dev.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cuse_lowlevel.h>
#include <fuse_lowlevel.h>
#include <tss2/tss2_tpm2_types.h>

#include "ctrl_ioctl.h"
#include "log.h"

#define RESP_MAX 8192

struct cuse_dev {
    struct cuse_opts *opts;
    struct tpm_instance *tpm;
    struct ctrl_engine eng;
    struct fuse_session *se;
    bool eng_ready, mounted;    /* what cuse_dev_close() undoes */
    bool initialized;           /* the kernel has our INIT reply */

    pthread_mutex_t mtx;        /* guards everything below and libtpms */
    pthread_cond_t cond;
    bool opened;
    uint8_t resp[RESP_MAX];
    uint32_t resp_len, resp_off;
    /* get-blob read() mode (docs/control-channel.md §7.5) */
    bool blob_read;
    uint32_t blob_off;
    /* worker */
    pthread_t worker;
    bool worker_started, busy, quit;
    uint8_t cmd[TPM_CMD_MAX];
    uint32_t cmd_len;
    fuse_req_t pending_read;
    size_t pending_size;
    struct fuse_pollhandle *ph;
};

static struct cuse_dev dev = {
    .mtx = PTHREAD_MUTEX_INITIALIZER,
    .cond = PTHREAD_COND_INITIALIZER,
};

/* Commands run on the worker so they can be cancelled (docs/control-channel.md
 * §9.3). */
static bool
is_slow_command(const struct tpm_instance *t, uint32_t ord)
{
    if (t->tpm2) {
        return ord == TPM2_CC_CreatePrimary || ord == TPM2_CC_Create;
    }
    return ord == TPM_ORD_TAKE_OWNERSHIP || ord == TPM_ORD_CREATE_WRAP_KEY;
}

/* Run one TPM command and keep its response; called with mtx held. */
static int
process_locked(void)
{
    const uint8_t *r = NULL;
    uint32_t len = 0;
    int rc;

    rc = tpm_process(dev.tpm, dev.cmd, dev.cmd_len, &r, &len);
    dev.resp_off = 0;
    dev.resp_len = 0;
    if (rc < 0) {
        return rc;
    }
    if (len > RESP_MAX) {
        len = RESP_MAX;
    }
    memcpy(dev.resp, r, len);
    dev.resp_len = len;
    return 0;
}

static void
reply_read_locked(fuse_req_t req, size_t size)
{
    uint32_t n = dev.resp_len - dev.resp_off;

    if (size < n) {
        n = (uint32_t)size;
    }
    fuse_reply_buf(req, (const char *)dev.resp + dev.resp_off, n);
    dev.resp_off += n;
}

static void
notify_poll_locked(void)
{
    if (dev.ph) {
        fuse_lowlevel_notify_poll(dev.ph);
        fuse_pollhandle_destroy(dev.ph);
        dev.ph = NULL;
    }
}

static void *
worker_main(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&dev.mtx);
    for (;;) {
        while (!dev.busy && !dev.quit) {
            pthread_cond_wait(&dev.cond, &dev.mtx);
        }
        if (dev.quit) {
            break;
        }
        if (process_locked() < 0) {
            dev.resp_len = 0;
        }
        dev.busy = false;
        if (dev.pending_read) {
            reply_read_locked(dev.pending_read, dev.pending_size);
            dev.pending_read = NULL;
        }
        notify_poll_locked();
        pthread_cond_broadcast(&dev.cond);
    }
    pthread_mutex_unlock(&dev.mtx);
    return NULL;
}

/* Wait (mtx held) until the worker has nothing in flight. */
static void
wait_idle_locked(void)
{
    while (dev.busy) {
        pthread_cond_wait(&dev.cond, &dev.mtx);
    }
}

static void
dev_open(fuse_req_t req, struct fuse_file_info *fi)
{
    pthread_mutex_lock(&dev.mtx);
    if (dev.opened) {
        pthread_mutex_unlock(&dev.mtx);
        fuse_reply_err(req, EBUSY);
        return;
    }
    dev.opened = true;
    dev.resp_len = dev.resp_off = 0;
    pthread_mutex_unlock(&dev.mtx);
    fi->direct_io = 1;
    fi->nonseekable = 1;
    fuse_reply_open(req, fi);
}

static void
dev_release(fuse_req_t req, struct fuse_file_info *fi)
{
    (void)fi;
    pthread_mutex_lock(&dev.mtx);
    wait_idle_locked();
    dev.opened = false;
    dev.blob_read = false;
    ctrl_setblob_abort(&dev.eng);
    dev.resp_len = dev.resp_off = 0;
    pthread_mutex_unlock(&dev.mtx);
    fuse_reply_err(req, 0);
}

static void
dev_read(fuse_req_t req, size_t size, off_t off, struct fuse_file_info *fi)
{
    struct ctrl_engine *e = &dev.eng;
    const uint8_t *rest;
    uint32_t n;

    (void)off;
    (void)fi;
    pthread_mutex_lock(&dev.mtx);
    if (ctrl_setblob_active(e)) {
        ctrl_setblob_abort(e);
        pthread_mutex_unlock(&dev.mtx);
        fuse_reply_err(req, EIO);
        return;
    }
    if (dev.blob_read) {
        n = ctrl_getblob_from(e, dev.blob_off, &rest);
        if (size > n) {
            dev.blob_read = false;      /* last chunk ends the mode */
        } else {
            n = (uint32_t)size;
        }
        fuse_reply_buf(req, (const char *)rest, n);
        dev.blob_off += n;
        pthread_mutex_unlock(&dev.mtx);
        return;
    }
    if (dev.busy) {
        if (dev.pending_read) {
            pthread_mutex_unlock(&dev.mtx);
            fuse_reply_err(req, EBUSY);
            return;
        }
        dev.pending_read = req;
        dev.pending_size = size;
        pthread_mutex_unlock(&dev.mtx);
        return;
    }
    reply_read_locked(req, size);
    pthread_mutex_unlock(&dev.mtx);
}

static void
dev_write(fuse_req_t req, const char *buf, size_t size, off_t off,
          struct fuse_file_info *fi)
{
    struct ctrl_engine *e = &dev.eng;
    int rc;

    (void)off;
    (void)fi;
    pthread_mutex_lock(&dev.mtx);
    if (ctrl_setblob_active(e)) {
        rc = ctrl_setblob_append(e, (const uint8_t *)buf, (uint32_t)size);
        pthread_mutex_unlock(&dev.mtx);
        if (rc < 0) {
            fuse_reply_err(req, EIO);
        } else {
            fuse_reply_write(req, size);
        }
        return;
    }
    if (dev.blob_read) {
        dev.blob_read = false;
        pthread_mutex_unlock(&dev.mtx);
        fuse_reply_err(req, EIO);
        return;
    }
    if (dev.busy) {
        pthread_mutex_unlock(&dev.mtx);
        fuse_reply_err(req, EBUSY);
        return;
    }
    /* One write is one command; upstream drops bytes beyond 4096. */
    if (size > TPM_CMD_MAX) {
        size = TPM_CMD_MAX;
    }
    memcpy(dev.cmd, buf, size);
    dev.cmd_len = (uint32_t)size;
    dev.resp_len = dev.resp_off = 0;
    if (dev.worker_started && dev.tpm->running && size >= 10 &&
        is_slow_command(dev.tpm, be32_get(dev.cmd + 6))) {
        dev.busy = true;
        pthread_cond_broadcast(&dev.cond);
        pthread_mutex_unlock(&dev.mtx);
        fuse_reply_write(req, size);
        return;
    }
    rc = process_locked();
    notify_poll_locked();
    pthread_mutex_unlock(&dev.mtx);
    if (rc < 0) {
        fuse_reply_err(req, EIO);
    } else {
        fuse_reply_write(req, size);
    }
}

static void
dev_poll(fuse_req_t req, struct fuse_file_info *fi,
         struct fuse_pollhandle *ph)
{
    unsigned int ev = 0;

    (void)fi;
    pthread_mutex_lock(&dev.mtx);
    if (!dev.busy) {
        ev |= POLLOUT | POLLWRNORM;
        if (dev.resp_off < dev.resp_len || dev.blob_read) {
            ev |= POLLIN | POLLRDNORM;
        }
    }
    if (ph) {
        if (dev.ph) {
            fuse_pollhandle_destroy(dev.ph);
        }
        dev.ph = ph;
    }
    pthread_mutex_unlock(&dev.mtx);
    fuse_reply_poll(req, ev);
}

static void
dev_ioctl(fuse_req_t req, int ioc, void *arg, struct fuse_file_info *fi,
          unsigned int flags, const void *in, size_t in_len, size_t out_len)
{
    static uint8_t out[CTRL_IOCTL_MAX];
    struct ctrl_req creq;
    struct ctrl_resp cresp;
    uint32_t cmd = ctrl_ioctl_to_cmd((unsigned int)ioc);
    const struct ctrl_cmd_desc *d = ctrl_cmd_desc(cmd);
    size_t n;
    int dec;

    (void)arg;
    (void)fi;
    if (!d || d->socket_only || (flags & FUSE_IOCTL_COMPAT)) {
        fuse_reply_err(req, EINVAL);
        return;
    }
    dec = ctrl_ioctl_decode(cmd, in, in_len, &creq);
    if (d->beside_worker) {
        /* libtpms' cancel only sets a flag: safe beside the worker. */
        ctrl_dispatch(&dev.eng, cmd, &creq, &cresp);
        n = ctrl_ioctl_encode(cmd, &cresp, out);
        fuse_reply_ioctl(req, 0, out, n < out_len ? n : out_len);
        return;
    }
    pthread_mutex_lock(&dev.mtx);
    /* Some ioctls do not wait for the worker (docs/control-channel.md
     * §9.3). */
    if (d->cuse_waits) {
        wait_idle_locked();
    }
    dev.blob_read = false;
    ctrl_dispatch(&dev.eng, cmd, dec == 0 ? &creq : NULL, &cresp);
    if (d->drops_response) {
        dev.resp_len = dev.resp_off = 0;
    }
    n = ctrl_ioctl_encode(cmd, &cresp, out);
    if (d->rest_by_read && cresp.result == 0 &&
        cresp.avail > PTM_STATE_BLOB_SIZE) {
        /* The rest may follow by read() (docs/control-channel.md §7.5). */
        dev.blob_read = true;
        dev.blob_off = creq.u.getstate.offset + PTM_STATE_BLOB_SIZE;
    }
    fuse_reply_ioctl(req, 0, out, n < out_len ? n : out_len);
    ctrl_after_reply(&dev.eng);
    if (dev.eng.exit_requested || dev.eng.fatal) {
        fuse_session_exit(dev.se);
    }
    pthread_mutex_unlock(&dev.mtx);
}

int
cuse_dev_start_worker(void)
{
    if (pthread_create(&dev.worker, NULL, worker_main, NULL) != 0) {
        log_err("cannot start the worker thread");
        return EXIT_GENERIC;
    }
    dev.worker_started = true;
    return OPTS_CONTINUE;
}

/* The kernel has our INIT reply: /dev/NAME is being created. */
static void
dev_init_done(void *userdata)
{
    (void)userdata;
    dev.initialized = true;
}

static const struct cuse_lowlevel_ops dev_ops = {
    .init_done = dev_init_done,
    .open = dev_open,
    .release = dev_release,
    .read = dev_read,
    .write = dev_write,
    .ioctl = dev_ioctl,
    .poll = dev_poll,
};

/*
 * tpm_instance.lock_pause: sleep between lock attempts, but give up once
 * a signal (FUSE's handlers end the session) or a SHUTDOWN asked us out.
 */
static bool
pause_for_lock(void *arg, int ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

    (void)arg;
    if (!fuse_session_exited(dev.se)) {
        nanosleep(&ts, NULL);
    }
    return !fuse_session_exited(dev.se);
}

/* Serve the session until the kernel's INIT is answered or the session
 * ends (a signal); then fuse_session_loop() serves on. */
static void
serve_init(void)
{
    struct fuse_buf buf = { .mem = NULL };
    int r;

    while (!dev.initialized && !fuse_session_exited(dev.se)) {
        r = fuse_session_receive_buf(dev.se, &buf);
        if (r == -EINTR) {
            continue;
        }
        if (r <= 0) {
            break;
        }
        fuse_session_process_buf(dev.se, &buf);
    }
    free(buf.mem);
}

int
cuse_dev_open(struct cuse_opts *o, struct tpm_instance *inst)
{
    char devname[300], mnt[32];
    const char *dev_argv[] = { devname };
    char *fargv[] = { (char *)"swtpm_cuse", NULL };
    struct fuse_args args = FUSE_ARGS_INIT(1, fargv);
    struct cuse_info ci;
    int fd;

    dev.opts = o;
    dev.tpm = inst;
    ctrl_engine_init(&dev.eng, inst, CTRL_FE_CUSE);
    dev.eng_ready = true;
    snprintf(devname, sizeof(devname), "DEVNAME=%s", o->name);
    memset(&ci, 0, sizeof(ci));
    ci.dev_major = o->major;
    ci.dev_minor = o->minor;
    ci.dev_info_argc = 1;
    ci.dev_info_argv = dev_argv;

    fd = open("/dev/cuse", O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        log_errno(errno, "cannot open /dev/cuse (load the kernel module "
                  "with 'modprobe cuse', and run as root)");
        return EXIT_GENERIC;
    }
    dev.se = cuse_lowlevel_new(&args, &ci, &dev_ops, o);
    if (!dev.se) {
        close(fd);
        log_err("cannot create the CUSE session for /dev/%s", o->name);
        return EXIT_GENERIC;
    }
    snprintf(mnt, sizeof(mnt), "/dev/fd/%d", fd);
    if (fuse_session_mount(dev.se, mnt) != 0 ||
        fuse_set_signal_handlers(dev.se) != 0) {
        log_err("cannot attach the CUSE session for /dev/%s", o->name);
        fuse_session_destroy(dev.se);
        dev.se = NULL;
        return EXIT_GENERIC;
    }
    dev.mounted = true;
    inst->lock_pause = pause_for_lock;
    serve_init();
    /* Ended by a signal before the device existed: exit 0, as the
     * session loop would. */
    return dev.initialized ? OPTS_CONTINUE : EXIT_SUCCESS;
}

int
cuse_dev_serve(void)
{
    fuse_session_loop(dev.se);
    return dev.eng.fatal ? EXIT_FAILURE : EXIT_SUCCESS;
}

void
cuse_dev_close(void)
{
    if (dev.mounted) {
        /* Orderly end: finish the worker, shut the TPM down, keep
         * state. */
        pthread_mutex_lock(&dev.mtx);
        wait_idle_locked();
        dev.quit = true;
        pthread_cond_broadcast(&dev.cond);
        pthread_mutex_unlock(&dev.mtx);
        if (dev.worker_started) {
            pthread_join(dev.worker, NULL);
            dev.worker_started = false;
        }
        tpm_stop(dev.tpm);
        fuse_remove_signal_handlers(dev.se);
        fuse_session_unmount(dev.se);
        fuse_session_destroy(dev.se);
        dev.se = NULL;
        dev.mounted = false;
    }
    if (dev.eng_ready) {
        ctrl_engine_free(&dev.eng);
        dev.eng_ready = false;
    }
}
