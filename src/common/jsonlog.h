/* Docker's json-file log driver format: one JSON object per line,
 * {"log":"text\n","stream":"stdout","time":"2024-01-02T03:04:05.123456789Z"},
 * with max-size/max-file rotation (log, log.1, log.2, ...). skiff-shim
 * writes it; skiffd reads it for `logs`. */
#ifndef SKIFF_COMMON_JSONLOG_H
#define SKIFF_COMMON_JSONLOG_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

struct jsonlog_writer;

/* Open path for appending. max_size 0: no rotation; max_files >= 1. */
struct jsonlog_writer *jsonlog_open(const char *path, uint64_t max_size,
                                    unsigned max_files, skiff_error_t **err);
void jsonlog_close(struct jsonlog_writer *w);

/* Append len bytes of a stream's output, one entry per line (a partial
 * last line is held until its newline or jsonlog_flush). stream is
 * "stdout" or "stderr". */
int jsonlog_write(struct jsonlog_writer *w, const char *stream, const char *data,
                  size_t len, skiff_error_t **err);

/* Write out held partial lines (at exit). */
int jsonlog_flush(struct jsonlog_writer *w, skiff_error_t **err);

/* Parse one line: the text (a new string), stream and time in ns since the
 * epoch. Returns -1 for a line that is not an entry. */
int jsonlog_parse_line(const char *line, char **text, char *stream, size_t stream_len,
                       int64_t *time_ns);

/* "2006-01-02T15:04:05.999999999Z" of ns since the epoch, into buf (>= 40). */
void jsonlog_format_time(int64_t ns, char *buf, size_t len);

/* ns since the epoch of an RFC 3339 time; -1 when malformed. */
int64_t jsonlog_parse_time(const char *text);

#endif
