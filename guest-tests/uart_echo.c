/*
 * guest-tests/uart_echo.c — host input through COM1: the harness feeds
 * uart_echo.input to the runner's stdin through a pipe (as in
 * `printf '##hello\n' | popek -kernel uart_echo.elf`); the kernel takes it
 * on IRQ 4 — COM1 programmed as Linux's 8250 driver does (115200 8N1, FIFOs
 * on with trigger level 8, received-data and line-status interrupts,
 * OUT2) — and echoes it upper-cased until the first newline. A line longer
 * than the FIFO makes the host side hold bytes back until the guest reads;
 * a tail shorter than the trigger level arrives through the character
 * timeout; the CPU waits for all of it in HLT with no timer running.
 *
 * The UART may receive one byte before the runtime programs it, and
 * enabling its FIFOs discards that byte — on QEMU and popek alike, and
 * whether it happens depends on when the host's bytes come. So the input
 * starts with '#'s the kernel skips: the output is the same either way.
 */
#include "rt.h"

#define COM1 0x3F8
#define RBR  0
#define IER  1
#define IIR  2
#define FCR  2
#define LCR  3
#define MCR  4
#define LSR  5

#define COM1_IRQ 4

#define HALT_LIMIT 100000u /* a broken model fails, never hangs */

static volatile uint8_t ring[256];
static volatile unsigned head, tail;
static volatile unsigned overruns;

static void com1_handler(struct rt_frame *f)
{
    (void)f;
    for (int pass = 0; pass < 16; pass++) {
        uint8_t iir = inb(COM1 + IIR);
        if (iir & 0x01)
            break;
        uint8_t lsr;
        while ((lsr = inb(COM1 + LSR)) & 0x01) {
            uint8_t byte = inb(COM1 + RBR);
            if (head - tail < sizeof(ring))
                ring[head++ % sizeof(ring)] = byte;
            if (lsr & 0x02)
                overruns++;
        }
    }
    outb(PIC1_CMD, 0x20);
}

/* Waits in HLT for the next received byte; -1 if none comes. */
static int next_byte(void)
{
    for (uint32_t halts = 0; halts < HALT_LIMIT; halts++) {
        cli();
        if (head != tail) {
            uint8_t byte = ring[tail++ % sizeof(ring)];
            sti();
            return byte;
        }
        __asm__ volatile("sti; hlt" : : : "memory"); /* no interrupt lost between */
    }
    return -1;
}

int main(const struct multiboot_info *mbi)
{
    (void)mbi;
    rt_pic_init((uint8_t) ~(1u << COM1_IRQ), 0xFF);
    rt_set_handler(0x20 + COM1_IRQ, com1_handler);
    /* The runtime set 115200 8N1 and the FIFOs; Linux's choices on top,
     * without clearing the FIFO again. */
    outb(COM1 + FCR, 0x81);
    outb(COM1 + MCR, 0x0B); /* DTR, RTS, OUT2 */
    outb(COM1 + IER, 0x05); /* received data, line status */

    rt_printf("uart_echo: echoing stdin upper-cased up to a newline\n");
    int byte;
    unsigned count = 0;
    bool started = false;
    while ((byte = next_byte()) >= 0) {
        if (!started && byte == '#')
            continue;
        started = true;
        if (byte >= 'a' && byte <= 'z')
            byte -= 'a' - 'A';
        rt_putc((char)byte);
        count++;
        if (byte == '\n')
            break;
    }
    cli();
    outb(COM1 + IER, 0);
    CHECK(byte == '\n', "a newline arrived");
    CHECK_EQ(overruns, 0, "overruns");
    rt_printf("%u bytes echoed\n", count);
    rt_finish();
}
