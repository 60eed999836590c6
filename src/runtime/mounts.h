/* The container's file system: its mounts, device nodes and root, all
 * resolved inside the rootfs (a symlink in an image never redirects a mount
 * onto the host), then pivot_root and the masked and read-only paths.
 * Runs in the container's mount namespace. Internal to src/runtime. */
#ifndef SKIFF_RUNTIME_MOUNTS_H
#define SKIFF_RUNTIME_MOUNTS_H

#include <stdbool.h>

#include "cgroup.h"
#include "common/error.h"
#include "spec.h"

/* Before pivot_root: set the propagation of "/", bind the rootfs onto
 * itself, make every mount of the spec, the devices and /dev's links.
 * in_userns: device nodes are bind-mounted from the host (mknod is not
 * allowed there). */
int mounts_setup(const struct spec *spec, struct cgroup *cg, bool in_userns,
                 skiff_error_t **err);

/* Make the rootfs the root: pivot_root, or with no_pivot MS_MOVE + chroot. */
int mounts_enter_root(const char *rootfs, bool no_pivot, skiff_error_t **err);

/* After pivot_root: masked paths, read-only paths, a read-only root. */
int mounts_finalize(const struct spec *spec, skiff_error_t **err);

/* Bind the pty slave onto /dev/console (after pivot_root). */
int mounts_bind_console(int slave, skiff_error_t **err);

#endif
