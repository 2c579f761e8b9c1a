// SPDX-License-Identifier: BSD-3-Clause
/*
 * State blob transfer for clients (docs/control-channel.md §7, §10): the
 * socket moves a whole blob in one request or reply; a CUSE device moves
 * it in 3072-byte GET/SET_STATEBLOB ioctls, or, with a chunk size, with
 * read()/write() on the device between ioctls.
 */
#include "client.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* A blob assembled from CUSE pieces, at most CTRL_CLIENT_BLOB_MAX. */
struct blob_acc {
    uint8_t *data;
    size_t len;
};

static int
acc_append(struct blob_acc *b, const void *p, size_t n)
{
    uint8_t *nd;

    if (n == 0) {
        return 0;
    }
    if (b->len + n > CTRL_CLIENT_BLOB_MAX) {
        return -EFBIG;
    }
    nd = realloc(b->data, b->len + n);
    if (!nd) {
        return -ENOMEM;
    }
    b->data = nd;
    memcpy(b->data + b->len, p, n);
    b->len += n;
    return 0;
}

int
client_sock_get_blob(struct client *c, uint32_t flags, uint32_t type,
                     uint8_t **out_blob, size_t *out_len,
                     uint32_t *out_tpm_rc)
{
    struct ptm_getstate gs = { 0 };
    uint8_t req[16];
    uint8_t *resp = NULL, *blob = NULL;
    size_t rlen = 0, dlen = 0;
    int r;

    gs.u.req.state_flags = flags;
    gs.u.req.type = type;
    r = client_encode_req(CMD_GET_STATEBLOB, &gs, req, sizeof(req));
    if (r < 0) {
        return r;
    }
    r = client_write_all(c, req, (size_t)r);
    if (r == 0) {
        r = client_read_reply(c, CMD_GET_STATEBLOB, &resp, &rlen);
    }
    if (r < 0) {
        goto out;
    }
    if (be32_get(resp) == 0) {
        /* Offset 0: the server sends everything, totlength == length. */
        if (rlen < CLIENT_GETSTATE_HDR ||
            be32_get(resp + 8) != rlen - CLIENT_GETSTATE_HDR) {
            r = -EBADMSG;
            goto out;
        }
        dlen = rlen - CLIENT_GETSTATE_HDR;
        if (dlen > 0) {
            blob = malloc(dlen);
            if (!blob) {
                r = -ENOMEM;
                goto out;
            }
            memcpy(blob, resp + CLIENT_GETSTATE_HDR, dlen);
        }
    }
    *out_tpm_rc = be32_get(resp);
    *out_blob = blob;
    *out_len = dlen;
out:
    free(resp);
    return r;
}

/* Socket SET_STATEBLOB: header with the full length, then the data. */
static int
client_sock_set_blob(struct client *c, uint32_t flags, uint32_t type,
                     const uint8_t *blob, size_t len, uint32_t *out_tpm_rc)
{
    uint8_t hdr[16];
    uint8_t *resp = NULL;
    size_t rlen = 0;
    int r;

    if (len > UINT32_MAX) {
        return -EFBIG;
    }
    be32_put(hdr, CMD_SET_STATEBLOB);
    be32_put(hdr + 4, flags);
    be32_put(hdr + 8, type);
    be32_put(hdr + 12, (uint32_t)len);
    r = client_write_all(c, hdr, sizeof(hdr));
    if (r == 0 && len > 0) {
        r = client_write_all(c, blob, len);
    }
    if (r == 0) {
        r = client_read_reply(c, CMD_SET_STATEBLOB, &resp, &rlen);
    }
    if (r == 0 && rlen != 4) {
        r = -EBADMSG;
    }
    if (r == 0) {
        *out_tpm_rc = be32_get(resp);
    }
    free(resp);
    return r;
}

/* One GET_STATEBLOB ioctl at offset; a success must fit the struct. */
static int
get_piece(struct client *c, struct ptm_getstate *gs, uint32_t flags,
          uint32_t type, uint32_t offset, uint32_t *rc)
{
    int r;

    memset(gs, 0, sizeof(*gs));
    gs->u.req.state_flags = flags;
    gs->u.req.type = type;
    gs->u.req.offset = offset;
    r = client_ctrl(c, CMD_GET_STATEBLOB, gs, rc);
    if (r == 0 && *rc == 0 && (gs->u.resp.length > PTM_STATE_BLOB_SIZE ||
                               gs->u.resp.totlength > CTRL_CLIENT_BLOB_MAX)) {
        r = -EBADMSG;
    }
    return r;
}

/* read() the rest of the blob from the device, chunk bytes at a time. */
static int
read_rest(struct client *c, struct blob_acc *b, uint32_t total,
          size_t chunk)
{
    uint8_t *tmp = malloc(chunk);
    size_t n;
    int r = 0;

    while (r == 0 && b->len < total) {
        if (!tmp) {
            r = -ENOMEM;
            break;
        }
        r = client_read_some(c, tmp, chunk, &n);
        if (r == 0) {
            r = acc_append(b, tmp, n > total - b->len ? total - b->len : n);
        }
    }
    free(tmp);
    return r;
}

static int
cuse_get(struct client *c, uint32_t flags, uint32_t type, size_t chunk,
         struct blob_acc *b, uint32_t *rc, enum client_blob_step *step)
{
    struct ptm_getstate *gs = malloc(sizeof(*gs));
    int r = -ENOMEM;

    *step = CLIENT_BLOB_REQUEST;
    if (!gs) {
        return r;
    }
    do {
        r = get_piece(c, gs, flags, type, (uint32_t)b->len, rc);
        if (r < 0 || *rc != 0) {
            goto out;
        }
        r = acc_append(b, gs->u.resp.data, gs->u.resp.length);
        if (r < 0) {
            *step = CLIENT_BLOB_SIZE;
            goto out;
        }
        if (chunk > 0 && b->len < gs->u.resp.totlength) {
            r = read_rest(c, b, gs->u.resp.totlength, chunk);
            *step = CLIENT_BLOB_STREAM;
            goto out;
        }
    } while (gs->u.resp.length > 0 && b->len < gs->u.resp.totlength);
out:
    free(gs);
    return r;
}

/* One SET_STATEBLOB ioctl carrying n bytes of p (p may be NULL if n 0). */
static int
set_piece(struct client *c, struct ptm_setstate *ss, uint32_t flags,
          uint32_t type, const uint8_t *p, size_t n, uint32_t *rc)
{
    memset(ss, 0, sizeof(*ss));
    ss->u.req.state_flags = flags;
    ss->u.req.type = type;
    ss->u.req.length = (uint32_t)n;
    if (n) {
        memcpy(ss->u.req.data, p, n);
    }
    return client_ctrl(c, CMD_SET_STATEBLOB, ss, rc);
}

/* An empty ioctl, write() pieces of chunk bytes, a closing empty ioctl. */
static int
cuse_set_stream(struct client *c, struct ptm_setstate *ss, uint32_t flags,
                uint32_t type, const uint8_t *blob, size_t len, size_t chunk,
                uint32_t *rc, enum client_blob_step *step)
{
    size_t off, n;
    int r;

    r = set_piece(c, ss, flags, type, NULL, 0, rc);
    if (r < 0 || *rc != 0) {
        return r;
    }
    for (off = 0; off < len; off += n) {
        n = len - off < chunk ? len - off : chunk;
        r = client_write_all(c, blob + off, n);
        if (r < 0) {
            *step = CLIENT_BLOB_STREAM;
            return r;
        }
    }
    return set_piece(c, ss, flags, type, NULL, 0, rc);
}

/* 3072-byte ioctls until a short one (an empty one if len divides). */
static int
cuse_set(struct client *c, uint32_t flags, uint32_t type,
         const uint8_t *blob, size_t len, size_t chunk, uint32_t *rc,
         enum client_blob_step *step)
{
    struct ptm_setstate *ss = malloc(sizeof(*ss));
    size_t off = 0, n;
    int r = -ENOMEM;

    *step = CLIENT_BLOB_REQUEST;
    if (!ss) {
        return r;
    }
    if (chunk > 0) {
        r = cuse_set_stream(c, ss, flags, type, blob, len, chunk, rc, step);
        goto out;
    }
    do {
        n = len - off < PTM_STATE_BLOB_SIZE ? len - off : PTM_STATE_BLOB_SIZE;
        r = set_piece(c, ss, flags, type, n ? blob + off : NULL, n, rc);
        if (r < 0 || *rc != 0) {
            goto out;
        }
        off += n;
    } while (n == PTM_STATE_BLOB_SIZE);
out:
    free(ss);
    return r;
}

int
client_get_blob(struct client *c, uint32_t flags, uint32_t type,
                size_t chunk, uint8_t **out_blob, size_t *out_len,
                uint32_t *out_tpm_rc, enum client_blob_step *out_step)
{
    struct blob_acc b = { 0 };
    uint32_t rc = 0;
    int r;

    *out_step = CLIENT_BLOB_REQUEST;
    if (c->kind != CLIENT_DEVICE) {
        return client_sock_get_blob(c, flags, type, out_blob, out_len,
                                    out_tpm_rc);
    }
    r = cuse_get(c, flags, type, chunk, &b, &rc, out_step);
    if (r < 0 || rc != 0) {
        free(b.data);
        b.data = NULL;
        b.len = 0;
    }
    if (r == 0) {
        *out_blob = b.data;
        *out_len = b.len;
        *out_tpm_rc = rc;
    }
    return r;
}

int
client_set_blob(struct client *c, uint32_t flags, uint32_t type,
                const uint8_t *blob, size_t len, size_t chunk,
                uint32_t *out_tpm_rc, enum client_blob_step *out_step)
{
    *out_step = CLIENT_BLOB_REQUEST;
    *out_tpm_rc = 0;
    if (c->kind != CLIENT_DEVICE) {
        return client_sock_set_blob(c, flags, type, blob, len, out_tpm_rc);
    }
    return cuse_set(c, flags, type, blob, len, chunk, out_tpm_rc, out_step);
}
