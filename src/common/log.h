/* SPDX-License-Identifier: BSD-3-Clause */
/* Logging: one sink per process (stderr, a file, an fd, or syslog). */
#ifndef SWTPM_LOG_H
#define SWTPM_LOG_H

#include <stdbool.h>

/*
 * Upstream-compatible levels: a line is shown when its level is <= the
 * configured level.  1 = errors and warnings (default), 2 = info,
 * 3 = debug; >= 5 also turns on libtpms' own debug output (tpm glue).
 */
enum log_level {
    LOG_LVL_ERR = 1,
    LOG_LVL_WARN = 1,
    LOG_LVL_INFO = 2,
    LOG_LVL_DEBUG = 3,
};

/* Send output to fd (not closed by log_*). */
void log_set_fd(int fd);
/* Set the level (0 silences everything). */
void log_set_level(unsigned int level);
unsigned int log_get_level(void);
/* Prefix every line (copied; NULL or "" for none). */
void log_set_prefix(const char *prefix);
const char *log_get_prefix(void);
/* The fd lines go to, or -1 when logging is off or goes to syslog. */
int log_get_fd(void);
/*
 * While the invoking terminal still waits for a daemon, errors also go to
 * stderr even when a log file is configured, so start-up failures are seen.
 */
void log_set_tee_stderr(bool on);
/* Route to syslog(3) with ident (for daemons without a log file). */
void log_use_syslog(const char *ident);

void log_msg(enum log_level lvl, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Like log_msg at error level, with ": strerror(errno)" appended. */
void log_errno_msg(int errnum, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define log_err(...)   log_msg(LOG_LVL_ERR, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_LVL_WARN, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_LVL_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LVL_DEBUG, __VA_ARGS__)
/* log_errno(errnum, fmt, ...): errnum is a positive errno value. */
#define log_errno(e, ...) log_errno_msg((e), __VA_ARGS__)

#endif
