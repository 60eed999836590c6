#include "unixsock.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "cleanup.h"

/* Fill addr for path; *dirfd is set (and must be closed by the caller)
 * when the short /proc/self/fd form was needed. */
static int make_address(const char *path, struct sockaddr_un *addr, int *dirfd,
                        skiff_error_t **err)
{
  memset(addr, 0, sizeof *addr);
  addr->sun_family = AF_UNIX;
  *dirfd = -1;
  if (strlen(path) < sizeof addr->sun_path) {
    strcpy(addr->sun_path, path);
    return 0;
  }
  cleanup_free char *dir_copy = strdup(path);
  cleanup_free char *base_copy = strdup(path);
  if (dir_copy == NULL || base_copy == NULL)
    return skiff_error_set(err, ENOMEM, "socket %s", path);
  *dirfd = open(dirname(dir_copy), O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (*dirfd < 0)
    return skiff_error_errno(err, "open the directory of socket %s", path);
  int n = snprintf(addr->sun_path, sizeof addr->sun_path, "/proc/self/fd/%d/%s", *dirfd,
                   basename(base_copy));
  if (n < 0 || n >= (int)sizeof addr->sun_path)
    return skiff_error_set(err, ENAMETOOLONG, "socket %s", path);
  return 0;
}

int unixsock_listen(const char *path, int backlog, skiff_error_t **err)
{
  struct sockaddr_un addr;
  cleanup_close int dirfd = -1;
  if (make_address(path, &addr, &dirfd, err) < 0)
    return -1;
  cleanup_close int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return skiff_error_errno(err, "socket");
  if (bind(fd, (struct sockaddr *)&addr, sizeof addr) < 0)
    return skiff_error_errno(err, "bind %s", path);
  if (listen(fd, backlog) < 0)
    return skiff_error_errno(err, "listen on %s", path);
  return steal_fd(&fd);
}

int unixsock_connect(const char *path, skiff_error_t **err)
{
  struct sockaddr_un addr;
  cleanup_close int dirfd = -1;
  if (make_address(path, &addr, &dirfd, err) < 0)
    return -1;
  cleanup_close int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return skiff_error_errno(err, "socket");
  int ret;
  do
    ret = connect(fd, (struct sockaddr *)&addr, sizeof addr);
  while (ret < 0 && errno == EINTR);
  if (ret < 0)
    return skiff_error_errno(err, "connect to %s", path);
  return steal_fd(&fd);
}

int unixsock_send_fd(int sock, const void *data, size_t len, int fd,
                     skiff_error_t **err)
{
  union {
    char buf[CMSG_SPACE(sizeof(int))];
    struct cmsghdr align;
  } control;
  memset(&control, 0, sizeof control);
  struct iovec iov = {(void *)data, len};
  struct msghdr msg = {.msg_iov = &iov,
                       .msg_iovlen = 1,
                       .msg_control = control.buf,
                       .msg_controllen = sizeof control.buf};
  struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(c), &fd, sizeof fd);
  ssize_t n;
  do
    n = sendmsg(sock, &msg, MSG_NOSIGNAL);
  while (n < 0 && errno == EINTR);
  if (n < 0)
    return skiff_error_errno(err, "send a file descriptor");
  return 0;
}

int unixsock_recv_fd(int sock, char *buf, size_t cap, int *fd, skiff_error_t **err)
{
  union {
    char data[CMSG_SPACE(sizeof(int))];
    struct cmsghdr align;
  } control;
  struct iovec iov = {buf, cap - 1};
  struct msghdr msg = {.msg_iov = &iov,
                       .msg_iovlen = 1,
                       .msg_control = control.data,
                       .msg_controllen = sizeof control.data};
  ssize_t n;
  do
    n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
  while (n < 0 && errno == EINTR);
  if (n < 0)
    return skiff_error_errno(err, "receive a file descriptor");
  buf[n] = '\0';
  *fd = -1;
  for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c))
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
      memcpy(fd, CMSG_DATA(c), sizeof *fd);
  return (int)n;
}
