/*
 * boot/linux.c — loading a bzImage through the 32-bit boot protocol (linux.h).
 *
 * A bzImage is the real-mode setup code ((setup_sects + 1) sectors of 512
 * bytes, the setup header at 0x1F1 among them) followed by the compressed
 * protected-mode kernel. A 32-bit boot loader (boot.rst, "32-bit Boot
 * Protocol" and "Details of Header Fields"):
 *
 *   1. loads the protected-mode part at code32_start's default, 1 MiB;
 *   2. zeroes a struct boot_params and copies the setup header into it at
 *      the same offsets (0x1F1 up to the end the header's jump gives);
 *   3. fills the fields a loader owns: type_of_loader, cmd_line_ptr,
 *      ramdisk_image/size, the e820 table, ext_mem_k/alt_mem_k;
 *   4. enters at the load address with a GDT holding flat __BOOT_CS (0x10)
 *      and __BOOT_DS (0x18), CS/DS/ES/SS loaded from them, interrupts off,
 *      paging off, ESI = the zero page and EBX = EBP = EDI = 0.
 *
 * The decompressor then moves itself to the kernel's preferred address
 * (pref_address, 16 MiB for Debian's kernels) and needs init_size bytes
 * there: the loader checks that RAM holds that before anything else, and
 * places the initrd at the top of RAM (below initrd_addr_max and the
 * kernel's low-memory limit) clear of it.
 *
 * screen_info stays zero: popek's console is the serial port, and a zero
 * screen_info makes the kernel pick its dummy console rather than drive
 * the VGA text buffer through emulated MMIO.
 */
#include "boot/linux.h"

#include <stdlib.h>
#include <string.h>

#include "boot/gdt.h"
#include "common/bytes.h"
#include "common/file.h"
#include "common/log.h"
#include "common/types.h"

/* Setup header fields (offsets in the image and in boot_params). */
#define HDR_SETUP_SECTS     0x1F1u
#define HDR_SYSSIZE         0x1F4u
#define HDR_BOOT_FLAG       0x1FEu
#define HDR_JUMP            0x200u
#define HDR_VERSION         0x206u
#define HDR_TYPE_OF_LOADER  0x210u
#define HDR_LOADFLAGS       0x211u
#define HDR_CODE32_START    0x214u
#define HDR_RAMDISK_IMAGE   0x218u
#define HDR_RAMDISK_SIZE    0x21Cu
#define HDR_CMD_LINE_PTR    0x228u
#define HDR_INITRD_ADDR_MAX 0x22Cu
#define HDR_RELOCATABLE     0x234u
#define HDR_CMDLINE_SIZE    0x238u
#define HDR_PREF_ADDRESS    0x258u
#define HDR_INIT_SIZE       0x260u
#define HDR_MIN_LENGTH      0x264u /* through init_size (protocol 2.10) */

#define LOADFLAG_LOADED_HIGH   0x01u /* bzImage: the kernel loads at 1 MiB */
#define LOADFLAG_QUIET         0x20u
#define LOADFLAG_KEEP_SEGMENTS 0x40u
#define LOADER_TYPE_UNDEFINED  0xFFu /* boot.rst: "no assigned ID" */
#define BOOT_FLAG_MAGIC        0xAA55u

/* boot_params fields outside the setup header. */
#define BP_EXT_MEM_K    0x002u /* screen_info.ext_mem_k */
#define BP_ALT_MEM_K    0x1E0u
#define BP_E820_ENTRIES 0x1E8u
#define BP_E820_TABLE   0x2D0u
#define BP_SIZE         4096u
#define E820_ENTRY_SIZE 20u
#define E820_RAM        1u
#define E820_RESERVED   2u

/* boot.rst: __BOOT_CS and __BOOT_DS. */
#define LINUX_BOOT_CS     0x10u
#define LINUX_BOOT_DS     0x18u
#define LINUX_GDT_ENTRIES 4u

/* Highest address the initrd may end at on a 3G/1G 32-bit kernel without
 * being copied: the end of its direct map (896 MiB less the vmalloc area
 * the kernel keeps above it). Above this the kernel relocates it. */
#define LINUX_LOWMEM_END 0x37800000u

#define INITRD_MAX_SIZE GIB(1)

struct linux_loader {
    struct guest_ram *ram;
    const uint8_t *image;
    size_t size;
    const char *name;
    const struct boot_config *cfg;
    struct popek_error *err;
    uint16_t version;
    size_t header_end;    /* end of the setup header in the image */
    size_t kernel_offset; /* start of the protected-mode kernel */
    uint32_t runtime_end; /* end of what the decompressed kernel needs */
    uint32_t initrd_addr, initrd_size;
};

static uint64_t align_down_page(uint64_t v)
{
    return v & ~(uint64_t)(GUEST_PAGE_SIZE - 1);
}

bool linux_is_bzimage(const uint8_t *image, size_t size)
{
    return size >= LINUX_HDRS_OFFSET + 4 &&
           memcmp(image + LINUX_HDRS_OFFSET, LINUX_HDRS_MAGIC, 4) == 0;
}

/* Validates the setup header and works out where everything goes. */
static bool linux_parse_header(struct linux_loader *ld)
{
    const uint8_t *img = ld->image;
    uint64_t ram = guest_ram_size(ld->ram);

    if (ld->size < HDR_MIN_LENGTH || !linux_is_bzimage(img, ld->size))
        return popek_fail(ld->err, "kernel '%s': not a Linux bzImage (no setup header)", ld->name);
    if (load_le16(img + HDR_BOOT_FLAG) != BOOT_FLAG_MAGIC)
        return popek_fail(ld->err, "kernel '%s': setup header without the 0xAA55 boot flag",
                          ld->name);
    ld->version = load_le16(img + HDR_VERSION);
    if (ld->version < LINUX_MIN_PROTOCOL)
        return popek_fail(ld->err,
                          "kernel '%s': boot protocol %u.%02u is too old (popek needs 2.06 or "
                          "later)",
                          ld->name, ld->version >> 8, ld->version & 0xFF);
    if (!(img[HDR_LOADFLAGS] & LOADFLAG_LOADED_HIGH))
        return popek_fail(ld->err,
                          "kernel '%s': a zImage (loaded low); only bzImages are "
                          "supported",
                          ld->name);
    ld->header_end = LINUX_HDRS_OFFSET + img[HDR_JUMP + 1];
    unsigned setup_sects = img[HDR_SETUP_SECTS] ? img[HDR_SETUP_SECTS] : 4;
    ld->kernel_offset = (size_t)(setup_sects + 1) * 512;
    if (ld->header_end > ld->kernel_offset || ld->kernel_offset >= ld->size)
        return popek_fail(ld->err, "kernel '%s': truncated (setup code of %zu bytes, file of %zu)",
                          ld->name, ld->kernel_offset, ld->size);

    /* The decompressed kernel runs at pref_address (relocatable kernels
     * loaded below it move there) and needs init_size bytes from there. */
    uint64_t runtime_start = LINUX_KERNEL_LOAD_ADDR;
    if (img[HDR_RELOCATABLE] && load_le64(img + HDR_PREF_ADDRESS) > runtime_start)
        runtime_start = load_le64(img + HDR_PREF_ADDRESS);
    uint64_t kernel_size = ld->size - ld->kernel_offset;
    uint64_t runtime_end = runtime_start + load_le32(img + HDR_INIT_SIZE);
    if (LINUX_KERNEL_LOAD_ADDR + kernel_size > runtime_end)
        runtime_end = LINUX_KERNEL_LOAD_ADDR + kernel_size;
    if (runtime_end > ram)
        return popek_fail(ld->err,
                          "kernel '%s' needs %llu MiB of RAM to decompress itself; -m gives "
                          "%llu MiB",
                          ld->name, (unsigned long long)((runtime_end + MIB(1) - 1) >> 20),
                          (unsigned long long)(ram >> 20));
    ld->runtime_end = (uint32_t)runtime_end;
    return true;
}

static bool linux_load_kernel(struct linux_loader *ld)
{
    size_t kernel_size = ld->size - ld->kernel_offset;
    uint8_t *dst = guest_ram_host_ptr(ld->ram, LINUX_KERNEL_LOAD_ADDR, kernel_size);

    if (!dst)
        return popek_fail(ld->err, "kernel '%s' (%zu bytes) does not fit in guest RAM", ld->name,
                          kernel_size);
    memcpy(dst, ld->image + ld->kernel_offset, kernel_size);
    return true;
}

/* boot.rst "initrd_addr_max": the initrd goes as high as allowed, page
 * aligned, and must not overlap what the kernel occupies while booting. */
static bool linux_load_initrd(struct linux_loader *ld)
{
    const char *path = ld->cfg->initrd;
    uint8_t *data;
    size_t size;

    if (!path || !*path)
        return true;
    if (!file_read_all(path, "initrd", INITRD_MAX_SIZE, &data, &size, ld->err))
        return false;
    uint64_t top = guest_ram_size(ld->ram);
    uint64_t addr_max = (uint64_t)load_le32(ld->image + HDR_INITRD_ADDR_MAX) + 1;
    if (top > addr_max)
        top = addr_max;
    if (top > LINUX_LOWMEM_END)
        top = LINUX_LOWMEM_END;
    uint64_t addr = size <= top ? align_down_page(top - size) : 0;
    if (size > top || addr < ld->runtime_end) {
        free(data);
        return popek_fail(ld->err,
                          "initrd '%s' (%zu KiB) does not fit in guest RAM above the kernel "
                          "(0x%x) and below 0x%llx: give more memory with -m",
                          path, size >> 10, ld->runtime_end, (unsigned long long)top);
    }
    memcpy(guest_ram_host_ptr(ld->ram, (guest_phys_t)addr, size), data, size);
    free(data);
    ld->initrd_addr = (uint32_t)addr;
    ld->initrd_size = (uint32_t)size;
    return true;
}

static void e820_put(uint8_t *table, unsigned index, uint64_t base, uint64_t length, uint32_t type)
{
    uint8_t *entry = table + index * E820_ENTRY_SIZE;

    store_le64(entry, base);
    store_le64(entry + 8, length);
    store_le32(entry + 16, type);
}

/* The PC layout a BIOS's e820 reports: conventional memory up to the EBDA,
 * the BIOS area reserved, extended memory up to the end of RAM. */
static void linux_write_e820(struct linux_loader *ld, uint8_t *zero_page)
{
    uint8_t *table = zero_page + BP_E820_TABLE;
    uint64_t ram = guest_ram_size(ld->ram);
    const uint32_t ebda = 0x9FC00;

    e820_put(table, 0, 0, ebda, E820_RAM);
    e820_put(table, 1, ebda, GUEST_RAM_LOW_END - ebda, E820_RESERVED);
    e820_put(table, 2, 0xF0000, GUEST_RAM_HIGH_START - 0xF0000, E820_RESERVED);
    e820_put(table, 3, GUEST_RAM_HIGH_START, ram - GUEST_RAM_HIGH_START, E820_RAM);
    zero_page[BP_E820_ENTRIES] = 4;
}

static bool linux_build_zero_page(struct linux_loader *ld)
{
    const char *cmdline = ld->cfg->cmdline ? ld->cfg->cmdline : "";
    uint32_t cmdline_max = load_le32(ld->image + HDR_CMDLINE_SIZE);
    size_t cmdline_len = strlen(cmdline);

    if (cmdline_len > cmdline_max)
        return popek_fail(ld->err,
                          "command line (-append) of %zu bytes is longer than kernel '%s' "
                          "accepts (%u)",
                          cmdline_len, ld->name, cmdline_max);
    uint8_t *zero_page = guest_ram_host_ptr(ld->ram, LINUX_ZERO_PAGE_ADDR, BP_SIZE);
    memset(zero_page, 0, BP_SIZE);
    memcpy(zero_page + HDR_SETUP_SECTS, ld->image + HDR_SETUP_SECTS,
           ld->header_end - HDR_SETUP_SECTS);

    zero_page[HDR_TYPE_OF_LOADER] = LOADER_TYPE_UNDEFINED;
    /* The 32-bit entry reloads segments itself and may print. */
    zero_page[HDR_LOADFLAGS] &= (uint8_t) ~(LOADFLAG_QUIET | LOADFLAG_KEEP_SEGMENTS);
    store_le32(zero_page + HDR_CODE32_START, LINUX_KERNEL_LOAD_ADDR);
    store_le32(zero_page + HDR_CMD_LINE_PTR, LINUX_CMDLINE_ADDR);
    store_le32(zero_page + HDR_RAMDISK_IMAGE, ld->initrd_addr);
    store_le32(zero_page + HDR_RAMDISK_SIZE, ld->initrd_size);

    uint64_t ext_kib = (guest_ram_size(ld->ram) - GUEST_RAM_HIGH_START) >> 10;
    store_le16(zero_page + BP_EXT_MEM_K, ext_kib > 0xFFFF ? 0xFFFF : (uint16_t)ext_kib);
    store_le32(zero_page + BP_ALT_MEM_K, (uint32_t)ext_kib);
    linux_write_e820(ld, zero_page);

    char *dst = guest_ram_host_ptr(ld->ram, LINUX_CMDLINE_ADDR, cmdline_len + 1);
    memcpy(dst, cmdline, cmdline_len + 1);
    return true;
}

/* boot.rst, 32-bit boot protocol: the entry state. */
static void linux_set_initial_state(struct linux_loader *ld, struct vcpu_state *cpu)
{
    uint8_t *gdt = guest_ram_host_ptr(ld->ram, LINUX_GDT_ADDR, LINUX_GDT_ENTRIES * 8);

    store_le64(gdt, 0);
    store_le64(gdt + 8, 0);
    store_le64(gdt + LINUX_BOOT_CS, boot_gdt_descriptor(0xFFFFF, BOOT_GDT_CODE32, BOOT_GDT_FLAT));
    store_le64(gdt + LINUX_BOOT_DS, boot_gdt_descriptor(0xFFFFF, BOOT_GDT_DATA32, BOOT_GDT_FLAT));

    vcpu_state_reset(cpu);
    cpu->regs[REG_ESI] = LINUX_ZERO_PAGE_ADDR;
    boot_set_flat_entry(cpu, LINUX_KERNEL_LOAD_ADDR, LINUX_BOOT_CS, LINUX_BOOT_DS, LINUX_GDT_ADDR,
                        LINUX_GDT_ENTRIES);
}

static void linux_log_boot(const struct linux_loader *ld, const struct vcpu_state *cpu)
{
    if (!log_enabled(LOG_BOOT))
        return;
    log_printf("linux: '%s' boot protocol %u.%02u, protected-mode kernel of %zu bytes at 0x%x\n",
               ld->name, ld->version >> 8, ld->version & 0xFF, ld->size - ld->kernel_offset,
               LINUX_KERNEL_LOAD_ADDR);
    log_printf("linux: decompressed kernel needs memory up to 0x%x\n", ld->runtime_end);
    if (ld->initrd_size)
        log_printf("linux: initrd '%s' at 0x%x-0x%x\n", ld->cfg->initrd, ld->initrd_addr,
                   ld->initrd_addr + ld->initrd_size - 1);
    log_printf("linux: zero page at 0x%x, command line '%s'\n", LINUX_ZERO_PAGE_ADDR,
               ld->cfg->cmdline ? ld->cfg->cmdline : "");
    vcpu_state_dump(cpu, log_stream ? log_stream : stderr);
}

bool linux_load_image(struct guest_ram *ram, const uint8_t *image, size_t size, const char *name,
                      const struct boot_config *cfg, struct vcpu_state *cpu,
                      struct popek_error *err)
{
    struct linux_loader ld = {
        .ram = ram, .image = image, .size = size, .name = name, .cfg = cfg, .err = err};

    if (!linux_parse_header(&ld) || !linux_load_kernel(&ld) || !linux_load_initrd(&ld) ||
        !linux_build_zero_page(&ld))
        return false;
    linux_set_initial_state(&ld, cpu);
    linux_log_boot(&ld, cpu);
    return true;
}
