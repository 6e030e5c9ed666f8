/*
 * devices/i8042.c — the 8042 keyboard controller and its keyboard
 * (i8042.h).
 *
 * Written from the IBM PS/2 keyboard/auxiliary-device controller
 * description (the 8042 firmware every PC/AT-compatible chipset copies)
 * and the PS/2 keyboard's command set. Section names below are those
 * documents' headings.
 *
 * Status register (0x64 read, "Status Register"):
 *   D0 OBF   output buffer full         D4 INH   1 = keyboard not inhibited
 *   D1 IBF   input buffer full (0: every write is taken at once)
 *   D2 SYS   system flag, set by the self test
 *   D3 A2    last write was to 0x64 (command) rather than 0x60 (data)
 *   D5 AUXB  the output buffer holds an aux-port byte
 *   D6 TO    time-out (an aux byte no device took)   D7 PE parity error (0)
 *
 * Command byte ("Controller Command Byte", read 0x20 / write 0x60):
 *   D0 keyboard interrupt (IRQ 1)   D1 aux interrupt (IRQ 12)   D2 system flag
 *   D4 keyboard port disabled       D5 aux port disabled        D6 translate
 *
 * Controller commands (0x64 write): 0x20 read and 0x60 write the command
 * byte; 0xA7/0xA8 disable/enable the aux port, 0xA9 test it (0x00);
 * 0xAA self test (0x55); 0xAB test the keyboard port (0x00); 0xAD/0xAE
 * disable/enable the keyboard port; 0xC0 read the input port (0x80: not
 * inhibited); 0xD0/0xD1 read/write the output port; 0xD2/0xD3 put the
 * next data byte in the output buffer as if from the keyboard/aux port;
 * 0xD4 send it to the aux device; 0xDD/0xDF clear/set the A20 bit;
 * 0xF0-0xFF pulse output port bits 0-3 for the clear bits of the low
 * nibble — bit 0 is the CPU's reset line. Others are ignored.
 *
 * Output port ("Output Port"): D0 reset line (active low: writing 0
 * resets the machine), D1 A20 gate, D4 IRQ 1 (keyboard byte waiting), D5
 * IRQ 12 (aux byte waiting), D2-D3 and D6-D7 1.
 *
 * The keyboard ("Keyboard Commands"): 0xFF reset → 0xFA 0xAA; 0xF2
 * identify → 0xFA 0xAB 0x83; 0xEE echo → 0xEE; 0xED LEDs, 0xF3 typematic
 * rate, 0xF0 scan code set take an argument (each byte acked with 0xFA;
 * 0xF0 0 answers the set in use, sets other than 1-3 get 0xFE); 0xF4
 * enable, 0xF5 disable, 0xF6 defaults → 0xFA; anything else → 0xFE
 * (resend). It generates no keys, so LEDs, rate and scanning have no
 * visible effect and are not kept.
 *
 * The model: the output buffer is one byte. Behind it wait the
 * controller's own bytes (command replies, 0xD2/0xD3 data, aux time-outs)
 * and then the keyboard's; the next one moves in when the guest reads
 * 0x60, so IRQ 1 or 12 falls and rises again for it (an edge per byte, as
 * edge-triggered inputs need). Keyboard bytes wait while the keyboard port
 * is disabled, and pass through translation when D6 is set.
 *
 * The aux port has no device. The controller itself works (loop-back
 * 0xD3, test 0xA9 → 0x00, enable/disable, IRQ 12), so Linux's
 * i8042_check_aux and its IRQ 12 test pass; a byte sent to the device
 * (0xD4) is answered by the controller with 0xFE and the time-out bit, the
 * PS/2 controller's "no device clocked it in" — Linux's psmouse then gives
 * up at once (SERIO_TIMEOUT) instead of waiting out its command timeouts.
 * QEMU always has a mouse there.
 *
 * What follows QEMU rather than the datasheet (Linux cares about neither):
 * the command byte's system flag does not change the status's; a data byte
 * for the keyboard (or 0xD4's for the aux device) enables its port; a new
 * keyboard command drops replies the keyboard has not yet delivered.
 * Where QEMU keeps A2 at 1 and overwrites an unread controller byte, this
 * model tracks A2 and queues the byte.
 */
#include "devices/i8042.h"

#include <stdio.h>
#include <stdlib.h>

#define STATUS_OBF     0x01
#define STATUS_SYS     0x04
#define STATUS_A2      0x08
#define STATUS_INH     0x10 /* 1 = not inhibited (no keylock) */
#define STATUS_AUXB    0x20
#define STATUS_TIMEOUT 0x40

#define CTR_KBD_INT   0x01
#define CTR_AUX_INT   0x02
#define CTR_KBD_DIS   0x10
#define CTR_AUX_DIS   0x20
#define CTR_TRANSLATE 0x40
#define CTR_BIOS      (CTR_TRANSLATE | CTR_AUX_DIS | CTR_KBD_INT) /* SeaBIOS leaves 0x61 */

#define OUT_RESET 0x01 /* active low */
#define OUT_A20   0x02
#define OUT_IRQ1  0x10
#define OUT_IRQ12 0x20
#define OUT_BIOS  0xCF /* reset high, A20 on, the unused lines high */

#define INPUT_PORT 0x80 /* keyboard not inhibited */

enum kbc_command {
    CMD_READ_CTR = 0x20,
    CMD_WRITE_CTR = 0x60,
    CMD_AUX_DISABLE = 0xA7,
    CMD_AUX_ENABLE = 0xA8,
    CMD_AUX_TEST = 0xA9,
    CMD_SELF_TEST = 0xAA,
    CMD_KBD_TEST = 0xAB,
    CMD_KBD_DISABLE = 0xAD,
    CMD_KBD_ENABLE = 0xAE,
    CMD_READ_INPUT = 0xC0,
    CMD_READ_OUTPUT = 0xD0,
    CMD_WRITE_OUTPUT = 0xD1,
    CMD_WRITE_KBD_OB = 0xD2,
    CMD_WRITE_AUX_OB = 0xD3,
    CMD_WRITE_AUX = 0xD4,
    CMD_A20_OFF = 0xDD,
    CMD_A20_ON = 0xDF,
    CMD_PULSE_FIRST = 0xF0, /* 0xF0-0xFF: pulse output bits 0-3 */
};

#define SELF_TEST_OK      0x55
#define INTERFACE_TEST_OK 0x00

enum kbd_command {
    KBD_SET_LEDS = 0xED,
    KBD_ECHO = 0xEE,
    KBD_SCAN_SET = 0xF0,
    KBD_IDENTIFY = 0xF2,
    KBD_TYPEMATIC = 0xF3,
    KBD_ENABLE = 0xF4,
    KBD_DISABLE = 0xF5,
    KBD_DEFAULTS = 0xF6,
    KBD_RESET = 0xFF,
};

#define KBD_ACK         0xFA
#define KBD_RESEND      0xFE
#define KBD_BAT_OK      0xAA
#define KBD_ID_FIRST    0xAB
#define KBD_ID_SECOND   0x83 /* MF2 keyboard */
#define KBD_DEFAULT_SET 2
#define AUX_NO_DEVICE   0xFE
#define QUEUE_BYTES     16

/* A byte on its way to the output buffer, with the status bits it brings
 * (AUXB, TIMEOUT). */
struct kbc_byte {
    uint8_t value;
    uint8_t status;
};

struct kbc_queue {
    struct kbc_byte bytes[QUEUE_BYTES];
    unsigned head, count;
};

struct i8042 {
    /* the controller */
    uint8_t status; /* SYS and A2; the rest is computed */
    uint8_t ctr;
    uint8_t output_port;
    uint8_t pending; /* a command waiting for its data byte, or 0 */
    bool ob_full;
    struct kbc_byte ob;
    struct kbc_queue replies; /* the controller's own bytes */
    bool irq1, irq12;
    /* the keyboard */
    struct kbc_queue keyboard;
    uint8_t kbd_pending; /* a command waiting for its argument, or 0 */
    uint8_t scan_set;
    struct irq_router *irq; /* the ISA interrupt lines (devices/irq.h) */
    platform_reset_fn reset_line;
    void *reset_ctx;
    char reset_why[64];
};

/* ---- queues ---- */

static void queue_push(struct kbc_queue *q, uint8_t value, uint8_t status)
{
    if (q->count == QUEUE_BYTES)
        return; /* the device would wait; nothing here sends that much */
    q->bytes[(q->head + q->count++) % QUEUE_BYTES] = (struct kbc_byte){value, status};
}

static struct kbc_byte queue_pop(struct kbc_queue *q)
{
    struct kbc_byte b = q->bytes[q->head];

    q->head = (q->head + 1) % QUEUE_BYTES;
    q->count--;
    return b;
}

/* ---- output buffer and interrupts ---- */

/* "Translate" (command byte D6): the controller turns scan code set 2 into
 * set 1 as bytes arrive from the keyboard. Of the bytes this keyboard
 * sends, only its ID's 0x83 (set 2's F7 key → 0x41) and the scan set
 * numbers 1-3 (→ 0x43, 0x41, 0x3F) change; replies 0xFA, 0xAA, 0xAB,
 * 0xEE, 0xFE pass through. The full table comes with host key input. */
static uint8_t kbc_translate(uint8_t byte)
{
    switch (byte) {
    case 0x01:
        return 0x43;
    case 0x02:
    case 0x83:
        return 0x41;
    case 0x03:
        return 0x3F;
    default:
        return byte;
    }
}

static void kbc_drive_irqs(struct i8042 *kbc)
{
    bool aux = kbc->ob.status & STATUS_AUXB;
    bool irq1 = kbc->ob_full && !aux && (kbc->ctr & CTR_KBD_INT);
    bool irq12 = kbc->ob_full && aux && (kbc->ctr & CTR_AUX_INT);

    if (irq1 != kbc->irq1 && kbc->irq)
        irq_set_level(kbc->irq, I8042_KBD_IRQ, irq1);
    if (irq12 != kbc->irq12 && kbc->irq)
        irq_set_level(kbc->irq, I8042_AUX_IRQ, irq12);
    kbc->irq1 = irq1;
    kbc->irq12 = irq12;
}

/* Moves the next waiting byte into an empty output buffer: the
 * controller's own first, then the keyboard's unless its port is
 * disabled. */
static void kbc_fill(struct i8042 *kbc)
{
    if (!kbc->ob_full && kbc->replies.count) {
        kbc->ob = queue_pop(&kbc->replies);
        kbc->ob_full = true;
    } else if (!kbc->ob_full && kbc->keyboard.count && !(kbc->ctr & CTR_KBD_DIS)) {
        kbc->ob = queue_pop(&kbc->keyboard);
        if (kbc->ctr & CTR_TRANSLATE)
            kbc->ob.value = kbc_translate(kbc->ob.value);
        kbc->ob_full = true;
    }
    kbc_drive_irqs(kbc);
}

static void kbc_reply(struct i8042 *kbc, uint8_t value, uint8_t status)
{
    queue_push(&kbc->replies, value, status);
    kbc_fill(kbc);
}

static void kbc_pull_reset(struct i8042 *kbc, const char *what, uint8_t value)
{
    snprintf(kbc->reset_why, sizeof(kbc->reset_why), "i8042 keyboard controller: %s 0x%02X", what,
             value);
    kbc->reset_line(kbc->reset_ctx, kbc->reset_why);
}

/* ---- the keyboard ("Keyboard Commands") ---- */

static void kbd_send(struct i8042 *kbc, uint8_t value)
{
    queue_push(&kbc->keyboard, value, 0);
}

static void kbd_defaults(struct i8042 *kbc)
{
    kbc->scan_set = KBD_DEFAULT_SET;
}

static void kbd_argument(struct i8042 *kbc, uint8_t command, uint8_t arg)
{
    if (command != KBD_SCAN_SET) { /* LEDs, typematic rate: nothing to show */
        kbd_send(kbc, KBD_ACK);
    } else if (arg == 0) {
        kbd_send(kbc, KBD_ACK);
        kbd_send(kbc, kbc->scan_set);
    } else if (arg <= 3) {
        kbc->scan_set = arg;
        kbd_send(kbc, KBD_ACK);
    } else {
        kbd_send(kbc, KBD_RESEND);
    }
}

static void kbd_receive(struct i8042 *kbc, uint8_t byte)
{
    uint8_t command = kbc->kbd_pending;

    kbc->keyboard.count = 0; /* a new command ends the last one's replies */
    kbc->kbd_pending = 0;
    if (command) {
        kbd_argument(kbc, command, byte);
        return;
    }
    switch (byte) {
    case KBD_SET_LEDS:
    case KBD_SCAN_SET:
    case KBD_TYPEMATIC:
        kbc->kbd_pending = byte;
        kbd_send(kbc, KBD_ACK);
        break;
    case KBD_ECHO:
        kbd_send(kbc, KBD_ECHO);
        break;
    case KBD_IDENTIFY:
        kbd_send(kbc, KBD_ACK);
        kbd_send(kbc, KBD_ID_FIRST);
        kbd_send(kbc, KBD_ID_SECOND);
        break;
    case KBD_ENABLE:
        kbd_send(kbc, KBD_ACK);
        break;
    case KBD_DISABLE:
    case KBD_DEFAULTS:
        kbd_defaults(kbc);
        kbd_send(kbc, KBD_ACK);
        break;
    case KBD_RESET:
        kbd_defaults(kbc);
        kbd_send(kbc, KBD_ACK);
        kbd_send(kbc, KBD_BAT_OK);
        break;
    default:
        kbd_send(kbc, KBD_RESEND);
        break;
    }
}

/* ---- the controller ("Commands") ---- */

static uint8_t kbc_output_port(const struct i8042 *kbc)
{
    return (uint8_t)((kbc->output_port & ~(OUT_IRQ1 | OUT_IRQ12)) | (kbc->irq1 ? OUT_IRQ1 : 0) |
                     (kbc->irq12 ? OUT_IRQ12 : 0));
}

static void kbc_command(struct i8042 *kbc, uint8_t command)
{
    switch (command) {
    case CMD_READ_CTR:
        kbc_reply(kbc, kbc->ctr, 0);
        break;
    case CMD_WRITE_CTR:
    case CMD_WRITE_OUTPUT:
    case CMD_WRITE_KBD_OB:
    case CMD_WRITE_AUX_OB:
    case CMD_WRITE_AUX:
        kbc->pending = command;
        break;
    case CMD_AUX_DISABLE:
        kbc->ctr |= CTR_AUX_DIS;
        break;
    case CMD_AUX_ENABLE:
        kbc->ctr &= ~CTR_AUX_DIS;
        break;
    case CMD_AUX_TEST:
    case CMD_KBD_TEST:
        kbc_reply(kbc, INTERFACE_TEST_OK, 0);
        break;
    case CMD_SELF_TEST:
        kbc->status |= STATUS_SYS;
        kbc_reply(kbc, SELF_TEST_OK, 0);
        break;
    case CMD_KBD_DISABLE:
        kbc->ctr |= CTR_KBD_DIS;
        break;
    case CMD_KBD_ENABLE:
        kbc->ctr &= ~CTR_KBD_DIS;
        kbc_fill(kbc);
        break;
    case CMD_READ_INPUT:
        kbc_reply(kbc, INPUT_PORT, 0);
        break;
    case CMD_READ_OUTPUT:
        kbc_reply(kbc, kbc_output_port(kbc), 0);
        break;
    case CMD_A20_OFF:
        kbc->output_port &= ~OUT_A20;
        break;
    case CMD_A20_ON:
        kbc->output_port |= OUT_A20;
        break;
    default:
        /* "Pulse Output Port": a 0 in bits 3-0 pulses that line low. */
        if (command >= CMD_PULSE_FIRST && !(command & OUT_RESET))
            kbc_pull_reset(kbc, "command", command);
        break;
    }
}

static void kbc_command_data(struct i8042 *kbc, uint8_t command, uint8_t byte)
{
    switch (command) {
    case CMD_WRITE_CTR:
        kbc->ctr = byte;
        kbc_fill(kbc); /* the ports' enables and the interrupt enables changed */
        break;
    case CMD_WRITE_OUTPUT:
        kbc->output_port = byte;
        if (!(byte & OUT_RESET))
            kbc_pull_reset(kbc, "output port write", byte);
        break;
    case CMD_WRITE_KBD_OB:
        kbc_reply(kbc, byte, 0);
        break;
    case CMD_WRITE_AUX_OB:
        kbc_reply(kbc, byte, STATUS_AUXB);
        break;
    case CMD_WRITE_AUX:
        kbc->ctr &= ~CTR_AUX_DIS;
        kbc_reply(kbc, AUX_NO_DEVICE, STATUS_AUXB | STATUS_TIMEOUT);
        break;
    }
}

/* ---- port handlers ---- */

static uint32_t kbc_read(void *opaque, io_port_t port, unsigned size)
{
    struct i8042 *kbc = opaque;
    uint8_t value;

    if (port == I8042_STATUS_PORT) {
        return (uint32_t)(kbc->status | STATUS_INH |
                          (kbc->ob_full ? STATUS_OBF | kbc->ob.status : 0));
    }
    /* An empty buffer reads as its last byte. */
    value = kbc->ob.value;
    if (kbc->ob_full) {
        kbc->ob_full = false;
        kbc_drive_irqs(kbc); /* the line falls, and rises again for the next byte */
        kbc_fill(kbc);
    }
    return value;
}

static void kbc_write(void *opaque, io_port_t port, unsigned size, uint32_t value)
{
    struct i8042 *kbc = opaque;
    uint8_t byte = (uint8_t)value, command = kbc->pending;

    kbc->pending = 0;
    if (port == I8042_STATUS_PORT) {
        kbc->status |= STATUS_A2;
        kbc_command(kbc, byte);
        return;
    }
    kbc->status &= ~STATUS_A2;
    if (command) {
        kbc_command_data(kbc, command, byte);
        return;
    }
    kbc->ctr &= ~CTR_KBD_DIS; /* sending to the keyboard enables its port */
    kbd_receive(kbc, byte);
    kbc_fill(kbc);
}

static const struct ioport_ops kbc_ops = {
    .name = "i8042",
    .read = kbc_read,
    .write = kbc_write,
};

/* ---- the device ---- */

void i8042_reset(struct i8042 *kbc)
{
    kbc->status = STATUS_SYS | STATUS_A2; /* the BIOS's self test, then its commands */
    kbc->ctr = CTR_BIOS;
    kbc->output_port = OUT_BIOS;
    kbc->pending = 0;
    kbc->ob_full = false;
    kbc->ob = (struct kbc_byte){0, 0};
    kbc->replies.count = 0;
    kbc->keyboard.count = 0;
    kbc->kbd_pending = 0;
    kbd_defaults(kbc);
    kbc_drive_irqs(kbc);
}

struct i8042 *i8042_create(struct ioport_bus *bus, struct irq_router *irq,
                           platform_reset_fn reset_line, void *reset_ctx, struct popek_error *err)
{
    struct i8042 *kbc = calloc(1, sizeof(*kbc));

    if (!kbc) {
        popek_fail(err, "out of memory");
        return NULL;
    }
    kbc->irq = irq;
    kbc->reset_line = reset_line;
    kbc->reset_ctx = reset_ctx;
    i8042_reset(kbc);
    if (!ioport_register(bus, I8042_DATA_PORT, 1, &kbc_ops, kbc, err) ||
        !ioport_register(bus, I8042_STATUS_PORT, 1, &kbc_ops, kbc, err)) {
        free(kbc);
        return NULL;
    }
    return kbc;
}

void i8042_destroy(struct i8042 *kbc)
{
    free(kbc);
}

/* ---- saved state ---- */

static void kbc_queue_save(const struct kbc_queue *q, struct snap_writer *w)
{
    snap_put_u8(w, (uint8_t)q->count);
    for (unsigned i = 0; i < q->count; i++) {
        const struct kbc_byte *b = &q->bytes[(q->head + i) % QUEUE_BYTES];
        snap_put_u8(w, b->value);
        snap_put_u8(w, b->status);
    }
}

static void kbc_queue_load(struct kbc_queue *q, struct snap_section *s)
{
    unsigned count = snap_get_u8(s);

    q->head = 0;
    q->count = 0;
    if (!snap_check(s, count <= QUEUE_BYTES, "a queue longer than the controller's"))
        return;
    for (unsigned i = 0; i < count; i++) {
        q->bytes[i].value = snap_get_u8(s);
        q->bytes[i].status = snap_get_u8(s);
    }
    q->count = count;
}

void i8042_save(const struct i8042 *kbc, struct snap_writer *w)
{
    snap_put_u8(w, kbc->status);
    snap_put_u8(w, kbc->ctr);
    snap_put_u8(w, kbc->output_port);
    snap_put_u8(w, kbc->pending);
    snap_put_bool(w, kbc->ob_full);
    snap_put_u8(w, kbc->ob.value);
    snap_put_u8(w, kbc->ob.status);
    kbc_queue_save(&kbc->replies, w);
    snap_put_bool(w, kbc->irq1);
    snap_put_bool(w, kbc->irq12);
    kbc_queue_save(&kbc->keyboard, w);
    snap_put_u8(w, kbc->kbd_pending);
    snap_put_u8(w, kbc->scan_set);
}

bool i8042_load(struct i8042 *kbc, struct snap_section *s)
{
    kbc->status = snap_get_u8(s);
    kbc->ctr = snap_get_u8(s);
    kbc->output_port = snap_get_u8(s);
    kbc->pending = snap_get_u8(s);
    kbc->ob_full = snap_get_bool(s);
    kbc->ob.value = snap_get_u8(s);
    kbc->ob.status = snap_get_u8(s);
    kbc_queue_load(&kbc->replies, s);
    kbc->irq1 = snap_get_bool(s);
    kbc->irq12 = snap_get_bool(s);
    kbc_queue_load(&kbc->keyboard, s);
    kbc->kbd_pending = snap_get_u8(s);
    kbc->scan_set = snap_get_u8(s);
    snap_check(s, kbc->scan_set >= 1 && kbc->scan_set <= 3, "a scan code set out of range");
    return !s->bad;
}
