/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Socket encoding of control commands (docs/control-channel.md §5, §7.3,
 * §7.4, §7.7, §7.9, §7.10): big-endian, a 4-byte command code first, variable
 * length bodies and replies.  The pure decoder and encoder are the twins of
 * ctrl_ioctl.c; ctrl_sock_serve() is the reader that assembles one request
 * from a stream socket, runs it through ctrl_dispatch() and replies.
 */
#ifndef SWTPM_CTRL_SOCK_H
#define SWTPM_CTRL_SOCK_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ctrl.h"

/* The first read of a request: code + sizeof(ptm_hdata)
 * (docs/control-channel.md §7.10). */
#define CTRL_SOCK_BUF_MAX (4 + sizeof(struct ptm_hdata))
/* The whole request (code and fixed part) must arrive within this. */
#define CTRL_SOCK_REQ_TIMEOUT_MS 500
/* Streamed bodies (HASH_DATA, SET_STATEBLOB): longest pause between
 * bytes, and the longest whole transfer (512 KiB at a crawl). */
#define CTRL_SOCK_STREAM_IDLE_MS 2000
#define CTRL_SOCK_STREAM_TOTAL_MS 30000
/* A reply must be taken by the client within this. */
#define CTRL_SOCK_WRITE_TIMEOUT_MS 10000
/* Largest fixed reply header (GET_STATEBLOB: 16 bytes). */
#define CTRL_SOCK_RESP_HDR_MAX 16

/*
 * Bytes of the request body (after the code) the reader must collect
 * before decoding cmd: INIT 4, SET_LOCALITY and RESET_TPMESTABLISHED 1,
 * GET_STATEBLOB and SET_STATEBLOB 12, HASH_DATA 4; 0 for every other
 * command, which is decoded from whatever the first read brought
 * (docs/control-channel.md §7.10).
 */
size_t ctrl_sock_fixed_len(uint32_t cmd);

/*
 * Callers: anyone who can connect to the control socket.  Decode the body
 * (len bytes after the code) of command cmd into out.  Size rules: INIT
 * exactly 4; SHUTDOWN, HASH_START, HASH_END, CANCEL_TPM_CMD,
 * STORE_VOLATILE, STOP exactly 0; SET_LOCALITY and RESET_TPMESTABLISHED
 * >= 1; SET_BUFFERSIZE and LOCK_STORAGE >= 4; GET_STATEBLOB >= 12;
 * GET_INFO >= 16; HASH_DATA 4 + length exactly (length <= 4096 here; the
 * reader splits longer data); SET_STATEBLOB 12 + length exactly, length
 * <= PTM_SET_BLOB_MAX.  Other commands ignore the body.  The request
 * points into body.  Returns 0, -EBADMSG (size) or -E2BIG (blob length).
 */
int ctrl_sock_decode(uint32_t cmd, const uint8_t *body, size_t len,
                     struct ctrl_req *out);

/*
 * Encode the reply to cmd: the fixed part goes to hdr (at least
 * CTRL_SOCK_RESP_HDR_MAX bytes), and *out_data / *out_data_len name the
 * engine-owned bytes that follow it on the wire (GET_STATEBLOB: all bytes
 * from the offset; GET_INFO: one chunk); NULL / 0 for the others.
 * Returns the header length.
 */
size_t ctrl_sock_encode(uint32_t cmd, const struct ctrl_resp *resp,
                        uint8_t *hdr, const uint8_t **out_data,
                        uint32_t *out_data_len);

/* What the front end tells the reader and learns from it. */
struct ctrl_sock_io {
    bool unix_socket;       /* SCM_RIGHTS possible (SET_DATAFD) */
    bool has_data_channel;  /* SET_DATAFD answers TPM_IOERROR */
    int new_datafd;         /* out: fd passed by SET_DATAFD, else -1 */
    /*
     * Optional: the front end's other work while this reader waits for a
     * slow control client (so a trickled body never stalls TPM
     * commands).  other_fd (-1: none) is polled with the control socket;
     * when it is ready, or a signal arrives (sigmask: the mask for the
     * wait, NULL: plain poll), serve_other(other_arg) runs and may change
     * other_fd; false gives the request up without a reply.
     */
    int other_fd;
    bool (*serve_other)(void *arg);
    void *other_arg;
    const sigset_t *sigmask;
};

/*
 * Read one request from the connected control socket fd (non-blocking),
 * run it on eng, send the reply and call ctrl_after_reply().  Returns 0
 * when the connection can carry the next request; otherwise close it:
 * -ECONNRESET when the peer closed or cut a request short (no reply),
 * -ETIMEDOUT when the request did not arrive in time (no reply),
 * -ECANCELED when serve_other gave it up (no reply), -EPIPE
 * when the reply could not be sent or the connection is out of step after
 * a rejected streamed body.
 */
int ctrl_sock_serve(struct ctrl_engine *eng, int fd, struct ctrl_sock_io *io);

#endif
