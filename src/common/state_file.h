/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The linear file state backend (file://PATH, docs/state.md §2.2, §8):
 * all state objects in one regular file or block device, in upstream
 * swtpm's layout (a little-endian header with a table of sections), so
 * either implementation reads what the other wrote.  Every write goes
 * through a scratch copy and two header switches so that a crash at any
 * point leaves a header that points at complete objects (§8.3).
 * state.c dispatches here when the store was opened with a file:// path.
 */
#ifndef SWTPM_STATE_FILE_H
#define SWTPM_STATE_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct state_store;

#define SFILE_MAGIC 0x737774706d6c696eull     /* "swtpmlin" */
#define SFILE_VERSION 1
#define SFILE_SLOTS 15          /* entries in the on-disk table */
#define SFILE_HDR_LEN 192       /* 12 + 15 * 12 */
#define SFILE_OBJS 3            /* STATE_OBJS: state_obj_names' order */
/*
 * Bounds of what any swtpm writes with libtpms 0.9, whose largest state
 * (the TPM 2 permanent state with its 176 KiB of NV memory) needs a
 * 256 KiB section: a header beyond them is refused (docs/state.md §8.2),
 * so that no header can make each write copy tens of MiB or fail for
 * want of room below 4 GiB.
 */
#define SFILE_SECTION_MAX (1u << 20)    /* 1 MiB */
#define SFILE_END_MAX (1u << 30)        /* sections end below 1 GiB */

struct sfile_entry {
    uint32_t offset;            /* 0: not allocated */
    uint32_t data_len;
    uint32_t section_len;
};

/* A decoded header: only the three objects of TPM number 0 exist. */
struct sfile_hdr {
    bool blank;                 /* all zero or empty: never formatted */
    struct sfile_entry e[SFILE_OBJS];
};

/*
 * Decode and check a header read from the start of a file of file_size
 * bytes (buf holds min(file_size, SFILE_HDR_LEN) bytes).  Pure function:
 * every length and offset is checked against the file size before use.
 * Returns 0, or -EBADMSG with *out_why naming the problem (a static
 * string).  All-zero or empty input decodes as a blank header.
 */
int sfile_parse_header(const uint8_t *buf, size_t len, uint64_t file_size,
                       struct sfile_hdr *out, const char **out_why);
/* The SFILE_HDR_LEN bytes of a formatted header for h. */
void sfile_encode_header(const struct sfile_hdr *h,
                         uint8_t out[SFILE_HDR_LEN]);

/*
 * Open (creating a regular file if missing, with st->mode) and check the
 * state file at path.  Returns 0 or a negative errno with err naming the
 * file, the problem and the fix.  Nothing is written.
 */
int sfile_open(struct state_store *st, const char *path,
               char *err, size_t errlen);
void sfile_close(struct state_store *st);
/* Whole-file OFD write lock on the state file itself; see state_lock(). */
int sfile_lock(struct state_store *st, pid_t *out_holder);
void sfile_unlock(struct state_store *st);
/* The stored object (malloc'd) without our checksum record, checked
 * against it (a damaged object with an intact copy gives the copy, logged
 * once); -ENOENT if absent, -EBADMSG if the header is bad or the object
 * and its copies are damaged (st->why says why). */
int sfile_read(struct state_store *st, const char *name,
               uint8_t **out, uint32_t *out_len);
/* Store obj as name (obj NULL: delete it), crash-safely (§8.3). */
int sfile_write(struct state_store *st, const char *name,
                const uint8_t *obj, uint32_t len);
/*
 * Make the file hold exactly the objects obj[k] (NULL: none of kind k,
 * in the order of state_obj_names[]), all of them at one header switch
 * (§8.3): a crash leaves the old objects or the new ones.  Their records
 * (§8.5) keep the file's TPM identity when same_tpm, else get a new one.
 */
int sfile_replace(struct state_store *st, uint8_t *const obj[SFILE_OBJS],
                  const uint32_t len[SFILE_OBJS], bool same_tpm);
/* data_len of name (with our checksum record), -ENOENT if absent. */
long sfile_size(struct state_store *st, const char *name);
int sfile_sync(struct state_store *st);

#endif
