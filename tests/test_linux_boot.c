/*
 * tests/test_linux_boot.c — unit tests of the bzImage loader (boot/linux.c).
 *
 * build_bzimage() assembles an image with a setup header (protocol, setup
 * sectors, init_size, pref_address, initrd_addr_max, cmdline_size chosen by
 * the test) and a recognisable protected-mode payload. Good images must land
 * where the 32-bit boot protocol says, with the zero page, e820 map, command
 * line, initrd and vCPU state a boot loader gives; each malformed image or
 * impossible request must fail with a message naming the problem.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "boot/boot.h"
#include "boot/linux.h"
#include "common/bytes.h"
#include "common/types.h"

#define RAM_SIZE     MIB(64)
#define KERNEL_NAME  "/boot/vmlinuz-test"
#define SETUP_SECTS  4
#define PAYLOAD_SIZE 8192

struct fixture {
    struct guest_ram *ram;
    struct vcpu_state cpu;
    struct popek_error err;
    struct boot_config cfg;
};

struct bz_spec {
    uint16_t version;
    uint8_t loadflags;
    uint32_t init_size;
    uint32_t pref_address;
    uint32_t initrd_addr_max;
    uint32_t cmdline_size;
    bool no_boot_flag;
};

static const struct bz_spec good_spec = {
    .version = 0x20F,
    .loadflags = 0x01,
    .init_size = MIB(8),
    .pref_address = MIB(16),
    .initrd_addr_max = 0x7FFFFFFF,
    .cmdline_size = 2047,
};

static uint8_t *build_bzimage(const struct bz_spec *spec, size_t *size)
{
    size_t setup = (SETUP_SECTS + 1) * 512;
    uint8_t *img = calloc(1, setup + PAYLOAD_SIZE);

    img[0x1F1] = SETUP_SECTS;
    if (!spec->no_boot_flag)
        store_le16(img + 0x1FE, 0xAA55);
    img[0x200] = 0xEB; /* jmp short */
    img[0x201] = 0x66; /* header ends at 0x202 + 0x66 = 0x268 */
    memcpy(img + 0x202, "HdrS", 4);
    store_le16(img + 0x206, spec->version);
    img[0x211] = spec->loadflags | 0x20; /* QUIET set: the loader clears it */
    store_le32(img + 0x214, 0x100000);
    store_le32(img + 0x22C, spec->initrd_addr_max);
    img[0x234] = 1; /* relocatable */
    store_le32(img + 0x238, spec->cmdline_size);
    store_le64(img + 0x258, spec->pref_address);
    store_le32(img + 0x260, spec->init_size);
    store_le32(img + 0x268, 0x12345678); /* beyond the header's end: not copied */
    for (size_t i = 0; i < PAYLOAD_SIZE; i++)
        img[setup + i] = (uint8_t)(i * 7 + 1);
    *size = setup + PAYLOAD_SIZE;
    return img;
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    struct popek_error err;

    if (!f)
        return -1;
    f->ram = guest_ram_create(RAM_SIZE, &err);
    if (!f->ram) {
        free(f);
        return -1;
    }
    f->cfg.kernel_path = KERNEL_NAME;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    guest_ram_destroy(f->ram);
    free(f);
    return 0;
}

static uint8_t *ram_at(struct fixture *f, uint32_t addr, uint32_t len)
{
    uint8_t *p = guest_ram_host_ptr(f->ram, addr, len);
    assert_non_null(p);
    return p;
}

static char *write_temp_file(const void *data, size_t len)
{
    char *path = strdup("/tmp/popek-test-initrd-XXXXXX");
    int fd = mkstemp(path);

    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, len), (ssize_t)len);
    close(fd);
    return path;
}

static bool load(struct fixture *f, const struct bz_spec *spec)
{
    size_t size;
    uint8_t *img = build_bzimage(spec, &size);
    bool ok = linux_load_image(f->ram, img, size, KERNEL_NAME, &f->cfg, &f->cpu, &f->err);

    free(img);
    return ok;
}

static void test_detects_bzimage(void **state)
{
    size_t size;
    uint8_t *img = build_bzimage(&good_spec, &size);

    (void)state;
    assert_true(linux_is_bzimage(img, size));
    img[0x203] = 'x';
    assert_false(linux_is_bzimage(img, size));
    assert_false(linux_is_bzimage(img, 0x100));
    free(img);
}

static void test_loads_kernel_and_zero_page(void **state)
{
    struct fixture *f = *state;

    f->cfg.cmdline = "console=ttyS0 quiet";
    assert_true(load(f, &good_spec));

    /* The protected-mode part at 1 MiB, byte for byte. */
    const uint8_t *k = ram_at(f, LINUX_KERNEL_LOAD_ADDR, PAYLOAD_SIZE);
    for (size_t i = 0; i < PAYLOAD_SIZE; i++)
        assert_int_equal(k[i], (uint8_t)(i * 7 + 1));

    const uint8_t *zp = ram_at(f, LINUX_ZERO_PAGE_ADDR, 4096);
    assert_memory_equal(zp + 0x202, "HdrS", 4);
    assert_int_equal(load_le16(zp + 0x206), 0x20F);
    assert_int_equal(zp[0x210], 0xFF); /* type_of_loader */
    assert_int_equal(zp[0x211], 0x01); /* LOADED_HIGH kept, QUIET cleared */
    assert_int_equal(load_le32(zp + 0x228), LINUX_CMDLINE_ADDR);
    assert_int_equal(load_le32(zp + 0x260), MIB(8));
    assert_int_equal(load_le32(zp + 0x268), 0); /* past the header's end */
    assert_int_equal(load_le32(zp + 0x218), 0); /* no initrd */
    assert_int_equal(load_le32(zp + 0x21C), 0);
    assert_int_equal(load_le32(zp + 0x1E0), (RAM_SIZE - MIB(1)) >> 10); /* alt_mem_k */
    assert_int_equal(zp[0x1EF], 0);                                     /* sentinel */
    assert_string_equal((const char *)ram_at(f, LINUX_CMDLINE_ADDR, 20), "console=ttyS0 quiet");

    /* e820: low RAM to the EBDA, two reserved BIOS areas, RAM from 1 MiB. */
    assert_int_equal(zp[0x1E8], 4);
    const uint8_t *e = zp + 0x2D0;
    assert_int_equal(load_le64(e), 0);
    assert_int_equal(load_le64(e + 8), 0x9FC00);
    assert_int_equal(load_le32(e + 16), 1);
    assert_int_equal(load_le32(e + 20 + 16), 2);
    assert_int_equal(load_le64(e + 40), 0xF0000);
    assert_int_equal(load_le64(e + 60), MIB(1));
    assert_int_equal(load_le64(e + 68), RAM_SIZE - MIB(1));
    assert_int_equal(load_le32(e + 76), 1);
}

static void test_entry_state(void **state)
{
    struct fixture *f = *state;

    assert_true(load(f, &good_spec));
    assert_int_equal(f->cpu.eip, LINUX_KERNEL_LOAD_ADDR);
    assert_int_equal(f->cpu.regs[REG_ESI], LINUX_ZERO_PAGE_ADDR);
    assert_int_equal(f->cpu.regs[REG_EBX], 0);
    assert_int_equal(f->cpu.regs[REG_EBP], 0);
    assert_int_equal(f->cpu.regs[REG_EDI], 0);
    assert_int_equal(f->cpu.eflags & (1u << 9), 0); /* interrupts off */
    assert_int_equal(f->cpu.cr0 & 0x80000001u, 1);  /* PE, no PG */
    assert_int_equal(f->cpu.seg[SEG_CS].selector, 0x10);
    assert_int_equal(f->cpu.seg[SEG_DS].selector, 0x18);
    assert_int_equal(f->cpu.seg[SEG_SS].selector, 0x18);
    assert_int_equal(f->cpu.seg[SEG_ES].selector, 0x18);
    assert_int_equal(f->cpu.gdtr.base, LINUX_GDT_ADDR);
    /* The GDT holds what the selectors say: flat 4 GiB code and data. */
    const uint8_t *gdt = ram_at(f, LINUX_GDT_ADDR, 32);
    assert_int_equal(load_le64(gdt + 0x10), 0x00CF9B000000FFFFull);
    assert_int_equal(load_le64(gdt + 0x18), 0x00CF93000000FFFFull);
}

static void test_initrd_at_top_of_ram(void **state)
{
    struct fixture *f = *state;
    uint8_t data[10000];

    for (size_t i = 0; i < sizeof(data); i++)
        data[i] = (uint8_t)(i ^ 0x5A);
    char *path = write_temp_file(data, sizeof(data));
    f->cfg.initrd = path;
    assert_true(load(f, &good_spec));
    const uint8_t *zp = ram_at(f, LINUX_ZERO_PAGE_ADDR, 4096);
    uint32_t addr = load_le32(zp + 0x218);
    assert_int_equal(load_le32(zp + 0x21C), sizeof(data));
    assert_int_equal(addr & 0xFFF, 0);
    assert_true(addr + sizeof(data) <= RAM_SIZE);
    assert_true(addr + sizeof(data) > RAM_SIZE - 4096);
    assert_memory_equal(ram_at(f, addr, sizeof(data)), data, sizeof(data));

    /* initrd_addr_max caps it. */
    struct bz_spec capped = good_spec;
    capped.initrd_addr_max = MIB(40) - 1;
    assert_true(load(f, &capped));
    addr = load_le32(ram_at(f, LINUX_ZERO_PAGE_ADDR, 4096) + 0x218);
    assert_true(addr + sizeof(data) <= MIB(40));
    assert_true(addr >= MIB(40) - 3 * 4096);
    unlink(path);
    free(path);
}

static void test_initrd_that_does_not_fit(void **state)
{
    struct fixture *f = *state;
    uint8_t data[4096] = {1};
    char *path = write_temp_file(data, sizeof(data));
    struct bz_spec low = good_spec;

    /* Below initrd_addr_max there is only the kernel's own runtime area. */
    low.initrd_addr_max = MIB(16) + MIB(8);
    f->cfg.initrd = path;
    assert_false(load(f, &low));
    assert_non_null(strstr(f->err.message, "does not fit"));
    assert_non_null(strstr(f->err.message, path));
    unlink(path);
    free(path);
}

static void test_missing_initrd(void **state)
{
    struct fixture *f = *state;

    f->cfg.initrd = "/nonexistent/initrd.img";
    assert_false(load(f, &good_spec));
    assert_non_null(strstr(f->err.message, "/nonexistent/initrd.img"));
}

static void test_rejects_old_protocol(void **state)
{
    struct fixture *f = *state;
    struct bz_spec old = good_spec;

    old.version = 0x205;
    assert_false(load(f, &old));
    assert_non_null(strstr(f->err.message, "boot protocol 2.05 is too old"));
    assert_non_null(strstr(f->err.message, KERNEL_NAME));
}

static void test_rejects_zimage(void **state)
{
    struct fixture *f = *state;
    struct bz_spec z = good_spec;

    z.loadflags = 0;
    assert_false(load(f, &z));
    assert_non_null(strstr(f->err.message, "zImage"));
}

static void test_rejects_missing_boot_flag(void **state)
{
    struct fixture *f = *state;
    struct bz_spec nf = good_spec;

    nf.no_boot_flag = true;
    assert_false(load(f, &nf));
    assert_non_null(strstr(f->err.message, "0xAA55"));
}

static void test_rejects_truncated_image(void **state)
{
    struct fixture *f = *state;
    size_t size;
    uint8_t *img = build_bzimage(&good_spec, &size);

    /* The file ends inside the setup code. */
    assert_false(linux_load_image(f->ram, img, (SETUP_SECTS + 1) * 512, KERNEL_NAME, &f->cfg,
                                  &f->cpu, &f->err));
    assert_non_null(strstr(f->err.message, "truncated"));
    assert_false(linux_load_image(f->ram, img, 0x240, KERNEL_NAME, &f->cfg, &f->cpu, &f->err));
    assert_non_null(strstr(f->err.message, "not a Linux bzImage"));
    free(img);
}

static void test_rejects_long_cmdline(void **state)
{
    struct fixture *f = *state;
    struct bz_spec shortcl = good_spec;

    shortcl.cmdline_size = 8;
    f->cfg.cmdline = "console=ttyS0";
    assert_false(load(f, &shortcl));
    assert_non_null(strstr(f->err.message, "longer than"));
}

static void test_rejects_too_little_ram(void **state)
{
    struct fixture *f = *state;
    struct bz_spec big = good_spec;

    big.init_size = MIB(60); /* 16 MiB + 60 MiB > 64 MiB */
    assert_false(load(f, &big));
    assert_non_null(strstr(f->err.message, "needs 76 MiB of RAM"));
    assert_non_null(strstr(f->err.message, "-m gives 64 MiB"));
}

/* Random byte flips of a good image: load it or fail with a message. */
static void test_fuzz_header(void **state)
{
    struct fixture *f = *state;
    size_t size;
    uint8_t *good = build_bzimage(&good_spec, &size);
    uint8_t *img = malloc(size);
    uint32_t seed = 12345;

    for (int round = 0; round < 2000; round++) {
        memcpy(img, good, size);
        for (int i = 0; i < 4; i++) {
            seed = seed * 1103515245u + 12345u;
            size_t at = 0x1F1 + (seed >> 8) % 0x80;
            img[at] ^= (uint8_t)(seed >> 24);
        }
        f->err.message[0] = 0;
        if (!linux_load_image(f->ram, img, size, KERNEL_NAME, &f->cfg, &f->cpu, &f->err))
            assert_true(f->err.message[0] != 0);
    }
    free(img);
    free(good);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_detects_bzimage),
        T(test_loads_kernel_and_zero_page),
        T(test_entry_state),
        T(test_initrd_at_top_of_ram),
        T(test_initrd_that_does_not_fit),
        T(test_missing_initrd),
        T(test_rejects_old_protocol),
        T(test_rejects_zimage),
        T(test_rejects_missing_boot_flag),
        T(test_rejects_truncated_image),
        T(test_rejects_long_cmdline),
        T(test_rejects_too_little_ram),
        T(test_fuzz_header),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
