/*
 * tests/snapshot_rig.h — saving one device section into a state-file image
 * in memory and opening it again, for the devices' save/restore tests.
 *
 *     struct snap_writer *w = rig_snap_begin("pic8259", PIC8259_STATE_VERSION);
 *     pic8259_save(a, w);
 *     struct snap_rig rig = rig_snap_finish(w);       // reader over the image
 *     struct snap_section s;
 *     rig_snap_open(&rig, "pic8259", PIC8259_STATE_VERSION, &s);
 *     assert_true(pic8259_load(b, &s));
 *     rig_snap_close(&rig, &s);                       // read exactly, no error
 */
#ifndef POPEK_TESTS_SNAPSHOT_RIG_H
#define POPEK_TESTS_SNAPSHOT_RIG_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/snapshot.h"

struct snap_rig {
    FILE *stream;
    uint8_t *image;
    size_t size;
    struct snap_reader *reader;
    struct popek_error err;
};

static FILE *rig_snap_stream;

static inline struct snap_writer *rig_snap_begin(const char *name, uint32_t version)
{
    struct popek_error e;

    rig_snap_stream = tmpfile();
    assert_non_null(rig_snap_stream);
    struct snap_writer *w = snap_writer_create_stream(rig_snap_stream, &e);
    assert_non_null(w);
    snap_begin(w, name, 0, version);
    return w;
}

/* Reads the whole stream back into an image. */
static inline void rig_snap_read_image(struct snap_rig *rig)
{
    long n;

    fseek(rig->stream, 0, SEEK_END);
    n = ftell(rig->stream);
    assert_true(n > 0);
    rig->image = malloc((size_t)n);
    assert_non_null(rig->image);
    rewind(rig->stream);
    assert_int_equal(fread(rig->image, 1, (size_t)n, rig->stream), (size_t)n);
    rig->size = (size_t)n;
}

static inline struct snap_rig rig_snap_finish(struct snap_writer *w)
{
    struct snap_rig rig = {.stream = rig_snap_stream};

    snap_end(w);
    assert_true(snap_writer_commit(w, &rig.err));
    rig_snap_read_image(&rig);
    rig.reader = snap_reader_from_buffer("test.state", rig.image, rig.size, &rig.err);
    assert_non_null(rig.reader);
    return rig;
}

static inline void rig_snap_open(struct snap_rig *rig, const char *name, uint32_t version,
                                 struct snap_section *s)
{
    assert_true(snap_open(rig->reader, name, 0, version, s, &rig->err));
}

static inline void rig_snap_free(struct snap_rig *rig)
{
    snap_reader_close(rig->reader);
    free(rig->image);
    fclose(rig->stream);
}

static inline void rig_snap_close(struct snap_rig *rig, struct snap_section *s)
{
    bool ok = snap_close(s, &rig->err);

    if (!ok)
        fprintf(stderr, "%s\n", rig->err.message);
    assert_true(ok);
    assert_true(snap_reader_finish(rig->reader, &rig->err));
    rig_snap_free(rig);
}

/* A section whose payload is exactly the given bytes (a corrupt state). */
static inline struct snap_rig rig_snap_raw(const char *name, uint32_t version, const void *bytes,
                                           size_t n)
{
    struct snap_writer *w = rig_snap_begin(name, version);

    snap_put_bytes(w, bytes, n);
    return rig_snap_finish(w);
}

/* Expects the owner's load to fail on the section and snap_close to name
 * the file and the section. */
static inline void rig_snap_expect_refused(struct snap_rig *rig, struct snap_section *s,
                                           bool loaded)
{
    if (loaded)
        loaded = snap_close(s, &rig->err);
    else
        assert_false(snap_close(s, &rig->err));
    assert_false(loaded);
    assert_non_null(strstr(rig->err.message, "test.state"));
    assert_non_null(strstr(rig->err.message, s->name));
    rig_snap_free(rig);
}

#endif
