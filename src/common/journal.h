/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The write-ahead journal beside a state file (docs/robustness.md, "State
 * store v2"): two preallocated slots A/B in tpm[2]-00.<name>.journal, each
 * a header (magic, sequence, length, SHA-256 of the main file it extends,
 * SHA-256 checksum over header and payload) and the complete encoded
 * state object, the same bytes the main file would hold.  A durable write
 * is one pwrite of a slot plus one fdatasync: the slot's blocks were
 * written at creation, so the flush carries no file system metadata.
 *
 * Rule on load: take the slot with the highest sequence whose checksum is
 * valid; it replaces the main file only if it names the main file's
 * current content as its base.  A checkpoint writes its object to a slot
 * first and then renames the main file into place, so at every crash
 * point either the newest slot or the main file holds the newest state.
 */
#ifndef SWTPM_JOURNAL_H
#define SWTPM_JOURNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "crypto.h"

#define JOURNAL_HDR_LEN 88
#define JOURNAL_MIN_CAP (64 * 1024)
/* journal_create() never makes bigger slots than the largest object. */
#define JOURNAL_MAX_CAP (16u * 1024 * 1024)

struct journal {
    bool active;            /* fd is open (a zeroed struct is closed) */
    int fd;
    uint32_t cap;           /* payload bytes per slot, 0: file unusable */
    uint64_t seq;           /* highest valid sequence on disk, 0: none */
    /* What journal_open() found beside the slots, for the caller's log. */
    off_t size;             /* of the file */
    bool misfit;            /* size fits no journal (cut, grown, empty) */
    unsigned int skipped;   /* bit i: slot i holds data that is invalid */
    size_t buf_len;         /* bytes of journal_open()'s *out_buf */
};

/* One slot as read back from disk. */
struct journal_slot {
    uint64_t seq;
    uint8_t base[CRYPTO_SHA256_LEN];
    const uint8_t *payload; /* points into the caller's read buffer */
    uint32_t len;
};

void journal_init(struct journal *j);
void journal_close(struct journal *j);

/*
 * Open the journal file fname in dir_fd and find its newest valid slot.
 * No file: 0 with j->active false and *out_found false.  A file of the
 * wrong size still yields the slots that are intact in it (j->misfit; the
 * capacity comes from a slot header), and slots with invalid data set
 * j->skipped.  A file with no valid slot is not an error (*out_found
 * false).  A misfit file is replaced at the next journal_create(), which
 * journal_append()'s -EBADF asks for.  A FIFO, symlink or directory is
 * -EINVAL, -ELOOP or -EISDIR.  *out_buf holds the slot bytes
 * (caller frees); out->payload points into it.
 */
int journal_open(struct journal *j, int dir_fd, const char *fname,
                 struct journal_slot *out, bool *out_found,
                 uint8_t **out_buf);

/*
 * Append obj as the next sequence to the slot not holding the newest
 * one, then fdatasync: the one flush of a durable write.  -EFBIG if obj
 * does not fit a slot (the caller then grows the journal).
 */
int journal_append(struct journal *j, const uint8_t base[CRYPTO_SHA256_LEN],
                   const uint8_t *obj, uint32_t len);

/*
 * Replace the journal with a new file of capacity >= len whose first
 * slot holds obj as the next sequence: written to tmpname, flushed,
 * renamed over fname, and the directory flushed.
 */
int journal_create(struct journal *j, int dir_fd, const char *fname,
                   const char *tmpname, mode_t mode, bool mode_explicit,
                   const uint8_t base[CRYPTO_SHA256_LEN],
                   const uint8_t *obj, uint32_t len);

/*
 * Remove whatever sits at a temporary name before it is created anew: a
 * stale file, a FIFO (which would block the write), a symlink (the link
 * itself) or an empty directory.  0 or a negative errno (-ENOTEMPTY for a
 * directory with entries, which is left alone).
 */
int journal_clear_tmp(int dir_fd, const char *tmpname);

/* Build slot bytes (for tests): buf has JOURNAL_HDR_LEN + len bytes. */
int journal_encode_slot(uint64_t seq, uint32_t cap,
                        const uint8_t base[CRYPTO_SHA256_LEN],
                        const uint8_t *obj, uint32_t len, uint8_t *buf);

#endif
