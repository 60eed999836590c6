/* The system endpoints: GET|HEAD /_ping, GET /version, GET /info and
 * GET /events, in the shapes dockerd gives them (moby api/swagger.yaml). */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/statfs.h>
#include <sys/sysinfo.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fs.h"
#include "common/jsonutil.h"
#include "common/timestamp.h"
#include "api_system.h"
#include "containers.h"
#include "daemon.h"
#include "daemon/skiffd_version.h"
#include "events.h"
#include "http.h"
#include "image/image.h"
#include "router.h"

#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif

/* ---------------------------------------------------------------- /_ping */

/* The CLI starts every command with HEAD /_ping and negotiates its API
 * version down to API-Version; Builder-Version 1 makes it use the classic
 * builder (there is no BuildKit). */
static void handle_ping(struct daemon *d, struct http_request *req,
                        struct http_response *resp)
{
  http_response_header(resp, "Builder-Version", "1");
  http_response_header(resp, "Cache-Control", "no-cache, no-store, must-revalidate");
  http_response_header(resp, "Pragma", "no-cache");
  http_response_header(resp, "Swarm", "inactive");
  http_respond_data(resp, 200, "text/plain; charset=utf-8", "OK", 2);
}

/* ---------------------------------------------------------------- /version */

/* Go's GOARCH names, which docker reports, for uname's machine. */
static const char *go_arch(const char *machine)
{
  static const char *const map[][2] = {
      {"x86_64", "amd64"},    {"aarch64", "arm64"},
      {"i686", "386"},        {"i386", "386"},
      {"armv7l", "arm"},      {"armv6l", "arm"},
      {"ppc64le", "ppc64le"}, {"s390x", "s390x"},
      {"riscv64", "riscv64"}, {"loongarch64", "loong64"},
  };
  for (size_t i = 0; i < sizeof map / sizeof *map; i++)
    if (strcmp(machine, map[i][0]) == 0)
      return map[i][1];
  return machine;
}

/* SKIFFD_GIT is "<short commit> <commit time>", from `git log` at build time. */
static void build_info(char *commit, size_t commit_len, const char **when)
{
  const char *space = strchr(SKIFFD_GIT, ' ');
  size_t n = space ? (size_t)(space - SKIFFD_GIT) : strlen(SKIFFD_GIT);
  snprintf(commit, commit_len, "%.*s", (int)n, SKIFFD_GIT);
  *when = space ? space + 1 : "";
}

static void handle_version(struct daemon *d, struct http_request *req,
                           struct http_response *resp)
{
  struct utsname u;
  uname(&u);
  char commit[64];
  const char *built;
  build_info(commit, sizeof commit, &built);
  const char *arch = go_arch(u.machine);
  json_t *v = json_pack(
      "{s:{s:s}, s:[{s:s, s:s, s:{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}}],"
      " s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}",
      "Platform", "Name", "skiff", "Components", "Name", "Engine", "Version",
      SKIFF_VERSION, "Details", "ApiVersion", HTTP_API_VERSION, "Arch", arch,
      "BuildTime", built, "Experimental", "false", "GitCommit", commit, "GoVersion",
      "n/a", "KernelVersion", u.release, "MinAPIVersion", HTTP_MIN_API_VERSION, "Os",
      "linux", "Version", SKIFF_VERSION, "ApiVersion", HTTP_API_VERSION,
      "MinAPIVersion", HTTP_MIN_API_VERSION, "GitCommit", commit, "GoVersion", "n/a",
      "Os", "linux", "Arch", arch, "KernelVersion", u.release, "BuildTime", built);
  http_respond_json(resp, 200, v);
}

/* ---------------------------------------------------------------- /info */

/* docker's engine ID: made once, kept in <data-root>/engine-id. */
char *system_engine_id(const char *data_root)
{
  static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
  cleanup_free char *path = NULL;
  if (asprintf(&path, "%s/engine-id", data_root) < 0)
    return NULL;
  pthread_mutex_lock(&lock);
  char *id = fs_read_file(path, NULL, NULL);
  unsigned char r[16];
  if (id == NULL && getrandom(r, sizeof r, 0) == (ssize_t)sizeof r) {
    r[6] = (r[6] & 0x0f) | 0x40, r[8] = (r[8] & 0x3f) | 0x80; /* UUID v4 */
    if (asprintf(&id,
                 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
                 r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10],
                 r[11], r[12], r[13], r[14], r[15]) < 0)
      id = NULL;
    else
      fs_write_file_atomic(path, id, strlen(id), 0644, FS_WRITE_DURABLE, NULL);
  }
  pthread_mutex_unlock(&lock);
  if (id)
    id[strcspn(id, "\n")] = '\0';
  return id;
}

/* A KEY="value" line of /etc/os-release, unquoted. */
static char *os_release(const char *key, const char *dflt)
{
  cleanup_free char *text = fs_read_file("/etc/os-release", NULL, NULL);
  size_t klen = strlen(key);
  for (char *line = text; line && *line;
       line += strcspn(line, "\n") + (line[strcspn(line, "\n")] != 0)) {
    size_t len = strcspn(line, "\n");
    if (len > klen && strncmp(line, key, klen) == 0 && line[klen] == '=') {
      const char *v = line + klen + 1;
      size_t vlen = len - klen - 1;
      if (vlen >= 2 && (v[0] == '"' || v[0] == '\''))
        v++, vlen -= 2;
      return strndup(v, vlen);
    }
  }
  return strdup(dflt);
}

static const char *cgroup_version(void)
{
  struct statfs st;
  return statfs("/sys/fs/cgroup", &st) == 0 && st.f_type == CGROUP2_SUPER_MAGIC ? "2"
                                                                                : "1";
}

static int count_entries(const char *dir)
{
  cleanup_dir DIR *d = opendir(dir);
  int n = 0;
  struct dirent *e;
  while (d && (e = readdir(d)))
    n += e->d_name[0] != '.';
  return n;
}

static bool file_says_one(const char *path)
{
  cleanup_free char *text = fs_read_file(path, NULL, NULL);
  return text && text[0] == '1';
}

static int online_cpus(void)
{
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0)
    return CPU_COUNT(&set);
  return (int)sysconf(_SC_NPROCESSORS_ONLN);
}

static json_int_t mem_total(void)
{
  struct sysinfo si;
  return sysinfo(&si) == 0 ? (json_int_t)si.totalram * si.mem_unit : 0;
}

static void now_rfc3339(char *buf, size_t len)
{
  struct timespec ts;
  struct tm tm;
  clock_gettime(CLOCK_REALTIME, &ts);
  gmtime_r(&ts.tv_sec, &tm);
  size_t n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(buf + n, len - n, ".%09ldZ", ts.tv_nsec);
}

/* Where skiffd's sibling binaries are (skiff-oci, skiff-shim). */
static char *sibling_path(const char *name)
{
  char self[4096];
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0)
    return strdup(name);
  self[n] = '\0';
  char *slash = strrchr(self, '/');
  if (slash)
    *slash = '\0';
  char *path = NULL;
  if (asprintf(&path, "%s/%s", self, name) < 0)
    return NULL;
  return path;
}

/* docker's RegistryConfig: docker.io, plus daemon.json's
 * insecure-registries and registry-mirrors. */
static json_t *registry_config(json_t *file)
{
  json_t *cidrs = json_pack("[s,s]", "::1/128", "127.0.0.0/8");
  json_t *indexes = json_pack("{s:{s:s, s:[], s:b, s:b}}", "docker.io", "Name",
                              "docker.io", "Mirrors", "Secure", 1, "Official", 1);
  json_t *mirrors = json_object_get(file, "registry-mirrors");
  json_t *insecure = json_object_get(file, "insecure-registries"), *item;
  size_t i;
  json_array_foreach(insecure, i, item)
  {
    const char *name = json_string_value(item);
    if (name && strchr(name, '/'))
      json_array_append(cidrs, item);
    else if (name)
      json_object_set_new(indexes, name,
                          json_pack("{s:s, s:[], s:b, s:b}", "Name", name, "Mirrors",
                                    "Secure", 0, "Official", 0));
  }
  return json_pack("{s:n, s:n, s:o, s:o, s:o}", "AllowNondistributableArtifactsCIDRs",
                   "AllowNondistributableArtifactsHostnames", "InsecureRegistryCIDRs",
                   cidrs, "IndexConfigs", indexes, "Mirrors",
                   json_is_array(mirrors) ? json_incref(mirrors) : json_array());
}

static int count_images(struct daemon *d)
{
  if (d->images == NULL)
    return 0;
  json_t *list = image_store_list(d->images, true, NULL, NULL);
  int n = json_is_array(list) ? (int)json_array_size(list) : 0;
  json_decref(list);
  return n;
}

static json_t *info_counts(struct daemon *d)
{
  int total = 0, running = 0, paused = 0, stopped = 0;
  if (d->containers)
    containers_count(d->containers, &total, &running, &paused, &stopped);
  return json_pack("{s:i, s:i, s:i, s:i, s:i}", "Containers", total,
                   "ContainersRunning", running, "ContainersPaused", paused,
                   "ContainersStopped", stopped, "Images", count_images(d));
}

static json_t *info_machine(void)
{
  struct utsname u;
  uname(&u);
  char hostname[256] = "", now[64];
  gethostname(hostname, sizeof hostname - 1);
  now_rfc3339(now, sizeof now);
  cleanup_free char *os = os_release("PRETTY_NAME", "Linux");
  cleanup_free char *os_version = os_release("VERSION_ID", "");
  return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:i, s:I, s:s}", "Name", hostname,
                   "KernelVersion", u.release, "OperatingSystem", os ? os : "Linux",
                   "OSVersion", os_version ? os_version : "", "OSType", "linux",
                   "Architecture", u.machine, "NCPU", online_cpus(), "MemTotal",
                   mem_total(), "SystemTime", now);
}

/* What the kernel lets containers be limited by (skiff-oci's cgroupfs
 * driver), and the forwarding settings networks depend on. */
static json_t *info_kernel(void)
{
  bool v2 = strcmp(cgroup_version(), "2") == 0;
  bool swap =
      v2 || access("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes", F_OK) == 0;
  return json_pack(
      "{s:s, s:s, s:b, s:b, s:b, s:b, s:b, s:b, s:b, s:b, s:b, s:b, s:b, s:b}",
      "CgroupDriver", "cgroupfs", "CgroupVersion", v2 ? "2" : "1", "MemoryLimit", 1,
      "SwapLimit", swap, "KernelMemoryTCP", !v2, "CpuCfsPeriod", 1, "CpuCfsQuota", 1,
      "CPUShares", 1, "CPUSet", 1, "PidsLimit", 1, "OomKillDisable", !v2,
      "IPv4Forwarding", file_says_one("/proc/sys/net/ipv4/ip_forward"),
      "BridgeNfIptables", file_says_one("/proc/sys/net/bridge/bridge-nf-call-iptables"),
      "BridgeNfIp6tables",
      file_says_one("/proc/sys/net/bridge/bridge-nf-call-ip6tables"));
}

static json_t *info_engine(struct daemon *d)
{
  cleanup_free char *id = system_engine_id(d->config.data_root);
  return json_pack(
      "{s:s, s:s, s:s, s:[[s,s],[s,s],[s,s],[s,s]], s:s, s:s, s:b, s:i, s:i, s:i, s:b}",
      "ID", id ? id : "", "ServerVersion", SKIFF_VERSION, "Driver", "overlay2",
      "DriverStatus", "Backing Filesystem", "extfs", "Supports d_type", "true",
      "Using metacopy", "false", "Native Overlay Diff", "true", "DockerRootDir",
      d->config.data_root, "LoggingDriver",
      d->config.log_driver ? d->config.log_driver : "json-file", "Debug",
      d->config.debug, "NFd", count_entries("/proc/self/fd"), "NGoroutines",
      count_entries("/proc/self/task"), "NEventsListener",
      d->events ? (int)events_listeners(d->events) : 0, "LiveRestoreEnabled",
      json_is_true(json_object_get(d->config.file, "live-restore")));
}

static json_t *info_runtime(void)
{
  cleanup_free char *runtime = sibling_path("skiff-oci");
  return json_pack(
      "{s:{s:{s:s}}, s:s, s:s, s:s, s:{s:s, s:s}, s:{s:s, s:s}, s:{s:s, s:s},"
      " s:[s], s:[]}",
      "Runtimes", "skiff-oci", "path", runtime ? runtime : "skiff-oci",
      "DefaultRuntime", "skiff-oci", "InitBinary", "", "Isolation", "",
      "ContainerdCommit", "ID", "", "Expected", "", "RuncCommit", "ID", "", "Expected",
      "", "InitCommit", "ID", "", "Expected", "", "SecurityOptions",
      "name=seccomp,profile=builtin", "CDISpecDirs");
}

/* Plugins, registries, proxies, swarm: mostly docker's fixed answers. */
static json_t *info_services(struct daemon *d)
{
  const char *http = getenv("HTTP_PROXY"), *https = getenv("HTTPS_PROXY"),
             *no = getenv("NO_PROXY");
  return json_pack("{s:{s:[s], s:[s,s,s], s:n, s:[s,s]}, s:s, s:o, s:s, s:s, s:s,"
                   " s:{s:s, s:s, s:s, s:b, s:s, s:n}, s:[], s:b, s:[], s:n}",
                   "Plugins", "Volume", "local", "Network", "bridge", "host", "null",
                   "Authorization", "Log", "json-file", "none", "IndexServerAddress",
                   "https://index.docker.io/v1/", "RegistryConfig",
                   registry_config(d->config.file), "HttpProxy", http ? http : "",
                   "HttpsProxy", https ? https : "", "NoProxy", no ? no : "", "Swarm",
                   "NodeID", "", "NodeAddr", "", "LocalNodeState", "inactive",
                   "ControlAvailable", 0, "Error", "", "RemoteManagers", "Labels",
                   "ExperimentalBuild", 0, "Warnings", "GenericResources");
}

static void handle_info(struct daemon *d, struct http_request *req,
                        struct http_response *resp)
{
  json_t *parts[] = {info_engine(d), info_counts(d), info_machine(),
                     info_kernel(),  info_runtime(), info_services(d)};
  json_t *info = json_object();
  bool complete = info != NULL;
  for (size_t i = 0; i < sizeof parts / sizeof *parts; i++) {
    complete = complete && parts[i] && json_object_update(info, parts[i]) == 0;
    json_decref(parts[i]);
  }
  if (!complete) {
    json_decref(info);
    http_respond_error(resp, 500, "cannot assemble the system information");
    return;
  }
  if (strcmp(cgroup_version(), "2") == 0)
    json_array_append_new(json_object_get(info, "SecurityOptions"),
                          json_string("name=cgroupns"));
  http_respond_json(resp, 200, info);
}

/* ---------------------------------------------------------------- /events */

/* docker's timestamps: "seconds[.nanoseconds]" (the CLI turns durations
 * and dates into this form before sending). Returns 1 with *ns set, 0 when
 * absent ("" or dockerd's -1, its "no time"), -1 when malformed. */
static int parse_timestamp(const char *text, int64_t *ns)
{
  *ns = 0;
  if (text == NULL || *text == '\0')
    return 0;
  char *end;
  errno = 0;
  long long sec = strtoll(text, &end, 10);
  if (end == text || errno)
    return -1;
  long long frac = 0;
  if (*end == '.') {
    const char *digits = end + 1;
    size_t n = strspn(digits, "0123456789");
    if (n == 0 || digits[n] != '\0')
      return -1;
    char nine[10] = "000000000";
    memcpy(nine, digits, n < 9 ? n : 9);
    frac = strtoll(nine, NULL, 10);
  } else if (*end != '\0') {
    return -1;
  }
  if (sec == -1 && frac == 0)
    return 0;
  *ns = sec * 1000000000LL + frac;
  return 1;
}

static int emit_event(json_t *event, void *arg)
{
  return http_stream_json(arg, event);
}

static int client_still_there(void *arg)
{
  return http_client_gone(arg) ? -1 : 0;
}

static void handle_events(struct daemon *d, struct http_request *req,
                          struct http_response *resp)
{
  const char *since_text = http_request_query(req, "since");
  const char *until_text = http_request_query(req, "until");
  int64_t since = 0, until = 0;
  int has_since = parse_timestamp(since_text, &since);
  int has_until = parse_timestamp(until_text, &until);
  if (has_since < 0 || has_until < 0) {
    http_respond_error(resp, 400, "invalid timestamp: since=%s until=%s",
                       since_text ?: "", until_text ?: "");
    return;
  }
  if (has_since && has_until && until < since) {
    http_respond_error(resp, 400, "`since` time (%s) cannot be after `until` time (%s)",
                       since_text, until_text);
    return;
  }
  /* As dockerd: the history only when since or until was given; otherwise
   * what happens from now on. */
  if (!has_since && !has_until)
    since = timestamp_now_ns();
  bool bad;
  cleanup_json json_t *filters = http_request_filters(req, resp, &bad);
  if (bad)
    return;
  if (http_stream_begin(resp, 200, "application/json") < 0)
    return;
  events_stream_idle(d->events, since, until, filters, emit_event, client_still_there,
                     resp);
}

/* GET /system/df: what images and containers use (volumes and the build
 * cache come with their issues). */
static void handle_df(struct daemon *d, struct http_request *req,
                      struct http_response *resp)
{
  skiff_error_t *err = NULL;
  json_t *images = image_store_df(d->images, &err);
  if (images == NULL) {
    http_respond_skiff_error(resp, err);
    skiff_error_free(&err);
    return;
  }
  json_int_t layers = 0;
  size_t i;
  json_t *image;
  json_array_foreach(images, i, image)
  {
    const char *id = json_string_value(json_object_get(image, "Id"));
    int users = id && containers_image_in_use(d->containers, id) ? 1 : 0;
    json_object_set_new(image, "Containers", json_integer(users));
    layers += json_integer_value(json_object_get(image, "Size"));
  }
  http_respond_json(resp, 200,
                    json_pack("{s:I, s:o, s:o, s:[], s:[]}", "LayersSize", layers,
                              "Images", images, "Containers",
                              containers_df(d->containers), "Volumes", "BuildCache"));
}

/* POST /networks/prune, /volumes/prune, /build/prune: `docker system prune`
 * asks for all of them and fails on a 404. skiff has no user networks,
 * named volumes or build cache yet, so there is nothing to remove; the
 * filters are still checked as dockerd checks them. (These move to the
 * network, volume and build APIs when those exist.) */
static void handle_prune_nothing(struct daemon *d, struct http_request *req,
                                 struct http_response *resp)
{
  static const char *const accepted[] = {"until", "label",  "label!",  "all",
                                         "id",    "parent", "type",    "description",
                                         "inuse", "shared", "private", NULL};
  bool bad;
  cleanup_json json_t *filters = http_request_filters_of(req, resp, accepted, &bad);
  if (bad)
    return;
  const char *path = http_request_path(req);
  if (strncmp(path, "/networks/", 10) == 0)
    return http_respond_json(resp, 200, json_pack("{s:n}", "NetworksDeleted"));
  if (strncmp(path, "/volumes/", 9) == 0)
    return http_respond_json(
        resp, 200, json_pack("{s:n, s:i}", "VolumesDeleted", "SpaceReclaimed", 0));
  http_respond_json(resp, 200,
                    json_pack("{s:n, s:i}", "CachesDeleted", "SpaceReclaimed", 0));
}

const struct api_route api_system_routes[] = {
    {"POST", "/networks/prune", handle_prune_nothing, false},
    {"POST", "/volumes/prune", handle_prune_nothing, false},
    {"POST", "/build/prune", handle_prune_nothing, false},
    {"GET", "/system/df", handle_df, false},
    {"GET", "/_ping", handle_ping, false},
    {"HEAD", "/_ping", handle_ping, false},
    {"GET", "/version", handle_version, false},
    {"GET", "/info", handle_info, false},
    {"GET", "/events", handle_events, false},
    {NULL, NULL, NULL, false},
};
