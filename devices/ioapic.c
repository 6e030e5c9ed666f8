/*
 * devices/ioapic.c — the 82093AA I/O APIC (ioapic.h).
 *
 * Written from the Intel 82093AA datasheet, §3 "Register Description".
 * Memory-mapped registers (§3.1), the only ones a processor reaches
 * directly:
 *
 *   base + 0x00  IOREGSEL  RW  bits 7-0: index of the register IOWIN shows
 *   base + 0x10  IOWIN     RW  the selected register (32-bit accesses)
 *
 * Indirect registers (§3.2):
 *
 *   0x00       IOAPICID    RW  bits 27-24 I/O APIC ID
 *   0x01       IOAPICVER   RO  bits 23-16 maximum redirection entry (23),
 *                              bits 7-0 version (0x11)
 *   0x02       IOAPICARB   RO  bits 27-24 arbitration ID (= the ID here)
 *   0x10-0x3F  IOREDTBL0-23, two registers each (low dword first):
 *                63-56 destination  16 mask  15 trigger (1 = level)
 *                14 remote IRR (RO)  13 polarity (1 = low active)
 *                12 delivery status (RO)  11 destination mode (1 = logical)
 *                10-8 delivery mode  7-0 vector
 *
 * Messages are sent at once, so delivery status always reads 0 (idle). An
 * edge seen on a masked pin is lost, and level changes on a masked pin
 * have no effect (§3.2.4, "Interrupt Mask"); unmasking a level-triggered
 * pin that is asserted sends its message.
 */
#include "devices/ioapic.h"

#include <stdlib.h>

enum { IOREGSEL = 0x00, IOWIN = 0x10 };
enum { REG_ID = 0x00, REG_VERSION = 0x01, REG_ARB = 0x02, REG_REDTBL = 0x10 };

#define ID_MASK 0x0F000000u

#define RTE_VECTOR       0x000000FFull
#define RTE_DELIVERY     0x00000700ull
#define RTE_LOGICAL      (1ull << 11)
#define RTE_POLARITY_LOW (1ull << 13)
#define RTE_REMOTE_IRR   (1ull << 14)
#define RTE_LEVEL        (1ull << 15)
#define RTE_MASKED       (1ull << 16)
#define RTE_DEST_SHIFT   56
/* Everything but the read-only delivery status and remote IRR. */
#define RTE_WRITABLE                                                                   \
    (0xFF00000000000000ull | RTE_MASKED | RTE_LEVEL | RTE_POLARITY_LOW | RTE_LOGICAL | \
     RTE_DELIVERY | RTE_VECTOR)

struct ioapic {
    uint8_t regsel;
    uint32_t id;
    uint64_t redtbl[IOAPIC_PINS];
    uint32_t pin_level; /* electrical level of each input */
    ioapic_deliver_fn deliver;
    void *ctx;
};

static bool pin_asserted(const struct ioapic *io, unsigned pin)
{
    bool high = io->pin_level & (1u << pin);

    return high != ((io->redtbl[pin] & RTE_POLARITY_LOW) != 0);
}

/* Sends the entry's message; returns whether an APIC accepted it. */
static bool ioapic_send(struct ioapic *io, unsigned pin)
{
    uint64_t rte = io->redtbl[pin];
    struct apic_message msg = {
        .vector = (uint8_t)(rte & RTE_VECTOR),
        .delivery_mode = (uint8_t)((rte & RTE_DELIVERY) >> 8),
        .logical = rte & RTE_LOGICAL,
        .destination = (uint8_t)(rte >> RTE_DEST_SHIFT),
        .level = rte & RTE_LEVEL,
    };

    return io->deliver(io->ctx, &msg);
}

/* A level-triggered pin sends while asserted, unmasked and not waiting for
 * an EOI; remote IRR is set when an APIC accepts the message. */
static void ioapic_service_level(struct ioapic *io, unsigned pin)
{
    uint64_t rte = io->redtbl[pin];

    if (!(rte & RTE_LEVEL) || (rte & (RTE_MASKED | RTE_REMOTE_IRR)) || !pin_asserted(io, pin))
        return;
    if (ioapic_send(io, pin))
        io->redtbl[pin] |= RTE_REMOTE_IRR;
}

void ioapic_set_pin(struct ioapic *io, unsigned pin, bool level)
{
    bool was_asserted;

    if (pin >= IOAPIC_PINS)
        return;
    was_asserted = pin_asserted(io, pin);
    if (level)
        io->pin_level |= 1u << pin;
    else
        io->pin_level &= ~(1u << pin);
    if (io->redtbl[pin] & RTE_LEVEL) {
        ioapic_service_level(io, pin);
    } else if (!was_asserted && pin_asserted(io, pin) && !(io->redtbl[pin] & RTE_MASKED)) {
        ioapic_send(io, pin);
    }
}

void ioapic_eoi(struct ioapic *io, uint8_t vector)
{
    for (unsigned pin = 0; pin < IOAPIC_PINS; pin++) {
        uint64_t rte = io->redtbl[pin];

        if ((rte & RTE_LEVEL) && (rte & RTE_REMOTE_IRR) && (rte & RTE_VECTOR) == vector) {
            io->redtbl[pin] &= ~RTE_REMOTE_IRR;
            ioapic_service_level(io, pin);
        }
    }
}

/* ---- registers ---- */

static uint32_t ioapic_read_reg(const struct ioapic *io, uint8_t index)
{
    unsigned pin;

    switch (index) {
    case REG_ID:
        return io->id;
    case REG_VERSION:
        return (IOAPIC_PINS - 1) << 16 | IOAPIC_VERSION;
    case REG_ARB:
        return io->id;
    default:
        if (index < REG_REDTBL || index >= REG_REDTBL + 2 * IOAPIC_PINS)
            return 0;
        pin = (index - REG_REDTBL) / 2;
        return (uint32_t)(io->redtbl[pin] >> (index & 1 ? 32 : 0));
    }
}

static void ioapic_write_redtbl(struct ioapic *io, unsigned pin, bool high, uint32_t value)
{
    uint64_t rte = io->redtbl[pin];
    uint64_t half = high ? 0xFFFFFFFF00000000ull : 0x00000000FFFFFFFFull;
    uint64_t shifted = (uint64_t)value << (high ? 32 : 0);

    rte = (rte & ~(half & RTE_WRITABLE)) | (shifted & half & RTE_WRITABLE);
    if (!(rte & RTE_LEVEL))
        rte &= ~RTE_REMOTE_IRR; /* only level-triggered entries wait for an EOI */
    io->redtbl[pin] = rte;
    ioapic_service_level(io, pin); /* an asserted level pin just unmasked sends */
}

static void ioapic_write_reg(struct ioapic *io, uint8_t index, uint32_t value)
{
    if (index == REG_ID) {
        io->id = value & ID_MASK;
    } else if (index >= REG_REDTBL && index < REG_REDTBL + 2 * IOAPIC_PINS) {
        ioapic_write_redtbl(io, (index - REG_REDTBL) / 2, index & 1, value);
    }
    /* The version and arbitration registers are read-only. */
}

static uint32_t ioapic_mmio_read(void *opaque, guest_phys_t offset, unsigned size)
{
    struct ioapic *io = opaque;
    uint32_t value;

    switch (offset & ~3u) {
    case IOREGSEL:
        value = io->regsel;
        break;
    case IOWIN:
        value = ioapic_read_reg(io, io->regsel);
        break;
    default:
        return 0;
    }
    value >>= 8 * (offset & 3);
    return size == 4 ? value : value & ((1u << (8 * size)) - 1);
}

static void ioapic_mmio_write(void *opaque, guest_phys_t offset, unsigned size, uint32_t value)
{
    struct ioapic *io = opaque;

    if (offset == IOREGSEL)
        io->regsel = (uint8_t)value;
    else if (offset == IOWIN && size == 4)
        ioapic_write_reg(io, io->regsel, value);
}

static const struct mmio_ops ioapic_mmio_ops = {
    .name = "ioapic",
    .read = ioapic_mmio_read,
    .write = ioapic_mmio_write,
};

void ioapic_reset(struct ioapic *io)
{
    io->regsel = 0;
    io->id = IOAPIC_ID << 24;
    for (unsigned pin = 0; pin < IOAPIC_PINS; pin++)
        io->redtbl[pin] = RTE_MASKED;
}

struct ioapic *ioapic_create(struct mmio_bus *mmio, ioapic_deliver_fn deliver, void *ctx,
                             struct popek_error *err)
{
    struct ioapic *io = calloc(1, sizeof(*io));

    if (!io) {
        popek_fail(err, "out of memory");
        return NULL;
    }
    io->deliver = deliver;
    io->ctx = ctx;
    ioapic_reset(io);
    if (!mmio_register(mmio, IOAPIC_BASE, IOAPIC_SIZE, &ioapic_mmio_ops, io, err)) {
        free(io);
        return NULL;
    }
    return io;
}

void ioapic_destroy(struct ioapic *io)
{
    free(io);
}

/* ---- saved state ---- */

void ioapic_save(const struct ioapic *io, struct snap_writer *w)
{
    snap_put_u8(w, io->regsel);
    snap_put_u32(w, io->id);
    for (unsigned pin = 0; pin < IOAPIC_PINS; pin++)
        snap_put_u64(w, io->redtbl[pin]);
    snap_put_u32(w, io->pin_level);
}

bool ioapic_load(struct ioapic *io, struct snap_section *s)
{
    io->regsel = snap_get_u8(s);
    io->id = snap_get_u32(s);
    snap_check(s, !(io->id & ~ID_MASK), "ID bits that do not exist");
    for (unsigned pin = 0; pin < IOAPIC_PINS; pin++) {
        io->redtbl[pin] = snap_get_u64(s);
        snap_check(s, !(io->redtbl[pin] & ~(RTE_WRITABLE | RTE_REMOTE_IRR)),
                   "redirection entry bits that do not exist");
    }
    io->pin_level = snap_get_u32(s);
    return !s->bad;
}
