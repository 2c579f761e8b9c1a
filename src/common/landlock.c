// SPDX-License-Identifier: BSD-3-Clause
/*
 * Landlock rulesets through syscall(2): glibc 2.36 has no wrappers.  The
 * access rights handled grow with the kernel's ABI; everything handled
 * and not granted by a rule is denied.
 */
#include "landlock.h"

#include <errno.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/landlock.h>

/* Rights newer than the oldest headers we build with (Debian 12: 6.1). */
#ifndef LANDLOCK_ACCESS_FS_REFER
#define LANDLOCK_ACCESS_FS_REFER (1ULL << 13)
#endif
#ifndef LANDLOCK_ACCESS_FS_TRUNCATE
#define LANDLOCK_ACCESS_FS_TRUNCATE (1ULL << 14)
#endif
#ifndef LANDLOCK_ACCESS_FS_IOCTL_DEV
#define LANDLOCK_ACCESS_FS_IOCTL_DEV (1ULL << 15)
#endif
#ifndef LANDLOCK_ACCESS_NET_BIND_TCP
#define LANDLOCK_ACCESS_NET_BIND_TCP (1ULL << 0)
#define LANDLOCK_ACCESS_NET_CONNECT_TCP (1ULL << 1)
#endif
#ifndef LANDLOCK_SCOPE_SIGNAL
#define LANDLOCK_SCOPE_SIGNAL (1ULL << 1)
#endif

/* The ABI 1 file system rights: execute up to make-symlink. */
#define FS_ABI1 ((LANDLOCK_ACCESS_FS_MAKE_SYM << 1) - 1)

#define FS_FILE (LANDLOCK_ACCESS_FS_READ_FILE | \
                 LANDLOCK_ACCESS_FS_WRITE_FILE | \
                 LANDLOCK_ACCESS_FS_TRUNCATE)
#define FS_STORE (FS_FILE | LANDLOCK_ACCESS_FS_READ_DIR | \
                  LANDLOCK_ACCESS_FS_MAKE_REG | \
                  LANDLOCK_ACCESS_FS_REMOVE_FILE)

/* struct landlock_ruleset_attr as of ABI 6; its size tells the kernel
 * which fields we fill. */
struct ruleset_attr {
    uint64_t handled_access_fs;
    uint64_t handled_access_net;    /* ABI 4 */
    uint64_t scoped;                /* ABI 6 */
};

int
landlock_abi(void)
{
    long v = syscall(SYS_landlock_create_ruleset, NULL, 0,
                     LANDLOCK_CREATE_RULESET_VERSION);

    return v < 0 ? -errno : (int)v;
}

/* The rights of ABI abi that a ruleset handles. */
static uint64_t
handled_fs(int abi)
{
    uint64_t fs = FS_ABI1;

    if (abi >= 2) {
        fs |= LANDLOCK_ACCESS_FS_REFER;
    }
    if (abi >= 3) {
        fs |= LANDLOCK_ACCESS_FS_TRUNCATE;
    }
    if (abi >= 5) {
        fs |= LANDLOCK_ACCESS_FS_IOCTL_DEV;
    }
    return fs;
}

static uint64_t
grant_access(enum landlock_grant g)
{
    switch (g) {
    case LANDLOCK_GRANT_STORE: return FS_STORE;
    case LANDLOCK_GRANT_FILE: return FS_FILE;
    case LANDLOCK_GRANT_READ: return LANDLOCK_ACCESS_FS_READ_FILE;
    case LANDLOCK_GRANT_UNLINK: return LANDLOCK_ACCESS_FS_REMOVE_FILE;
    }
    return 0;
}

static int
create_ruleset(int abi)
{
    struct ruleset_attr attr = { .handled_access_fs = handled_fs(abi) };
    size_t size = sizeof(attr.handled_access_fs);
    long fd;

    if (abi >= 4) {
        attr.handled_access_net = LANDLOCK_ACCESS_NET_BIND_TCP |
                                  LANDLOCK_ACCESS_NET_CONNECT_TCP;
        size += sizeof(attr.handled_access_net);
    }
    if (abi >= 6) {
        attr.scoped = LANDLOCK_SCOPE_SIGNAL;
        size += sizeof(attr.scoped);
    }
    fd = syscall(SYS_landlock_create_ruleset, &attr, size, 0);
    return fd < 0 ? -errno : (int)fd;
}

int
landlock_confine(const struct landlock_rule *rules, size_t n)
{
    struct landlock_path_beneath_attr pb;
    int abi, fd, r = 0;

    abi = landlock_abi();
    if (abi < 0) {
        return abi;
    }
    fd = create_ruleset(abi);
    if (fd < 0) {
        return fd;
    }
    for (size_t i = 0; i < n && r == 0; i++) {
        pb.parent_fd = rules[i].fd;
        pb.allowed_access = grant_access(rules[i].grant) & handled_fs(abi);
        if (syscall(SYS_landlock_add_rule, fd, LANDLOCK_RULE_PATH_BENEATH,
                    &pb, 0) < 0) {
            r = -errno;
        }
    }
    if (r == 0 && syscall(SYS_landlock_restrict_self, fd, 0) < 0) {
        r = -errno;
    }
    close(fd);
    return r < 0 ? r : abi;
}
