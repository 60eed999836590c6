/* libarchive for skiff cp, loaded the first time cp needs it: linked into
 * the CLI, libarchive and what it pulls in (libxml2, ICU, libstdc++ for
 * formats we never use) cost 4 ms at every start of every command. Use the
 * functions through cp_libarchive (cp_libarchive.archive_read_new(...)). */
#ifndef SKIFF_CLI_CP_LIBARCHIVE_H
#define SKIFF_CLI_CP_LIBARCHIVE_H

#include <archive.h>
#include <archive_entry.h>

#include "common/error.h"

#define CP_LIBARCHIVE_FUNCTIONS(X) \
  X(archive_entry_copy_hardlink) \
  X(archive_entry_copy_pathname) \
  X(archive_entry_copy_sourcepath) \
  X(archive_entry_filetype) \
  X(archive_entry_free) \
  X(archive_entry_hardlink) \
  X(archive_entry_linkify) \
  X(archive_entry_linkresolver_free) \
  X(archive_entry_linkresolver_new) \
  X(archive_entry_linkresolver_set_strategy) \
  X(archive_entry_mtime) \
  X(archive_entry_new) \
  X(archive_entry_pathname) \
  X(archive_entry_set_mtime) \
  X(archive_entry_size) \
  X(archive_entry_symlink) \
  X(archive_entry_unset_atime) \
  X(archive_entry_unset_birthtime) \
  X(archive_entry_unset_ctime) \
  X(archive_errno) \
  X(archive_error_string) \
  X(archive_read_data_block) \
  X(archive_read_disk_descend) \
  X(archive_read_disk_new) \
  X(archive_read_disk_open) \
  X(archive_read_disk_set_behavior) \
  X(archive_read_disk_set_symlink_physical) \
  X(archive_read_free) \
  X(archive_read_new) \
  X(archive_read_next_header) \
  X(archive_read_next_header2) \
  X(archive_read_open_fd) \
  X(archive_read_support_filter_all) \
  X(archive_read_support_format_tar) \
  X(archive_set_error) \
  X(archive_write_close) \
  X(archive_write_data) \
  X(archive_write_data_block) \
  X(archive_write_disk_new) \
  X(archive_write_disk_set_options) \
  X(archive_write_finish_entry) \
  X(archive_write_free) \
  X(archive_write_header) \
  X(archive_write_new) \
  X(archive_write_open) \
  X(archive_write_set_bytes_in_last_block) \
  X(archive_write_set_format_pax_restricted)

struct cp_libarchive {
#define CP_LIBARCHIVE_POINTER(f) __typeof__(f) *f;
  CP_LIBARCHIVE_FUNCTIONS(CP_LIBARCHIVE_POINTER)
#undef CP_LIBARCHIVE_POINTER
};

extern struct cp_libarchive cp_libarchive;

/* Load it (once). Returns -1 with *err when it is missing. */
int cp_libarchive_load(skiff_error_t **err);

#endif
