// SPDX-License-Identifier: BSD-3-Clause
/* The --server and --ctrl channels: option parsing and socket creation. */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "subopt.h"
#include "swtpm.h"

static int
parse_fd_opt(const char *what, const char *v, int *out, char *err,
             size_t errlen)
{
    if (parse_fd(v, out) < 0) {
        snprintf(err, errlen, "%s must be a file descriptor number, got "
                 "'%s'", what, v);
        return -EINVAL;
    }
    return 0;
}

static int
parse_unix_opts(const struct subopts *so, struct chan_opts *o,
                char *err, size_t errlen)
{
    const char *v;

    v = subopts_get(so, "path");
    if (v) {
        if (strlen(v) >= sizeof(o->path)) {
            snprintf(err, errlen, "socket path '%s' is too long (max %zu "
                     "bytes)", v, sizeof(o->path) - 1);
            return -EINVAL;
        }
        snprintf(o->path, sizeof(o->path), "%s", v);
    }
    v = subopts_get(so, "mode");
    if (v && parse_mode(v, &o->mode) < 0) {
        snprintf(err, errlen, "socket mode must be octal <= 0777, got '%s'",
                 v);
        return -EINVAL;
    }
    v = subopts_get(so, "uid");
    if (v) {
        if (parse_uid(v, &o->uid) < 0) {
            snprintf(err, errlen, "unknown user '%s' for uid=", v);
            return -EINVAL;
        }
        o->has_uid = true;
    }
    v = subopts_get(so, "gid");
    if (v) {
        if (parse_gid(v, &o->gid) < 0) {
            snprintf(err, errlen, "unknown group '%s' for gid=", v);
            return -EINVAL;
        }
        o->has_gid = true;
    }
    return 0;
}

static int
parse_tcp_opts(const struct subopts *so, struct chan_opts *o, bool is_ctrl,
               char *err, size_t errlen)
{
    const char *v, *env;
    unsigned long n;

    v = subopts_get(so, "port");
    env = getenv("TPM_PORT");
    if (!v && !is_ctrl && env) {
        v = env;
    }
    if (v) {
        if (parse_uint(v, 0, 65535, &n) < 0) {
            snprintf(err, errlen, "port must be 0-65535, got '%s'", v);
            return -EINVAL;
        }
        o->port = (unsigned int)n;
        o->has_port = true;
    }
    v = subopts_get(so, "bindaddr");
    snprintf(o->bindaddr, sizeof(o->bindaddr), "%s", v ? v : "127.0.0.1");
    v = subopts_get(so, "ifname");
    if (v) {
        snprintf(o->ifname, sizeof(o->ifname), "%s", v);
    }
    return 0;
}

int
chan_parse(const char *s, bool is_ctrl, struct chan_opts *o,
           char *err, size_t errlen)
{
    static const char *const srv_names[] = {
        "type", "port", "bindaddr", "ifname", "fd", "disconnect", "path",
        "mode", "uid", "gid", NULL };
    static const char *const ctrl_names[] = {
        "type", "port", "bindaddr", "ifname", "fd", "clientfd", "path",
        "mode", "uid", "gid", "terminate", NULL };
    struct subopts so;
    const char *type, *v;
    char msg[200];
    int r = -EINVAL;

    memset(o, 0, sizeof(*o));
    o->fd = -1;
    o->clientfd = -1;
    o->mode = 0770;
    if (subopts_parse(s, is_ctrl ? ctrl_names : srv_names, &so, msg,
                      sizeof(msg)) < 0) {
        snprintf(err, errlen, "Error parsing %s options: %s",
                 is_ctrl ? "ctrl" : "server", msg);
        return -EINVAL;
    }
    type = subopts_get(&so, "type");
    if (is_ctrl && !type) {
        snprintf(err, errlen, "--ctrl needs type=unixio or type=tcp");
        goto out;
    }
    if (!type || strcmp(type, "tcp") == 0) {
        o->is_unix = false;
    } else if (strcmp(type, "unixio") == 0) {
        o->is_unix = true;
    } else {
        snprintf(err, errlen, "channel type must be tcp or unixio, got '%s'",
                 type);
        goto out;
    }
    if ((v = subopts_get(&so, "fd")) &&
        parse_fd_opt("fd", v, &o->fd, err, errlen) < 0) {
        goto out;
    }
    if ((v = subopts_get(&so, "clientfd")) &&
        parse_fd_opt("clientfd", v, &o->clientfd, err, errlen) < 0) {
        goto out;
    }
    if (o->is_unix ? parse_unix_opts(&so, o, err, errlen) < 0
                   : parse_tcp_opts(&so, o, is_ctrl, err, errlen) < 0) {
        goto out;
    }
    if (o->is_unix && !o->path[0] && o->fd < 0 && o->clientfd < 0) {
        snprintf(err, errlen, "type=unixio needs path=, fd= or clientfd=");
        goto out;
    }
    if (!o->is_unix && !o->has_port && o->fd < 0 && o->clientfd < 0) {
        snprintf(err, errlen, "type=tcp needs port= or fd=%s",
                 is_ctrl ? "" : " (or the TPM_PORT environment variable)");
        goto out;
    }
    o->disconnect = subopts_bool(&so, "disconnect", false);
    o->terminate = subopts_bool(&so, "terminate", false);
    o->given = true;
    r = 0;
out:
    subopts_free(&so);
    return r;
}

static int
check_socket_fd(int fd, char *err, size_t errlen)
{
    struct stat st;

    if (fstat(fd, &st) < 0 || !S_ISSOCK(st.st_mode)) {
        snprintf(err, errlen, "file descriptor %d is not a socket", fd);
        return -EINVAL;
    }
    fcntl(fd, F_SETFD, FD_CLOEXEC);
    return 0;
}

static int
open_tcp(const struct chan_opts *o, char *err, size_t errlen)
{
    struct addrinfo hints = { 0 }, *ai = NULL;
    char port[16];
    int fd = -1, one = 1, r;

    hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_family = strchr(o->bindaddr, ':') ? AF_INET6 : AF_INET;
    snprintf(port, sizeof(port), "%u", o->port);
    r = getaddrinfo(o->bindaddr, port, &hints, &ai);
    if (r != 0) {
        snprintf(err, errlen, "bad bind address '%s': %s", o->bindaddr,
                 gai_strerror(r));
        return -EINVAL;
    }
    if (ai->ai_family == AF_INET6 && o->ifname[0]) {
        ((struct sockaddr_in6 *)ai->ai_addr)->sin6_scope_id =
            if_nametoindex(o->ifname);
    }
    fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
        bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 1) < 0) {
        r = -errno;
        snprintf(err, errlen, "cannot listen on %s port %u: %s",
                 o->bindaddr, o->port, strerror(errno));
        if (fd >= 0) {
            close(fd);
        }
        fd = r;
    }
    freeaddrinfo(ai);
    return fd;
}

static int
open_unix(const struct chan_opts *o, char *err, size_t errlen)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    struct stat st;
    int fd, r;

    /* Replace a stale socket, but never another kind of file. */
    if (lstat(o->path, &st) == 0) {
        if (!S_ISSOCK(st.st_mode)) {
            snprintf(err, errlen, "'%s' exists and is not a socket; "
                     "remove it or choose another path", o->path);
            return -EEXIST;
        }
        unlink(o->path);
    }
    memcpy(sa.sun_path, o->path, strlen(o->path) + 1);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        goto fail;
    }
    if (chmod(o->path, o->mode) < 0 ||
        ((o->has_uid || o->has_gid) &&
         chown(o->path, o->has_uid ? o->uid : (uid_t)-1,
               o->has_gid ? o->gid : (gid_t)-1) < 0) ||
        listen(fd, 1) < 0) {
        unlink(o->path);
        goto fail;
    }
    return fd;
fail:
    r = -errno;
    snprintf(err, errlen, "cannot create socket '%s': %s", o->path,
             strerror(errno));
    if (fd >= 0) {
        close(fd);
    }
    return r;
}

int
chan_open(const struct chan_opts *o, struct chan *c, char *err,
          size_t errlen)
{
    int fd;

    c->listen_fd = -1;
    c->conn_fd = -1;
    c->is_unix = o->is_unix;
    c->unlink_path[0] = '\0';
    if (!o->given) {
        return 0;
    }
    if (o->clientfd >= 0) {
        if (check_socket_fd(o->clientfd, err, errlen) < 0) {
            return -EINVAL;
        }
        c->conn_fd = o->clientfd;
        c->is_unix = true;
        return 0;
    }
    if (o->fd >= 0) {
        /* Listening: accept clients on it.  Connected (tcp --server fd=,
         * a socketpair end): it is the one and only stream (docs/cli.md §4). */
        int v = 0;
        socklen_t len = sizeof(v);

        if (check_socket_fd(o->fd, err, errlen) < 0) {
            return -EINVAL;
        }
        if (getsockopt(o->fd, SOL_SOCKET, SO_ACCEPTCONN, &v, &len) == 0 &&
            v) {
            c->listen_fd = o->fd;
        } else {
            c->conn_fd = o->fd;
        }
        return 0;
    }
    fd = o->is_unix ? open_unix(o, err, errlen) : open_tcp(o, err, errlen);
    if (fd < 0) {
        return fd;
    }
    c->listen_fd = fd;
    if (o->is_unix) {
        snprintf(c->unlink_path, sizeof(c->unlink_path), "%s", o->path);
    }
    return 0;
}

void
chan_close(struct chan *c)
{
    if (c->listen_fd >= 0) {
        close(c->listen_fd);
        c->listen_fd = -1;
    }
    if (c->conn_fd >= 0) {
        close(c->conn_fd);
        c->conn_fd = -1;
    }
    if (c->unlink_path[0]) {
        unlink(c->unlink_path);
        c->unlink_path[0] = '\0';
    }
}
