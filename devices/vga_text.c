/*
 * devices/vga_text.c — the VGA text-mode buffer (vga_text.h).
 */
#include "devices/vga_text.h"

#include <stdlib.h>
#include <string.h>

struct vga_text {
    uint8_t memory[VGA_TEXT_LENGTH];
};

static uint32_t vga_text_read(void *opaque, guest_phys_t offset, unsigned size)
{
    struct vga_text *vga = opaque;
    uint32_t value = 0;

    memcpy(&value, vga->memory + offset, size);
    return value;
}

static void vga_text_write(void *opaque, guest_phys_t offset, unsigned size, uint32_t value)
{
    struct vga_text *vga = opaque;

    memcpy(vga->memory + offset, &value, size);
}

static const struct mmio_ops vga_text_ops = {
    .name = "vga-text",
    .read = vga_text_read,
    .write = vga_text_write,
};

struct vga_text *vga_text_create(struct mmio_bus *bus, struct popek_error *err)
{
    struct vga_text *vga = calloc(1, sizeof(*vga));

    if (!vga) {
        popek_fail(err, "out of memory");
        return NULL;
    }
    if (!mmio_register(bus, VGA_TEXT_BASE, VGA_TEXT_LENGTH, &vga_text_ops, vga, err)) {
        free(vga);
        return NULL;
    }
    return vga;
}

void vga_text_destroy(struct vga_text *vga)
{
    free(vga);
}

void vga_text_reset(struct vga_text *vga)
{
    memset(vga->memory, 0, sizeof(vga->memory));
}

const uint8_t *vga_text_buffer(const struct vga_text *vga)
{
    return vga->memory;
}

void vga_text_save(const struct vga_text *vga, struct snap_writer *w)
{
    snap_put_bytes(w, vga->memory, sizeof(vga->memory));
}

bool vga_text_load(struct vga_text *vga, struct snap_section *s)
{
    snap_get_bytes(s, vga->memory, sizeof(vga->memory));
    return !s->bad;
}
