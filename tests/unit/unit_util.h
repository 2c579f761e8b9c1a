/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Helpers more than one unit test needs (header-only: every test is one
 * binary of its own).  Include after <cmocka.h>.
 */
#ifndef SWTPM_UNIT_UTIL_H
#define SWTPM_UNIT_UTIL_H

#include <dirent.h>
#include <ftw.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* Entries of directory where; with all, "." and ".." and dot files too
 * (/proc/self/fd has none of the latter). */
static inline int
unit_count_entries(const char *where, bool all)
{
    DIR *d = opendir(where);
    struct dirent *e;
    int n = 0;

    assert_non_null(d);
    while ((e = readdir(d)) != NULL) {
        n += all || e->d_name[0] != '.';
    }
    closedir(d);
    return n;
}

static inline int
unit_rm_entry(const char *path, const struct stat *sb, int flag,
              struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* Remove a test's temporary directory and everything in it. */
static inline void
unit_rm_tree(const char *dir)
{
    nftw(dir, unit_rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

/* Whether the first 64 KiB of the file open as fd (a test's captured
 * log) contain text. */
static inline bool
unit_fd_has(int fd, const char *text)
{
    static char buf[65536];
    ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);

    if (n < 0) {
        return false;
    }
    buf[n] = '\0';
    return strstr(buf, text) != NULL;
}

#endif
