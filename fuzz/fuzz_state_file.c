// SPDX-License-Identifier: BSD-3-Clause
/*
 * libFuzzer harness: the file:// backend's header parser
 * (sfile_parse_header) and, on headers it accepts, the whole write path
 * (sfile_write: relayout, scratch copy, header switches) on a memfd.
 *
 * Input: byte 0 bit 0 picks the mode (0: parse only, 1: parse + write),
 * bits 1-2 the object to write, bytes 1-4 a little-endian file size for
 * parse-only mode; the rest is the file: header and data (parse mode
 * passes min(size, 192) bytes of it in a buffer of exactly that length).
 * Checks: an accepted header keeps every object inside the file, inside
 * its section and apart from the others, and re-encodes to the same
 * table; after a write the header is valid, the written object reads
 * back and the other objects are byte for byte what they were.
 */
#include <assert.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "state.h"
#include "state_dir.h"      /* the store's internals, tested */
#include "state_file.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NAMES state_obj_names

static void
check_hdr(const struct sfile_hdr *h, uint64_t file_size)
{
    for (int i = 0; i < SFILE_OBJS; i++) {
        const struct sfile_entry *e = &h->e[i];

        if (!e->offset) {
            continue;
        }
        assert(e->offset >= SFILE_HDR_LEN);
        assert(e->data_len <= e->section_len);
        assert((uint64_t)e->offset + e->data_len <= file_size);
        for (int j = 0; j < SFILE_OBJS; j++) {
            const struct sfile_entry *f = &h->e[j];

            assert(j == i || !f->offset ||
                   (uint64_t)e->offset + e->section_len <= f->offset ||
                   (uint64_t)f->offset + f->section_len <= e->offset);
        }
    }
}

static void
parse_only(const uint8_t *file, size_t len, uint64_t file_size)
{
    struct sfile_hdr h, back;
    uint8_t enc[SFILE_HDR_LEN];
    const char *why = NULL;
    uint8_t *buf;
    size_t n = len;

    if (n > SFILE_HDR_LEN) {
        n = SFILE_HDR_LEN;
    }
    if (n > file_size) {
        n = (size_t)file_size;
    }
    buf = malloc(n ? n : 1);
    memcpy(buf, file, n);
    if (sfile_parse_header(buf, n, file_size, &h, &why) < 0) {
        assert(why && *why);
    } else if (!h.blank) {
        check_hdr(&h, file_size);
        sfile_encode_header(&h, enc);
        assert(memcmp(enc + 12, buf + 12, 12 * SFILE_OBJS) == 0);
        assert(sfile_parse_header(enc, sizeof(enc), file_size, &back,
                                  &why) == 0);
        assert(memcmp(back.e, h.e, sizeof(h.e)) == 0);
    }
    free(buf);
}

/* Object i's bytes as the store returns them (NULL, 0 when absent). */
static uint8_t *
read_obj(struct state_store *st, int i, uint32_t *len)
{
    uint8_t *p = NULL;

    *len = 0;
    if (sfile_read(st, NAMES[i], &p, len) < 0) {
        return NULL;
    }
    return p;
}

static void
write_path(const uint8_t *file, size_t len, int idx)
{
    struct state_store st = { .dir_fd = -1, .lock_fd = -1 };
    struct sfile_hdr h;
    uint8_t *before[SFILE_OBJS], *after, obj[40];
    uint32_t blen[SFILE_OBJS], alen;
    const char *why;
    int fd = memfd_create("fuzz_state_file", MFD_CLOEXEC);

    assert(fd >= 0);
    if (len > (1u << 20) || write(fd, file, len) != (ssize_t)len ||
        sfile_parse_header(file, len < SFILE_HDR_LEN ? len : SFILE_HDR_LEN,
                           len, &h, &why) < 0) {
        close(fd);
        return;
    }
    st.is_file = true;
    st.file_fd = fd;
    for (int i = 0; i < SFILE_OBJS; i++) {
        before[i] = read_obj(&st, i, &blen[i]);
    }
    memset(obj, 0x5a, sizeof(obj));
    /* A short object, or a delete when idx is 3. */
    if (sfile_write(&st, NAMES[idx % 3], idx == 3 ? NULL : obj,
                    (uint32_t)sizeof(obj)) == 0) {
        for (int i = 0; i < SFILE_OBJS; i++) {
            after = read_obj(&st, i, &alen);
            if (i == idx % 3) {
                assert(idx == 3 ? after == NULL
                                : alen == sizeof(obj) &&
                                  memcmp(after, obj, alen) == 0);
            } else {
                assert(alen == blen[i]);
                assert(!alen || memcmp(after, before[i], alen) == 0);
            }
            free(after);
        }
    }
    for (int i = 0; i < SFILE_OBJS; i++) {
        free(before[i]);
    }
    close(fd);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint32_t fsize;

    if (size < 5) {
        return 0;
    }
    if (data[0] & 1) {
        write_path(data + 5, size - 5, (data[0] >> 1) & 3);
        return 0;
    }
    fsize = (uint32_t)data[1] | (uint32_t)data[2] << 8 |
            (uint32_t)data[3] << 16 | (uint32_t)data[4] << 24;
    parse_only(data + 5, size - 5, fsize);
    return 0;
}
