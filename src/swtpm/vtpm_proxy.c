// SPDX-License-Identifier: BSD-3-Clause
/*
 * The Linux vTPM proxy (swtpm chardev --vtpm-proxy): /dev/vtpmx hands us
 * an anonymous fd on which the kernel's /dev/tpmN commands arrive, one
 * command per read(), and responses go back with one write().
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/vtpm_proxy.h>

#include "swtpm.h"

int
vtpm_proxy_create(bool tpm2, char *devname, size_t len, char *err,
                  size_t errlen)
{
    struct vtpm_proxy_new_dev nd;
    int fd, r;

    fd = open("/dev/vtpmx", O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        r = -errno;
        snprintf(err, errlen, "cannot open /dev/vtpmx: %s (is the "
                 "tpm_vtpm_proxy module loaded?)", strerror(errno));
        return r;
    }
    memset(&nd, 0, sizeof(nd));
    nd.flags = tpm2 ? VTPM_PROXY_FLAG_TPM2 : 0;
    if (ioctl(fd, VTPM_PROXY_IOC_NEW_DEV, &nd) < 0) {
        r = -errno;
        snprintf(err, errlen, "cannot create a vTPM proxy device: %s",
                 strerror(errno));
        close(fd);
        return r;
    }
    close(fd);
    fcntl((int)nd.fd, F_SETFD, FD_CLOEXEC);
    snprintf(devname, len, "/dev/tpm%u (major/minor = %u/%u)", nd.tpm_num,
             nd.major, nd.minor);
    return (int)nd.fd;
}
