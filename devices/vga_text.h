/*
 * devices/vga_text.h — the VGA text-mode buffer at 0xB8000.
 *
 * In text mode (mode 3, as a PC BIOS leaves the card) the 32 KiB at
 * 0xB8000–0xBFFFF hold character/attribute pairs, odd/even-interleaved over
 * planes 0 and 1; to the CPU they behave as plain memory: what is written
 * reads back (VGA programmer's reference, "memory map select" = 0b11). Guests
 * such as xv6 write their console there. popek keeps the buffer as device
 * memory on the MMIO bus; nothing displays it yet.
 */
#ifndef POPEK_DEVICES_VGA_TEXT_H
#define POPEK_DEVICES_VGA_TEXT_H

#include "common/snapshot.h"
#include "devices/mmio.h"

#define VGA_TEXT_BASE   0xB8000u
#define VGA_TEXT_LENGTH 0x8000u

struct vga_text;

struct vga_text *vga_text_create(struct mmio_bus *bus, struct popek_error *err);
void vga_text_destroy(struct vga_text *vga);
void vga_text_reset(struct vga_text *vga);

/* The buffer as the guest last wrote it (character, attribute, ...). */
const uint8_t *vga_text_buffer(const struct vga_text *vga);

/* Saved state (devices/platform.h): the text buffer. */
#define VGA_TEXT_STATE_VERSION 1
void vga_text_save(const struct vga_text *vga, struct snap_writer *w);
bool vga_text_load(struct vga_text *vga, struct snap_section *s);

#endif
