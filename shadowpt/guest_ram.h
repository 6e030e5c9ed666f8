/*
 * shadowpt/guest_ram.h — guest-physical memory.
 *
 * Guest RAM is one memfd; guest-physical frame F is file offset F*4096
 * (DESIGN.md §2). The monitor keeps one read/write mapping of the whole file
 * for its own accesses (loading kernels, walking page tables, device DMA);
 * views map the same file pages at guest-linear addresses.
 *
 * The PC layout is fixed: conventional memory below 640 KiB, the legacy hole
 * 640 KiB–1 MiB (VGA window and option/BIOS ROM on a real PC) and extended
 * memory from 1 MiB to the RAM size. The hole is backed by the memfd (so the
 * file offsets stay simple) but is not RAM to the guest: it is never reported
 * usable and never mapped into a view, leaving it to MMIO/ROM.
 */
#ifndef POPEK_SHADOWPT_GUEST_RAM_H
#define POPEK_SHADOWPT_GUEST_RAM_H

#include <sys/mman.h>

#include "common/error.h"
#include "common/snapshot.h"
#include "common/types.h"

#define GUEST_RAM_LOW_END    0xA0000u  /* end of conventional memory (640 KiB) */
#define GUEST_RAM_HIGH_START 0x100000u /* start of extended memory (1 MiB) */
/* Linux 5.14's madvise advice, for headers that predate it (the call then
 * fails with EINVAL at run time and the caller goes without). */
#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ  22
#define MADV_POPULATE_WRITE 23
#endif

#define GUEST_RAM_MIN_SIZE MIB(4)
#define GUEST_RAM_MAX_SIZE MIB(3072) /* below the 32-bit PCI/APIC hole */

struct guest_ram;

/* Creates `size` bytes of guest RAM (a multiple of 4 KiB within
 * [GUEST_RAM_MIN_SIZE, GUEST_RAM_MAX_SIZE]). */
struct guest_ram *guest_ram_create(uint64_t size, struct popek_error *err);
void guest_ram_destroy(struct guest_ram *ram);

uint64_t guest_ram_size(const struct guest_ram *ram);

/* The memfd, for views that map frames of it. */
int guest_ram_fd(const struct guest_ram *ram);

/* True when [addr, addr+len) lies inside the backing file. */
bool guest_ram_contains(const struct guest_ram *ram, guest_phys_t addr, uint64_t len);

/* True when the frame is RAM the guest may use (not the legacy hole). */
bool guest_ram_is_usable_frame(const struct guest_ram *ram, uint32_t frame);

/* Returns every byte of RAM to zero and its host memory to the system
 * (machine reset). */
bool guest_ram_clear(struct guest_ram *ram, struct popek_error *err);

/* The monitor's pointer to [addr, addr+len), or NULL when it is not inside the
 * backing file. The range is entered in the host's page tables first, 64
 * KiB at a time, where it is not yet (the mapping's one side effect: the
 * RAM object stays logically unchanged, so `ram` is const). */
void *guest_ram_host_ptr(const struct guest_ram *ram, guest_phys_t addr, uint64_t len);

/* Saved state: section "ram" (GUEST_RAM_STATE_VERSION): the size, then
 * runs of pages that are not all zero (u32 first frame, u32 count, the
 * bytes), ended by a frame of 0xFFFFFFFF. Holes of the memfd are skipped
 * without being touched (SEEK_DATA), so saving allocates nothing. load
 * expects RAM of the same size, all zero (a fresh machine). */
#define GUEST_RAM_STATE_VERSION 1
void guest_ram_save(const struct guest_ram *ram, struct snap_writer *w);
bool guest_ram_load(struct guest_ram *ram, struct snap_section *s);

#endif
