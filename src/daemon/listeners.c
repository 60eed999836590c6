/* -H addresses to listening sockets; see listeners.h. */
#include "listeners.h"

#include <errno.h>
#include <grp.h>
#include <libgen.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fs.h"
#include "common/unixsock.h"

#define BACKLOG 128
#define SOCKET_GROUP "skiff"

bool listener_is_tcp(const char *host)
{
  return strncmp(host, "tcp://", 6) == 0;
}

/* A socket file already there: in use by a live daemon (an error), or left
 * behind by one that died (removed). */
static int clear_stale_socket(const char *path, skiff_error_t **err)
{
  struct stat st;
  if (lstat(path, &st) < 0)
    return errno == ENOENT ? 0 : skiff_error_errno(err, "stat %s", path);
  if (!S_ISSOCK(st.st_mode))
    return skiff_error_set(err, EEXIST, "%s exists and is not a socket", path);
  int fd = unixsock_connect(path, NULL);
  if (fd >= 0) {
    close(fd);
    return skiff_error_set(err, EADDRINUSE, "%s is in use by another daemon", path);
  }
  if (unlink(path) < 0 && errno != ENOENT)
    return skiff_error_errno(err, "remove stale socket %s", path);
  return 0;
}

/* Like dockerd's root:docker 0660: root and the socket group may connect. */
static int set_socket_access(const char *path, skiff_error_t **err)
{
  if (chmod(path, 0660) < 0)
    return skiff_error_errno(err, "chmod %s", path);
  struct group grp, *found = NULL;
  char buf[4096];
  if (getgrnam_r(SOCKET_GROUP, &grp, buf, sizeof buf, &found) == 0 && found &&
      chown(path, (uid_t)-1, found->gr_gid) < 0)
    return skiff_error_errno(err, "chown %s to group %s", path, SOCKET_GROUP);
  return 0;
}

static int open_unix(const char *path, skiff_error_t **err)
{
  if (*path != '/')
    return skiff_error_invalid(err, "unix socket path must be absolute: \"%s\"", path);
  cleanup_free char *dir = strdup(path);
  if (dir == NULL)
    return skiff_error_set(err, ENOMEM, "%s", path);
  if (fs_mkdir_p(dirname(dir), 0755, err) < 0 || clear_stale_socket(path, err) < 0)
    return -1;
  cleanup_close int fd = unixsock_listen(path, BACKLOG, err);
  if (fd < 0)
    return -1;
  if (set_socket_access(path, err) < 0) {
    unlink(path);
    return -1;
  }
  return steal_fd(&fd);
}

/* "host:port", "[v6]:port" or ":port" → host (NULL: any) and port. */
static int split_host_port(const char *addr, char **host, char **port,
                           skiff_error_t **err)
{
  const char *colon = strrchr(addr, ':');
  if (colon == NULL || colon[1] == '\0')
    return skiff_error_invalid(err, "tcp address \"%s\" needs a port", addr);
  const char *h = addr, *h_end = colon;
  if (*h == '[' && h_end > h && h_end[-1] == ']')
    h++, h_end--;
  *host = h_end > h ? strndup(h, (size_t)(h_end - h)) : NULL;
  *port = strdup(colon + 1);
  if (*port == NULL)
    return skiff_error_set(err, ENOMEM, "%s", addr);
  return 0;
}

static int bind_first(struct addrinfo *list, const char *addr, skiff_error_t **err)
{
  int saved = EADDRNOTAVAIL;
  for (struct addrinfo *ai = list; ai; ai = ai->ai_next) {
    cleanup_close int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd < 0)
      continue;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, BACKLOG) == 0)
      return steal_fd(&fd);
    saved = errno;
  }
  return skiff_error_set(err, saved, "listen on tcp://%s", addr);
}

static int open_tcp(const char *addr, skiff_error_t **err)
{
  cleanup_free char *host = NULL, *port = NULL;
  if (split_host_port(addr, &host, &port, err) < 0)
    return -1;
  struct addrinfo hints = {.ai_flags = AI_PASSIVE | AI_NUMERICSERV,
                           .ai_family = AF_UNSPEC,
                           .ai_socktype = SOCK_STREAM};
  struct addrinfo *list = NULL;
  int rc = getaddrinfo(host, port, &hints, &list);
  if (rc != 0)
    return skiff_error_invalid(err, "tcp://%s: %s", addr, gai_strerror(rc));
  int fd = bind_first(list, addr, err);
  freeaddrinfo(list);
  return fd;
}

int listener_open(const char *host, struct listener *l, skiff_error_t **err)
{
  *l = (struct listener){.fd = -1};
  const char *path = NULL;
  if (strncmp(host, "unix://", 7) == 0)
    path = host + 7;
  else if (listener_is_tcp(host))
    l->tcp = true;
  else
    return skiff_error_invalid(err,
                               "invalid host \"%s\": use unix:///path or "
                               "tcp://addr:port",
                               host);
  int fd = path ? open_unix(path, err) : open_tcp(host + 6, err);
  if (fd < 0)
    return -1;
  l->fd = fd;
  l->host = strdup(host);
  l->unix_path = path ? strdup(path) : NULL;
  return 0;
}

void listener_close(struct listener *l)
{
  if (l->unix_path)
    unlink(l->unix_path);
  if (l->fd >= 0)
    close(l->fd);
  free(l->host);
  free(l->unix_path);
  *l = (struct listener){.fd = -1};
}
