/*
 * tests/test_snapshot.c — the state file (common/snapshot.c): fields round
 * trip little-endian, sections by name, instance and version; every
 * truncation and many corruptions of a file are refused with a message
 * naming the file, and never read out of bounds (run under ASan in CI).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/snapshot_rig.h"

/* A file with two sections and one of every field kind. */
static struct snap_rig make_sample(void)
{
    struct snap_writer *w = rig_snap_begin("alpha", 3);

    snap_put_u8(w, 0xAB);
    snap_put_bool(w, true);
    snap_put_u16(w, 0x1234);
    snap_put_u32(w, 0xDEADBEEF);
    snap_put_u64(w, 0x0123456789ABCDEFull);
    snap_put_i64(w, -42);
    snap_put_string(w, "hello");
    snap_put_time(w, 1500, 1000);
    snap_put_time(w, 400, 1000);
    snap_put_time(w, UINT64_MAX, 1000);
    snap_end(w);
    snap_begin(w, "beta", 1, 7);
    snap_put_bytes(w, "xyz", 3);
    return rig_snap_finish(w);
}

static void test_round_trip(void **state)
{
    struct snap_rig rig = make_sample();
    struct snap_section s;
    char text[16];

    (void)state;
    /* Fields are little-endian in the file, whatever the struct layout. */
    assert_memory_equal(rig.image, "POPEKSNP\x01\x00\x00\x00", 12);
    assert_true(snap_has_section(rig.reader, "beta", 1));
    assert_false(snap_has_section(rig.reader, "beta", 0));
    rig_snap_open(&rig, "alpha", 3, &s);
    assert_int_equal(snap_get_u8(&s), 0xAB);
    assert_true(snap_get_bool(&s));
    assert_int_equal(snap_get_u16(&s), 0x1234);
    assert_int_equal(snap_get_u32(&s), 0xDEADBEEF);
    assert_true(snap_get_u64(&s) == 0x0123456789ABCDEFull);
    assert_true(snap_get_i64(&s) == -42);
    snap_get_string(&s, text, sizeof(text));
    assert_string_equal(text, "hello");
    /* Times come back relative to the new clock. */
    assert_true(snap_get_time(&s, 50000) == 50500);
    assert_true(snap_get_time(&s, 50000) == 49400);
    assert_true(snap_get_time(&s, 50000) == UINT64_MAX);
    assert_true(snap_close(&s, &rig.err));
    assert_false(snap_reader_finish(rig.reader, &rig.err)); /* beta not opened yet */
    assert_non_null(strstr(rig.err.message, "beta#1"));
    assert_true(snap_open(rig.reader, "beta", 1, 7, &s, &rig.err));
    const uint8_t *p = snap_get_span(&s, 3);
    assert_non_null(p);
    assert_memory_equal(p, "xyz", 3);
    rig_snap_close(&rig, &s);
}

static void test_owner_errors(void **state)
{
    struct snap_rig rig = make_sample();
    struct snap_section s;

    (void)state;
    /* Missing section, wrong version. */
    assert_false(snap_open(rig.reader, "gamma", 0, 1, &s, &rig.err));
    assert_non_null(strstr(rig.err.message, "no section 'gamma'"));
    assert_non_null(strstr(rig.err.message, "test.state"));
    assert_false(snap_open(rig.reader, "alpha", 0, 4, &s, &rig.err));
    assert_non_null(strstr(rig.err.message, "version 3"));
    /* Not read to the end. */
    rig_snap_open(&rig, "alpha", 3, &s);
    snap_get_u8(&s);
    assert_false(snap_close(&s, &rig.err));
    assert_non_null(strstr(rig.err.message, "section 'alpha'"));
    /* Read past the end: zeros, and the section is bad. */
    assert_true(snap_open(rig.reader, "beta", 1, 7, &s, &rig.err));
    assert_int_equal(snap_get_u32(&s), 0);
    assert_null(snap_get_span(&s, 1));
    assert_false(snap_close(&s, &rig.err));
    assert_non_null(strstr(rig.err.message, "truncated"));
    /* An owner's check. */
    assert_true(snap_open(rig.reader, "beta", 1, 7, &s, &rig.err));
    snap_get_span(&s, 3);
    assert_false(snap_check(&s, false, "a mode out of range"));
    assert_false(snap_close(&s, &rig.err));
    assert_non_null(strstr(rig.err.message, "a mode out of range"));
    /* A bool that is not 0 or 1. */
    rig_snap_free(&rig);
    rig = rig_snap_raw("flag", 1, "\x02", 1);
    rig_snap_open(&rig, "flag", 1, &s);
    snap_get_bool(&s);
    assert_false(snap_close(&s, &rig.err));
    rig_snap_free(&rig);
}

/* Every prefix of a good file is refused at open. */
static void test_truncated(void **state)
{
    struct snap_rig rig = make_sample();
    struct popek_error e;

    (void)state;
    for (size_t n = 0; n < rig.size; n++) {
        struct snap_reader *r = snap_reader_from_buffer("cut.state", rig.image, n, &e);
        assert_null(r);
        assert_non_null(strstr(e.message, "cut.state"));
    }
    rig_snap_free(&rig);
}

/* Every single-bit flip in a good file is refused at open or by the
 * section check, or (in a name or version) leaves a file whose sections
 * are not the ones asked for; none crashes. */
static void test_corrupted(void **state)
{
    struct snap_rig rig = make_sample();
    struct popek_error e;
    uint8_t *copy = malloc(rig.size + 1);

    (void)state;
    assert_non_null(copy);
    for (size_t i = 0; i < rig.size; i++) {
        for (unsigned bit = 0; bit < 8; bit++) {
            memcpy(copy, rig.image, rig.size);
            copy[i] ^= (uint8_t)(1u << bit);
            struct snap_reader *r = snap_reader_from_buffer("bad.state", copy, rig.size, &e);
            if (!r) {
                assert_non_null(strstr(e.message, "bad.state"));
                continue;
            }
            /* Only the popek version string, a name, an instance or a
             * version can change and still index: then the sample's
             * sections are not all there as written. */
            struct snap_section s;
            bool both = snap_open(r, "alpha", 0, 3, &s, &e) && snap_open(r, "beta", 1, 7, &s, &e);
            assert_true(!both || i < 12 + strlen(POPEK_VERSION) + 1);
            snap_reader_close(r);
        }
    }
    /* Trailing bytes, and garbage. */
    memcpy(copy, rig.image, rig.size);
    copy[rig.size] = 0;
    assert_null(snap_reader_from_buffer("long.state", copy, rig.size + 1, &e));
    assert_non_null(strstr(e.message, "after its end"));
    assert_null(snap_reader_from_buffer("junk.state", (const uint8_t *)"ELF...", 6, &e));
    assert_non_null(strstr(e.message, "not a popek state file"));
    free(copy);
    rig_snap_free(&rig);
}

/* A section length that claims more than the file holds. */
static void test_hostile_lengths(void **state)
{
    uint8_t file[64];
    size_t n = 0;
    struct popek_error e;

    (void)state;
    memcpy(file, "POPEKSNP\x01\x00\x00\x00\x00", 13);
    n = 13;
    file[n++] = 1;
    file[n++] = 'x';
    memset(file + n, 0, 8);
    n += 8;
    memset(file + n, 0xFF, 8); /* length 2^64 - 1 */
    n += 8;
    file[n++] = 0;
    assert_null(snap_reader_from_buffer("huge.state", file, n, &e));
    assert_non_null(strstr(e.message, "truncated"));
    /* A name with a control character, in a file otherwise good (the
     * checksum covers the payload only): refused for the name. */
    struct snap_rig rig = rig_snap_raw("x", 1, "", 0);
    size_t name_at = 12 + 1 + strlen(POPEK_VERSION) + 1;
    assert_int_equal(rig.image[name_at - 1], 1);
    assert_int_equal(rig.image[name_at], 'x');
    rig.image[name_at] = '\n';
    assert_null(snap_reader_from_buffer("name.state", rig.image, rig.size, &e));
    assert_non_null(strstr(e.message, "name.state' is corrupt after section 0"));
    rig.image[name_at] = 'x';
    struct snap_reader *r = snap_reader_from_buffer("name.state", rig.image, rig.size, &e);
    assert_non_null(r);
    snap_reader_close(r);
    rig_snap_free(&rig);
    /* Another format version. */
    file[8] = 2;
    assert_null(snap_reader_from_buffer("v2.state", file, n, &e));
    assert_non_null(strstr(e.message, "format version 2"));
}

static void test_path_writer(void **state)
{
    char dir[] = "/tmp/popek-snap-XXXXXX";
    char path[256], tmp[300];
    struct popek_error e;

    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/m.state", dir);
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    assert_true(snap_check_writable(path, &e));
    assert_int_equal(access(tmp, F_OK), -1);
    struct snap_writer *w = snap_writer_create(path, &e);
    assert_non_null(w);
    snap_begin(w, "one", 0, 1);
    snap_put_u32(w, 99);
    snap_end(w);
    assert_int_equal(access(path, F_OK), -1); /* appears only at commit */
    assert_true(snap_writer_commit(w, &e));
    struct snap_reader *r = snap_reader_open(path, &e);
    assert_non_null(r);
    assert_string_equal(snap_reader_writer_version(r), POPEK_VERSION);
    struct snap_section s;
    assert_true(snap_open(r, "one", 0, 1, &s, &e));
    assert_int_equal(snap_get_u32(&s), 99);
    assert_true(snap_close(&s, &e));
    assert_true(snap_reader_finish(r, &e));
    snap_reader_close(r);
    /* An abandoned file leaves nothing behind. */
    w = snap_writer_create(path, &e);
    snap_begin(w, "two", 0, 1);
    snap_writer_abandon(w);
    assert_int_equal(access(tmp, F_OK), -1);
    unlink(path);
    /* Unwritable places. */
    snprintf(path, sizeof(path), "%s/no/such/dir/m.state", dir);
    assert_false(snap_check_writable(path, &e));
    assert_non_null(strstr(e.message, path));
    assert_null(snap_writer_create(path, &e));
    assert_null(snap_reader_open(path, &e));
    assert_non_null(strstr(e.message, "state file"));
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),      cmocka_unit_test(test_owner_errors),
        cmocka_unit_test(test_truncated),       cmocka_unit_test(test_corrupted),
        cmocka_unit_test(test_hostile_lengths), cmocka_unit_test(test_path_writer),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
