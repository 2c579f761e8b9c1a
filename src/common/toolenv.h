/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What swtpm_setup and swtpm_localca (and the local CA code they share,
 * localca.c) need from their surroundings: informational lines on stdout
 * or in the --logfile, the user's config directory, and path helpers.
 */
#ifndef SWTPM_TOOLENV_H
#define SWTPM_TOOLENV_H

#include <stddef.h>
#include <sys/types.h>

/* One informational line (newline added) to stdout or the log file. */
void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * Send say() lines and log lines to path (appended, created 0640, never
 * through a symlink) from now on.  Returns 0 or a negative errno; the
 * caller reports it.
 */
int say_to_logfile(const char *path);

/*
 * The user's config directory: $XDG_CONFIG_HOME if absolute, else
 * $HOME/.config (HOME from the environment, or the passwd entry).
 * Returns 0, -ENOENT if there is no home, or -ENAMETOOLONG.
 */
int user_config_dir(char *out, size_t outlen);

/* "user NAME (uid N)" of the effective user, for permission errors. */
void effective_user(char *out, size_t outlen);

/* out = dir/name; -ENAMETOOLONG if it does not fit. */
int path_join(char *out, size_t outlen, const char *dir, const char *name);

/* mkdir -p with mode for the missing parts; 0 or a negative errno. */
int mkdir_parents(const char *path, mode_t mode);

#endif
