/*
 * common/snapshot.c — the state file (snapshot.h).
 *
 * The writer streams: a section's header goes out with a zero length that
 * snap_end patches once the payload is written (guest RAM is the bulk of a
 * file and is never buffered whole). The reader takes the whole file into
 * memory and indexes and checks every section before handing any out.
 */
#include "common/snapshot.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <xxhash.h>

#include "common/bytes.h"
#include "common/file.h"

/* The largest file the reader takes: RAM (at most 3 GiB) plus devices. */
#define SNAP_MAX_FILE_BYTES (GIB(3) + MIB(64))

/* A section's checksum: the low half of the XXH3-64 of its payload. */
static uint32_t payload_checksum(const void *p, size_t n)
{
    return (uint32_t)XXH3_64bits(p, n);
}

/* ---- writing ---- */

struct snap_writer {
    FILE *f;
    bool own_file;         /* a path writer: f is ours, renamed at commit */
    char *path, *tmp_path; /* path writers only */
    bool failed;
    int error; /* errno of the first failure */
    bool in_section;
    long length_at; /* where the open section's payload length goes */
    uint64_t length;
    XXH3_state_t *hash; /* of the open section's payload */
};

static void writer_raw(struct snap_writer *w, const void *p, size_t n)
{
    if (w->failed || n == 0)
        return;
    if (fwrite(p, 1, n, w->f) != n) {
        w->failed = true;
        w->error = errno ? errno : EIO;
    }
}

static bool writer_start(struct snap_writer *w)
{
    if (!(w->hash = XXH3_createState())) {
        w->failed = true;
        w->error = ENOMEM;
        return false;
    }
    uint8_t head[SNAP_MAGIC_BYTES + 4 + 1];
    size_t vlen = strlen(POPEK_VERSION);

    memcpy(head, SNAP_MAGIC, SNAP_MAGIC_BYTES);
    store_le32(head + SNAP_MAGIC_BYTES, SNAP_FORMAT_VERSION);
    head[SNAP_MAGIC_BYTES + 4] = (uint8_t)(vlen > 255 ? 255 : vlen);
    writer_raw(w, head, sizeof(head));
    writer_raw(w, POPEK_VERSION, head[SNAP_MAGIC_BYTES + 4]);
    return !w->failed;
}

static void writer_free(struct snap_writer *w)
{
    XXH3_freeState(w->hash);
    free(w->tmp_path);
    free(w->path);
    free(w);
}

struct snap_writer *snap_writer_create_stream(FILE *stream, struct popek_error *err)
{
    struct snap_writer *w = calloc(1, sizeof(*w));

    if (!w) {
        popek_fail(err, "out of memory");
        return NULL;
    }
    w->f = stream;
    if (!writer_start(w)) {
        popek_fail(err, "cannot write the state file: %s", strerror(w->error));
        writer_free(w);
        return NULL;
    }
    return w;
}

static char *tmp_name_of(const char *path)
{
    size_t n = strlen(path);
    char *tmp = malloc(n + 5);

    if (tmp) {
        memcpy(tmp, path, n);
        memcpy(tmp + n, ".tmp", 5);
    }
    return tmp;
}

struct snap_writer *snap_writer_create(const char *path, struct popek_error *err)
{
    struct snap_writer *w = calloc(1, sizeof(*w));

    if (!w || !(w->path = strdup(path)) || !(w->tmp_path = tmp_name_of(path))) {
        if (w)
            writer_free(w);
        popek_fail(err, "out of memory");
        return NULL;
    }
    w->own_file = true;
    w->f = fopen(w->tmp_path, "wbe");
    if (!w->f) {
        popek_fail(err, "cannot write state file '%s': %s", w->tmp_path, strerror(errno));
        writer_free(w);
        return NULL;
    }
    if (!writer_start(w)) {
        popek_fail(err, "cannot write state file '%s': %s", w->tmp_path, strerror(w->error));
        snap_writer_abandon(w);
        return NULL;
    }
    return w;
}

bool snap_check_writable(const char *path, struct popek_error *err)
{
    char *tmp = tmp_name_of(path);
    FILE *f;

    if (!tmp)
        return popek_fail(err, "out of memory");
    if (access(path, F_OK) == 0 && access(path, W_OK) != 0) {
        popek_fail(err, "cannot write state file '%s': %s", path, strerror(errno));
        free(tmp);
        return false;
    }
    f = fopen(tmp, "wbe");
    if (!f) {
        popek_fail(err, "cannot write state file '%s': %s", path, strerror(errno));
        free(tmp);
        return false;
    }
    fclose(f);
    unlink(tmp);
    free(tmp);
    return true;
}

void snap_begin(struct snap_writer *w, const char *name, uint32_t instance, uint32_t version)
{
    size_t n = strlen(name);
    uint8_t head[4 + 4 + 8];

    if (w->failed)
        return;
    if (w->in_section || n == 0 || n > SNAP_NAME_MAX) {
        w->failed = true; /* a popek bug: reported as a write failure */
        w->error = EINVAL;
        return;
    }
    uint8_t len = (uint8_t)n;
    writer_raw(w, &len, 1);
    writer_raw(w, name, n);
    store_le32(head, instance);
    store_le32(head + 4, version);
    store_le64(head + 8, 0);
    w->length_at = ftell(w->f) + 8;
    writer_raw(w, head, sizeof(head));
    w->in_section = true;
    w->length = 0;
    if (XXH3_64bits_reset(w->hash) != XXH_OK) {
        w->failed = true;
        w->error = ENOMEM;
    }
}

static void writer_payload(struct snap_writer *w, const void *p, size_t n)
{
    if (!w->in_section) {
        w->failed = true;
        w->error = EINVAL;
        return;
    }
    writer_raw(w, p, n);
    XXH3_64bits_update(w->hash, p, n);
    w->length += n;
}

void snap_end(struct snap_writer *w)
{
    uint8_t buf[8];

    if (w->failed)
        return;
    if (!w->in_section) {
        w->failed = true;
        w->error = EINVAL;
        return;
    }
    w->in_section = false;
    store_le32(buf, (uint32_t)XXH3_64bits_digest(w->hash));
    writer_raw(w, buf, 4);
    long end = ftell(w->f);
    store_le64(buf, w->length);
    if (end < 0 || fseek(w->f, w->length_at, SEEK_SET) != 0) {
        w->failed = true;
        w->error = errno ? errno : EIO;
        return;
    }
    writer_raw(w, buf, 8);
    if (fseek(w->f, end, SEEK_SET) != 0 && !w->failed) {
        w->failed = true;
        w->error = errno ? errno : EIO;
    }
}

void snap_put_u8(struct snap_writer *w, uint8_t v)
{
    writer_payload(w, &v, 1);
}

void snap_put_bool(struct snap_writer *w, bool v)
{
    snap_put_u8(w, v ? 1 : 0);
}

void snap_put_u16(struct snap_writer *w, uint16_t v)
{
    uint8_t b[2];

    store_le16(b, v);
    writer_payload(w, b, sizeof(b));
}

void snap_put_u32(struct snap_writer *w, uint32_t v)
{
    uint8_t b[4];

    store_le32(b, v);
    writer_payload(w, b, sizeof(b));
}

void snap_put_u64(struct snap_writer *w, uint64_t v)
{
    uint8_t b[8];

    store_le64(b, v);
    writer_payload(w, b, sizeof(b));
}

void snap_put_i64(struct snap_writer *w, int64_t v)
{
    snap_put_u64(w, (uint64_t)v);
}

void snap_put_bytes(struct snap_writer *w, const void *bytes, size_t n)
{
    writer_payload(w, bytes, n);
}

void snap_put_string(struct snap_writer *w, const char *s)
{
    size_t n = strlen(s);

    if (n > 0xFFFF)
        n = 0xFFFF;
    snap_put_u16(w, (uint16_t)n);
    snap_put_bytes(w, s, n);
}

/* "Never" travels as INT64_MAX: no real distance comes near it. */
void snap_put_time(struct snap_writer *w, uint64_t t, uint64_t now)
{
    snap_put_i64(w, t == UINT64_MAX ? INT64_MAX : (int64_t)(t - now));
}

bool snap_writer_commit(struct snap_writer *w, struct popek_error *err)
{
    uint8_t end = 0;
    const char *shown = w->own_file ? w->path : "(stream)";
    bool ok;

    if (w->in_section && !w->failed) {
        w->failed = true;
        w->error = EINVAL;
    }
    writer_raw(w, &end, 1);
    if (!w->failed && fflush(w->f) != 0) {
        w->failed = true;
        w->error = errno;
    }
    if (w->own_file && !w->failed && fsync(fileno(w->f)) != 0) {
        w->failed = true;
        w->error = errno;
    }
    if (w->own_file) {
        if (fclose(w->f) != 0 && !w->failed) {
            w->failed = true;
            w->error = errno;
        }
        w->f = NULL;
        if (!w->failed && rename(w->tmp_path, w->path) != 0) {
            w->failed = true;
            w->error = errno;
        }
        if (w->failed)
            unlink(w->tmp_path);
    }
    ok = !w->failed;
    if (!ok)
        popek_fail(err, "cannot write state file '%s': %s", shown, strerror(w->error));
    writer_free(w);
    return ok;
}

void snap_writer_abandon(struct snap_writer *w)
{
    if (!w)
        return;
    if (w->own_file) {
        if (w->f)
            fclose(w->f);
        unlink(w->tmp_path);
    }
    writer_free(w);
}

/* ---- reading ---- */

struct snap_entry {
    char name[SNAP_NAME_MAX + 1];
    uint32_t instance, version;
    const uint8_t *payload;
    size_t size;
    bool opened;
};

struct snap_reader {
    char *path;
    uint8_t *data;
    size_t size;
    char writer_version[256];
    struct snap_entry *entries;
    unsigned count;
};

const char *snap_reader_writer_version(const struct snap_reader *r)
{
    return r->writer_version;
}

/* Section names are printed: instance 0 as the bare name, others "name#n". */
static void section_label(char *out, size_t size, const char *name, uint32_t instance)
{
    if (instance)
        snprintf(out, size, "%s#%u", name, instance);
    else
        snprintf(out, size, "%s", name);
}

static bool name_is_printable(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (p[i] < 0x21 || p[i] > 0x7E)
            return false;
    }
    return true;
}

/* The section indexed under (name, instance), or NULL. */
static struct snap_entry *find_entry(const struct snap_reader *r, const char *name,
                                     uint32_t instance)
{
    for (unsigned i = 0; i < r->count; i++) {
        if (!strcmp(r->entries[i].name, name) && r->entries[i].instance == instance)
            return &r->entries[i];
    }
    return NULL;
}

/* Checks the header and indexes every section (lengths, checksums,
 * duplicates) before anything is read from one. */
static bool reader_index(struct snap_reader *r, struct popek_error *err)
{
    const uint8_t *p = r->data;
    size_t left = r->size, at;
    unsigned capacity = 0;

    if (left < SNAP_MAGIC_BYTES || memcmp(p, SNAP_MAGIC, SNAP_MAGIC_BYTES) != 0)
        return popek_fail(err, "state file '%s' is not a popek state file", r->path);
    if (left < SNAP_MAGIC_BYTES + 5)
        return popek_fail(err, "state file '%s' is truncated (in its header)", r->path);
    uint32_t format = load_le32(p + SNAP_MAGIC_BYTES);
    if (format != SNAP_FORMAT_VERSION)
        return popek_fail(err, "state file '%s' has format version %u; this popek reads version %u",
                          r->path, format, SNAP_FORMAT_VERSION);
    size_t vlen = p[SNAP_MAGIC_BYTES + 4];
    at = SNAP_MAGIC_BYTES + 5;
    if (left - at < vlen)
        return popek_fail(err, "state file '%s' is truncated (in its header)", r->path);
    memcpy(r->writer_version, p + at, vlen);
    r->writer_version[vlen] = '\0';
    if (!name_is_printable(p + at, vlen))
        return popek_fail(err, "state file '%s' is corrupt (its header)", r->path);
    at += vlen;

    for (;;) {
        char label[SNAP_NAME_MAX + 16];
        if (at >= left)
            return popek_fail(err, "state file '%s' is truncated (after %u sections)", r->path,
                              r->count);
        size_t n = p[at++];
        if (n == 0)
            break;
        if (n > SNAP_NAME_MAX || left - at < n || !name_is_printable(p + at, n))
            return popek_fail(err, "state file '%s' is %s after section %u", r->path,
                              left - at < n ? "truncated" : "corrupt", r->count);
        struct snap_entry e = {0};
        memcpy(e.name, p + at, n);
        e.name[n] = '\0';
        at += n;
        if (left - at < 16)
            return popek_fail(err, "state file '%s' is truncated (in the header of section '%s')",
                              r->path, e.name);
        e.instance = load_le32(p + at);
        e.version = load_le32(p + at + 4);
        uint64_t size = load_le64(p + at + 8);
        at += 16;
        section_label(label, sizeof(label), e.name, e.instance);
        if (size > left - at || left - at - size < 4)
            return popek_fail(err, "state file '%s' is truncated (in section '%s')", r->path,
                              label);
        e.payload = p + at;
        e.size = (size_t)size;
        at += e.size;
        if (payload_checksum(e.payload, e.size) != load_le32(p + at))
            return popek_fail(err, "state file '%s' is corrupt (section '%s' fails its checksum)",
                              r->path, label);
        at += 4;
        if (find_entry(r, e.name, e.instance))
            return popek_fail(err, "state file '%s' is corrupt (section '%s' appears twice)",
                              r->path, label);
        if (r->count == SNAP_MAX_SECTIONS)
            return popek_fail(err, "state file '%s' is corrupt (more than %u sections)", r->path,
                              SNAP_MAX_SECTIONS);
        if (r->count == capacity) {
            unsigned grown = capacity ? capacity * 2 : 32;
            struct snap_entry *more = realloc(r->entries, grown * sizeof(*more));
            if (!more)
                return popek_fail(err, "out of memory reading state file '%s'", r->path);
            r->entries = more;
            capacity = grown;
        }
        r->entries[r->count++] = e;
    }
    if (at != left)
        return popek_fail(err, "state file '%s' is corrupt (%zu bytes after its end)", r->path,
                          left - at);
    return true;
}

static struct snap_reader *reader_new(const char *path, struct popek_error *err)
{
    struct snap_reader *r = calloc(1, sizeof(*r));

    if (!r || !(r->path = strdup(path))) {
        free(r);
        popek_fail(err, "out of memory");
        return NULL;
    }
    return r;
}

struct snap_reader *snap_reader_open(const char *path, struct popek_error *err)
{
    struct snap_reader *r = reader_new(path, err);

    if (!r)
        return NULL;
    if (!file_read_all(path, "state file", SNAP_MAX_FILE_BYTES, &r->data, &r->size, err) ||
        !reader_index(r, err)) {
        snap_reader_close(r);
        return NULL;
    }
    return r;
}

struct snap_reader *snap_reader_from_buffer(const char *name, const uint8_t *data, size_t size,
                                            struct popek_error *err)
{
    struct snap_reader *r = reader_new(name, err);

    if (!r)
        return NULL;
    r->data = malloc(size ? size : 1);
    if (!r->data) {
        popek_fail(err, "out of memory");
        snap_reader_close(r);
        return NULL;
    }
    memcpy(r->data, data, size);
    r->size = size;
    if (!reader_index(r, err)) {
        snap_reader_close(r);
        return NULL;
    }
    return r;
}

void snap_reader_close(struct snap_reader *r)
{
    if (!r)
        return;
    free(r->entries);
    free(r->data);
    free(r->path);
    free(r);
}

bool snap_has_section(const struct snap_reader *r, const char *name, uint32_t instance)
{
    return find_entry(r, name, instance) != NULL;
}

bool snap_open(struct snap_reader *r, const char *name, uint32_t instance, uint32_t version,
               struct snap_section *s, struct popek_error *err)
{
    struct snap_entry *e = find_entry(r, name, instance);
    char label[SNAP_NAME_MAX + 16];

    section_label(label, sizeof(label), name, instance);
    memset(s, 0, sizeof(*s));
    if (!e)
        return popek_fail(err, "state file '%s' has no section '%s' (written by popek %s)", r->path,
                          label, r->writer_version);
    if (e->version != version)
        return popek_fail(err,
                          "state file '%s': section '%s' has version %u; this popek reads "
                          "version %u",
                          r->path, label, e->version, version);
    e->opened = true;
    s->reader = r;
    s->name = e->name;
    s->instance = instance;
    s->data = e->payload;
    s->size = e->size;
    return true;
}

bool snap_check(struct snap_section *s, bool ok, const char *what)
{
    if (!ok && !s->bad) {
        s->bad = true;
        snprintf(s->why, sizeof(s->why), "%s", what);
    }
    return ok;
}

bool snap_check_config(struct snap_section *s, bool ok, const char *what)
{
    if (!ok && !s->bad)
        s->mismatch = true;
    return snap_check(s, ok, what);
}

const uint8_t *snap_get_span(struct snap_section *s, size_t n)
{
    if (s->bad || n > s->size - s->pos) {
        snap_check(s, false, "it ends early");
        return NULL;
    }
    const uint8_t *p = s->data + s->pos;
    s->pos += n;
    return p;
}

uint8_t snap_get_u8(struct snap_section *s)
{
    const uint8_t *p = snap_get_span(s, 1);

    return p ? p[0] : 0;
}

bool snap_get_bool(struct snap_section *s)
{
    uint8_t v = snap_get_u8(s);

    snap_check(s, v <= 1, "a flag that is neither 0 nor 1");
    return v == 1;
}

uint16_t snap_get_u16(struct snap_section *s)
{
    const uint8_t *p = snap_get_span(s, 2);

    return p ? load_le16(p) : 0;
}

uint32_t snap_get_u32(struct snap_section *s)
{
    const uint8_t *p = snap_get_span(s, 4);

    return p ? load_le32(p) : 0;
}

uint64_t snap_get_u64(struct snap_section *s)
{
    const uint8_t *p = snap_get_span(s, 8);

    return p ? load_le64(p) : 0;
}

int64_t snap_get_i64(struct snap_section *s)
{
    return (int64_t)snap_get_u64(s);
}

void snap_get_bytes(struct snap_section *s, void *out, size_t n)
{
    const uint8_t *p = snap_get_span(s, n);

    if (p)
        memcpy(out, p, n);
    else
        memset(out, 0, n);
}

void snap_get_string(struct snap_section *s, char *out, size_t size)
{
    uint16_t n = snap_get_u16(s);

    out[0] = '\0';
    if (!snap_check(s, n < size, "a string too long"))
        return;
    snap_get_bytes(s, out, n);
    out[n] = '\0';
    snap_check(s, strlen(out) == n, "a string with a NUL byte");
}

uint64_t snap_get_time(struct snap_section *s, uint64_t now)
{
    int64_t delta = snap_get_i64(s);

    if (delta == INT64_MAX)
        return UINT64_MAX;
    /* A time before the clock's zero (now + delta < 0) cannot be
     * expressed; as a deadline it is long past, so it becomes 0. (A start
     * point measured from is not: see snap_get_origin.) */
    if (delta < 0 && (uint64_t) - (delta + 1) >= now)
        return 0;
    return now + (uint64_t)delta;
}

uint64_t snap_get_origin(struct snap_section *s, uint64_t now)
{
    return now + (uint64_t)snap_get_i64(s);
}

bool snap_fail(const struct snap_section *s, struct popek_error *err, const char *fmt, ...)
{
    char label[SNAP_NAME_MAX + 16], message[384];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(message, sizeof(message), fmt, ap);
    va_end(ap);
    section_label(label, sizeof(label), s->name ? s->name : "?", s->instance);
    return popek_fail(err, "state file '%s', section '%s': %s", s->reader ? s->reader->path : "?",
                      label, message);
}

bool snap_close(struct snap_section *s, struct popek_error *err)
{
    if (s->bad && s->mismatch)
        return snap_fail(s, err, "%s", s->why);
    if (s->bad)
        return snap_fail(s, err, "%s (the file is truncated or corrupt)", s->why);
    if (s->pos != s->size)
        return snap_fail(s, err, "%zu bytes left unread (corrupt, or written by another version)",
                         s->size - s->pos);
    return true;
}

bool snap_reader_finish(const struct snap_reader *r, struct popek_error *err)
{
    for (unsigned i = 0; i < r->count; i++) {
        if (!r->entries[i].opened) {
            char label[SNAP_NAME_MAX + 16];
            section_label(label, sizeof(label), r->entries[i].name, r->entries[i].instance);
            return popek_fail(err,
                              "state file '%s' holds section '%s', which this machine has no "
                              "use for (a different configuration or popek version)",
                              r->path, label);
        }
    }
    return true;
}

bool snap_reader_section_info(const struct snap_reader *r, unsigned i,
                              struct snap_section_info *out)
{
    if (i >= r->count)
        return false;
    *out = (struct snap_section_info){r->entries[i].name, r->entries[i].instance,
                                      r->entries[i].version, r->entries[i].payload,
                                      r->entries[i].size};
    return true;
}
