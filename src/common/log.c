// SPDX-License-Identifier: BSD-3-Clause
/* Logging to stderr, a file descriptor or syslog, one line per call. */
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

static int log_fd = STDERR_FILENO;
static unsigned int log_level = 1;
static char log_prefix[64];
static bool log_syslog;
static bool log_tee;

void
log_set_tee_stderr(bool on)
{
    log_tee = on;
}

void
log_set_fd(int fd)
{
    log_fd = fd;
    log_syslog = false;
}

int
log_get_fd(void)
{
    return (log_syslog || log_level == 0) ? -1 : log_fd;
}

void
log_set_level(unsigned int level)
{
    log_level = level;
}

unsigned int
log_get_level(void)
{
    return log_level;
}

void
log_set_prefix(const char *prefix)
{
    snprintf(log_prefix, sizeof(log_prefix), "%s", prefix ? prefix : "");
}

const char *
log_get_prefix(void)
{
    return log_prefix;
}

void
log_use_syslog(const char *ident)
{
    openlog(ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
    log_syslog = true;
}

static void
log_vemit(enum log_level lvl, int errnum, const char *fmt, va_list ap)
{
    char line[1024];
    size_t n;
    int r;

    if ((unsigned int)lvl > log_level || log_fd < 0) {
        return;
    }
    r = snprintf(line, sizeof(line), "%s", log_prefix);
    n = r > 0 ? (size_t)r : 0;
    r = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
    if (r > 0) {
        n += (size_t)r;
    }
    if (n > sizeof(line) - 2) {
        n = sizeof(line) - 2;
    }
    if (errnum) {
        r = snprintf(line + n, sizeof(line) - n - 1, ": %s",
                     strerror(errnum));
        if (r > 0) {
            n += (size_t)r;
        }
        if (n > sizeof(line) - 2) {
            n = sizeof(line) - 2;
        }
    }
    if (log_syslog) {
        line[n] = '\0';
        syslog(lvl == LOG_LVL_ERR ? LOG_ERR :
               lvl == LOG_LVL_INFO ? LOG_INFO : LOG_DEBUG, "%s", line);
        if (log_tee && lvl == LOG_LVL_ERR) {
            line[n++] = '\n';
            while (write(STDERR_FILENO, line, n) < 0 && errno == EINTR) {
            }
        }
        return;
    }
    line[n++] = '\n';
    /* One write per line so lines from threads do not interleave. */
    while (write(log_fd, line, n) < 0 && errno == EINTR) {
    }
    if (log_tee && lvl == LOG_LVL_ERR && log_fd != STDERR_FILENO) {
        while (write(STDERR_FILENO, line, n) < 0 && errno == EINTR) {
        }
    }
}

void
log_msg(enum log_level lvl, const char *fmt, ...)
{
    va_list ap;
    int saved = errno;

    va_start(ap, fmt);
    log_vemit(lvl, 0, fmt, ap);
    va_end(ap);
    errno = saved;
}

void
log_errno_msg(int errnum, const char *fmt, ...)
{
    va_list ap;
    int saved = errno;

    va_start(ap, fmt);
    log_vemit(LOG_LVL_ERR, errnum, fmt, ap);
    va_end(ap);
    errno = saved;
}
