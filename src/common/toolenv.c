// SPDX-License-Identifier: BSD-3-Clause
/* Output, config directory and paths for swtpm_setup and swtpm_localca. */
#include "toolenv.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

static int out_fd = STDOUT_FILENO;

int
say_to_logfile(const char *path)
{
    /* O_NONBLOCK: a FIFO without a reader fails (ENXIO) instead of
     * holding the tool in open() */
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW |
                  O_CLOEXEC | O_NONBLOCK, 0640);

    if (fd < 0) {
        return -errno;
    }
    out_fd = fd;
    log_set_fd(fd);
    return 0;
}

void
say(const char *fmt, ...)
{
    char line[2048];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
    va_end(ap);
    if (n < 0) {
        return;
    }
    if ((size_t)n > sizeof(line) - 2) {
        n = sizeof(line) - 2;
    }
    line[n++] = '\n';
    while (write(out_fd, line, (size_t)n) < 0 && errno == EINTR) {
    }
}

/* docs/setup-and-bios.md §7: the user's config dir. */
int
user_config_dir(char *out, size_t outlen)
{
    const char *xdg = getenv("XDG_CONFIG_HOME");
    const char *home = getenv("HOME");
    struct passwd *pw;
    int n;

    if (xdg && xdg[0] == '/') {
        n = snprintf(out, outlen, "%s", xdg);
    } else {
        if (!home || !home[0]) {
            pw = getpwuid(geteuid());
            home = pw ? pw->pw_dir : NULL;
        }
        if (!home || !home[0]) {
            return -ENOENT;
        }
        n = snprintf(out, outlen, "%s/.config", home);
    }
    return n < 0 || (size_t)n >= outlen ? -ENAMETOOLONG : 0;
}

void
effective_user(char *out, size_t outlen)
{
    struct passwd *pw = getpwuid(geteuid());

    snprintf(out, outlen, "user %s (uid %u)", pw ? pw->pw_name : "?",
             (unsigned int)geteuid());
}

int
path_join(char *out, size_t outlen, const char *dir, const char *name)
{
    int n = snprintf(out, outlen, "%s/%s", dir, name);

    return n < 0 || (size_t)n >= outlen ? -ENAMETOOLONG : 0;
}

int
mkdir_parents(const char *path, mode_t mode)
{
    char *tmp = strdup(path);
    int r = 0;

    if (!tmp || !*tmp) {
        free(tmp);
        return tmp ? -EINVAL : -ENOMEM;
    }
    for (char *p = tmp + 1; r == 0; p++) {
        char c = *p;

        if (c != '/' && c != '\0') {
            continue;
        }
        *p = '\0';
        if (mkdir(tmp, mode) < 0 && errno != EEXIST) {
            r = -errno;
        }
        *p = c;
        if (c == '\0') {
            break;
        }
    }
    free(tmp);
    return r;
}
