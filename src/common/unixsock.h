/* UNIX stream sockets by path, for paths of any length: a path longer than
 * sun_path (108 bytes) is reached through /proc/self/fd/N/<name> of its
 * directory, which the kernel resolves like the path itself. */
#ifndef SKIFF_COMMON_UNIXSOCK_H
#define SKIFF_COMMON_UNIXSOCK_H

#include <stddef.h>

#include "error.h"

/* A listening socket bound at path (which must not exist). CLOEXEC. */
int unixsock_listen(const char *path, int backlog, skiff_error_t **err);

/* A socket connected to path. CLOEXEC. */
int unixsock_connect(const char *path, skiff_error_t **err);

/* Send len bytes of data with fd attached (SCM_RIGHTS). */
int unixsock_send_fd(int sock, const void *data, size_t len, int fd,
                     skiff_error_t **err);

/* Receive up to cap-1 bytes into buf (NUL-terminated) and an attached fd
 * (-1 when none). Returns the number of bytes. */
int unixsock_recv_fd(int sock, char *buf, size_t cap, int *fd, skiff_error_t **err);

#endif
