#include "namespaces.h"

#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fs.h"

int ns_join_path(const char *path, int flag, skiff_error_t **err)
{
  cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return skiff_error_errno(err, "open namespace %s", path);
  if (setns(fd, flag) < 0)
    return skiff_error_errno(err, "join namespace %s", path);
  return 0;
}

static int write_map(pid_t pid, const char *file, const struct spec_id_map *maps,
                     size_t n, skiff_error_t **err)
{
  char text[4096] = "", path[64];
  size_t used = 0;
  for (size_t i = 0; i < n && used < sizeof text; i++)
    used += (size_t)snprintf(text + used, sizeof text - used, "%u %u %u\n",
                             maps[i].container_id, maps[i].host_id, maps[i].size);
  if (used >= sizeof text)
    return skiff_error_invalid(err, "linux.%s: too many mappings", file);
  snprintf(path, sizeof path, "/proc/%d/%s", (int)pid, file);
  return fs_write_string(path, text, err);
}

int ns_write_id_maps(pid_t pid, const struct spec *spec, skiff_error_t **err)
{
  if (write_map(pid, "uid_map", spec->uid_maps, spec->nuid_maps, err) < 0)
    return skiff_error_wrap(err, "linux.uidMappings");
  if (write_map(pid, "gid_map", spec->gid_maps, spec->ngid_maps, err) < 0)
    return skiff_error_wrap(err, "linux.gidMappings");
  return 0;
}

int ns_loopback_up(skiff_error_t **err)
{
  cleanup_close int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (sock < 0)
    return skiff_error_errno(err, "socket for lo");
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  strcpy(ifr.ifr_name, "lo");
  if (ioctl(sock, SIOCGIFFLAGS, &ifr) < 0)
    return skiff_error_errno(err, "get flags of lo");
  ifr.ifr_flags |= IFF_UP;
  if (ioctl(sock, SIOCSIFFLAGS, &ifr) < 0)
    return skiff_error_errno(err, "bring up lo");
  return 0;
}

int ns_write_time_offsets(json_t *offsets, skiff_error_t **err)
{
  static const char *clocks[] = {"monotonic", "boottime"};
  char text[256] = "";
  size_t used = 0;
  for (size_t i = 0; i < 2; i++) {
    json_t *clock = json_object_get(offsets, clocks[i]);
    if (clock == NULL)
      continue;
    json_t *secs = json_object_get(clock, "secs");
    json_t *nanos = json_object_get(clock, "nanosecs");
    if ((secs && !json_is_integer(secs)) || (nanos && !json_is_integer(nanos)))
      return skiff_error_invalid(err,
                                 "linux.timeOffsets.%s: secs and nanosecs must be "
                                 "integers",
                                 clocks[i]);
    used += (size_t)snprintf(text + used, sizeof text - used, "%s %lld %lld\n",
                             clocks[i], (long long)json_integer_value(secs),
                             (long long)json_integer_value(nanos));
  }
  if (used == 0)
    return 0;
  return fs_write_string("/proc/self/timens_offsets", text, err);
}

int ns_new_flags(const struct spec *spec)
{
  int flags = 0;
  for (size_t i = 0; i < spec->nnamespaces; i++)
    if (spec->namespaces[i].path == NULL)
      flags |= spec->namespaces[i].flag;
  return flags;
}
