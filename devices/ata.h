/*
 * devices/ata.h — the PC's two ATA channels with PIO hard disks on raw
 * image files (ATA/ATAPI-6, T13 1410D; the host is the PIIX3 IDE function
 * in compatibility mode, devices/chipset.h).
 *
 *   channel    command block   control block   IRQ
 *   primary    0x1F0-0x1F7     0x3F6           14
 *   secondary  0x170-0x177     0x376           15
 *
 * Each channel has a master (device 0) and a slave (device 1); drive index
 * n (0-3, as QEMU's -drive index=) is channel n / 2, device n % 2. A disk
 * is a raw image: sector s is bytes 512·s..512·s+511 of the file. Reads
 * use pread and writes reach the file with pwrite before the command
 * completes, so they survive the guest or popek crashing; FLUSH CACHE (and
 * every write while the guest has the write cache off) adds fdatasync.
 * A drive opened read-only (readonly=on) aborts every write command.
 *
 * Commands run to completion the moment they are written, so BSY is never
 * seen set (except while SRST is held): a guest polls DRQ or takes the
 * interrupt, which is raised before the command-register write returns.
 *
 *     struct ata_drive_config drives[ATA_MAX_DRIVES] = {{.path = "disk.img"}};
 *     struct ata_host *ata = ata_create(io, drives, raise_on_pic, pic, err);
 */
#ifndef POPEK_DEVICES_ATA_H
#define POPEK_DEVICES_ATA_H

#include "common/snapshot.h"
#include "devices/ioport.h"

#define ATA_PRIMARY_BASE      0x1F0
#define ATA_PRIMARY_CONTROL   0x3F6
#define ATA_PRIMARY_IRQ       14
#define ATA_SECONDARY_BASE    0x170
#define ATA_SECONDARY_CONTROL 0x376
#define ATA_SECONDARY_IRQ     15

#define ATA_MAX_DRIVES   4
#define ATA_SECTOR_SIZE  512
#define ATA_MAX_MULTIPLE 16 /* sectors per READ/WRITE MULTIPLE block (IDENTIFY word 47) */

/* One drive slot: no path means no device. */
struct ata_drive_config {
    const char *path;
    bool read_only;
};

/* Drives a channel's INTRQ line (irq 14 or 15) to level. */
typedef void (*ata_irq_fn)(void *ctx, unsigned irq, bool level);

struct ata_host;

/* Opens the images and claims both channels' ports, also those of a
 * channel without drives (the PIIX3 decodes them; every register then
 * reads 0, as nothing drives the bus and DD7 is pulled down). Fails with a
 * message naming the file when an image cannot be opened for reading (and
 * writing, unless read_only), is not a regular file or block device, is
 * shorter than one sector, or is in use by another process (popek takes
 * an exclusive lock on a writable image, a shared one on a read-only one). */
struct ata_host *ata_create(struct ioport_bus *io, const struct ata_drive_config *drives,
                            ata_irq_fn set_irq, void *ctx, struct popek_error *err);

/* Closes the images. */
void ata_destroy(struct ata_host *ata);

/* Power-on/hardware reset: every drive to its defaults (multiple mode 16,
 * default geometry, write cache on), the reset signature in the
 * registers, INTRQ low. */
void ata_reset(struct ata_host *ata);

/* Capacity of drive index in sectors, 0 without a drive. */
uint64_t ata_drive_sectors(const struct ata_host *ata, unsigned index);

/* Saved state (devices/platform.h): both channels' command blocks,
 * control registers, INTRQ lines and transfers in progress (with the
 * block buffer), and each drive's settings and status. The disks' contents
 * stay in their image files, as with a QEMU migration to a file: each
 * drive's image is recorded by its canonical path and size, and a load
 * refuses a machine whose drives are other files or have another size. */
#define ATA_STATE_VERSION 1
void ata_save(const struct ata_host *ata, struct snap_writer *w);
bool ata_load(struct ata_host *ata, struct snap_section *s);

#endif
