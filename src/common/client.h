/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Client side of the control channel and the TPM data path, shared by
 * swtpm_ioctl and swtpm_bios: connecting to a CUSE character device, a TCP
 * host:port or a Unix socket; running one control command in either the
 * host-order ioctl form or the big-endian socket form (docs/control-channel.md
 * §1, §5, §7.10); sending a raw TPM command and reading its response.
 * Every socket wait is bounded by poll() with the client's timeout.
 */
#ifndef SWTPM_CLIENT_H
#define SWTPM_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ctrl_wire.h"

#define CLIENT_TIMEOUT_MS      20000
#define CLIENT_HOST_MAX        256
#define CLIENT_DESC_MAX        320
/* Largest raw TPM response we accept. */
#define CLIENT_TPM_RESP_MAX    4096
/* Fixed part of the socket replies of the variable-length commands. */
#define CLIENT_GETSTATE_HDR    16
#define CLIENT_GETINFO_HDR     12

enum client_kind {
    CLIENT_DEVICE = 1,
    CLIENT_TCP,
    CLIENT_UNIX,
};

/* Where to connect; filled by the front end. */
struct client_target {
    enum client_kind kind;
    const char *path;                   /* device or Unix socket path */
    char host[CLIENT_HOST_MAX];         /* TCP only */
    unsigned int port;                  /* TCP only */
};

struct client {
    enum client_kind kind;
    int fd;
    int timeout_ms;                     /* per poll(); <= 0 means default */
    char desc[CLIENT_DESC_MAX];         /* "'/dev/vtpm0'" or "127.0.0.1:6546" */
};

/*
 * Parse the `--tcp [host]:[port]` argument: split at the last colon;
 * an empty host means 127.0.0.1, a missing or empty port means
 * default_port; "[v6addr]:port" brackets are stripped.  Returns 0,
 * -EINVAL (bad port text) or -ERANGE (port 0 or > 65535, host too long).
 */
int client_parse_tcp(const char *arg, unsigned int default_port,
                     struct client_target *out);

/*
 * Open the device or connect the socket in t.  Returns 0 or a negative
 * errno; on failure c->fd is -1 and c->desc still names the target so the
 * caller can report it.
 */
int client_open(struct client *c, const struct client_target *t,
                int timeout_ms);
/*
 * The caller's report of a failed client_open(): "cannot open TPM device
 * '/dev/vtpm0': ..." or "cannot connect to 127.0.0.1:6546: ...".
 */
void client_open_errmsg(const struct client *c, int err, char *out,
                        size_t outlen);
/* Close the connection; safe on a closed or never-opened client. */
void client_close(struct client *c);

/* Size of the host-order struct used with cmd (0 for an unknown cmd). */
size_t client_ctrl_struct_size(uint32_t cmd);

/*
 * Encode the socket request for cmd from its host-order struct st (the
 * ioctl struct, req member filled): 4-byte command code + body, all
 * big-endian.  Returns the byte count, or -EINVAL (unknown cmd, length
 * field over the struct's data array) or -ENOSPC (out too small).
 */
int client_encode_req(uint32_t cmd, const void *st, uint8_t *out,
                      size_t outlen);

/*
 * How many reply bytes the socket reply to cmd needs in total, given the
 * len bytes received so far.  A non-zero result code may come alone in 4
 * bytes.  Returns 0 and sets *out_need, or -EBADMSG when a length field in
 * the received header is out of range.
 */
int client_resp_need(uint32_t cmd, const uint8_t *buf, size_t len,
                     size_t *out_need);

/*
 * Decode a complete socket reply to cmd into the resp member of its
 * host-order struct st (zeroed first).  Returns 0, or -EBADMSG if the reply
 * is short, too long or inconsistent.  *out_tpm_rc gets the result code.
 */
int client_decode_resp(uint32_t cmd, const uint8_t *buf, size_t len,
                       void *st, uint32_t *out_tpm_rc);

/*
 * Run one control command on either transport.  st is the host-order
 * struct of client_ctrl_struct_size(cmd) bytes, req filled; on return its
 * resp member holds the reply.  Returns 0 (then *out_tpm_rc holds the
 * result code; 0 for GET_CAPABILITY) or a negative errno for transport
 * failures and malformed replies (-EBADMSG).
 */
int client_ctrl(struct client *c, uint32_t cmd, void *st,
                uint32_t *out_tpm_rc);

/*
 * Read one socket reply to cmd into a malloc'd buffer (*out_buf, caller
 * frees), growing it as the header reveals the length.  Surplus bytes
 * after a success reply make it malformed (-EBADMSG); after an error
 * result they are dropped (upstream servers may answer a rejected
 * SET_STATEBLOB before its data has been consumed).
 */
int client_read_reply(struct client *c, uint32_t cmd, uint8_t **out_buf,
                      size_t *out_len);

/* Which part of a blob transfer failed, for the caller's report. */
enum client_blob_step {
    CLIENT_BLOB_REQUEST,    /* a control request or reply (client_ctrl) */
    CLIENT_BLOB_STREAM,     /* CUSE read()/write() of the blob data */
    CLIENT_BLOB_SIZE,       /* CUSE pieces over CTRL_CLIENT_BLOB_MAX */
};

/*
 * Fetch the whole state blob of type from offset 0 on either transport
 * (client_blob.c).  CUSE: GET_STATEBLOB ioctls with growing offsets, or,
 * with chunk > 0, one ioctl and then read() in chunk-byte pieces.
 * Returns 0 with *out_tpm_rc set (the blob, malloc'd or NULL when empty,
 * only when it is 0), or a negative errno with *out_step naming the part
 * that failed.
 */
int client_get_blob(struct client *c, uint32_t flags, uint32_t type,
                    size_t chunk, uint8_t **out_blob, size_t *out_len,
                    uint32_t *out_tpm_rc, enum client_blob_step *out_step);

/*
 * Send a whole state blob on either transport.  CUSE: 3072-byte
 * SET_STATEBLOB ioctls until a short one, or, with chunk > 0, an empty
 * ioctl, write() in chunk-byte pieces and a closing empty ioctl; the
 * first non-zero result stops it.  Returns 0 with *out_tpm_rc set, or a
 * negative errno with *out_step naming the part that failed.
 */
int client_set_blob(struct client *c, uint32_t flags, uint32_t type,
                    const uint8_t *blob, size_t len, size_t chunk,
                    uint32_t *out_tpm_rc, enum client_blob_step *out_step);

/*
 * Socket GET_STATEBLOB: fetch the whole blob of type in one request.
 * On success *out_blob (malloc'd, caller frees; NULL when empty) and
 * *out_len hold the data, and *out_tpm_rc the result (the blob is empty
 * unless it is 0).
 */
int client_sock_get_blob(struct client *c, uint32_t flags, uint32_t type,
                         uint8_t **out_blob, size_t *out_len,
                         uint32_t *out_tpm_rc);

/*
 * Check a raw TPM response: at least 10 bytes and the header size field
 * equal to len.  Returns 0, -EBADMSG (size mismatch) or -EPROTO (short).
 */
int client_check_tpm_resp(const uint8_t *buf, size_t len);

/*
 * Send one raw TPM command and read its response into resp (cap bytes).
 * Returns 0 with *out_len set, or a negative errno (-EPROTO short reply,
 * -EBADMSG size mismatch, -ETIMEDOUT, ...).
 */
int client_tpm_cmd(struct client *c, const uint8_t *cmd, size_t cmdlen,
                   uint8_t *resp, size_t cap, size_t *out_len,
                   int timeout_ms);

/* Byte I/O with poll() timeouts (devices and sockets alike). */
int client_write_all(struct client *c, const void *buf, size_t len);
/* One read after poll; 0 bytes read (EOF) gives -ECONNRESET. */
int client_read_some(struct client *c, void *buf, size_t len,
                     size_t *out_n);

#endif
