// SPDX-License-Identifier: BSD-3-Clause
/*
 * The CUSE floor for `make bench` (run in the tests/vm guest): a CUSE
 * character device that takes a TPM command by write() and gives back a
 * canned 10-byte TPM_RC_SUCCESS header on the next read(), doing no other
 * work.  The round trip to it is what CUSE, FUSE and the scheduler cost by
 * themselves, so swtpm_cuse's latency reads as a multiple of it.  One
 * thread, in the foreground; serves until killed.
 *
 *   nowork_cuse NAME        (creates /dev/NAME)
 */
#define FUSE_USE_VERSION 31

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <cuse_lowlevel.h>
#include <fuse_lowlevel.h>

static const char canned[10] = { (char)0x80, 0x01, 0, 0, 0, 10, 0, 0, 0, 0 };
static bool answer_pending;

static void
floor_open(fuse_req_t req, struct fuse_file_info *fi)
{
    fuse_reply_open(req, fi);
}

static void
floor_write(fuse_req_t req, const char *buf, size_t size, off_t off,
            struct fuse_file_info *fi)
{
    (void)buf;
    (void)off;
    (void)fi;
    answer_pending = true;
    fuse_reply_write(req, size);
}

static void
floor_read(fuse_req_t req, size_t size, off_t off, struct fuse_file_info *fi)
{
    (void)off;
    (void)fi;
    if (!answer_pending) {
        fuse_reply_buf(req, NULL, 0);
        return;
    }
    answer_pending = false;
    fuse_reply_buf(req, canned, size < sizeof(canned) ? size
                                                      : sizeof(canned));
}

static const struct cuse_lowlevel_ops floor_ops = {
    .open = floor_open,
    .read = floor_read,
    .write = floor_write,
};

int
main(int argc, char **argv)
{
    char devname[300];
    const char *dev_argv[] = { devname };
    char *fargv[] = { argv[0], (char *)"-f", (char *)"-s", NULL };
    struct cuse_info ci;

    if (argc != 2 || strchr(argv[1], '/')) {
        fprintf(stderr, "usage: nowork_cuse NAME   (creates /dev/NAME)\n");
        return 2;
    }
    snprintf(devname, sizeof(devname), "DEVNAME=%s", argv[1]);
    memset(&ci, 0, sizeof(ci));
    ci.dev_info_argc = 1;
    ci.dev_info_argv = dev_argv;
    return cuse_lowlevel_main(3, fargv, &ci, &floor_ops, NULL);
}
