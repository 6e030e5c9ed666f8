/*
 * tests/test_multiboot.c — unit tests of the multiboot loader (boot/multiboot.c)
 * and the format dispatch of boot/boot.c.
 *
 * The images are assembled here: build_elf() writes an ELF32 i386 executable
 * with N program headers and a multiboot header at a chosen offset;
 * build_aout() writes a flat image whose multiboot header carries the a.out
 * kludge address fields (flag 16). Each good image is loaded into a fresh
 * 16 MiB guest RAM and the RAM, the information structure and the vCPU are
 * checked; each malformed one must fail with a message naming the problem.
 * A seeded fuzz loop flips bytes of a good image: the loader must either load
 * it or fail with a message (run under ASan in the sanitizer build).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <elf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "boot/boot.h"
#include "boot/multiboot.h"
#include "common/types.h"

#define RAM_SIZE    MIB(16)
#define KERNEL_NAME "/boot/test-kernel.elf"

struct fixture {
    struct guest_ram *ram;
    struct vcpu_state cpu;
    struct popek_error err;
    struct boot_config cfg;
};

/* --- image builders ------------------------------------------------------ */

struct seg_spec {
    uint32_t type, vaddr, paddr, filesz, memsz;
    uint8_t fill;
};

struct elf_spec {
    const struct seg_spec *segs;
    unsigned nsegs;
    uint32_t entry;
    uint32_t mb_offset; /* where the multiboot header goes; 0 = none */
    uint32_t mb_flags;
    bool bad_checksum;
};

static void put32(uint8_t *p, uint32_t v)
{
    memcpy(p, &v, 4);
}

static uint32_t get32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

static uint64_t get64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

static void put_mb_header(uint8_t *p, uint32_t flags, bool bad_checksum)
{
    put32(p, MULTIBOOT_HEADER_MAGIC);
    put32(p + 4, flags);
    put32(p + 8, -(MULTIBOOT_HEADER_MAGIC + flags) + (bad_checksum ? 1 : 0));
}

static uint32_t align4k(uint32_t v)
{
    return (v + 0xFFF) & ~0xFFFu;
}

/* Segment data follows the headers from 0x3000 on, each at a 4 KiB
 * boundary, so a multiboot header can be placed anywhere below. */
static uint8_t *build_elf(const struct elf_spec *spec, size_t *size)
{
    uint32_t offsets[8], end = 0x3000;
    Elf32_Ehdr eh = {0};

    assert_true(spec->nsegs <= 8);
    for (unsigned i = 0; i < spec->nsegs; i++) {
        offsets[i] = end;
        end = align4k(end + spec->segs[i].filesz + 1);
    }
    if (spec->mb_offset + 48 > end)
        end = spec->mb_offset + 48;
    uint8_t *img = calloc(1, end);
    assert_non_null(img);

    memcpy(eh.e_ident, ELFMAG, SELFMAG);
    eh.e_ident[EI_CLASS] = ELFCLASS32;
    eh.e_ident[EI_DATA] = ELFDATA2LSB;
    eh.e_ident[EI_VERSION] = EV_CURRENT;
    eh.e_type = ET_EXEC;
    eh.e_machine = EM_386;
    eh.e_version = EV_CURRENT;
    eh.e_entry = spec->entry;
    eh.e_phoff = sizeof(Elf32_Ehdr);
    eh.e_ehsize = sizeof(Elf32_Ehdr);
    eh.e_phentsize = sizeof(Elf32_Phdr);
    eh.e_phnum = (uint16_t)spec->nsegs;
    memcpy(img, &eh, sizeof(eh));
    for (unsigned i = 0; i < spec->nsegs; i++) {
        const struct seg_spec *s = &spec->segs[i];
        Elf32_Phdr ph = {.p_type = s->type ? s->type : PT_LOAD,
                         .p_offset = offsets[i],
                         .p_vaddr = s->vaddr ? s->vaddr : s->paddr,
                         .p_paddr = s->paddr,
                         .p_filesz = s->filesz,
                         .p_memsz = s->memsz,
                         .p_flags = PF_R | PF_X,
                         .p_align = 0x1000};
        memcpy(img + sizeof(eh) + i * sizeof(ph), &ph, sizeof(ph));
        memset(img + offsets[i], s->fill, s->filesz);
    }
    if (spec->mb_offset)
        put_mb_header(img + spec->mb_offset, spec->mb_flags, spec->bad_checksum);
    *size = end;
    return img;
}

/* Two segments: text+bss at 1 MiB, data at 2 MiB; entry 0x100010. */
static const struct seg_spec good_segs[] = {
    {.paddr = 0x100000, .filesz = 0x1800, .memsz = 0x3000, .fill = 0xA1},
    {.paddr = 0x200000, .filesz = 0x100, .memsz = 0x100, .fill = 0xB2},
};

static uint8_t *build_good_elf(size_t *size)
{
    struct elf_spec spec = {good_segs, 2, 0x100010, 0x80, 0, false};
    return build_elf(&spec, size);
}

struct aout_spec {
    uint32_t mb_offset, header_addr, load_addr, load_end, bss_end, entry, file_size;
};

/* Byte k of an a.out image is aout_byte(k), so a test can tell which file
 * offset landed where. */
static uint8_t aout_byte(uint32_t k)
{
    return (uint8_t)(k * 13 + 5);
}

static uint8_t *build_aout(const struct aout_spec *a, size_t *size)
{
    uint8_t *img = malloc(a->file_size);
    assert_non_null(img);
    for (uint32_t k = 0; k < a->file_size; k++)
        img[k] = aout_byte(k);
    put_mb_header(img + a->mb_offset, 1u << 16, false);
    put32(img + a->mb_offset + 12, a->header_addr);
    put32(img + a->mb_offset + 16, a->load_addr);
    put32(img + a->mb_offset + 20, a->load_end);
    put32(img + a->mb_offset + 24, a->bss_end);
    put32(img + a->mb_offset + 28, a->entry);
    *size = a->file_size;
    return img;
}

/* --- fixture and helpers ------------------------------------------------ */

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

static const char *ram_string(struct fixture *f, uint32_t addr)
{
    return (const char *)ram_at(f, addr, 1);
}

static bool load(struct fixture *f, const uint8_t *img, size_t size)
{
    memset(&f->err, 0, sizeof(f->err));
    return multiboot_load_image(f->ram, img, size, KERNEL_NAME, &f->cfg, &f->cpu, &f->err);
}

/* Loads img, expects failure with `expected` in the message, frees img. */
static void expect_failure(struct fixture *f, uint8_t *img, size_t size, const char *expected)
{
    bool ok = load(f, img, size);

    free(img);
    if (ok)
        fail_msg("loader accepted an image that should fail with '%s'", expected);
    if (!strstr(f->err.message, expected))
        fail_msg("message '%s' does not contain '%s'", f->err.message, expected);
}

static void expect_elf_failure(struct fixture *f, const struct elf_spec *spec, const char *expected)
{
    size_t size;
    uint8_t *img = build_elf(spec, &size);
    expect_failure(f, img, size, expected);
}

static char *write_temp_file(const void *data, size_t len)
{
    char *path = strdup("/tmp/popek-test-multiboot-XXXXXX");
    int fd = mkstemp(path);

    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, len), (ssize_t)len);
    close(fd);
    return path;
}

static uint32_t info_field(struct fixture *f, uint32_t offset)
{
    return get32(ram_at(f, MULTIBOOT_INFO_ADDR + offset, 4));
}

/* --- good images --------------------------------------------------------- */

static void test_elf_segments_land_at_paddr(void **state)
{
    struct fixture *f = *state;
    size_t size;
    uint8_t *img = build_good_elf(&size);

    memset(ram_at(f, 0x100000, 0x3000), 0xFF, 0x3000); /* bss must be zeroed */
    assert_true(load(f, img, size));
    free(img);
    uint8_t *text = ram_at(f, 0x100000, 0x3000);
    assert_int_equal(text[0], 0xA1);
    assert_int_equal(text[0x17FF], 0xA1);
    for (uint32_t i = 0x1800; i < 0x3000; i++)
        assert_int_equal(text[i], 0);
    uint8_t *data = ram_at(f, 0x200000, 0x101);
    assert_int_equal(data[0], 0xB2);
    assert_int_equal(data[0xFF], 0xB2);
    assert_int_equal(data[0x100], 0);
}

static void test_initial_state(void **state)
{
    struct fixture *f = *state;
    size_t size;
    uint8_t *img = build_good_elf(&size);

    assert_true(load(f, img, size));
    free(img);
    struct vcpu_state *c = &f->cpu;
    assert_int_equal(c->regs[REG_EAX], MULTIBOOT_BOOTLOADER_MAGIC);
    assert_int_equal(c->regs[REG_EBX], MULTIBOOT_INFO_ADDR);
    assert_int_equal(c->eip, 0x100010);
    assert_int_equal(c->eflags, 0x2);
    assert_int_equal(c->cr0, CR0_PE | CR0_ET);
    assert_int_equal(c->seg[SEG_CS].selector, 0x08);
    assert_int_equal(c->seg[SEG_CS].base, 0);
    assert_int_equal(c->seg[SEG_CS].limit, 0xFFFFFFFF);
    assert_true(c->seg[SEG_CS].attr & SEG_ATTR_DB);
    for (int s = 0; s < SEG_COUNT; s++) {
        if (s != SEG_CS)
            assert_int_equal(c->seg[s].selector, 0x10);
    }
    /* The boot GDT holds the descriptors the segment registers came from. */
    assert_int_equal(c->gdtr.limit, 39);
    uint8_t *gdt = ram_at(f, c->gdtr.base, 40);
    assert_int_equal(get64(gdt), 0);
    assert_int_equal(get64(gdt + 8), 0x00CF9B000000FFFFull);
    assert_int_equal(get64(gdt + 16), 0x00CF93000000FFFFull);
    assert_int_equal(c->idtr.base, 0);
    assert_int_equal(c->idtr.limit, 0x3FF);
}

static void check_mmap_entry(const uint8_t *e, uint64_t base, uint64_t len, uint32_t type)
{
    assert_int_equal(get32(e), 20);
    assert_int_equal(get64(e + 4), base);
    assert_int_equal(get64(e + 12), len);
    assert_int_equal(get32(e + 20), type);
}

static void test_info_structure(void **state)
{
    struct fixture *f = *state;
    size_t size;
    uint8_t *img = build_good_elf(&size);

    f->cfg.cmdline = "console=ttyS0 quiet";
    assert_true(load(f, img, size));
    assert_int_equal(info_field(f, 0), (1u << 0) | (1u << 2) | (1u << 6) | (1u << 9));
    assert_int_equal(info_field(f, 4), 639);
    assert_int_equal(info_field(f, 8), (16 - 1) * 1024);
    assert_string_equal(ram_string(f, info_field(f, 16)), KERNEL_NAME " console=ttyS0 quiet");
    assert_int_equal(info_field(f, 20), 0); /* no modules */
    assert_int_equal(info_field(f, 44), 4 * 24);
    const uint8_t *mmap = ram_at(f, info_field(f, 48), 4 * 24);
    check_mmap_entry(mmap, 0, 0x9FC00, 1);
    check_mmap_entry(mmap + 24, 0x9FC00, 0x400, 2);
    check_mmap_entry(mmap + 48, 0xF0000, 0x10000, 2);
    check_mmap_entry(mmap + 72, 0x100000, RAM_SIZE - 0x100000, 1);
    assert_int_equal(strncmp(ram_string(f, info_field(f, 64)), "popek ", 6), 0);
    assert_true(info_field(f, 16) < MULTIBOOT_INFO_END);

    /* Without -append the string is "<path> ", as QEMU passes it. */
    f->cfg.cmdline = NULL;
    assert_true(load(f, img, size));
    assert_string_equal(ram_string(f, info_field(f, 16)), KERNEL_NAME " ");
    free(img);
}

static void test_mem_upper_follows_ram_size(void **state)
{
    struct fixture *f = *state;
    struct popek_error err;
    size_t size;
    uint8_t *img = build_good_elf(&size);

    guest_ram_destroy(f->ram);
    f->ram = guest_ram_create(MIB(64), &err);
    assert_non_null(f->ram);
    assert_true(load(f, img, size));
    free(img);
    assert_int_equal(info_field(f, 4), 639);
    assert_int_equal(info_field(f, 8), (64 - 1) * 1024);
    const uint8_t *mmap = ram_at(f, info_field(f, 48), 4 * 24);
    check_mmap_entry(mmap + 72, 0x100000, MIB(64) - 0x100000, 1);
}

static void test_higher_half_entry_is_translated(void **state)
{
    struct fixture *f = *state;
    const struct seg_spec segs[] = {
        {.vaddr = 0xC0100000, .paddr = 0x100000, .filesz = 0x1000, .memsz = 0x2000, .fill = 1},
    };
    struct elf_spec spec = {segs, 1, 0xC0100020, 0x80, 0, false};
    size_t size;
    uint8_t *img = build_elf(&spec, &size);

    assert_true(load(f, img, size));
    assert_int_equal(f->cpu.eip, 0x100020);
    assert_int_equal(*ram_at(f, 0x100000, 1), 1);
    free(img);

    /* An entry outside every segment's virtual range is left as it is. */
    spec.entry = 0x100040;
    img = build_elf(&spec, &size);
    assert_true(load(f, img, size));
    assert_int_equal(f->cpu.eip, 0x100040);
    free(img);
}

static void test_aout_kludge_with_bss(void **state)
{
    struct fixture *f = *state;
    /* The header is at file offset 0x40, i.e. 0x100040; the file is
     * 0x3000 bytes but only 0x2000 are loaded; bss up to 0x104000. */
    struct aout_spec a = {0x40, 0x100040, 0x100000, 0x102000, 0x104000, 0x100080, 0x3000};
    size_t size;
    uint8_t *img = build_aout(&a, &size);

    memset(ram_at(f, 0x100000, 0x4000), 0xFF, 0x4000);
    assert_true(load(f, img, size));
    free(img);
    uint8_t *p = ram_at(f, 0x100000, 0x4000);
    assert_int_equal(p[0], aout_byte(0));
    assert_int_equal(p[0x1FFF], aout_byte(0x1FFF));
    assert_int_equal(get32(p + 0x40), MULTIBOOT_HEADER_MAGIC);
    for (uint32_t i = 0x2000; i < 0x4000; i++)
        assert_int_equal(p[i], 0);
    assert_int_equal(f->cpu.eip, 0x100080);
}

static void test_aout_kludge_load_to_end_of_file(void **state)
{
    struct fixture *f = *state;
    /* The header sits 0x100 bytes into the file, 0x20 past load_addr: so the
     * file from offset 0xE0 is loaded at 0x200000, to the end of the file. */
    struct aout_spec a = {0x100, 0x200020, 0x200000, 0, 0, 0x200000, 0x1000};
    size_t size;
    uint8_t *img = build_aout(&a, &size);

    memset(ram_at(f, 0x200000, 0x1000), 0xFF, 0x1000);
    assert_true(load(f, img, size));
    free(img);
    uint8_t *p = ram_at(f, 0x200000, 0x1000);
    assert_int_equal(p[0], aout_byte(0xE0));
    assert_int_equal(p[0x1000 - 0xE0 - 1], aout_byte(0xFFF));
    assert_int_equal(p[0x1000 - 0xE0], 0xFF); /* nothing loaded beyond the file */
}

static void test_modules(void **state)
{
    struct fixture *f = *state;
    char mod1[100], mod2[3000];
    size_t size;
    uint8_t *img = build_good_elf(&size);

    memset(mod1, 'x', sizeof(mod1));
    for (size_t i = 0; i < sizeof(mod2); i++)
        mod2[i] = (char)i;
    char *path1 = write_temp_file(mod1, sizeof(mod1));
    char *path2 = write_temp_file(mod2, sizeof(mod2));
    char initrd[256], str1[128], str2[128];
    snprintf(str1, sizeof(str1), "%s arg1 arg2", path1);
    snprintf(str2, sizeof(str2), "%s a,b", path2);
    snprintf(initrd, sizeof(initrd), "%s,%s a,,b", str1, path2); /* ",," is a comma */
    f->cfg.initrd = initrd;

    assert_true(load(f, img, size));
    assert_true(info_field(f, 0) & (1u << 3));
    assert_int_equal(info_field(f, 20), 2);
    const uint8_t *list = ram_at(f, info_field(f, 24), 32);
    uint32_t start1 = get32(list), end1 = get32(list + 4);
    uint32_t start2 = get32(list + 16), end2 = get32(list + 20);
    assert_int_equal(start1 % 4096, 0);
    assert_int_equal(start2 % 4096, 0);
    assert_true(start1 >= 0x200100); /* after the kernel's highest address */
    assert_int_equal(end1 - start1, sizeof(mod1));
    assert_int_equal(end2 - start2, sizeof(mod2));
    assert_true(start2 >= end1);
    assert_memory_equal(ram_at(f, start1, sizeof(mod1)), mod1, sizeof(mod1));
    assert_memory_equal(ram_at(f, start2, sizeof(mod2)), mod2, sizeof(mod2));
    assert_string_equal(ram_string(f, get32(list + 8)), str1);
    assert_string_equal(ram_string(f, get32(list + 24)), str2);

    unlink(path1);
    unlink(path2);
    free(path1);
    free(path2);
    free(img);
}

static void test_module_errors(void **state)
{
    struct fixture *f = *state;
    size_t size;
    uint8_t *img = build_good_elf(&size);

    f->cfg.initrd = "/nonexistent/popek-module";
    assert_false(load(f, img, size));
    assert_non_null(strstr(f->err.message, "cannot open module '/nonexistent/popek-module'"));

    /* A 15 MiB module after a kernel ending above 2 MiB does not fit 16 MiB. */
    char *path = write_temp_file("", 0);
    assert_int_equal(truncate(path, MIB(15)), 0);
    f->cfg.initrd = path;
    assert_false(load(f, img, size));
    assert_non_null(strstr(f->err.message, "beyond the end of RAM"));
    unlink(path);
    free(path);

    f->cfg.initrd = " args only";
    assert_false(load(f, img, size));
    assert_non_null(strstr(f->err.message, "has no file name"));
    free(img);
}

static void test_cmdline_too_long(void **state)
{
    struct fixture *f = *state;
    size_t size, len = 700 * 1024;
    uint8_t *img = build_good_elf(&size);
    char *cmdline = malloc(len + 1);

    memset(cmdline, 'a', len);
    cmdline[len] = '\0';
    f->cfg.cmdline = cmdline;
    expect_failure(f, img, size, "do not fit in the multiboot information area");
    free(cmdline);
}

/* --- malformed images ---------------------------------------------------- */

static void test_no_header(void **state)
{
    struct elf_spec spec = {good_segs, 2, 0x100010, 0, 0, false};
    expect_elf_failure(*state, &spec, "not a multiboot kernel (no valid multiboot header");
}

static void test_header_beyond_8k(void **state)
{
    struct elf_spec spec = {good_segs, 2, 0x100010, 0x2000, 0, false};
    expect_elf_failure(*state, &spec, "not a multiboot kernel");
}

static void test_bad_checksum(void **state)
{
    struct elf_spec spec = {good_segs, 2, 0x100010, 0x80, 0, true};
    expect_elf_failure(*state, &spec, "multiboot header at offset 0x80 has a bad checksum");
}

static void test_unsupported_required_flag(void **state)
{
    struct elf_spec spec = {good_segs, 2, 0x100010, 0x80, 1u << 3, false};
    expect_elf_failure(*state, &spec, "requires feature bit 3");
}

static void test_video_flag_is_accepted(void **state)
{
    struct fixture *f = *state;
    struct elf_spec spec = {good_segs, 2, 0x100010, 0x80, 7, false};
    size_t size;
    uint8_t *img = build_elf(&spec, &size);

    assert_true(load(f, img, size));
    free(img);
}

static void test_truncated_header(void **state)
{
    struct fixture *f = *state;
    uint8_t *img = calloc(1, 0x104);

    /* Only magic and flags fit before the end of the file. */
    put32(img + 0xFC, MULTIBOOT_HEADER_MAGIC);
    expect_failure(f, img, 0x104, "multiboot header at offset 0xfc is truncated");

    /* Flag 16 needs 32 bytes; the file ends 20 bytes into the header. */
    struct aout_spec a = {0x40, 0x100040, 0x100000, 0, 0, 0x100000, 0x1000};
    size_t size;
    img = build_aout(&a, &size);
    expect_failure(f, img, 0x40 + 20, "truncated by the end of the file (flag 16");
}

static void test_non_elf_without_flag16(void **state)
{
    struct fixture *f = *state;
    uint8_t *img = calloc(1, 0x1000);

    memcpy(img, "MZ", 2);
    put_mb_header(img + 0x40, 0, false);
    expect_failure(f, img, 0x1000,
                   "not an ELF32 i386 executable and the multiboot header does not give load "
                   "addresses (flag 16)");
}

static void test_elf64(void **state)
{
    struct fixture *f = *state;
    size_t size;
    uint8_t *img = build_good_elf(&size);

    img[EI_CLASS] = ELFCLASS64;
    expect_failure(f, img, size, "64-bit ELF");
}

static void test_wrong_machine(void **state)
{
    struct fixture *f = *state;
    size_t size;
    uint8_t *img = build_good_elf(&size);
    uint16_t machine = EM_X86_64;

    memcpy(img + offsetof(Elf32_Ehdr, e_machine), &machine, 2);
    expect_failure(f, img, size, "ELF machine 62 is not i386");
}

static void test_not_executable(void **state)
{
    struct fixture *f = *state;
    size_t size;
    uint8_t *img = build_good_elf(&size);
    uint16_t type = ET_DYN;

    memcpy(img + offsetof(Elf32_Ehdr, e_type), &type, 2);
    expect_failure(f, img, size, "not an executable (ET_EXEC)");
}

static void test_phdrs_beyond_eof(void **state)
{
    struct fixture *f = *state;
    size_t size;
    uint8_t *img = build_good_elf(&size);
    uint32_t phoff = (uint32_t)size - 40;

    memcpy(img + offsetof(Elf32_Ehdr, e_phoff), &phoff, 4);
    expect_failure(f, img, size, "program header table");
}

static void test_segment_beyond_eof(void **state)
{
    const struct seg_spec segs[] = {{.paddr = 0x100000, .filesz = 0x100, .memsz = 0x100}};
    struct elf_spec spec = {segs, 1, 0x100000, 0x80, 0, false};
    struct fixture *f = *state;
    size_t size;
    uint8_t *img = build_elf(&spec, &size);
    uint32_t filesz = 0x10000;

    memcpy(img + sizeof(Elf32_Ehdr) + offsetof(Elf32_Phdr, p_filesz), &filesz, 4);
    memcpy(img + sizeof(Elf32_Ehdr) + offsetof(Elf32_Phdr, p_memsz), &filesz, 4);
    expect_failure(f, img, size, "ELF segment 0: file range 0x3000+0x10000 extends beyond the end");
}

static void test_filesz_above_memsz(void **state)
{
    const struct seg_spec segs[] = {{.paddr = 0x100000, .filesz = 0x200, .memsz = 0x100}};
    struct elf_spec spec = {segs, 1, 0x100000, 0x80, 0, false};
    expect_elf_failure(*state, &spec, "file size 0x200 exceeds its memory size 0x100");
}

static void test_segment_outside_ram(void **state)
{
    const struct seg_spec segs[] = {
        {.paddr = 0x100000, .filesz = 0x10, .memsz = 0x10},
        {.paddr = 0x2000000, .filesz = 0x10, .memsz = 0x10},
    };
    struct elf_spec spec = {segs, 2, 0x100000, 0x80, 0, false};
    expect_elf_failure(*state, &spec,
                       "ELF segment 1: physical range 0x2000000-0x200000f lies "
                       "beyond the end of RAM");
}

static void test_segment_in_legacy_hole(void **state)
{
    const struct seg_spec segs[] = {{.paddr = 0xB8000, .filesz = 0x10, .memsz = 0x10}};
    struct elf_spec spec = {segs, 1, 0xB8000, 0x80, 0, false};
    expect_elf_failure(*state, &spec,
                       "physical range 0xb8000-0xb800f overlaps the 640 KiB-1 MiB hole");
}

static void test_segment_over_info_area(void **state)
{
    const struct seg_spec segs[] = {{.paddr = 0x8000, .filesz = 0x10, .memsz = 0x2000}};
    struct elf_spec spec = {segs, 1, 0x8000, 0x80, 0, false};
    expect_elf_failure(*state, &spec, "overlaps the multiboot information area");
}

static void test_segment_memsz_overflows(void **state)
{
    const struct seg_spec segs[] = {{.paddr = 0x100000, .filesz = 0x10, .memsz = 0xFFFFFFF0}};
    struct elf_spec spec = {segs, 1, 0x100000, 0x80, 0, false};
    expect_elf_failure(*state, &spec, "extends past 4 GiB");
}

static void test_aout_load_above_header(void **state)
{
    struct aout_spec a = {0x40, 0x100040, 0x100100, 0, 0, 0x100100, 0x1000};
    size_t size;
    uint8_t *img = build_aout(&a, &size);
    expect_failure(*state, img, size, "load_addr 0x100100 is above header_addr 0x100040");
}

static void expect_aout_failure(struct fixture *f, struct aout_spec a, const char *expected)
{
    size_t size;
    uint8_t *img = build_aout(&a, &size);
    expect_failure(f, img, size, expected);
}

static void test_aout_bad_ranges(void **state)
{
    struct fixture *f = *state;

    /* load_addr is further before the header than the file has bytes. */
    expect_aout_failure(f, (struct aout_spec){0x40, 0x100040, 0xF0000, 0, 0, 0x100000, 0x1000},
                        "header is at file offset 0x40");
    expect_aout_failure(f,
                        (struct aout_spec){0x40, 0x100040, 0x100000, 0xFFFFF, 0, 0x100000, 0x1000},
                        "load_end_addr 0xfffff is below load_addr");
    expect_aout_failure(
        f, (struct aout_spec){0x40, 0x100040, 0x100000, 0x100800, 0x100400, 0x100000, 0x1000},
        "bss_end_addr 0x100400 is below");
    expect_aout_failure(f,
                        (struct aout_spec){0x40, 0x100040, 0x100000, 0x108000, 0, 0x100000, 0x1000},
                        "extends beyond the end of the file");
    expect_aout_failure(
        f, (struct aout_spec){0x40, 0x100040, 0x100000, 0, 0x1100000, 0x100000, 0x1000},
        "beyond the end of RAM");
    expect_aout_failure(f, (struct aout_spec){0x40, 0x100040, 0x100000, 0x100000, 0, 0, 0x1000},
                        "load nothing");
}

static void test_zero_length_image(void **state)
{
    struct fixture *f = *state;

    assert_false(load(f, (const uint8_t *)"", 0));
    assert_non_null(strstr(f->err.message, "is empty"));
}

/* --- boot_load_kernel: files and format dispatch ------------------------ */

static bool load_file(struct fixture *f, const char *path)
{
    f->cfg.kernel_path = path;
    memset(&f->err, 0, sizeof(f->err));
    return boot_load_kernel(f->ram, &f->cfg, &f->cpu, &f->err);
}

static void test_boot_load_kernel_good_file(void **state)
{
    struct fixture *f = *state;
    size_t size;
    uint8_t *img = build_good_elf(&size);
    char *path = write_temp_file(img, size);
    char expected[200];

    f->cfg.cmdline = "root=/dev/sda";
    assert_true(load_file(f, path));
    assert_int_equal(f->cpu.eip, 0x100010);
    snprintf(expected, sizeof(expected), "%s root=/dev/sda", path);
    assert_string_equal(ram_string(f, info_field(f, 16)), expected);
    unlink(path);
    free(path);
    free(img);
}

static void test_boot_load_kernel_missing_file(void **state)
{
    struct fixture *f = *state;

    assert_false(load_file(f, "/nonexistent/popek-kernel.elf"));
    assert_non_null(strstr(f->err.message, "'/nonexistent/popek-kernel.elf'"));
}

static void test_boot_load_kernel_text_file(void **state)
{
    struct fixture *f = *state;

    assert_false(load_file(f, "/etc/passwd"));
    assert_string_equal(f->err.message, "kernel '/etc/passwd': not a multiboot kernel (no valid "
                                        "multiboot header in the first 8 KiB)");
}

static void test_boot_load_kernel_empty_file(void **state)
{
    struct fixture *f = *state;
    char *path = write_temp_file("", 0);

    assert_false(load_file(f, path));
    assert_non_null(strstr(f->err.message, "is empty"));
    assert_non_null(strstr(f->err.message, path));
    unlink(path);
    free(path);
}

static void test_boot_load_kernel_bzimage(void **state)
{
    struct fixture *f = *state;
    uint8_t img[0x400] = {0};

    memcpy(img + 0x202, "HdrS", 4);
    char *path = write_temp_file(img, sizeof(img));
    assert_false(load_file(f, path));
    /* Dispatched to the Linux loader, which finds no boot flag. */
    assert_non_null(strstr(f->err.message, "without the 0xAA55 boot flag"));
    unlink(path);
    free(path);
}

static void test_boot_load_kernel_bad_checksum_file(void **state)
{
    struct fixture *f = *state;
    struct elf_spec spec = {good_segs, 2, 0x100010, 0x100, 0, true};
    size_t size;
    uint8_t *img = build_elf(&spec, &size);
    char *path = write_temp_file(img, size);

    assert_false(load_file(f, path));
    assert_non_null(strstr(f->err.message, "multiboot header at offset 0x100 has a bad checksum"));
    unlink(path);
    free(path);
    free(img);
}

/* --- fuzzing ------------------------------------------------------------- */

static uint64_t fuzz_rng = 0x9E3779B97F4A7C15ull;

static uint32_t fuzz_next(void)
{
    /* xorshift64*: deterministic across runs and platforms. */
    fuzz_rng ^= fuzz_rng >> 12;
    fuzz_rng ^= fuzz_rng << 25;
    fuzz_rng ^= fuzz_rng >> 27;
    return (uint32_t)((fuzz_rng * 0x2545F4914F6CDD1Dull) >> 32);
}

static void fuzz_image(struct fixture *f, const uint8_t *good, size_t good_size, unsigned rounds)
{
    uint8_t *img = malloc(good_size);
    unsigned loaded = 0;

    for (unsigned round = 0; round < rounds; round++) {
        size_t size = good_size;
        memcpy(img, good, good_size);
        for (unsigned flips = 1 + fuzz_next() % 4; flips; flips--) {
            /* Mostly the headers; sometimes anywhere. */
            size_t at = fuzz_next() % 4 ? fuzz_next() % 0x100 : fuzz_next() % good_size;
            img[at] = (uint8_t)fuzz_next();
        }
        if (fuzz_next() % 16 == 0)
            size = fuzz_next() % good_size;
        if (load(f, img, size)) {
            loaded++;
        } else {
            if (strncmp(f->err.message, "kernel '", 8) != 0 &&
                !strstr(f->err.message, "information area"))
                fail_msg("round %u: unexpected message '%s'", round, f->err.message);
        }
    }
    assert_true(loaded > 0 && loaded < rounds);
    free(img);
}

static void test_fuzz_elf(void **state)
{
    size_t size;
    uint8_t *img = build_good_elf(&size);

    fuzz_image(*state, img, size, 3000);
    free(img);
}

static void test_fuzz_aout(void **state)
{
    struct aout_spec a = {0x40, 0x100040, 0x100000, 0x100800, 0x101000, 0x100000, 0x1000};
    size_t size;
    uint8_t *img = build_aout(&a, &size);

    fuzz_image(*state, img, size, 2000);
    free(img);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_elf_segments_land_at_paddr),
        T(test_initial_state),
        T(test_info_structure),
        T(test_mem_upper_follows_ram_size),
        T(test_higher_half_entry_is_translated),
        T(test_aout_kludge_with_bss),
        T(test_aout_kludge_load_to_end_of_file),
        T(test_modules),
        T(test_module_errors),
        T(test_cmdline_too_long),
        T(test_no_header),
        T(test_header_beyond_8k),
        T(test_bad_checksum),
        T(test_unsupported_required_flag),
        T(test_video_flag_is_accepted),
        T(test_truncated_header),
        T(test_non_elf_without_flag16),
        T(test_elf64),
        T(test_wrong_machine),
        T(test_not_executable),
        T(test_phdrs_beyond_eof),
        T(test_segment_beyond_eof),
        T(test_filesz_above_memsz),
        T(test_segment_outside_ram),
        T(test_segment_in_legacy_hole),
        T(test_segment_over_info_area),
        T(test_segment_memsz_overflows),
        T(test_aout_load_above_header),
        T(test_aout_bad_ranges),
        T(test_zero_length_image),
        T(test_boot_load_kernel_good_file),
        T(test_boot_load_kernel_missing_file),
        T(test_boot_load_kernel_text_file),
        T(test_boot_load_kernel_empty_file),
        T(test_boot_load_kernel_bzimage),
        T(test_boot_load_kernel_bad_checksum_file),
        T(test_fuzz_elf),
        T(test_fuzz_aout),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
