/*
 * common/snapshot.h — the machine state file: a writer and a checking reader.
 *
 * A state file holds a whole machine at an instruction boundary (what
 * `--save-state` writes and `-incoming file:PATH` reads). Its layout is
 * this module's, never a C structure's: every field is written explicitly,
 * little-endian, so a struct may change without changing the file.
 *
 *   header   "POPEKSNP"  u32 format version (SNAP_FORMAT_VERSION)
 *            u8 n, n bytes: the popek version that wrote it
 *   section  u8 n (1..SNAP_NAME_MAX), n bytes of name ("pit8254", "cpu")
 *            u32 instance (0, 1... for devices that exist more than once)
 *            u32 section version (the owner's own, bumped when its fields change)
 *            u64 payload length, payload, u32 checksum of the payload
 *            (the low half of its XXH3-64)
 *   ...
 *   end      u8 0, and nothing after it
 *
 * The reader loads the file, checks the header, every length against what
 * is left, every checksum and that no section appears twice before anyone
 * reads a field, so a truncated or corrupted file is refused with one
 * message naming the file (and the section) and never read out of bounds.
 * Owners then open their section by name, instance and version and read
 * fields through a cursor that stops at the section's end (reads past it
 * return 0 and mark the section bad); snap_close says whether the owner
 * read it exactly and found it sound. A section nobody asked for is an
 * error too (snap_reader_finish): a file from another machine
 * configuration is refused rather than half loaded — QEMU does the same
 * with an unknown section.
 *
 *     struct snap_writer *w = snap_writer_create(path, err);
 *     snap_begin(w, "pit8254", 0, PIT8254_STATE_VERSION);
 *     pit8254_save(pit, w);                     // snap_put_u32(w, ...) ...
 *     snap_end(w);
 *     ok = snap_writer_commit(w, err);          // written whole, or not at all
 *
 *     struct snap_reader *r = snap_reader_open(path, err);
 *     struct snap_section s;
 *     ok = snap_open(r, "pit8254", 0, PIT8254_STATE_VERSION, &s, err) &&
 *          pit8254_load(pit, &s) && snap_close(&s, err);
 *     ok = ok && snap_reader_finish(r, err);
 *     snap_reader_close(r);
 *
 * Time: host CLOCK_MONOTONIC differs between processes, so clock readings
 * are saved relative to the clock at save time (snap_put_time) and rebased
 * on the clock at load time (snap_get_time): the machine's time stands
 * still while it is in the file, as a migrated QEMU guest's does.
 */
#ifndef POPEK_COMMON_SNAPSHOT_H
#define POPEK_COMMON_SNAPSHOT_H

#include <stdio.h>

#include "common/error.h"
#include "common/types.h"

#define SNAP_MAGIC          "POPEKSNP"
#define SNAP_MAGIC_BYTES    8
#define SNAP_FORMAT_VERSION 1u
#define SNAP_NAME_MAX       31
#define SNAP_MAX_SECTIONS   1024

/* ---- writing ---- */

struct snap_writer;

/* Starts a state file for path. It is written to path + ".tmp" and renamed
 * over path by snap_writer_commit, so a failed save never leaves a
 * half-written file under the name. */
struct snap_writer *snap_writer_create(const char *path, struct popek_error *err);

/* Writes to an open seekable stream the caller owns (tests: tmpfile()). */
struct snap_writer *snap_writer_create_stream(FILE *stream, struct popek_error *err);

/* Sections do not nest; name is at most SNAP_NAME_MAX bytes. */
void snap_begin(struct snap_writer *w, const char *name, uint32_t instance, uint32_t version);
void snap_end(struct snap_writer *w);

void snap_put_u8(struct snap_writer *w, uint8_t v);
void snap_put_bool(struct snap_writer *w, bool v);
void snap_put_u16(struct snap_writer *w, uint16_t v);
void snap_put_u32(struct snap_writer *w, uint32_t v);
void snap_put_u64(struct snap_writer *w, uint64_t v);
void snap_put_i64(struct snap_writer *w, int64_t v);
void snap_put_bytes(struct snap_writer *w, const void *bytes, size_t n);
/* A string of at most 65535 bytes: u16 length, bytes. */
void snap_put_string(struct snap_writer *w, const char *s);
/* A clock reading t (same clock as now), saved as the signed distance
 * t - now; UINT64_MAX ("never") is kept as such. */
void snap_put_time(struct snap_writer *w, uint64_t t, uint64_t now);

/* Ends the file and, for a path writer, makes it appear under its name.
 * False (err naming the file) when anything failed on the way. Frees w. */
bool snap_writer_commit(struct snap_writer *w, struct popek_error *err);

/* Drops an unfinished file. Frees w. */
void snap_writer_abandon(struct snap_writer *w);

/* Checks before a long run that a state file can be written at path (its
 * directory takes new files; an existing file is writable). */
bool snap_check_writable(const char *path, struct popek_error *err);

/* ---- reading ---- */

struct snap_reader;

struct snap_reader *snap_reader_open(const char *path, struct popek_error *err);

/* Reads a file image in memory (copied); name stands for the path in
 * messages. */
struct snap_reader *snap_reader_from_buffer(const char *name, const uint8_t *data, size_t size,
                                            struct popek_error *err);
void snap_reader_close(struct snap_reader *r);

/* The popek version that wrote the file. */
const char *snap_reader_writer_version(const struct snap_reader *r);

/* A section being read: a cursor over its payload. */
struct snap_section {
    const struct snap_reader *reader;
    const char *name;
    uint32_t instance;
    const uint8_t *data;
    size_t size, pos;
    bool bad;
    bool mismatch; /* the problem is the machine's configuration, not the file */
    char why[256]; /* the first problem the owner found */
};

/* Opens a section; false (err naming the file and section) when the file
 * has none of that name and instance, or a version other than version. */
bool snap_open(struct snap_reader *r, const char *name, uint32_t instance, uint32_t version,
               struct snap_section *s, struct popek_error *err);

/* True when the file holds the section (any version). */
bool snap_has_section(const struct snap_reader *r, const char *name, uint32_t instance);

uint8_t snap_get_u8(struct snap_section *s);
bool snap_get_bool(struct snap_section *s); /* anything but 0 or 1 marks the section bad */
uint16_t snap_get_u16(struct snap_section *s);
uint32_t snap_get_u32(struct snap_section *s);
uint64_t snap_get_u64(struct snap_section *s);
int64_t snap_get_i64(struct snap_section *s);
void snap_get_bytes(struct snap_section *s, void *out, size_t n);
/* n bytes in place, or NULL (and the section bad) when fewer are left. */
const uint8_t *snap_get_span(struct snap_section *s, size_t n);
/* A string written by snap_put_string into out (size bytes with the NUL);
 * too long marks the section bad. */
void snap_get_string(struct snap_section *s, char *out, size_t size);
/* The inverse of snap_put_time, against the clock now, for a deadline: a
 * time before the clock's zero becomes 0 (long past). */
uint64_t snap_get_time(struct snap_section *s, uint64_t now);
/* The inverse of snap_put_time for an origin that times are measured from
 * (now - origin, origin + k): now + the saved distance, wrapping around
 * below the clock's zero, so the distances stay right however long before
 * the load clock's zero the origin was. Its users compare times only as
 * distances ((int64_t)(a - b) < 0), never a < b. Not for UINT64_MAX. */
uint64_t snap_get_origin(struct snap_section *s, uint64_t now);

/* The owner's validation: when ok is false the section is marked bad with
 * what (the first reason is kept), reported as a corrupt file. Returns ok. */
bool snap_check(struct snap_section *s, bool ok, const char *what);

/* Likewise for a sound file saved from another machine configuration (a
 * different disk): what is reported as it is. */
bool snap_check_config(struct snap_section *s, bool ok, const char *what);

/* Ends reading: false (err: "state file 'P', section 'S': ...") when the
 * section was marked bad, read past its end, or not read to its end. */
bool snap_close(struct snap_section *s, struct popek_error *err);

/* A problem a section's owner found that snap_check cannot express: fails
 * err with the file and section named before fmt's message. */
bool snap_fail(const struct snap_section *s, struct popek_error *err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The i-th section in file order, for tools (a state-file fuzzer); false
 * past the last. */
struct snap_section_info {
    const char *name;
    uint32_t instance, version;
    const uint8_t *data;
    size_t size;
};
bool snap_reader_section_info(const struct snap_reader *r, unsigned i,
                              struct snap_section_info *out);

/* False (err naming the first one) when the file holds a section nobody
 * opened. */
bool snap_reader_finish(const struct snap_reader *r, struct popek_error *err);

#endif
