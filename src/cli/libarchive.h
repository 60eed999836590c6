/* libarchive for skiff cp, loaded the first time cp needs it: linked into
 * the CLI, libarchive and what it pulls in (libxml2, ICU, libstdc++ for
 * formats we never use) cost 4 ms at every start of every command. (skiffd
 * links it statically instead: src/daemon/libarchive_link.c.) Call
 * libarchive_load first, then the functions through the table:
 * libarchive.archive_read_new(). */
#ifndef SKIFF_CLI_LIBARCHIVE_H
#define SKIFF_CLI_LIBARCHIVE_H

#include <archive.h>
#include <archive_entry.h>

#include "common/error.h"

/* Every function skiff uses; add one here before using it. */
#define LIBARCHIVE_FUNCTIONS(X)                                                        \
  X(archive_entry_atime)                                                               \
  X(archive_entry_atime_is_set)                                                        \
  X(archive_entry_atime_nsec)                                                          \
  X(archive_entry_copy_hardlink)                                                       \
  X(archive_entry_copy_pathname)                                                       \
  X(archive_entry_copy_sourcepath)                                                     \
  X(archive_entry_copy_stat)                                                           \
  X(archive_entry_filetype)                                                            \
  X(archive_entry_free)                                                                \
  X(archive_entry_gid)                                                                 \
  X(archive_entry_hardlink)                                                            \
  X(archive_entry_linkify)                                                             \
  X(archive_entry_linkresolver_free)                                                   \
  X(archive_entry_linkresolver_new)                                                    \
  X(archive_entry_linkresolver_set_strategy)                                           \
  X(archive_entry_mtime)                                                               \
  X(archive_entry_mtime_nsec)                                                          \
  X(archive_entry_new)                                                                 \
  X(archive_entry_pathname)                                                            \
  X(archive_entry_perm)                                                                \
  X(archive_entry_rdev)                                                                \
  X(archive_entry_set_filetype)                                                        \
  X(archive_entry_set_gid)                                                             \
  X(archive_entry_set_hardlink)                                                        \
  X(archive_entry_set_mtime)                                                           \
  X(archive_entry_set_pathname)                                                        \
  X(archive_entry_set_perm)                                                            \
  X(archive_entry_set_size)                                                            \
  X(archive_entry_set_symlink)                                                         \
  X(archive_entry_set_uid)                                                             \
  X(archive_entry_size)                                                                \
  X(archive_entry_symlink)                                                             \
  X(archive_entry_uid)                                                                 \
  X(archive_entry_unset_atime)                                                         \
  X(archive_entry_unset_birthtime)                                                     \
  X(archive_entry_unset_ctime)                                                         \
  X(archive_entry_xattr_add_entry)                                                     \
  X(archive_entry_xattr_next)                                                          \
  X(archive_entry_xattr_reset)                                                         \
  X(archive_errno)                                                                     \
  X(archive_error_string)                                                              \
  X(archive_read_data)                                                                 \
  X(archive_read_data_block)                                                           \
  X(archive_read_data_skip)                                                            \
  X(archive_read_disk_descend)                                                         \
  X(archive_read_disk_new)                                                             \
  X(archive_read_disk_open)                                                            \
  X(archive_read_disk_set_behavior)                                                    \
  X(archive_read_disk_set_symlink_physical)                                            \
  X(archive_read_free)                                                                 \
  X(archive_read_new)                                                                  \
  X(archive_read_next_header)                                                          \
  X(archive_read_next_header2)                                                         \
  X(archive_read_open)                                                                 \
  X(archive_read_open_fd)                                                              \
  X(archive_read_support_filter_all)                                                   \
  X(archive_read_support_format_raw)                                                   \
  X(archive_read_support_format_tar)                                                   \
  X(archive_set_error)                                                                 \
  X(archive_write_close)                                                               \
  X(archive_write_data)                                                                \
  X(archive_write_data_block)                                                          \
  X(archive_write_disk_new)                                                            \
  X(archive_write_disk_set_options)                                                    \
  X(archive_write_finish_entry)                                                        \
  X(archive_write_free)                                                                \
  X(archive_write_header)                                                              \
  X(archive_write_new)                                                                 \
  X(archive_write_open)                                                                \
  X(archive_write_open_fd)                                                             \
  X(archive_write_set_bytes_in_last_block)                                             \
  X(archive_write_set_format_pax_restricted)

struct libarchive_table {
#define LIBARCHIVE_POINTER(f) __typeof__(f) *f;
  LIBARCHIVE_FUNCTIONS(LIBARCHIVE_POINTER)
#undef LIBARCHIVE_POINTER
};

extern struct libarchive_table libarchive;

/* Load it once (thread-safe). Returns -1 with *err when it is missing. */
int libarchive_load(skiff_error_t **err);

#endif
