/*
 * devices/pic8259.c — the cascaded 8259A pair and the ELCR (pic8259.h).
 *
 * Written from the Intel 8259A datasheet (section numbers below are the
 * datasheet's headings). Register map of one chip (A0 = port bit 0):
 *
 *   A0 write                      read
 *   0  ICW1   if D4 = 1           IRR or ISR (OCW3 RR/RIS), or poll word
 *      OCW3   if D4 = 0, D3 = 1
 *      OCW2   if D4 = 0, D3 = 0
 *   1  ICW2, ICW3, ICW4 while     IMR (or the poll word after an OCW3 poll)
 *      initialising, else OCW1 (IMR)
 *
 *   ICW1  D0 IC4  D1 SNGL  D2 ADI  D3 LTIM  D4 = 1  (D7-D5 MCS-80 only)
 *   ICW2  T7-T3: vector base (8086 mode)
 *   ICW3  master: one bit per IR with a slave; slave: its ID in D2-D0
 *   ICW4  D0 uPM  D1 AEOI  D2 M/S  D3 BUF  D4 SFNM
 *   OCW2  D7-D5 R SL EOI, D2-D0 level:
 *         001 non-specific EOI   011 specific EOI   101 rotate on non-spec. EOI
 *         111 rotate on specific EOI  110 set priority  100/000 set/clear
 *         rotate in AEOI mode  010 no operation
 *   OCW3  D6 ESMM  D5 SMM  D2 P (poll)  D1 RR  D0 RIS
 *
 * Priority is a rotation: IR (lowest_priority + 1) & 7 is the highest. An
 * unmasked IRR bit interrupts when it outranks every ISR bit (fully nested
 * mode); special mask mode lets masked in-service levels stop blocking, and
 * special fully nested mode lets the master's cascade input interrupt while
 * that slave is in service.
 *
 * Edge inputs: the rising edge latches IRR and the latch holds until INTA —
 * as if the device held its line past the acknowledge, which a virtual
 * device cannot time against a virtual CPU; that is what makes
 * pic8259_pulse_irq work. The datasheet's "default IR7" for a request that
 * went away before INTA is modelled for level inputs (IRR follows the
 * line), for a request masked between INTR and INTA, and for the cascade (a
 * slave whose request went away answers with its IR7: spurious IRQ 15, with
 * master ISR2 set, which is why Linux EOIs the master for it).
 */
#include "devices/pic8259.h"

#include <stdlib.h>

enum { PIC_A0_COMMAND = 0, PIC_A0_DATA = 1 };

#define ICW1_IC4       0x01 /* ICW4 will be written */
#define ICW1_SNGL      0x02 /* single chip: no ICW3 */
#define ICW1_LTIM      0x08 /* level-triggered inputs */
#define ICW1_SELECT    0x10 /* distinguishes ICW1 from OCW2/OCW3 */
#define ICW4_UPM       0x01 /* 8086/8088 mode */
#define ICW4_AEOI      0x02
#define ICW4_SFNM      0x10 /* special fully nested mode */
#define OCW3_SELECT    0x08
#define OCW3_RIS       0x01
#define OCW3_RR        0x02
#define OCW3_POLL      0x04
#define OCW3_SMM       0x20
#define OCW3_ESMM      0x40
#define OCW2_LEVEL     0x07
#define POLL_INTERRUPT 0x80 /* poll word bit 7: I */

/* OCW2 R/SL/EOI (D7-D5) encodings. */
enum ocw2_command {
    OCW2_ROTATE_AEOI_CLEAR = 0,
    OCW2_NONSPECIFIC_EOI = 1,
    OCW2_NOP = 2,
    OCW2_SPECIFIC_EOI = 3,
    OCW2_ROTATE_AEOI_SET = 4,
    OCW2_ROTATE_NONSPECIFIC_EOI = 5,
    OCW2_SET_PRIORITY = 6,
    OCW2_ROTATE_SPECIFIC_EOI = 7,
};

/* Which byte an A0=1 write is: the ICW sequence (Initialization Command
 * Words) or, once done, OCW1. */
enum pic_init_step { PIC_READY, PIC_EXPECT_ICW2, PIC_EXPECT_ICW3, PIC_EXPECT_ICW4 };

/* ELCR bits that exist: IRQ 0, 1, 2 (master) and 8, 13 (slave) are edge. */
#define ELCR_MASTER_MASK 0xF8
#define ELCR_SLAVE_MASK  0xDE

struct pic_chip {
    bool is_master;
    uint8_t irr;   /* Interrupt Request Register */
    uint8_t isr;   /* In-Service Register */
    uint8_t imr;   /* Interrupt Mask Register (OCW1) */
    uint8_t input; /* level of the IR lines, for edge detection */
    uint8_t elcr, elcr_mask;
    enum pic_init_step init_step;
    uint8_t icw1, icw3, icw4;
    uint8_t vector_base;     /* ICW2 T7-T3 */
    uint8_t lowest_priority; /* the IR with the lowest priority (7 after ICW1) */
    bool read_isr;           /* OCW3 RIS: A0=0 reads ISR rather than IRR */
    bool poll;               /* OCW3 P: the next read is a poll */
    bool special_mask;       /* OCW3 SMM */
    bool auto_eoi;           /* ICW4 AEOI */
    bool rotate_on_aeoi;     /* OCW2 rotate in automatic EOI mode */
    bool special_fully_nested;
};

struct pic8259 {
    struct pic_chip master, slave;
    uint64_t spurious;
};

/* ---- priority resolution ("Priority Resolver", "Fully Nested Mode") ---- */

static bool pic_is_level(const struct pic_chip *chip, unsigned ir)
{
    return (chip->icw1 & ICW1_LTIM) || (chip->elcr & (1u << ir));
}

static uint8_t pic_level_lines(const struct pic_chip *chip)
{
    return (chip->icw1 & ICW1_LTIM) ? 0xFF : chip->elcr;
}

/* Rank of the highest-priority bit in bits: 0 = highest, 8 = none. */
static unsigned pic_priority_rank(const struct pic_chip *chip, uint8_t bits)
{
    for (unsigned rank = 0; rank < 8; rank++) {
        if (bits & (1u << ((chip->lowest_priority + 1 + rank) & 7)))
            return rank;
    }
    return 8;
}

static unsigned pic_rank_to_ir(const struct pic_chip *chip, unsigned rank)
{
    return (chip->lowest_priority + 1 + rank) & 7;
}

/* The IR this chip would present on INTA, or -1: the highest unmasked
 * request, if it outranks everything in service. */
static int pic_pending_ir(const struct pic_chip *chip)
{
    if (!(chip->irr & ~chip->imr))
        return -1; /* asked at every exit from translated code: the common answer first */
    unsigned request = pic_priority_rank(chip, chip->irr & ~chip->imr);
    uint8_t blocking = chip->isr;

    if (request == 8)
        return -1;
    if (chip->special_mask)
        blocking &= ~chip->imr; /* "Special Mask Mode" */
    if (chip->is_master && chip->special_fully_nested)
        blocking &= ~chip->icw3; /* "Special Fully Nested Mode": slaves stay unlocked */
    if (request >= pic_priority_rank(chip, blocking))
        return -1;
    return (int)pic_rank_to_ir(chip, request);
}

/* ---- inputs ("Edge and Level Triggered Modes") ---- */

static void pic_set_input(struct pic_chip *chip, unsigned ir, bool level)
{
    uint8_t bit = (uint8_t)(1u << ir);

    if (level) {
        if (!(chip->input & bit) || pic_is_level(chip, ir))
            chip->irr |= bit;
        chip->input |= bit;
    } else {
        chip->input &= ~bit;
        if (pic_is_level(chip, ir))
            chip->irr &= ~bit;
    }
}

/* The slave's INT output is the master's IR2 input. */
static void pic_update_cascade(struct pic8259 *pic)
{
    pic_set_input(&pic->master, PIC_CASCADE_IRQ, pic_pending_ir(&pic->slave) >= 0);
}

/* First INTA on one chip: IRR -> ISR ("Interrupt Sequence"); AEOI clears
 * the ISR bit again at the end of the second INTA. */
static void pic_chip_acknowledge(struct pic_chip *chip, unsigned ir)
{
    uint8_t bit = (uint8_t)(1u << ir);

    if (!pic_is_level(chip, ir))
        chip->irr &= ~bit; /* a level input's request stays while the line is high */
    if (chip->auto_eoi) {
        if (chip->rotate_on_aeoi)
            chip->lowest_priority = (uint8_t)ir;
    } else {
        chip->isr |= bit;
    }
}

/* ---- OCW2: end of interrupt and rotation ---- */

static void pic_eoi(struct pic_chip *chip, enum ocw2_command command, unsigned level)
{
    uint8_t candidates = chip->isr;
    unsigned rank, ir;

    switch (command) {
    case OCW2_NONSPECIFIC_EOI:
    case OCW2_ROTATE_NONSPECIFIC_EOI:
        /* Clears the highest-priority ISR bit; in special mask mode a
         * masked one is left alone ("End of Interrupt"). */
        if (chip->special_mask)
            candidates &= ~chip->imr;
        rank = pic_priority_rank(chip, candidates);
        if (rank == 8)
            return;
        ir = pic_rank_to_ir(chip, rank);
        chip->isr &= (uint8_t) ~(1u << ir);
        if (command == OCW2_ROTATE_NONSPECIFIC_EOI)
            chip->lowest_priority = (uint8_t)ir;
        break;
    case OCW2_SPECIFIC_EOI:
        chip->isr &= (uint8_t) ~(1u << level);
        break;
    case OCW2_ROTATE_SPECIFIC_EOI:
        chip->isr &= (uint8_t) ~(1u << level);
        chip->lowest_priority = (uint8_t)level;
        break;
    case OCW2_SET_PRIORITY:
        chip->lowest_priority = (uint8_t)level;
        break;
    case OCW2_ROTATE_AEOI_SET:
        chip->rotate_on_aeoi = true;
        break;
    case OCW2_ROTATE_AEOI_CLEAR:
        chip->rotate_on_aeoi = false;
        break;
    case OCW2_NOP:
        break;
    }
}

/* ---- ICW1: start of the initialisation sequence ---- */

/* The datasheet's list for ICW1: edge sense reset (a low-to-high transition
 * is needed again, so edge requests are dropped), IMR cleared, IR7 lowest
 * priority, special mask mode off, status read set to IRR, and ICW4's
 * functions cleared when IC4 = 0. It is silent on ISR; a chip being
 * re-initialised starts with nothing in service, as BIOSes assume. */
static void pic_write_icw1(struct pic_chip *chip, uint8_t value)
{
    chip->icw1 = value;
    chip->irr = chip->input & pic_level_lines(chip);
    chip->isr = 0;
    chip->imr = 0;
    chip->lowest_priority = 7;
    chip->special_mask = false;
    chip->read_isr = false;
    chip->poll = false;
    chip->rotate_on_aeoi = false;
    if (!(value & ICW1_IC4)) {
        chip->icw4 = 0;
        chip->auto_eoi = false;
        chip->special_fully_nested = false;
    }
    chip->init_step = PIC_EXPECT_ICW2;
}

static void pic_write_data(struct pic_chip *chip, uint8_t value)
{
    switch (chip->init_step) {
    case PIC_EXPECT_ICW2:
        chip->vector_base = value & 0xF8;
        if (!(chip->icw1 & ICW1_SNGL))
            chip->init_step = PIC_EXPECT_ICW3;
        else
            chip->init_step = (chip->icw1 & ICW1_IC4) ? PIC_EXPECT_ICW4 : PIC_READY;
        break;
    case PIC_EXPECT_ICW3:
        chip->icw3 = value;
        chip->init_step = (chip->icw1 & ICW1_IC4) ? PIC_EXPECT_ICW4 : PIC_READY;
        break;
    case PIC_EXPECT_ICW4:
        /* uPM = 0 (MCS-80/85 CALL sequences) has no meaning on an x86
         * bus; the INTA cycle always yields an 8086-style vector. */
        chip->icw4 = value;
        chip->auto_eoi = value & ICW4_AEOI;
        chip->special_fully_nested = value & ICW4_SFNM;
        chip->init_step = PIC_READY;
        break;
    case PIC_READY:
        chip->imr = value; /* OCW1 */
        break;
    }
}

static void pic_write_command(struct pic_chip *chip, uint8_t value)
{
    if (value & ICW1_SELECT) {
        pic_write_icw1(chip, value);
    } else if (value & OCW3_SELECT) {
        if (value & OCW3_POLL)
            chip->poll = true;
        if (value & OCW3_RR)
            chip->read_isr = value & OCW3_RIS;
        if (value & OCW3_ESMM)
            chip->special_mask = value & OCW3_SMM;
    } else {
        pic_eoi(chip, (enum ocw2_command)(value >> 5), value & OCW2_LEVEL);
    }
}

/* "Poll Command": the read acts as INTA and returns I (bit 7) and the
 * level W2-W0 of the highest request, or 0 with nothing pending. */
static uint8_t pic_poll_read(struct pic_chip *chip)
{
    int ir = pic_pending_ir(chip);

    chip->poll = false;
    if (ir < 0)
        return 0;
    pic_chip_acknowledge(chip, (unsigned)ir);
    return (uint8_t)(POLL_INTERRUPT | ir);
}

/* ---- port handlers ---- */

static struct pic_chip *pic_chip_at(struct pic8259 *pic, io_port_t port)
{
    return (port & 0x80) ? &pic->slave : &pic->master;
}

static uint32_t pic_read(void *opaque, io_port_t port, unsigned size)
{
    struct pic8259 *pic = opaque;
    struct pic_chip *chip = pic_chip_at(pic, port);
    uint8_t value;

    if (chip->poll) {
        value = pic_poll_read(chip);
        pic_update_cascade(pic);
    } else if ((port & 1) == PIC_A0_COMMAND) {
        value = chip->read_isr ? chip->isr : chip->irr;
    } else {
        value = chip->imr;
    }
    return value;
}

static void pic_write(void *opaque, io_port_t port, unsigned size, uint32_t value)
{
    struct pic8259 *pic = opaque;
    struct pic_chip *chip = pic_chip_at(pic, port);

    if ((port & 1) == PIC_A0_COMMAND)
        pic_write_command(chip, (uint8_t)value);
    else
        pic_write_data(chip, (uint8_t)value);
    pic_update_cascade(pic);
}

/* ELCR (PIIX: Edge/Level Control Registers). A line switched to level
 * takes the line's level as its request, as the level input logic would. */
static uint32_t elcr_read(void *opaque, io_port_t port, unsigned size)
{
    struct pic8259 *pic = opaque;

    return (port & 1) ? pic->slave.elcr : pic->master.elcr;
}

static void elcr_write(void *opaque, io_port_t port, unsigned size, uint32_t value)
{
    struct pic8259 *pic = opaque;
    struct pic_chip *chip = (port & 1) ? &pic->slave : &pic->master;

    chip->elcr = (uint8_t)value & chip->elcr_mask;
    chip->irr =
        (uint8_t)((chip->irr & ~pic_level_lines(chip)) | (chip->input & pic_level_lines(chip)));
    pic_update_cascade(pic);
}

static const struct ioport_ops pic_ops = {
    .name = "pic8259",
    .read = pic_read,
    .write = pic_write,
};

static const struct ioport_ops elcr_ops = {
    .name = "elcr",
    .read = elcr_read,
    .write = elcr_write,
};

/* ---- the pair ---- */

static void pic_chip_reset(struct pic_chip *chip, uint8_t vector_base, uint8_t icw3, uint8_t imr)
{
    uint8_t input = chip->input;
    bool is_master = chip->is_master;
    uint8_t elcr_mask = chip->elcr_mask;

    *chip = (struct pic_chip){.is_master = is_master, .input = input, .elcr_mask = elcr_mask};
    pic_write_icw1(chip, ICW1_SELECT | ICW1_IC4);
    pic_write_data(chip, vector_base);
    pic_write_data(chip, icw3);
    pic_write_data(chip, ICW4_UPM);
    pic_write_data(chip, imr);
}

void pic8259_reset(struct pic8259 *pic)
{
    pic_chip_reset(&pic->master, 0x08, 1u << PIC_CASCADE_IRQ, (uint8_t) ~(1u << PIC_CASCADE_IRQ));
    pic_chip_reset(&pic->slave, 0x70, PIC_CASCADE_IRQ, 0xFF);
    pic_update_cascade(pic);
}

struct pic8259 *pic8259_create(struct ioport_bus *bus, struct popek_error *err)
{
    struct pic8259 *pic = calloc(1, sizeof(*pic));

    if (!pic) {
        popek_fail(err, "out of memory");
        return NULL;
    }
    pic->master.is_master = true;
    pic->master.elcr_mask = ELCR_MASTER_MASK;
    pic->slave.elcr_mask = ELCR_SLAVE_MASK;
    pic8259_reset(pic);
    if (!ioport_register(bus, PIC_MASTER_BASE, 2, &pic_ops, pic, err) ||
        !ioport_register(bus, PIC_SLAVE_BASE, 2, &pic_ops, pic, err) ||
        !ioport_register(bus, PIC_ELCR_BASE, 2, &elcr_ops, pic, err)) {
        free(pic);
        return NULL;
    }
    return pic;
}

void pic8259_destroy(struct pic8259 *pic)
{
    free(pic);
}

void pic8259_set_irq(struct pic8259 *pic, unsigned irq, bool level)
{
    if (irq >= PIC_NR_IRQS || irq == PIC_CASCADE_IRQ)
        return;
    if (irq < 8) {
        pic_set_input(&pic->master, irq, level);
    } else {
        pic_set_input(&pic->slave, irq - 8, level);
        pic_update_cascade(pic);
    }
}

void pic8259_pulse_irq(struct pic8259 *pic, unsigned irq)
{
    pic8259_set_irq(pic, irq, true);
    pic8259_set_irq(pic, irq, false);
}

bool pic8259_has_interrupt(const struct pic8259 *pic)
{
    return pic_pending_ir(&pic->master) >= 0;
}

int pic8259_acknowledge(struct pic8259 *pic)
{
    int ir = pic_pending_ir(&pic->master);
    int slave_ir;
    int vector;

    if (ir < 0) {
        pic->spurious++;
        return pic->master.vector_base + 7;
    }
    pic_chip_acknowledge(&pic->master, (unsigned)ir);
    if (ir != PIC_CASCADE_IRQ || !(pic->master.icw3 & (1u << ir))) {
        vector = pic->master.vector_base + ir;
    } else {
        /* "Cascading Mode": the slave whose ID is on CAS0-2 supplies the
         * vector in the second INTA cycle. */
        slave_ir = pic_pending_ir(&pic->slave);
        if (slave_ir < 0) {
            pic->spurious++;
            vector = pic->slave.vector_base + 7;
        } else {
            pic_chip_acknowledge(&pic->slave, (unsigned)slave_ir);
            vector = pic->slave.vector_base + slave_ir;
        }
    }
    pic_update_cascade(pic);
    return vector;
}

uint64_t pic8259_spurious_count(const struct pic8259 *pic)
{
    return pic->spurious;
}

/* ---- saved state ---- */

static void pic_chip_save(const struct pic_chip *chip, struct snap_writer *w)
{
    snap_put_u8(w, chip->irr);
    snap_put_u8(w, chip->isr);
    snap_put_u8(w, chip->imr);
    snap_put_u8(w, chip->input);
    snap_put_u8(w, chip->elcr);
    snap_put_u8(w, (uint8_t)chip->init_step);
    snap_put_u8(w, chip->icw1);
    snap_put_u8(w, chip->icw3);
    snap_put_u8(w, chip->icw4);
    snap_put_u8(w, chip->vector_base);
    snap_put_u8(w, chip->lowest_priority);
    snap_put_bool(w, chip->read_isr);
    snap_put_bool(w, chip->poll);
    snap_put_bool(w, chip->special_mask);
    snap_put_bool(w, chip->auto_eoi);
    snap_put_bool(w, chip->rotate_on_aeoi);
    snap_put_bool(w, chip->special_fully_nested);
}

static void pic_chip_load(struct pic_chip *chip, struct snap_section *s)
{
    chip->irr = snap_get_u8(s);
    chip->isr = snap_get_u8(s);
    chip->imr = snap_get_u8(s);
    chip->input = snap_get_u8(s);
    chip->elcr = snap_get_u8(s);
    snap_check(s, !(chip->elcr & ~chip->elcr_mask), "ELCR bits that do not exist");
    uint8_t step = snap_get_u8(s);
    snap_check(s, step <= PIC_EXPECT_ICW4, "an initialization step out of range");
    chip->init_step = (enum pic_init_step)step;
    chip->icw1 = snap_get_u8(s);
    chip->icw3 = snap_get_u8(s);
    chip->icw4 = snap_get_u8(s);
    chip->vector_base = snap_get_u8(s);
    chip->lowest_priority = snap_get_u8(s);
    snap_check(s, chip->lowest_priority < 8, "a priority out of range");
    chip->read_isr = snap_get_bool(s);
    chip->poll = snap_get_bool(s);
    chip->special_mask = snap_get_bool(s);
    chip->auto_eoi = snap_get_bool(s);
    chip->rotate_on_aeoi = snap_get_bool(s);
    chip->special_fully_nested = snap_get_bool(s);
}

void pic8259_save(const struct pic8259 *pic, struct snap_writer *w)
{
    pic_chip_save(&pic->master, w);
    pic_chip_save(&pic->slave, w);
}

bool pic8259_load(struct pic8259 *pic, struct snap_section *s)
{
    pic_chip_load(&pic->master, s);
    pic_chip_load(&pic->slave, s);
    return !s->bad;
}
