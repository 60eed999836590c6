/* A container's OCI runtime config (config.json for skiff-oci) built from
 * its docker record (Config, HostConfig) and its image's config, the way
 * dockerd builds one: entrypoint + cmd, env, user, working dir, hostname,
 * docker's default capabilities, masked paths, resources. */
#ifndef SKIFF_DAEMON_OCISPEC_H
#define SKIFF_DAEMON_OCISPEC_H

#include <jansson.h>

#include "common/error.h"

/* record: the container's record (docker's inspect shape; its
 * HostnamePath, HostsPath and ResolvConfPath are bind-mounted on /etc).
 * rootfs: the mounted root file system. init_path: skiff-init,
 * bind-mounted as /sbin/docker-init in front of the command when
 * HostConfig.Init is set. New reference. */
json_t *ocispec_build(json_t *record, const char *rootfs, const char *init_path,
                      skiff_error_t **err);

/* Check HostConfig.Binds ("SRC:DST[:MODE]") and Mounts: absolute host
 * paths that exist. Named volumes and non-bind mounts are refused until
 * volumes exist. */
int ocispec_check_binds(json_t *host, skiff_error_t **err);

/* The command the container runs: Entrypoint + Cmd of the container
 * config, each falling back to the image's as docker does. New array;
 * empty when there is none ("No command specified"). */
json_t *ocispec_command(json_t *config, json_t *image_config);

/* The process of an exec into a running container (docker's ExecConfig:
 * Cmd, Env, User, WorkingDir, Tty, Privileged) made from the process the
 * container runs with (container_process, from its config.json): the exec's
 * command, dockerd's exec environment (PATH, HOSTNAME, TERM with a tty, the
 * container's Config.Env, the exec's Env), its user looked up in rootfs,
 * every capability when privileged; the rest (rlimits, ...) the container's.
 * New reference; NULL with *err (an unknown user). */
json_t *ocispec_exec_process(json_t *container_process, json_t *container_config,
                             json_t *exec, const char *rootfs, skiff_error_t **err);

#endif
