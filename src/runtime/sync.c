#include "sync.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/unixsock.h"

#define SYNC_MAX_PAYLOAD 8192

struct sync_header {
  uint32_t type;
  uint32_t len;
};

int sync_send(int sock, enum sync_msg type, const void *payload, size_t len, int fd,
              skiff_error_t **err)
{
  char buf[sizeof(struct sync_header) + SYNC_MAX_PAYLOAD];
  if (len > SYNC_MAX_PAYLOAD)
    len = SYNC_MAX_PAYLOAD;
  struct sync_header h = {(uint32_t)type, (uint32_t)len};
  memcpy(buf, &h, sizeof h);
  if (len)
    memcpy(buf + sizeof h, payload, len);
  size_t total = sizeof h + len;
  if (fd >= 0)
    return unixsock_send_fd(sock, buf, total, fd, err) < 0
               ? skiff_error_wrap(err, "send to the container process")
               : 0;
  ssize_t n;
  do
    n = send(sock, buf, total, MSG_NOSIGNAL);
  while (n < 0 && errno == EINTR);
  if (n < 0)
    return skiff_error_errno(err, "send to the container process");
  return 0;
}

static int received_fd(struct msghdr *msg)
{
  for (struct cmsghdr *c = CMSG_FIRSTHDR(msg); c; c = CMSG_NXTHDR(msg, c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
      int fd;
      memcpy(&fd, CMSG_DATA(c), sizeof fd);
      return fd;
    }
  }
  return -1;
}

int sync_recv(int sock, enum sync_msg *type, char **payload, int *fd,
              skiff_error_t **err)
{
  char buf[sizeof(struct sync_header) + SYNC_MAX_PAYLOAD];
  union {
    char data[CMSG_SPACE(sizeof(int))];
    struct cmsghdr align;
  } control;
  struct iovec iov = {buf, sizeof buf};
  struct msghdr msg = {.msg_iov = &iov,
                       .msg_iovlen = 1,
                       .msg_control = control.data,
                       .msg_controllen = sizeof control.data};
  ssize_t n;
  do
    n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
  while (n < 0 && errno == EINTR);
  if (n < 0)
    return skiff_error_errno(err, "receive from the container process");
  if (n < (ssize_t)sizeof(struct sync_header))
    return skiff_error_set(err, EPIPE, "the container process exited during setup");
  struct sync_header h;
  memcpy(&h, buf, sizeof h);
  int got_fd = received_fd(&msg);
  if (fd)
    *fd = got_fd;
  else if (got_fd >= 0)
    close(got_fd);
  size_t len = (size_t)n - sizeof h;
  *type = (enum sync_msg)h.type;
  if (payload) {
    *payload = malloc(len + 1);
    if (*payload == NULL)
      return skiff_error_set(err, ENOMEM, "receive");
    memcpy(*payload, buf + sizeof h, len);
    (*payload)[len] = '\0';
  }
  return 0;
}

int sync_expect(int sock, enum sync_msg want, skiff_error_t **err)
{
  enum sync_msg type;
  char *payload = NULL;
  if (sync_recv(sock, &type, &payload, NULL, err) < 0)
    return -1;
  int ret = 0;
  if (type == SYNC_ERROR)
    ret = skiff_error_set(err, 0, "%s", payload);
  else if (type != want)
    ret = skiff_error_set(err, EPROTO, "unexpected message %d (wanted %d)", type, want);
  free(payload);
  return ret;
}

void sync_fail(int sock, skiff_error_t *err)
{
  const char *msg = err && err->msg ? err->msg : "container setup failed";
  sync_send(sock, SYNC_ERROR, msg, strlen(msg), -1, NULL);
  _exit(1);
}
