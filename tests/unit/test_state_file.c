// SPDX-License-Identifier: BSD-3-Clause
/*
 * Unit tests for state_file.c: the linear header parser on valid,
 * blank, short and hostile headers, the write path through state.c
 * (relayouts, deletes, growth), a crash after every single write or
 * flush of a save (pwrite and fdatasync are wrapped, see
 * test_state_file.ldflags), and the lock on the file.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "log.h"
#include "state.h"
#include "state_dir.h"      /* the store's internals, tested */
#include "state_file.h"

/* Crash simulation: after `crash_after` more pwrite/fdatasync calls,
 * every further one fails, as if the machine stopped there. */
ssize_t __wrap_pwrite(int fd, const void *buf, size_t len, off_t off);
ssize_t __real_pwrite(int fd, const void *buf, size_t len, off_t off);
int __wrap_fdatasync(int fd);
int __real_fdatasync(int fd);

static int crash_after = -1;    /* -1: no crash */
static int io_calls;
static uint64_t write_end_max;  /* the furthest byte any pwrite reached */

static bool
crashed(void)
{
    io_calls++;
    return crash_after >= 0 && io_calls > crash_after;
}

ssize_t
__wrap_pwrite(int fd, const void *buf, size_t len, off_t off)
{
    if (crashed()) {
        errno = EIO;
        return -1;
    }
    if ((uint64_t)off + len > write_end_max) {
        write_end_max = (uint64_t)off + len;
    }
    return __real_pwrite(fd, buf, len, off);
}

int
__wrap_fdatasync(int fd)
{
    if (crashed()) {
        errno = EIO;
        return -1;
    }
    return __real_fdatasync(fd);
}

/*
 * The header of a file Debian's swtpm 0.7.1 wrote (TPM 2 after
 * tpm2_nvdefine and Shutdown; `xxd` of the first 192 bytes): permall at
 * 0xc0, 0x1180 bytes in a 0x2000-byte section; file size 0x20c0.
 */
static uint8_t upstream_hdr[SFILE_HDR_LEN] = {
    0x6e, 0x69, 0x6c, 0x6d, 0x70, 0x74, 0x77, 0x73,
    0x01, 0x00, 0xc0, 0x00,
    0xc0, 0x00, 0x00, 0x00, 0x80, 0x11, 0x00, 0x00, 0x00, 0x20, 0x00, 0x00,
};

static void
set_entry(uint8_t *h, int i, uint32_t off, uint32_t dlen, uint32_t slen)
{
    uint32_t v[3] = { off, dlen, slen };

    for (int k = 0; k < 3; k++) {
        for (int b = 0; b < 4; b++) {
            h[12 + 12 * i + 4 * k + b] = (uint8_t)(v[k] >> (8 * b));
        }
    }
}

static void
test_sfile_parse_header_upstream_vector(void **state)
{
    struct sfile_hdr h;
    const char *why = NULL;

    assert_int_equal(sfile_parse_header(upstream_hdr, sizeof(upstream_hdr),
                                        0x20c0, &h, &why), 0);
    assert_false(h.blank);
    assert_int_equal(h.e[0].offset, 0xc0);
    assert_int_equal(h.e[0].data_len, 0x1180);
    assert_int_equal(h.e[0].section_len, 0x2000);
    assert_int_equal(h.e[1].offset, 0);
    assert_int_equal(h.e[2].offset, 0);
}

static void
test_sfile_encode_header_roundtrip(void **state)
{
    struct sfile_hdr h = { .blank = false }, back;
    uint8_t buf[SFILE_HDR_LEN];
    const char *why;

    h.e[0] = (struct sfile_entry){ 0xc0, 0x1180, 0x2000 };
    sfile_encode_header(&h, buf);
    assert_memory_equal(buf, upstream_hdr, sizeof(buf));
    h.e[1] = (struct sfile_entry){ 0x20c0, 10, 16 };
    h.e[2] = (struct sfile_entry){ 0x20d0, 0, 1 };
    sfile_encode_header(&h, buf);
    assert_int_equal(sfile_parse_header(buf, sizeof(buf), 0x20d1, &back,
                                        &why), 0);
    assert_memory_equal(back.e, h.e, sizeof(h.e));
}

static void
test_sfile_parse_header_blank(void **state)
{
    uint8_t zero[SFILE_HDR_LEN] = { 0 };
    struct sfile_hdr h;
    const char *why;

    assert_int_equal(sfile_parse_header(zero, 0, 0, &h, &why), 0);
    assert_true(h.blank);
    assert_int_equal(sfile_parse_header(zero, 100, 100, &h, &why), 0);
    assert_true(h.blank);
    assert_int_equal(sfile_parse_header(zero, sizeof(zero), 1 << 20, &h,
                                        &why), 0);
    assert_true(h.blank);
}

/* Parse buf as the header of a file_size-byte file: must be refused. */
static void
expect_bad(const uint8_t *buf, size_t len, uint64_t file_size,
           const char *words)
{
    struct sfile_hdr h;
    const char *why = NULL;

    assert_int_equal(sfile_parse_header(buf, len, file_size, &h, &why),
                     -EBADMSG);
    assert_non_null(why);
    assert_non_null(strstr(why, words));
}

static void
test_sfile_parse_header_short_and_foreign(void **state)
{
    uint8_t h[SFILE_HDR_LEN];

    memcpy(h, upstream_hdr, sizeof(h));
    expect_bad(h, 100, 100, "shorter");
    expect_bad(h, 1, 1, "shorter");
    h[0] = 'X';
    expect_bad(h, sizeof(h), 0x20c0, "magic");
    memcpy(h, upstream_hdr, sizeof(h));
    h[8] = 2;
    expect_bad(h, sizeof(h), 0x20c0, "version");
    h[8] = 0;
    expect_bad(h, sizeof(h), 0x20c0, "version");
    memcpy(h, upstream_hdr, sizeof(h));
    h[10] = 0xb4;
    expect_bad(h, sizeof(h), 0x20c0, "header size");
    h[10] = 0xc0;
    h[11] = 0xff;
    expect_bad(h, sizeof(h), 0x20c0, "header size");
}

static void
test_sfile_parse_header_hostile_entries(void **state)
{
    uint8_t h[SFILE_HDR_LEN];

    /* Data past the end of the file (upstream read out of bounds). */
    memcpy(h, upstream_hdr, sizeof(h));
    expect_bad(h, sizeof(h), 0x20c0 - 0x1180, "past the end");
    set_entry(h, 0, 0xc0, 0xffffffff, 0xffffffff);
    expect_bad(h, sizeof(h), 0x20c0, "larger than 1 MiB");
    set_entry(h, 0, 0xffffff00, 0x100, 0x100);
    expect_bad(h, sizeof(h), UINT64_MAX, "past 1 GiB");
    set_entry(h, 0, 0xffffffff, 0x1180, 0x2000);
    expect_bad(h, sizeof(h), 0x20c0, "past the end");
    /* Offsets into the header (a shifted offset underflowed upstream). */
    set_entry(h, 0, 0x10, 0x20, 0x20);
    expect_bad(h, sizeof(h), 0x20c0, "inside the header");
    set_entry(h, 0, 0, 0x20, 0x20);
    expect_bad(h, sizeof(h), 0x20c0, "unallocated");
    set_entry(h, 0, 0xc0, 0x21, 0x20);
    expect_bad(h, sizeof(h), 0x20c0, "longer than its section");
    set_entry(h, 0, 0xc0, 0, 0);
    expect_bad(h, sizeof(h), 0x20c0, "longer than its section");
    /* Overlapping sections. */
    set_entry(h, 0, 0xc0, 0x100, 0x2000);
    set_entry(h, 1, 0x1000, 0x100, 0x100);
    expect_bad(h, sizeof(h), 0x20c0, "overlap");
    set_entry(h, 1, 0x20c0, 0x10, 0x10);
    set_entry(h, 2, 0xc0, 0x10, 0x10);
    expect_bad(h, sizeof(h), 0x3000, "overlap");
    /* A second TPM's entries. */
    memcpy(h, upstream_hdr, sizeof(h));
    set_entry(h, 3, 0x20c0, 0x10, 0x10);
    expect_bad(h, sizeof(h), 0x3000, "second TPM");
    set_entry(h, 3, 0, 0, 0);
    set_entry(h, 14, 0, 1, 0);
    expect_bad(h, sizeof(h), 0x3000, "unallocated");
}

static void
test_sfile_parse_header_maximum(void **state)
{
    uint8_t h[SFILE_HDR_LEN];
    struct sfile_hdr out;
    const char *why;

    memcpy(h, upstream_hdr, sizeof(h));
    set_entry(h, 0, 0xc0, 1u << 20, 1u << 20);
    set_entry(h, 1, 0xc0 + (1u << 20), 1u << 19, 1u << 20);
    assert_int_equal(sfile_parse_header(h, sizeof(h), 0xc0 + (2u << 20),
                                        &out, &why), 0);
    set_entry(h, 1, 0xc0 + (1u << 20), (1u << 20) + 1, 2u << 20);
    expect_bad(h, sizeof(h), 0xc0 + (4u << 20), "larger than 1 MiB");
}

/*
 * Headers that passed every check before and made each write costly or
 * impossible: a 32 MiB section (each NV write copied 76 MiB) and a
 * section ending just below 4 GiB (no room for the scratch copy: every
 * write failed).  Both are beyond what any swtpm writes: refused.
 */
static void
test_sfile_parse_header_beyond_libtpms(void **state)
{
    uint8_t h[SFILE_HDR_LEN];
    struct sfile_hdr out;
    const char *why;

    memcpy(h, upstream_hdr, sizeof(h));
    set_entry(h, 0, 0xc0, 0x1180, 32u << 20);
    expect_bad(h, sizeof(h), 0x20c0, "a section is larger than 1 MiB");
    set_entry(h, 0, 0xfffff000, 0x800, 0x1000);
    expect_bad(h, sizeof(h), 1ull << 32, "a section ends past 1 GiB");
    set_entry(h, 0, (1u << 30) - 0x1000, 0x800, 0x1000);
    assert_int_equal(sfile_parse_header(h, sizeof(h), 1u << 30, &out, &why),
                     0);
}

/* ---- the store through state.c ---------------------------------------- */

struct fixture {
    char path[64];
    char uri[80];
    char err[512];
    struct state_store st;
};

static int
setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    int fd;

    snprintf(f->path, sizeof(f->path), "/tmp/test_state_file.XXXXXX");
    fd = mkstemp(f->path);
    assert_true(fd >= 0);
    close(fd);
    snprintf(f->uri, sizeof(f->uri), "file://%s", f->path);
    assert_int_equal(state_open(&f->st, f->uri, true, 0640, false, false,
                                f->err, sizeof(f->err)), 0);
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    struct fixture *f = *state;

    crash_after = -1;
    state_close(&f->st);
    unlink(f->path);
    free(f);
    return 0;
}

static void
save(struct state_store *st, const char *name, uint8_t fill, uint32_t len)
{
    uint8_t *buf = malloc(len);
    uint32_t rc = 0;

    memset(buf, fill, len);
    assert_int_equal(state_save(st, name, buf, len, &rc), 0);
    free(buf);
}

/* name holds len bytes of fill; returns false when it does not. */
static bool
holds(struct state_store *st, const char *name, uint8_t fill, uint32_t len)
{
    uint8_t *raw = NULL;
    uint32_t got = 0, rc = 0;
    bool ok;

    if (state_load(st, name, &raw, &got, &rc) < 0) {
        return false;
    }
    ok = got == len;
    for (uint32_t i = 0; ok && i < len; i++) {
        ok = raw[i] == fill;
    }
    free(raw);
    return ok;
}

/* Our checksum record at the end of each stored object (state.md §8.5). */
#define REC 74

static off_t
size_of(const char *path)
{
    struct stat sb;

    assert_int_equal(stat(path, &sb), 0);
    return sb.st_size;
}

static void
test_sfile_store_roundtrip(void **state)
{
    struct fixture *f = *state;
    uint32_t rc = 0;
    uint8_t *raw;
    uint32_t len;

    /* A blank file: every object missing, nothing written. */
    assert_int_equal(state_load(&f->st, "permall", &raw, &len, &rc),
                     -ENOENT);
    assert_int_equal(state_size(&f->st, "permall"), -ENOENT);
    assert_int_equal(size_of(f->path), 0);
    assert_int_equal(state_delete(&f->st, "savestate", false), 0);
    assert_int_equal(state_delete(&f->st, "savestate", true), -ENOENT);

    save(&f->st, "permall", 0xa1, 1000);
    save(&f->st, "volatilestate", 0xb2, 300);
    assert_true(holds(&f->st, "permall", 0xa1, 1000));
    assert_true(holds(&f->st, "volatilestate", 0xb2, 300));
    /* stateobj header (10) + TLV header (6) + the record: sections 2048
     * and 512.  The data area is there twice: after the header and as
     * the twin. */
    assert_int_equal(state_size(&f->st, "permall"), 1016 + REC);
    assert_int_equal(size_of(f->path), SFILE_HDR_LEN + 2 * (2048 + 512));

    /* Growing the first object moves it; the other stays intact. */
    save(&f->st, "permall", 0xa2, 5000);
    assert_true(holds(&f->st, "permall", 0xa2, 5000));
    assert_true(holds(&f->st, "volatilestate", 0xb2, 300));
    assert_int_equal(size_of(f->path), SFILE_HDR_LEN + 2 * (8192 + 512));

    /* A delete shrinks the data area; its twin goes past the old
     * sections, which the write must not touch before the switch. */
    assert_int_equal(state_delete(&f->st, "permall", true), 0);
    assert_false(holds(&f->st, "permall", 0xa2, 5000));
    assert_true(holds(&f->st, "volatilestate", 0xb2, 300));
    assert_int_equal(size_of(f->path), SFILE_HDR_LEN + 8192 + 512 + 512);
    assert_int_equal(state_sync(&f->st), 0);
}

static void
test_sfile_store_reopen_reads_what_was_written(void **state)
{
    struct fixture *f = *state;
    struct state_store st2 = { .dir_fd = -1 };

    save(&f->st, "savestate", 0x33, 77);
    assert_int_equal(state_open(&st2, f->uri, true, 0640, false, false,
                                f->err, sizeof(f->err)), 0);
    assert_true(holds(&st2, "savestate", 0x33, 77));
    state_close(&st2);
}

/*
 * A crash after each pwrite/fdatasync of a save that moves permall (it
 * grows past its section) and of a delete: the file always opens, and
 * holds the old or the new permall and the untouched volatile state.
 */
static void
test_sfile_crash_at_every_step(void **state)
{
    struct fixture *f = *state;
    struct state_store st2 = { .dir_fd = -1 };
    uint8_t *big = malloc(6000);
    uint32_t rc = 0;
    int steps = 0, r;

    memset(big, 0xc3, 6000);
    for (int n = 0;; n++) {
        assert_int_equal(ftruncate(f->st.file_fd, 0), 0);
        save(&f->st, "permall", 0xa1, 1000);
        save(&f->st, "volatilestate", 0xb2, 300);
        io_calls = 0;
        crash_after = n;
        r = state_save(&f->st, "permall", big, 6000, &rc);
        crash_after = -1;
        assert_int_equal(state_open(&st2, f->uri, true, 0640, false, false,
                                    f->err, sizeof(f->err)), 0);
        assert_true(holds(&st2, "permall", 0xa1, 1000) ||
                    holds(&st2, "permall", 0xc3, 6000));
        assert_true(holds(&st2, "volatilestate", 0xb2, 300));
        /* After the crash, writing works and packs the file again. */
        save(&st2, "savestate", 0x44, 20);
        assert_true(holds(&st2, "volatilestate", 0xb2, 300));
        state_close(&st2);
        if (r == 0) {
            steps = n;
            break;
        }
    }
    /* scratch, flush, header, flush, data, flush, header, flush */
    assert_int_equal(steps, 8);
    for (int n = 0; n < 8; n++) {
        assert_int_equal(ftruncate(f->st.file_fd, 0), 0);
        save(&f->st, "permall", 0xa1, 1000);
        save(&f->st, "volatilestate", 0xb2, 300);
        io_calls = 0;
        crash_after = n;
        assert_int_not_equal(state_delete(&f->st, "permall", true), 0);
        crash_after = -1;
        assert_int_equal(state_open(&st2, f->uri, true, 0640, false, false,
                                    f->err, sizeof(f->err)), 0);
        assert_true(holds(&st2, "permall", 0xa1, 1000) ||
                    state_size(&st2, "permall") == -ENOENT);
        assert_true(holds(&st2, "volatilestate", 0xb2, 300));
        state_close(&st2);
    }
    free(big);
}

static void
test_sfile_open_bad_header_leaves_file(void **state)
{
    struct fixture *f = *state;
    struct state_store st2 = { .dir_fd = -1 };
    uint8_t h[SFILE_HDR_LEN], back[SFILE_HDR_LEN];
    int fd;

    memcpy(h, upstream_hdr, sizeof(h));     /* data past the end */
    fd = open(f->path, O_WRONLY | O_TRUNC);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, h, sizeof(h)), sizeof(h));
    close(fd);
    assert_int_equal(state_open(&st2, f->uri, true, 0640, false, false,
                                f->err, sizeof(f->err)), -EBADMSG);
    assert_non_null(strstr(f->err, f->path));
    assert_non_null(strstr(f->err, "past the end"));
    assert_non_null(strstr(f->err, "zero its first 512 bytes"));
    /* A store opened before the damage refuses to read or write. */
    assert_int_equal(state_size(&f->st, "permall"), -EBADMSG);
    assert_non_null(f->st.why);
    assert_int_equal(state_delete(&f->st, "permall", false), -EBADMSG);
    fd = open(f->path, O_RDONLY);
    assert_int_equal(read(fd, back, sizeof(back)), sizeof(back));
    close(fd);
    assert_memory_equal(back, h, sizeof(h));
    assert_int_equal(size_of(f->path), SFILE_HDR_LEN);

    fd = open(f->path, O_WRONLY | O_TRUNC);
    assert_int_equal(write(fd, "hello, world\n", 13), 13);
    close(fd);
    assert_int_equal(state_open(&st2, f->uri, true, 0640, false, false,
                                f->err, sizeof(f->err)), -EBADMSG);
    assert_non_null(strstr(f->err, "shorter"));
}

static void
test_sfile_open_not_a_file(void **state)
{
    struct state_store st2 = { .dir_fd = -1 };
    char err[512];

    assert_int_equal(state_open(&st2, "file:///tmp", true, 0640, false,
                                false, err, sizeof(err)), -EISDIR);
    assert_non_null(strstr(err, "dir://"));
    assert_int_equal(state_open(&st2, "file:///dev/null", true, 0640,
                                false, false, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "block device"));
    assert_int_equal(state_open(&st2, "file:///nonexistent/dir/x", true,
                                0640, false, false, err, sizeof(err)),
                     -ENOENT);
    assert_non_null(strstr(err, "/nonexistent/dir/x"));
}

static void
test_sfile_lock_conflict(void **state)
{
    struct fixture *f = *state;
    struct state_store st2 = { .dir_fd = -1 };
    pid_t holder = 1;

    assert_int_equal(state_open(&st2, f->uri, true, 0640, false, false,
                                f->err, sizeof(f->err)), 0);
    assert_int_equal(state_lock(&f->st, &holder), 0);
    assert_true(state_is_locked(&f->st));
    assert_int_equal(state_lock(&f->st, &holder), 0);
    assert_int_equal(state_lock(&st2, &holder), -EAGAIN);
    assert_false(state_is_locked(&st2));
    state_unlock(&f->st);
    assert_false(state_is_locked(&f->st));
    assert_int_equal(state_lock(&st2, &holder), 0);
    assert_int_equal(state_lock(&f->st, &holder), -EAGAIN);
    state_close(&st2);      /* closing releases it */
    assert_int_equal(state_lock(&f->st, &holder), 0);
}

static void
test_sfile_mode_of_new_file(void **state)
{
    struct state_store st2 = { .dir_fd = -1 };
    char path[] = "/tmp/test_state_file_mode.XXXXXX", uri[64], err[512];
    struct stat sb;
    int fd = mkstemp(path);

    close(fd);
    unlink(path);
    snprintf(uri, sizeof(uri), "file://%s", path);
    assert_int_equal(state_open(&st2, uri, true, 0600, true, false, err,
                                sizeof(err)), 0);
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    state_close(&st2);
    unlink(path);
}

/*
 * A section far out in the file (legal: below 1 GiB) draws no write
 * there: the scratch copy goes right after the new data area (it used to
 * go past the far section, and near 4 GiB every write failed).
 */
static void
test_sfile_far_section_draws_no_far_write(void **state)
{
    struct fixture *f = *state;
    const uint32_t far = 512u << 20;
    uint8_t h[SFILE_HDR_LEN], obj[1016 + REC];
    int fd;

    save(&f->st, "permall", 0xa1, 1000);
    fd = open(f->path, O_RDWR);
    assert_true(fd >= 0);
    assert_int_equal(pread(fd, obj, sizeof(obj), SFILE_HDR_LEN),
                     sizeof(obj));
    assert_int_equal(pread(fd, h, sizeof(h), 0), sizeof(h));
    assert_int_equal(pwrite(fd, obj, sizeof(obj), far), sizeof(obj));
    set_entry(h, 0, far, sizeof(obj), 2048);
    assert_int_equal(pwrite(fd, h, sizeof(h), 0), sizeof(h));
    close(fd);
    assert_true(holds(&f->st, "permall", 0xa1, 1000));
    write_end_max = 0;
    save(&f->st, "permall", 0xa2, 1000);
    assert_true(write_end_max <= SFILE_HDR_LEN + 2 * 2048);
    assert_true(holds(&f->st, "permall", 0xa2, 1000));
    assert_int_equal(size_of(f->path), SFILE_HDR_LEN + 2 * 2048);
}

/* An object no section may hold is refused, and the file is unchanged. */
static void
test_sfile_object_over_1mib_refused(void **state)
{
    struct fixture *f = *state;
    uint8_t *big = calloc(1, (1u << 20) + 1);
    uint32_t rc = 0;

    save(&f->st, "permall", 0xa1, 1000);
    assert_int_equal(state_save(&f->st, "volatilestate", big,
                                (1u << 20) + 1, &rc), -EFBIG);
    assert_non_null(strstr(f->st.why, "larger than 1 MiB"));
    free(big);
    assert_true(holds(&f->st, "permall", 0xa1, 1000));
    assert_int_equal(size_of(f->path), SFILE_HDR_LEN + 2 * 2048);
}

/* Entry i of the file's header, and the record ending that object. */
struct stored {
    uint32_t off, len;
    uint8_t id[16];
    uint64_t seq;
    uint32_t twin;
};

static struct stored
stored(const char *path, int i)
{
    struct stored o = { 0 };
    uint8_t h[SFILE_HDR_LEN], rec[REC];
    int fd = open(path, O_RDONLY);

    assert_true(fd >= 0);
    assert_int_equal(pread(fd, h, sizeof(h), 0), sizeof(h));
    for (int b = 3; b >= 0; b--) {
        o.off = o.off << 8 | h[12 + 12 * i + b];
        o.len = o.len << 8 | h[16 + 12 * i + b];
    }
    assert_true(o.off >= SFILE_HDR_LEN && o.len >= REC);
    assert_int_equal(pread(fd, rec, REC, o.off + o.len - REC), REC);
    close(fd);
    assert_int_equal(rec[0] << 8 | rec[1], 0x7373);
    memcpy(o.id, rec + 10, 16);
    for (int b = 0; b < 8; b++) {
        o.seq = o.seq << 8 | rec[26 + b];
    }
    o.twin = (uint32_t)rec[38] << 24 | (uint32_t)rec[39] << 16 |
             (uint32_t)rec[40] << 8 | rec[41];
    return o;
}

static void
poke(const char *path, uint64_t off, uint8_t mask)
{
    uint8_t b;
    int fd = open(path, O_RDWR);

    assert_true(fd >= 0);
    assert_int_equal(pread(fd, &b, 1, (off_t)off), 1);
    b ^= mask;
    assert_int_equal(pwrite(fd, &b, 1, (off_t)off), 1);
    close(fd);
}

/* Lines of the log (captured in a memfd) that contain what. */
static int
log_count(int fd, const char *what)
{
    char buf[16384], *p;
    ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
    int c = 0;

    assert_true(n >= 0);
    buf[n] = '\0';
    for (p = buf; (p = strstr(p, what)); p += strlen(what)) {
        c++;
    }
    return c;
}

/*
 * Every write records one identity and a new sequence in every object
 * (docs/state.md §8.5); a new TPM (sfile_replace without same_tpm) gets
 * a new identity, a reconfigured one keeps its own.
 */
static void
test_sfile_records_identity_and_sequence(void **state)
{
    struct fixture *f = *state;
    struct stored a, b, c;
    uint8_t *obj[SFILE_OBJS] = { NULL }, one[80];
    uint32_t len[SFILE_OBJS] = { 0 };

    save(&f->st, "permall", 0xa1, 1000);
    a = stored(f->path, 0);
    save(&f->st, "volatilestate", 0xb2, 300);
    b = stored(f->path, 0);
    c = stored(f->path, 1);
    assert_memory_equal(a.id, b.id, 16);
    assert_memory_equal(b.id, c.id, 16);
    assert_int_equal(b.seq, a.seq + 1);
    assert_int_equal(c.seq, b.seq);
    assert_int_equal(b.twin, SFILE_HDR_LEN + 2048 + 512);

    /* A well-formed object (stateobj header, totlen 80) for replace. */
    memset(one, 0x5c, sizeof(one));
    one[0] = 2;
    one[6] = 0, one[7] = 0, one[8] = 0, one[9] = sizeof(one);
    obj[0] = one;
    len[0] = sizeof(one);
    assert_int_equal(sfile_replace(&f->st, obj, len, true), 0);
    a = stored(f->path, 0);
    assert_memory_equal(a.id, b.id, 16);
    assert_int_equal(a.seq, b.seq + 1);
    assert_int_equal(sfile_replace(&f->st, obj, len, false), 0);
    c = stored(f->path, 0);
    assert_memory_not_equal(c.id, a.id, 16);
    assert_int_equal(c.seq, a.seq + 1);
    assert_int_equal(state_size(&f->st, "permall"), sizeof(one) + REC);
    assert_int_equal(state_size(&f->st, "volatilestate"), -ENOENT);
}

/*
 * A damaged object with an intact twin loads the twin, logged once; the
 * next write of another object puts the intact bytes in both places.
 * One without an intact twin fails to load, naming the file; a write of
 * another object carries its bytes unchanged (nothing is deleted) and it
 * still fails to load after.
 */
static void
test_sfile_damaged_object_and_its_twin(void **state)
{
    struct fixture *f = *state;
    struct stored p, v;
    uint8_t *raw = NULL;
    uint32_t got = 0, rc = 0;
    int log_fd = memfd_create("log", 0);

    assert_true(log_fd >= 0);
    log_set_fd(log_fd);
    save(&f->st, "permall", 0xa1, 1000);
    save(&f->st, "volatilestate", 0xb2, 300);
    p = stored(f->path, 0);
    poke(f->path, p.off + 500, 0x10);
    assert_true(holds(&f->st, "permall", 0xa1, 1000));
    assert_true(holds(&f->st, "permall", 0xa1, 1000));
    assert_int_equal(log_count(log_fd, "does not match its checksum: "
                                       "using its copy"), 1);
    save(&f->st, "volatilestate", 0xb3, 300);
    /* Both copies intact again: the twin alone damaged still loads. */
    p = stored(f->path, 0);
    poke(f->path, p.twin + 500, 0x10);
    assert_true(holds(&f->st, "permall", 0xa1, 1000));
    assert_int_equal(log_count(log_fd, "using its copy"), 1);
    poke(f->path, p.twin + 500, 0x10);

    /* Both copies damaged. */
    poke(f->path, p.off + 500, 0x10);
    poke(f->path, p.twin + 600, 0x10);
    assert_int_equal(state_load(&f->st, "permall", &raw, &got, &rc),
                     -EBADMSG);
    assert_non_null(strstr(f->st.why, f->path));
    assert_non_null(strstr(f->st.why, "no intact copy"));
    save(&f->st, "volatilestate", 0xb4, 300);
    assert_true(holds(&f->st, "volatilestate", 0xb4, 300));
    assert_int_equal(state_load(&f->st, "permall", &raw, &got, &rc),
                     -EBADMSG);
    /* Undoing the first flip in the copy after the header, where the
     * carried bytes now are, gives the object back. */
    p = stored(f->path, 0);
    v = stored(f->path, 1);
    assert_true(v.off > p.off);
    poke(f->path, p.off + 500, 0x10);
    assert_true(holds(&f->st, "permall", 0xa1, 1000));
    log_set_fd(2);
    close(log_fd);
}

/*
 * An object without a record, as Debian's swtpm writes it, loads as it
 * is; our next write adds a record to it, with a new identity.
 */
static void
test_sfile_object_without_record(void **state)
{
    struct fixture *f = *state;
    struct stored p;
    uint8_t h[SFILE_HDR_LEN], obj[1016];
    int fd;

    save(&f->st, "permall", 0xa1, 1000);
    p = stored(f->path, 0);
    /* Strip the record: totlen and the header entry shrink by REC. */
    fd = open(f->path, O_RDWR);
    assert_true(fd >= 0);
    assert_int_equal(pread(fd, obj, sizeof(obj), p.off), sizeof(obj));
    obj[6] = 0, obj[7] = 0, obj[8] = 1016 >> 8, obj[9] = 1016 & 0xff;
    assert_int_equal(pwrite(fd, obj, sizeof(obj), p.off), sizeof(obj));
    assert_int_equal(pread(fd, h, sizeof(h), 0), sizeof(h));
    set_entry(h, 0, p.off, sizeof(obj), 2048);
    assert_int_equal(pwrite(fd, h, sizeof(h), 0), sizeof(h));
    assert_int_equal(ftruncate(fd, p.off + 2048), 0);
    close(fd);
    assert_true(holds(&f->st, "permall", 0xa1, 1000));
    assert_int_equal(state_size(&f->st, "permall"), 1016);
    save(&f->st, "savestate", 0x33, 20);
    p = stored(f->path, 0);
    assert_int_equal(p.len, 1016 + REC);
    assert_true(holds(&f->st, "permall", 0xa1, 1000));
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sfile_parse_header_upstream_vector),
        cmocka_unit_test(test_sfile_encode_header_roundtrip),
        cmocka_unit_test(test_sfile_parse_header_blank),
        cmocka_unit_test(test_sfile_parse_header_short_and_foreign),
        cmocka_unit_test(test_sfile_parse_header_hostile_entries),
        cmocka_unit_test(test_sfile_parse_header_maximum),
        cmocka_unit_test(test_sfile_parse_header_beyond_libtpms),
        cmocka_unit_test(test_sfile_open_not_a_file),
        cmocka_unit_test(test_sfile_mode_of_new_file),
        T(test_sfile_store_roundtrip),
        T(test_sfile_store_reopen_reads_what_was_written),
        T(test_sfile_crash_at_every_step),
        T(test_sfile_open_bad_header_leaves_file),
        T(test_sfile_lock_conflict),
        T(test_sfile_far_section_draws_no_far_write),
        T(test_sfile_object_over_1mib_refused),
        T(test_sfile_records_identity_and_sequence),
        T(test_sfile_damaged_object_and_its_twin),
        T(test_sfile_object_without_record),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
