/* skiff cp's local archive work (cp_tar.c), shared with cp.c. */
#ifndef SKIFF_CLI_CP_H
#define SKIFF_CLI_CP_H

#include "common/error.h"

/* Up to two renames of the leading component of every entry name, applied
 * in order (docker's TarResourceRebase, then RebaseArchiveEntries); a NULL
 * old is no rename. */
struct cp_rebase {
  const char *old[2];
  const char *new[2];
};

/* Write a tar of the local path (clean; "dir/." for a directory's
 * contents) to out_fd, its entries named base, base/child... then rebased;
 * *bytes counts what was written. */
int cp_tar_local(const char *path, const char *base, const struct cp_rebase *r,
                 int out_fd, long long *bytes, skiff_error_t **err);

/* Unpack the tar read from in_fd into the existing directory dest with
 * docker's checks (no name, symlink or hard link leaving dest; a directory
 * and a non-directory never replace each other), rebasing names first.
 * Files are owned by the caller. */
int cp_untar_local(int in_fd, const char *dest, const struct cp_rebase *r,
                   skiff_error_t **err);

#endif
