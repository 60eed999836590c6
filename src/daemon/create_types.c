/* The Go types of POST /containers/create's body (moby's
 * api/types/container.CreateRequest: Config's fields at the top level, and
 * HostConfig with its embedded Resources), for gotypes_check. The names
 * are those Go's messages print. */
#include "create_request.h"

#include "gotypes.h"

#define STRUCT(var, gname, list)                                                       \
  static const struct gotype var = {                                                   \
      .kind = GOTYPE_STRUCT, .name = gname, .fields = list}
#define LIST_OF(var, gname, of)                                                        \
  static const struct gotype var = {.kind = GOTYPE_LIST, .name = gname, .elem = of}
#define MAP_OF(var, gname, of)                                                         \
  static const struct gotype var = {.kind = GOTYPE_MAP, .name = gname, .elem = of}
/* A Go string type with a name of its own (mount.Type). */
#define NAMED_STRING(gname)                                                            \
  (&(const struct gotype){.kind = GOTYPE_STRING, .name = gname})

static const struct gotype duration = {
    .kind = GOTYPE_INT, .name = "time.Duration", .min = INT64_MIN, .max = INT64_MAX};
static const struct gotype file_mode = {
    .kind = GOTYPE_INT, .name = "fs.FileMode", .min = 0, .max = UINT32_MAX};
static const struct gotype uint_ = {
    .kind = GOTYPE_INT, .name = "uint", .min = 0, .max = INT64_MAX};
static const struct gofield no_fields[] = {{NULL, NULL}};
STRUCT(empty_struct, "struct {}", no_fields);
MAP_OF(port_set, "nat.PortSet", &empty_struct);
MAP_OF(volume_set, "map[string]struct {}", &empty_struct);
LIST_OF(console_size, "[2]uint", &uint_);
LIST_OF(string_lists, "[][]string", &gotype_strings);

static const struct gofield health_fields[] = {{"Test", &gotype_strings},
                                               {"Interval", &duration},
                                               {"Timeout", &duration},
                                               {"StartPeriod", &duration},
                                               {"StartInterval", &duration},
                                               {"Retries", &gotype_int},
                                               {NULL, NULL}};
STRUCT(health_config, "container.HealthConfig", health_fields);

static const struct gofield restart_fields[] = {
    {"Name", &gotype_string}, {"MaximumRetryCount", &gotype_int}, {NULL, NULL}};
STRUCT(restart_policy, "container.RestartPolicy", restart_fields);

static const struct gofield log_fields[] = {
    {"Type", &gotype_string}, {"Config", &gotype_string_map}, {NULL, NULL}};
STRUCT(log_config, "container.LogConfig", log_fields);

static const struct gofield port_binding_fields[] = {
    {"HostIp", &gotype_string}, {"HostPort", &gotype_string}, {NULL, NULL}};
STRUCT(port_binding, "nat.PortBinding", port_binding_fields);
LIST_OF(port_bindings, "[]nat.PortBinding", &port_binding);
MAP_OF(port_map, "nat.PortMap", &port_bindings);

static const struct gofield weight_device_fields[] = {
    {"Path", &gotype_string}, {"Weight", &gotype_uint16}, {NULL, NULL}};
STRUCT(weight_device, "blkiodev.WeightDevice", weight_device_fields);
LIST_OF(weight_devices, "[]*blkiodev.WeightDevice", &weight_device);

static const struct gofield throttle_device_fields[] = {
    {"Path", &gotype_string}, {"Rate", &gotype_uint64}, {NULL, NULL}};
STRUCT(throttle_device, "blkiodev.ThrottleDevice", throttle_device_fields);
LIST_OF(throttle_devices, "[]*blkiodev.ThrottleDevice", &throttle_device);

static const struct gofield device_fields[] = {{"PathOnHost", &gotype_string},
                                               {"PathInContainer", &gotype_string},
                                               {"CgroupPermissions", &gotype_string},
                                               {NULL, NULL}};
STRUCT(device_mapping, "container.DeviceMapping", device_fields);
LIST_OF(device_mappings, "[]container.DeviceMapping", &device_mapping);

static const struct gofield device_request_fields[] = {
    {"Driver", &gotype_string},      {"Count", &gotype_int},
    {"DeviceIDs", &gotype_strings},  {"Capabilities", &string_lists},
    {"Options", &gotype_string_map}, {NULL, NULL}};
STRUCT(device_request, "container.DeviceRequest", device_request_fields);
LIST_OF(device_requests, "[]container.DeviceRequest", &device_request);

static const struct gofield ulimit_fields[] = {{"Name", &gotype_string},
                                               {"Hard", &gotype_int64},
                                               {"Soft", &gotype_int64},
                                               {NULL, NULL}};
STRUCT(ulimit, "units.Ulimit", ulimit_fields);
LIST_OF(ulimits, "[]*units.Ulimit", &ulimit);

static const struct gofield bind_options_fields[] = {
    {"Propagation", NAMED_STRING("mount.Propagation")},
    {"NonRecursive", &gotype_bool},
    {"CreateMountpoint", &gotype_bool},
    {"ReadOnlyNonRecursive", &gotype_bool},
    {"ReadOnlyForceRecursive", &gotype_bool},
    {NULL, NULL}};
STRUCT(bind_options, "mount.BindOptions", bind_options_fields);

static const struct gofield driver_fields[] = {
    {"Name", &gotype_string}, {"Options", &gotype_string_map}, {NULL, NULL}};
STRUCT(driver, "mount.Driver", driver_fields);

static const struct gofield volume_options_fields[] = {{"NoCopy", &gotype_bool},
                                                       {"Labels", &gotype_string_map},
                                                       {"Subpath", &gotype_string},
                                                       {"DriverConfig", &driver},
                                                       {NULL, NULL}};
STRUCT(volume_options, "mount.VolumeOptions", volume_options_fields);

static const struct gofield tmpfs_options_fields[] = {{"SizeBytes", &gotype_int64},
                                                      {"Mode", &file_mode},
                                                      {"Options", &string_lists},
                                                      {NULL, NULL}};
STRUCT(tmpfs_options, "mount.TmpfsOptions", tmpfs_options_fields);

static const struct gofield mount_fields[] = {
    {"Type", NAMED_STRING("mount.Type")},
    {"Source", &gotype_string},
    {"Target", &gotype_string},
    {"ReadOnly", &gotype_bool},
    {"Consistency", NAMED_STRING("mount.Consistency")},
    {"BindOptions", &bind_options},
    {"VolumeOptions", &volume_options},
    {"TmpfsOptions", &tmpfs_options},
    {NULL, NULL}};
STRUCT(mount, "mount.Mount", mount_fields);
LIST_OF(mounts, "[]mount.Mount", &mount);

/* HostConfig, with the fields of its embedded Resources. */
static const struct gofield host_fields[] = {
    {"Binds", &gotype_strings},
    {"ContainerIDFile", &gotype_string},
    {"LogConfig", &log_config},
    {"NetworkMode", NAMED_STRING("container.NetworkMode")},
    {"PortBindings", &port_map},
    {"RestartPolicy", &restart_policy},
    {"AutoRemove", &gotype_bool},
    {"VolumeDriver", &gotype_string},
    {"VolumesFrom", &gotype_strings},
    {"ConsoleSize", &console_size},
    {"Annotations", &gotype_string_map},
    {"CapAdd", &gotype_strslice},
    {"CapDrop", &gotype_strslice},
    {"CgroupnsMode", NAMED_STRING("container.CgroupnsMode")},
    {"Dns", &gotype_strings},
    {"DnsOptions", &gotype_strings},
    {"DnsSearch", &gotype_strings},
    {"ExtraHosts", &gotype_strings},
    {"GroupAdd", &gotype_strings},
    {"IpcMode", NAMED_STRING("container.IpcMode")},
    {"Cgroup", NAMED_STRING("container.CgroupSpec")},
    {"Links", &gotype_strings},
    {"OomScoreAdj", &gotype_int},
    {"PidMode", NAMED_STRING("container.PidMode")},
    {"Privileged", &gotype_bool},
    {"PublishAllPorts", &gotype_bool},
    {"ReadonlyRootfs", &gotype_bool},
    {"SecurityOpt", &gotype_strings},
    {"StorageOpt", &gotype_string_map},
    {"Tmpfs", &gotype_string_map},
    {"UTSMode", NAMED_STRING("container.UTSMode")},
    {"UsernsMode", NAMED_STRING("container.UsernsMode")},
    {"ShmSize", &gotype_int64},
    {"Sysctls", &gotype_string_map},
    {"Runtime", &gotype_string},
    {"Isolation", NAMED_STRING("container.Isolation")},
    {"CpuShares", &gotype_int64},
    {"Memory", &gotype_int64},
    {"NanoCpus", &gotype_int64},
    {"CgroupParent", &gotype_string},
    {"BlkioWeight", &gotype_uint16},
    {"BlkioWeightDevice", &weight_devices},
    {"BlkioDeviceReadBps", &throttle_devices},
    {"BlkioDeviceWriteBps", &throttle_devices},
    {"BlkioDeviceReadIOps", &throttle_devices},
    {"BlkioDeviceWriteIOps", &throttle_devices},
    {"CpuPeriod", &gotype_int64},
    {"CpuQuota", &gotype_int64},
    {"CpuRealtimePeriod", &gotype_int64},
    {"CpuRealtimeRuntime", &gotype_int64},
    {"CpusetCpus", &gotype_string},
    {"CpusetMems", &gotype_string},
    {"Devices", &device_mappings},
    {"DeviceCgroupRules", &gotype_strings},
    {"DeviceRequests", &device_requests},
    {"KernelMemory", &gotype_int64},
    {"KernelMemoryTCP", &gotype_int64},
    {"MemoryReservation", &gotype_int64},
    {"MemorySwap", &gotype_int64},
    {"MemorySwappiness", &gotype_int64},
    {"OomKillDisable", &gotype_bool},
    {"PidsLimit", &gotype_int64},
    {"Ulimits", &ulimits},
    {"CpuCount", &gotype_int64},
    {"CpuPercent", &gotype_int64},
    {"IOMaximumIOps", &gotype_uint64},
    {"IOMaximumBandwidth", &gotype_uint64},
    {"Mounts", &mounts},
    {"MaskedPaths", &gotype_strings},
    {"ReadonlyPaths", &gotype_strings},
    {"Init", &gotype_bool},
    {NULL, NULL}};
STRUCT(host_config, "container.HostConfig", host_fields);

STRUCT(endpoint_settings, "network.EndpointSettings", no_fields);
MAP_OF(endpoints, "map[string]*network.EndpointSettings", &endpoint_settings);
static const struct gofield networking_fields[] = {{"EndpointsConfig", &endpoints},
                                                   {NULL, NULL}};
STRUCT(networking_config, "network.NetworkingConfig", networking_fields);

/* Config's fields: CreateRequest embeds *Config, so they sit at the top. */
#define CONFIG_FIELDS                                                                  \
  {"Hostname", &gotype_string}, {"Domainname", &gotype_string},                        \
      {"User", &gotype_string}, {"AttachStdin", &gotype_bool},                         \
      {"AttachStdout", &gotype_bool}, {"AttachStderr", &gotype_bool},                  \
      {"ExposedPorts", &port_set}, {"Tty", &gotype_bool}, {"OpenStdin", &gotype_bool}, \
      {"StdinOnce", &gotype_bool}, {"Env", &gotype_strings},                           \
      {"Cmd", &gotype_strslice}, {"Healthcheck", &health_config},                      \
      {"ArgsEscaped", &gotype_bool}, {"Image", &gotype_string},                        \
      {"Volumes", &volume_set}, {"WorkingDir", &gotype_string},                        \
      {"Entrypoint", &gotype_strslice}, {"NetworkDisabled", &gotype_bool},             \
      {"MacAddress", &gotype_string}, {"OnBuild", &gotype_strings},                    \
      {"Labels", &gotype_string_map}, {"StopSignal", &gotype_string},                  \
      {"StopTimeout", &gotype_int},                                                    \
  {                                                                                    \
    "Shell", &gotype_strslice                                                          \
  }

static const struct gofield config_fields[] = {CONFIG_FIELDS, {NULL, NULL}};
STRUCT(config, "container.Config", config_fields);

static const struct gofield request_fields[] = {
    CONFIG_FIELDS,
    {"HostConfig", &host_config},
    {"NetworkingConfig", &networking_config},
    {NULL, NULL}};
STRUCT(create_request, "container.CreateRequest", request_fields);

const struct gotype *create_request_type(void)
{
  return &create_request;
}

const struct gotype *create_request_config_type(void)
{
  return &config;
}
