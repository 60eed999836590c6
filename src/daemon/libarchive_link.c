/* skiffd links libarchive statically, so that only the tar and filter code
 * it uses comes along. One internal helper stands in the way: the pax
 * writer reports unsupported file types through
 * __archive_write_entry_filetype_unsupported, which lives in the object
 * that registers every write format, and that object would bring the xar
 * writer, and with it libxml2, ICU and libstdc++ (2 MB of skiffd's RSS).
 * Defining the helper here keeps that object out. Our writers only ever
 * hand the pax writer regular files, directories, symlinks, hard links,
 * devices and fifos, all of which pax supports, so this never runs in
 * practice; it reports the same error if it does. If libarchive ever moves
 * the helper, the link fails with a duplicate definition: delete this file. */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>

void __archive_write_entry_filetype_unsupported(struct archive *a,
                                                struct archive_entry *entry,
                                                const char *format);

void __archive_write_entry_filetype_unsupported(struct archive *a,
                                                struct archive_entry *entry,
                                                const char *format)
{
  archive_set_error(a, EILSEQ, "%s: %s format cannot archive this (type=0%lo)",
                    archive_entry_pathname(entry), format,
                    (unsigned long)archive_entry_filetype(entry));
}
