/* SPDX-License-Identifier: BSD-3-Clause */
/* CUSE ioctl encoding of control commands (host order, fixed structs). */
#ifndef SWTPM_CTRL_IOCTL_H
#define SWTPM_CTRL_IOCTL_H

#include <stddef.h>

#include "ctrl.h"

/*
 * Largest ioctl struct (PTM_HASH_DATA's 4100 bytes): the reply buffer size
 * front ends must provide.  Every encoded reply fits in it, so a reply of
 * the full struct size never reads past the buffer.
 */
union ctrl_ioctl_any {
    struct ptm_hdata hdata;
    struct ptm_getstate getstate;
    struct ptm_setstate setstate;
    struct ptm_getinfo getinfo;
};
#define CTRL_IOCTL_MAX sizeof(union ctrl_ioctl_any)

/*
 * Callers: any process allowed to open the device.  Decode the input of
 * ioctl command cmd (in_len bytes).  Returns 0, or -EBADMSG when in_len
 * is shorter than the command's struct.
 */
int ctrl_ioctl_decode(uint32_t cmd, const void *in, size_t in_len,
                      struct ctrl_req *out);

/* Encode resp into out (CTRL_IOCTL_MAX bytes); returns the reply size. */
size_t ctrl_ioctl_encode(uint32_t cmd, const struct ctrl_resp *resp,
                         void *out);

/* Bytes of input the kernel hands over for cmd (the struct size). */
size_t ctrl_ioctl_in_size(uint32_t cmd);

#endif
