/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * swtpm_setup.conf / swtpm-localca.conf reader (docs/setup-and-bios.md
 * §5.1): `key = value` lines, value up to `#`, first match wins, ${NAME}
 * expanded from the environment.
 */
#ifndef SETUP_CONF_H
#define SETUP_CONF_H

#include <stddef.h>

#define CONF_MAX_SIZE (64 * 1024)   /* config files are small */

/*
 * Read a whole config file (at most CONF_MAX_SIZE bytes) into *out_text
 * (malloc'd, NUL-terminated).  Returns 0 or a negative errno
 * (fd_open_input()'s: a FIFO or device is refused, never read).
 */
int conf_read(const char *path, char **out_text);

/*
 * Value of key in text with ${NAME} expanded (malloc'd), or NULL if the
 * key is absent (or on allocation failure).
 */
char *conf_get(const char *text, const char *key);

/* Split an options file into words (docs/setup-and-bios.md §5.4): lines split
 * at single spaces.  Returns a NULL-terminated malloc'd argv (free with
 * conf_free_words). */
char **conf_words(const char *text);
void conf_free_words(char **words);

#endif
