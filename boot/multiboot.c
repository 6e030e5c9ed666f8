/*
 * boot/multiboot.c — the Multiboot Specification 0.6.96 loader (multiboot.h).
 *
 * This file owns everything between "here is an image in memory" and "the vCPU
 * sits at the kernel's entry point": finding and checking the multiboot header
 * (§3.1), loading the kernel from its ELF32 program headers or from the a.out
 * kludge address fields (§3.1.3, header flag 16), loading the modules given
 * with -initrd, building the boot information structure (§3.3) and setting the
 * machine state of §3.2.
 *
 * Invariants:
 *  - Every value taken from the image or the command line is checked before it
 *    is used: file ranges against the image size, destinations against RAM,
 *    the 640 KiB-1 MiB hole and the information area. Sums of guest-supplied
 *    32-bit values are formed in 64 bits, so nothing wraps.
 *  - The kernel is validated whole (every segment) before any byte of it is
 *    copied; each module is checked before it is copied.
 *  - Guests see what they see under QEMU's multiboot loader where it matters:
 *    the command line is "<kernel path> <append>", mem_lower is 639 KiB, the
 *    boot GDT has QEMU's selectors (code 0x08, data 0x10).
 *
 * Low memory this loader writes (all below MULTIBOOT_INFO_END, the EBDA):
 *   MB_GDT_ADDR          the boot GDT the initial segment registers come from
 *   MULTIBOOT_INFO_ADDR  struct multiboot_info, then the memory map, the module
 *                        list, the boot loader name, the command line and the
 *                        module strings, packed in that order
 *
 * Usage:
 *   if (multiboot_find_header(image, size) >= 0)
 *       ok = multiboot_load_image(ram, image, size, path, cfg, cpu, &err);
 */
#include "boot/multiboot.h"

#include <elf.h>
#include <stdlib.h>
#include <string.h>

#include "boot/gdt.h"
#include "common/file.h"
#include "common/bytes.h"
#include "common/log.h"
#include "common/types.h"

#ifndef POPEK_VERSION
#define POPEK_VERSION "(unknown version)"
#endif
#define MB_BOOT_LOADER_NAME "popek " POPEK_VERSION

/* §3.1.2 header flags. Bits 0-15 are requirements, 16-31 optional features. */
#define MB_FLAG_PAGE_ALIGN  (1u << 0) /* modules page aligned: always done */
#define MB_FLAG_MEMORY_INFO (1u << 1) /* mem_* and mmap_*: always given */
#define MB_FLAG_VIDEO_MODE  (1u << 2) /* accepted; no video mode is set */
#define MB_FLAG_AOUT_KLUDGE (1u << 16)
#define MB_FLAGS_REQUIRED   0xFFFFu
#define MB_FLAGS_HONOURED   (MB_FLAG_PAGE_ALIGN | MB_FLAG_MEMORY_INFO | MB_FLAG_VIDEO_MODE)

/* §3.1.1 header layout: magic, flags, checksum, then (flag 16) addresses. */
#define MB_HDR_MIN_SIZE      12u
#define MB_HDR_AOUT_SIZE     32u
#define MB_HDR_HEADER_ADDR   12u
#define MB_HDR_LOAD_ADDR     16u
#define MB_HDR_LOAD_END_ADDR 20u
#define MB_HDR_BSS_END_ADDR  24u
#define MB_HDR_ENTRY_ADDR    28u

/* §3.3 boot information structure: field offsets and flags. The framebuffer
 * fields (offsets 88..115) are reserved and left zero. */
#define MB_INFO_FLAGS            0u
#define MB_INFO_MEM_LOWER        4u
#define MB_INFO_MEM_UPPER        8u
#define MB_INFO_CMDLINE          16u
#define MB_INFO_MODS_COUNT       20u
#define MB_INFO_MODS_ADDR        24u
#define MB_INFO_MMAP_LENGTH      44u
#define MB_INFO_MMAP_ADDR        48u
#define MB_INFO_BOOT_LOADER_NAME 64u
#define MB_INFO_RESERVED_SIZE    128u

#define MB_INFO_HAS_MEMORY   (1u << 0)
#define MB_INFO_HAS_CMDLINE  (1u << 2)
#define MB_INFO_HAS_MODS     (1u << 3)
#define MB_INFO_HAS_MMAP     (1u << 6)
#define MB_INFO_HAS_LOADER   (1u << 9)
#define MB_MODULE_ENTRY_SIZE 16u /* mod_start, mod_end, string, reserved */
#define MB_MMAP_ENTRY_SIZE   24u /* size (=20), base_addr (64), length (64), type */
#define MB_MMAP_AVAILABLE    1u
#define MB_MMAP_RESERVED     2u

/* Conventional memory as a PC BIOS reports it: 639 KiB, the last 1 KiB being
 * the EBDA (int 0x12 under SeaBIOS, which QEMU's multiboot ROM asks). */
#define MB_MEM_LOWER_KIB (MULTIBOOT_INFO_END / 1024u)

/* The boot GDT: QEMU's multiboot option ROM layout, so a kernel reloading
 * segment registers from it before installing its own GDT works as there. */
#define MB_GDT_ADDR      0x8F00u
#define MB_GDT_ENTRIES   5u
#define MB_CODE_SELECTOR 0x08u
#define MB_DATA_SELECTOR 0x10u

struct mb_header {
    size_t offset; /* in the image */
    uint32_t flags;
    /* §3.1.3 address fields, meaningful when MB_FLAG_AOUT_KLUDGE is set. */
    uint32_t header_addr, load_addr, load_end_addr, bss_end_addr, entry_addr;
};

/* One range of the kernel: filesz bytes from the image, zeroed up to memsz. */
struct mb_segment {
    uint64_t file_offset, filesz;
    uint64_t paddr, memsz;
};

struct mb_module {
    char *string; /* the whole -initrd entry: "file args" */
    char *path;   /* its first word */
    guest_phys_t start, end, string_addr;
};

/* Where each piece of the information area goes (§3.3). */
struct mb_layout {
    guest_phys_t info, mmap, mods, loader_name, cmdline, mod_strings, end;
};

struct mb_loader {
    struct guest_ram *ram;
    const uint8_t *image;
    size_t size;
    const char *name;
    const struct boot_config *cfg;
    struct popek_error *err;
    struct mb_header hdr;
    char *cmdline;
    struct mb_module *mods;
    unsigned nmods;
    struct mb_layout layout;
    guest_phys_t entry;
    uint64_t kernel_end; /* highest physical address the kernel occupies, + 1 */
};

static uint64_t align_up_page(uint64_t v)
{
    return (v + GUEST_PAGE_SIZE - 1) & ~(uint64_t)(GUEST_PAGE_SIZE - 1);
}

static bool ranges_overlap(uint64_t a_start, uint64_t a_end, uint64_t b_start, uint64_t b_end)
{
    return a_start < b_end && b_start < a_end;
}

/* §3.1: the header is 32-bit aligned and wholly within the first 8192 bytes. */
long multiboot_find_header(const uint8_t *image, size_t size)
{
    size_t limit = size < MULTIBOOT_SEARCH_BYTES ? size : MULTIBOOT_SEARCH_BYTES;

    for (size_t off = 0; off + MB_HDR_MIN_SIZE <= limit; off += 4) {
        const uint8_t *h = image + off;
        if (load_le32(h) != MULTIBOOT_HEADER_MAGIC)
            continue;
        if ((uint32_t)(load_le32(h) + load_le32(h + 4) + load_le32(h + 8)) == 0)
            return (long)off;
    }
    return -1;
}

/* Why multiboot_find_header() found nothing: a magic with a bad checksum or
 * cut off by the end of the file is a likelier user error than no header. */
static bool multiboot_explain_missing_header(const struct mb_loader *ld)
{
    if (ld->size == 0)
        return popek_fail(ld->err, "kernel '%s' is empty", ld->name);
    for (size_t off = 0; off < MULTIBOOT_SEARCH_BYTES && off + 4 <= ld->size; off += 4) {
        if (load_le32(ld->image + off) != MULTIBOOT_HEADER_MAGIC)
            continue;
        if (off + MB_HDR_MIN_SIZE > ld->size)
            return popek_fail(ld->err,
                              "kernel '%s': multiboot header at offset 0x%zx is truncated by the "
                              "end of the file",
                              ld->name, off);
        if (off + MB_HDR_MIN_SIZE > MULTIBOOT_SEARCH_BYTES)
            return popek_fail(ld->err,
                              "kernel '%s': multiboot header at offset 0x%zx is not contained in "
                              "the first 8 KiB",
                              ld->name, off);
        return popek_fail(ld->err,
                          "kernel '%s': multiboot header at offset 0x%zx has a bad checksum",
                          ld->name, off);
    }
    return popek_fail(ld->err,
                      "kernel '%s': not a multiboot kernel (no valid multiboot header in the first "
                      "8 KiB)",
                      ld->name);
}

/* §3.1.2: requirement bits we cannot honour stop the boot; §3.1.3: the address
 * fields must be present when flag 16 is set. */
static bool multiboot_parse_header(struct mb_loader *ld)
{
    long found = multiboot_find_header(ld->image, ld->size);
    struct mb_header *hdr = &ld->hdr;

    if (found < 0)
        return multiboot_explain_missing_header(ld);
    hdr->offset = (size_t)found;
    hdr->flags = load_le32(ld->image + hdr->offset + 4);

    uint32_t unsupported = hdr->flags & MB_FLAGS_REQUIRED & ~MB_FLAGS_HONOURED;
    if (unsupported)
        return popek_fail(ld->err,
                          "kernel '%s': the multiboot header requires feature bit %d (flags "
                          "0x%08x), which popek does not provide",
                          ld->name, __builtin_ctz(unsupported), hdr->flags);
    if ((hdr->flags & MB_FLAG_VIDEO_MODE) && log_enabled(LOG_BOOT))
        log_printf("multiboot: kernel asks for a video mode (flag 2); none is set and no video "
                   "information is passed\n");
    if (!(hdr->flags & MB_FLAG_AOUT_KLUDGE))
        return true;

    if (hdr->offset + MB_HDR_AOUT_SIZE > ld->size)
        return popek_fail(ld->err,
                          "kernel '%s': multiboot header at offset 0x%zx is truncated by the end "
                          "of the file (flag 16 needs its 32 bytes of address fields)",
                          ld->name, hdr->offset);
    const uint8_t *h = ld->image + hdr->offset;
    hdr->header_addr = load_le32(h + MB_HDR_HEADER_ADDR);
    hdr->load_addr = load_le32(h + MB_HDR_LOAD_ADDR);
    hdr->load_end_addr = load_le32(h + MB_HDR_LOAD_END_ADDR);
    hdr->bss_end_addr = load_le32(h + MB_HDR_BSS_END_ADDR);
    hdr->entry_addr = load_le32(h + MB_HDR_ENTRY_ADDR);
    return true;
}

/* -initrd "file args,file2" as QEMU reads it: entries separated by ',', a
 * doubled ",," stands for a literal comma; the file is the first word. */
static bool multiboot_add_module(struct mb_loader *ld, char *entry)
{
    struct mb_module *grown = realloc(ld->mods, (ld->nmods + 1) * sizeof(*grown));
    char *space = strchr(entry, ' ');
    size_t path_len = space ? (size_t)(space - entry) : strlen(entry);

    if (!grown) {
        free(entry);
        return popek_fail(ld->err, "out of memory parsing -initrd");
    }
    ld->mods = grown;
    memset(&ld->mods[ld->nmods], 0, sizeof(ld->mods[0]));
    ld->mods[ld->nmods].string = entry;
    ld->nmods++;
    if (path_len == 0)
        return popek_fail(ld->err, "-initrd: module %u ('%s') has no file name", ld->nmods - 1,
                          entry);
    ld->mods[ld->nmods - 1].path = strndup(entry, path_len);
    if (!ld->mods[ld->nmods - 1].path)
        return popek_fail(ld->err, "out of memory parsing -initrd");
    return true;
}

static bool multiboot_parse_modules(struct mb_loader *ld)
{
    const char *p = ld->cfg->initrd;

    if (!p || !*p)
        return true;
    for (;;) {
        char *entry = malloc(strlen(p) + 1), *q = entry;
        if (!entry)
            return popek_fail(ld->err, "out of memory parsing -initrd");
        while (*p && !(*p == ',' && p[1] != ',')) {
            if (*p == ',')
                p++; /* ",," -> "," */
            *q++ = *p++;
        }
        *q = '\0';
        if (!multiboot_add_module(ld, entry))
            return false;
        if (!*p)
            return true;
        p++;
    }
}

/* §3.3 cmdline: QEMU passes "<kernel path> <append>", GRUB the path and its
 * arguments; we do as QEMU so a guest sees the same string under both. */
static bool multiboot_make_cmdline(struct mb_loader *ld)
{
    const char *path = ld->cfg->kernel_path ? ld->cfg->kernel_path : ld->name;
    const char *append = ld->cfg->cmdline ? ld->cfg->cmdline : "";
    size_t len = strlen(path) + 1 + strlen(append) + 1;

    ld->cmdline = malloc(len);
    if (!ld->cmdline)
        return popek_fail(ld->err, "out of memory building the kernel command line");
    snprintf(ld->cmdline, len, "%s %s", path, append);
    return true;
}

/* Packs the information area after MULTIBOOT_INFO_ADDR and checks that it
 * ends below the EBDA. Computed before loading, so the kernel can be checked
 * against it. */
static bool multiboot_plan_info(struct mb_loader *ld)
{
    uint64_t mmap = MULTIBOOT_INFO_ADDR + MB_INFO_RESERVED_SIZE;
    uint64_t mods = mmap + 4 * MB_MMAP_ENTRY_SIZE;
    uint64_t loader_name = mods + (uint64_t)ld->nmods * MB_MODULE_ENTRY_SIZE;
    uint64_t cmdline = loader_name + sizeof(MB_BOOT_LOADER_NAME);
    uint64_t mod_strings = cmdline + strlen(ld->cmdline) + 1;
    uint64_t end = mod_strings;

    for (unsigned i = 0; i < ld->nmods; i++)
        end += strlen(ld->mods[i].string) + 1;
    if (end > MULTIBOOT_INFO_END)
        return popek_fail(ld->err,
                          "the command line and module strings do not fit in the multiboot "
                          "information area (%llu bytes needed, %u available)",
                          (unsigned long long)(end - MB_GDT_ADDR),
                          MULTIBOOT_INFO_END - MB_GDT_ADDR);
    ld->layout = (struct mb_layout){
        .info = MULTIBOOT_INFO_ADDR,
        .mmap = (guest_phys_t)mmap,
        .mods = (guest_phys_t)mods,
        .loader_name = (guest_phys_t)loader_name,
        .cmdline = (guest_phys_t)cmdline,
        .mod_strings = (guest_phys_t)mod_strings,
        .end = (guest_phys_t)end,
    };
    return true;
}

/* A destination must be usable RAM: below 4 GiB and the RAM size, outside the
 * EBDA and the 640 KiB-1 MiB hole, and clear of the information area. `what`
 * names the thing being placed ("kernel 'k': segment 2"). */
static bool multiboot_check_placement(const struct mb_loader *ld, uint64_t start, uint64_t len,
                                      const char *what)
{
    uint64_t end = start + len;
    unsigned long long first = start, last = len ? end - 1 : start;

    if (end > GIB(4))
        return popek_fail(ld->err, "%s: physical range 0x%llx-0x%llx extends past 4 GiB", what,
                          first, last);
    if (end > guest_ram_size(ld->ram))
        return popek_fail(ld->err,
                          "%s: physical range 0x%llx-0x%llx lies beyond the end of RAM (%llu MiB; "
                          "-m gives the guest more)",
                          what, first, last, (unsigned long long)(guest_ram_size(ld->ram) >> 20));
    if (ranges_overlap(start, end, MULTIBOOT_INFO_END, GUEST_RAM_HIGH_START))
        return popek_fail(ld->err,
                          "%s: physical range 0x%llx-0x%llx overlaps the 640 KiB-1 MiB hole "
                          "(0x%x-0x%x: EBDA, VGA window and ROMs)",
                          what, first, last, MULTIBOOT_INFO_END, GUEST_RAM_HIGH_START - 1);
    if (ranges_overlap(start, end, MB_GDT_ADDR, ld->layout.end))
        return popek_fail(ld->err,
                          "%s: physical range 0x%llx-0x%llx overlaps the multiboot information "
                          "area 0x%x-0x%x",
                          what, first, last, MB_GDT_ADDR, ld->layout.end - 1);
    return true;
}

/* Checks one kernel segment against the file and RAM. */
static bool multiboot_check_segment(const struct mb_loader *ld, const struct mb_segment *seg,
                                    const char *what)
{
    if (seg->filesz > seg->memsz)
        return popek_fail(ld->err, "%s: file size 0x%llx exceeds its memory size 0x%llx", what,
                          (unsigned long long)seg->filesz, (unsigned long long)seg->memsz);
    if (seg->file_offset > ld->size || seg->filesz > ld->size - seg->file_offset)
        return popek_fail(ld->err,
                          "%s: file range 0x%llx+0x%llx extends beyond the end of the file (0x%zx "
                          "bytes)",
                          what, (unsigned long long)seg->file_offset,
                          (unsigned long long)seg->filesz, ld->size);
    return multiboot_check_placement(ld, seg->paddr, seg->memsz, what);
}

/* Copies a checked segment into RAM and zeroes its bss. */
static void multiboot_copy_segment(struct mb_loader *ld, const struct mb_segment *seg,
                                   unsigned index)
{
    uint8_t *dst = guest_ram_host_ptr(ld->ram, (guest_phys_t)seg->paddr, seg->memsz);

    memcpy(dst, ld->image + seg->file_offset, seg->filesz);
    memset(dst + seg->filesz, 0, seg->memsz - seg->filesz);
    if (seg->paddr + seg->memsz > ld->kernel_end)
        ld->kernel_end = seg->paddr + seg->memsz;
    if (log_enabled(LOG_BOOT))
        log_printf("multiboot: segment %u: file 0x%llx +0x%llx -> phys 0x%llx-0x%llx (bss "
                   "0x%llx)\n",
                   index, (unsigned long long)seg->file_offset, (unsigned long long)seg->filesz,
                   (unsigned long long)seg->paddr,
                   (unsigned long long)(seg->paddr + seg->memsz - 1),
                   (unsigned long long)(seg->memsz - seg->filesz));
}

/* §3.1.3: with flag 16 the header's address fields say where the image goes.
 * The file offset of load_addr is header_offset - (header_addr - load_addr). */
static bool multiboot_plan_aout(const struct mb_loader *ld, struct mb_segment *seg)
{
    const struct mb_header *h = &ld->hdr;
    uint64_t before_header = (uint64_t)h->header_addr - h->load_addr;

    if (h->load_addr > h->header_addr)
        return popek_fail(ld->err,
                          "kernel '%s': multiboot load_addr 0x%x is above header_addr 0x%x",
                          ld->name, h->load_addr, h->header_addr);
    if (before_header > h->offset)
        return popek_fail(ld->err,
                          "kernel '%s': multiboot load_addr 0x%x is 0x%llx bytes before "
                          "header_addr, but the header is at file offset 0x%zx",
                          ld->name, h->load_addr, (unsigned long long)before_header, h->offset);
    seg->paddr = h->load_addr;
    seg->file_offset = h->offset - before_header;
    if (h->load_end_addr == 0) {
        seg->filesz = ld->size - seg->file_offset;
    } else if (h->load_end_addr < h->load_addr) {
        return popek_fail(ld->err,
                          "kernel '%s': multiboot load_end_addr 0x%x is below load_addr 0x%x",
                          ld->name, h->load_end_addr, h->load_addr);
    } else {
        seg->filesz = (uint64_t)h->load_end_addr - h->load_addr;
    }
    if (h->bss_end_addr == 0) {
        seg->memsz = seg->filesz;
    } else if (h->bss_end_addr < seg->paddr + seg->filesz) {
        return popek_fail(ld->err,
                          "kernel '%s': multiboot bss_end_addr 0x%x is below the end of the "
                          "loaded image 0x%llx",
                          ld->name, h->bss_end_addr,
                          (unsigned long long)(seg->paddr + seg->filesz));
    } else {
        seg->memsz = (uint64_t)h->bss_end_addr - h->load_addr;
    }
    if (seg->memsz == 0)
        return popek_fail(ld->err, "kernel '%s': the multiboot address fields load nothing",
                          ld->name);
    return true;
}

static bool multiboot_load_aout(struct mb_loader *ld)
{
    struct mb_segment seg;
    char what[600];

    if (!multiboot_plan_aout(ld, &seg))
        return false;
    snprintf(what, sizeof(what), "kernel '%s': a.out kludge image", ld->name);
    if (!multiboot_check_segment(ld, &seg, what))
        return false;
    multiboot_copy_segment(ld, &seg, 0);
    ld->entry = ld->hdr.entry_addr;
    return true;
}

/* The ELF32 checks a multiboot loader needs (System V ABI, i386 supplement):
 * a little-endian i386 executable whose program header table is in the file. */
static bool multiboot_check_elf_header(const struct mb_loader *ld, Elf32_Ehdr *eh)
{
    const uint8_t *id = ld->image;

    if (ld->size < EI_NIDENT || memcmp(id, ELFMAG, SELFMAG) != 0)
        return popek_fail(ld->err,
                          "kernel '%s': not an ELF32 i386 executable and the multiboot header "
                          "does not give load addresses (flag 16)",
                          ld->name);
    if (id[EI_CLASS] == ELFCLASS64)
        return popek_fail(ld->err,
                          "kernel '%s': is a 64-bit ELF; multiboot kernels must be ELF32 i386",
                          ld->name);
    if (id[EI_CLASS] != ELFCLASS32 || id[EI_DATA] != ELFDATA2LSB)
        return popek_fail(ld->err,
                          "kernel '%s': not a little-endian ELF32 file (class %u, data %u)",
                          ld->name, id[EI_CLASS], id[EI_DATA]);
    if (ld->size < sizeof(*eh))
        return popek_fail(ld->err, "kernel '%s': the ELF header is truncated", ld->name);
    memcpy(eh, ld->image, sizeof(*eh));
    if (eh->e_machine != EM_386)
        return popek_fail(ld->err, "kernel '%s': ELF machine %u is not i386 (EM_386)", ld->name,
                          eh->e_machine);
    if (eh->e_type != ET_EXEC)
        return popek_fail(ld->err, "kernel '%s': ELF type %u is not an executable (ET_EXEC)",
                          ld->name, eh->e_type);
    if (eh->e_phentsize != sizeof(Elf32_Phdr))
        return popek_fail(ld->err, "kernel '%s': ELF program header size %u is not %zu", ld->name,
                          eh->e_phentsize, sizeof(Elf32_Phdr));
    if (eh->e_phnum == 0)
        return popek_fail(ld->err, "kernel '%s': the ELF file has no program headers", ld->name);
    if ((uint64_t)eh->e_phoff + (uint64_t)eh->e_phnum * sizeof(Elf32_Phdr) > ld->size)
        return popek_fail(ld->err,
                          "kernel '%s': the ELF program header table (offset 0x%x, %u entries) "
                          "extends beyond the end of the file (0x%zx bytes)",
                          ld->name, eh->e_phoff, eh->e_phnum, ld->size);
    return true;
}

static Elf32_Phdr multiboot_elf_phdr(const struct mb_loader *ld, const Elf32_Ehdr *eh, unsigned i)
{
    Elf32_Phdr ph;

    memcpy(&ph, ld->image + eh->e_phoff + (size_t)i * sizeof(ph), sizeof(ph));
    return ph;
}

static bool multiboot_elf_is_loaded(const Elf32_Phdr *ph)
{
    return ph->p_type == PT_LOAD && ph->p_memsz > 0;
}

static struct mb_segment multiboot_elf_segment(const Elf32_Phdr *ph)
{
    struct mb_segment seg = {ph->p_offset, ph->p_filesz, ph->p_paddr, ph->p_memsz};
    return seg;
}

/* Pass 1: every PT_LOAD segment is checked before any is copied. */
static bool multiboot_check_elf_segments(const struct mb_loader *ld, const Elf32_Ehdr *eh)
{
    unsigned loaded = 0;
    char what[600];

    for (unsigned i = 0; i < eh->e_phnum; i++) {
        Elf32_Phdr ph = multiboot_elf_phdr(ld, eh, i);
        struct mb_segment seg = multiboot_elf_segment(&ph);
        if (!multiboot_elf_is_loaded(&ph))
            continue;
        snprintf(what, sizeof(what), "kernel '%s': ELF segment %u", ld->name, i);
        if (!multiboot_check_segment(ld, &seg, what))
            return false;
        loaded++;
    }
    if (loaded == 0)
        return popek_fail(ld->err, "kernel '%s': the ELF file has no loadable segments", ld->name);
    return true;
}

/* The entry point is physical: paging is off (§3.2). A higher-half kernel
 * links e_entry at its virtual address; like GRUB, translate it through the
 * segment that contains it when that segment's p_vaddr != p_paddr. */
static guest_phys_t multiboot_elf_entry(const struct mb_loader *ld, const Elf32_Ehdr *eh)
{
    for (unsigned i = 0; i < eh->e_phnum; i++) {
        Elf32_Phdr ph = multiboot_elf_phdr(ld, eh, i);
        if (!multiboot_elf_is_loaded(&ph) || ph.p_vaddr == ph.p_paddr)
            continue;
        if (eh->e_entry >= ph.p_vaddr && eh->e_entry < (uint64_t)ph.p_vaddr + ph.p_memsz)
            return eh->e_entry - ph.p_vaddr + ph.p_paddr;
    }
    return eh->e_entry;
}

/* Pass 2: copy each PT_LOAD segment to p_paddr. */
static void multiboot_load_elf_segments(struct mb_loader *ld, const Elf32_Ehdr *eh)
{
    for (unsigned i = 0; i < eh->e_phnum; i++) {
        Elf32_Phdr ph = multiboot_elf_phdr(ld, eh, i);
        struct mb_segment seg = multiboot_elf_segment(&ph);
        if (multiboot_elf_is_loaded(&ph))
            multiboot_copy_segment(ld, &seg, i);
    }
}

static bool multiboot_load_elf(struct mb_loader *ld)
{
    Elf32_Ehdr eh;

    if (!multiboot_check_elf_header(ld, &eh) || !multiboot_check_elf_segments(ld, &eh))
        return false;
    multiboot_load_elf_segments(ld, &eh);
    ld->entry = multiboot_elf_entry(ld, &eh);
    return true;
}

/* §3.3 mods: each module page aligned (header flag 0), after the kernel. */
static bool multiboot_load_module(struct mb_loader *ld, struct mb_module *mod, uint64_t *next)
{
    uint64_t addr = align_up_page(*next);
    uint8_t *data;
    size_t size;
    char what[600];

    if (!file_read_all(mod->path, "module", guest_ram_size(ld->ram), &data, &size, ld->err))
        return false;
    snprintf(what, sizeof(what), "module '%s' (%zu bytes)", mod->path, size);
    if (!multiboot_check_placement(ld, addr, size, what)) {
        free(data);
        return false;
    }
    memcpy(guest_ram_host_ptr(ld->ram, (guest_phys_t)addr, size), data, size);
    free(data);
    mod->start = (guest_phys_t)addr;
    mod->end = (guest_phys_t)(addr + size);
    *next = addr + size;
    if (log_enabled(LOG_BOOT))
        log_printf("multiboot: module '%s': file +0x%zx -> phys 0x%x\n", mod->string, size,
                   mod->start);
    return true;
}

static bool multiboot_load_modules(struct mb_loader *ld)
{
    uint64_t next = ld->kernel_end;

    for (unsigned i = 0; i < ld->nmods; i++) {
        if (!multiboot_load_module(ld, &ld->mods[i], &next))
            return false;
    }
    return true;
}

static void multiboot_put_mmap_entry(uint8_t *p, uint64_t base, uint64_t length, uint32_t type)
{
    store_le32(p, MB_MMAP_ENTRY_SIZE - 4); /* size excludes the size field itself */
    store_le64(p + 4, base);
    store_le64(p + 12, length);
    store_le32(p + 20, type);
}

/* §3.3 mmap: the PC layout, as a BIOS's e820 reports it. Returns its length. */
static uint32_t multiboot_write_mmap(const struct mb_loader *ld, uint8_t *p)
{
    uint64_t ram = guest_ram_size(ld->ram);

    multiboot_put_mmap_entry(p, 0, MULTIBOOT_INFO_END, MB_MMAP_AVAILABLE);
    multiboot_put_mmap_entry(p + 24, MULTIBOOT_INFO_END, GUEST_RAM_LOW_END - MULTIBOOT_INFO_END,
                             MB_MMAP_RESERVED);
    multiboot_put_mmap_entry(p + 48, 0xF0000, GUEST_RAM_HIGH_START - 0xF0000, MB_MMAP_RESERVED);
    multiboot_put_mmap_entry(p + 72, GUEST_RAM_HIGH_START, ram - GUEST_RAM_HIGH_START,
                             MB_MMAP_AVAILABLE);
    return 4 * MB_MMAP_ENTRY_SIZE;
}

/* Copies a string to guest address `addr` inside the area `base` maps. */
static void multiboot_put_string(uint8_t *base, guest_phys_t addr, const char *s)
{
    memcpy(base + (addr - MB_GDT_ADDR), s, strlen(s) + 1);
}

/* The boot GDT: null, 0x08 flat 32-bit code, 0x10 flat 32-bit data, then
 * QEMU's 16-bit code and data at 0x18 and 0x20. The 32-bit ones are marked
 * accessed, as the CPU would have done when loading them. */
static void multiboot_write_gdt(uint8_t *gdt)
{
    const uint64_t entries[MB_GDT_ENTRIES] = {
        0,
        boot_gdt_descriptor(0xFFFFF, BOOT_GDT_CODE32, BOOT_GDT_FLAT),
        boot_gdt_descriptor(0xFFFFF, BOOT_GDT_DATA32, BOOT_GDT_FLAT),
        boot_gdt_descriptor(0xFFFF, 0x9E, 0x0),
        boot_gdt_descriptor(0xFFFF, 0x92, 0x0),
    };

    for (unsigned i = 0; i < MB_GDT_ENTRIES; i++)
        store_le64(gdt + 8 * i, entries[i]);
}

/* §3.3: the boot information structure and everything it points to. */
static void multiboot_build_info(struct mb_loader *ld)
{
    const struct mb_layout *l = &ld->layout;
    uint8_t *area = guest_ram_host_ptr(ld->ram, MB_GDT_ADDR, l->end - MB_GDT_ADDR);
    uint8_t *info = area + (l->info - MB_GDT_ADDR);
    uint32_t flags =
        MB_INFO_HAS_MEMORY | MB_INFO_HAS_CMDLINE | MB_INFO_HAS_MMAP | MB_INFO_HAS_LOADER;
    guest_phys_t string = l->mod_strings;

    memset(area, 0, l->end - MB_GDT_ADDR);
    multiboot_write_gdt(area);
    store_le32(info + MB_INFO_MEM_LOWER, MB_MEM_LOWER_KIB);
    store_le32(info + MB_INFO_MEM_UPPER,
               (uint32_t)((guest_ram_size(ld->ram) - GUEST_RAM_HIGH_START) / 1024));
    store_le32(info + MB_INFO_CMDLINE, l->cmdline);
    multiboot_put_string(area, l->cmdline, ld->cmdline);
    store_le32(info + MB_INFO_MMAP_LENGTH,
               multiboot_write_mmap(ld, area + (l->mmap - MB_GDT_ADDR)));
    store_le32(info + MB_INFO_MMAP_ADDR, l->mmap);
    store_le32(info + MB_INFO_BOOT_LOADER_NAME, l->loader_name);
    multiboot_put_string(area, l->loader_name, MB_BOOT_LOADER_NAME);
    if (ld->nmods) {
        flags |= MB_INFO_HAS_MODS;
        store_le32(info + MB_INFO_MODS_COUNT, ld->nmods);
        store_le32(info + MB_INFO_MODS_ADDR, l->mods);
    }
    for (unsigned i = 0; i < ld->nmods; i++) {
        uint8_t *entry = area + (l->mods - MB_GDT_ADDR) + i * MB_MODULE_ENTRY_SIZE;
        store_le32(entry, ld->mods[i].start);
        store_le32(entry + 4, ld->mods[i].end);
        store_le32(entry + 8, string);
        multiboot_put_string(area, string, ld->mods[i].string);
        string += (guest_phys_t)strlen(ld->mods[i].string) + 1;
    }
    store_le32(info + MB_INFO_FLAGS, flags);
}

/* §3.2 machine state: EAX magic, EBX the info structure, flat 32-bit
 * segments, CR0.PE set and paging off, IF and VM clear. ESP is undefined. */
static void multiboot_set_initial_state(const struct mb_loader *ld, struct vcpu_state *cpu)
{
    vcpu_state_reset(cpu);
    cpu->regs[REG_EAX] = MULTIBOOT_BOOTLOADER_MAGIC;
    cpu->regs[REG_EBX] = ld->layout.info;
    boot_set_flat_entry(cpu, ld->entry, MB_CODE_SELECTOR, MB_DATA_SELECTOR, MB_GDT_ADDR,
                        MB_GDT_ENTRIES);
}

static void multiboot_log_boot(const struct mb_loader *ld, const struct vcpu_state *cpu)
{
    if (!log_enabled(LOG_BOOT))
        return;
    log_printf("multiboot: info structure at 0x%x (area 0x%x-0x%x), %u module(s)\n",
               ld->layout.info, MB_GDT_ADDR, ld->layout.end - 1, ld->nmods);
    log_printf("multiboot: command line '%s'\n", ld->cmdline);
    log_printf("multiboot: entry 0x%x\n", ld->entry);
    vcpu_state_dump(cpu, log_stream ? log_stream : stderr);
}

static void multiboot_free_loader(struct mb_loader *ld)
{
    for (unsigned i = 0; i < ld->nmods; i++) {
        free(ld->mods[i].string);
        free(ld->mods[i].path);
    }
    free(ld->mods);
    free(ld->cmdline);
}

bool multiboot_load_image(struct guest_ram *ram, const uint8_t *image, size_t size,
                          const char *name, const struct boot_config *cfg, struct vcpu_state *cpu,
                          struct popek_error *err)
{
    struct mb_loader ld = {
        .ram = ram, .image = image, .size = size, .name = name, .cfg = cfg, .err = err};
    bool ok = multiboot_parse_header(&ld) && multiboot_parse_modules(&ld) &&
              multiboot_make_cmdline(&ld) && multiboot_plan_info(&ld);

    if (ok)
        ok = (ld.hdr.flags & MB_FLAG_AOUT_KLUDGE) ? multiboot_load_aout(&ld)
                                                  : multiboot_load_elf(&ld);
    if (ok)
        ok = multiboot_load_modules(&ld);
    if (ok) {
        multiboot_build_info(&ld);
        multiboot_set_initial_state(&ld, cpu);
        multiboot_log_boot(&ld, cpu);
    }
    multiboot_free_loader(&ld);
    return ok;
}
