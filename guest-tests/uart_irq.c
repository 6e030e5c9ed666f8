/*
 * guest-tests/uart_irq.c — the 16550A on COM1 run the way Linux's 8250
 * driver runs it: probed (IER bits, loopback MSR, FIFO detection through
 * IIR bits 6-7, scratch, divisor latch), then driven by IRQ 4 through the
 * 8259A with MCR.OUT2 set, in loopback so that nothing reaches the console
 * while interrupts are on:
 *
 *  - THR empty: raised by enabling ETBEI with THR empty (again after
 *    turning it off and on, the test behind Linux's UART_BUG_THRE; not by
 *    rewriting it set), cleared by reading IIR, raised again by each THR
 *    write;
 *  - received data at the FIFO trigger level (8, as Linux programs it);
 *  - the character timeout for fewer bytes than the trigger (9600 baud, so
 *    the timeout is 4.2 ms);
 *  - an overrun: line status first, then the data, in one handler pass.
 *
 * The trigger-level and overrun cases run at 50 baud, where the timeout
 * is 800 ms: a host that preempts the guest for a few milliseconds between
 * two THR writes must not turn "received data" into "timeout".
 *
 * The handler loops on IIR as Linux's does and records every IIR value it
 * sees; the test prints them with the bytes received, after putting COM1
 * back in the state the runtime prints with (no loopback, IER = 0).
 * Nothing timing-dependent is printed: bytes are sent with interrupts off,
 * then taken with one sti, so each case yields one interrupt.
 *
 * Not probed here (QEMU, the oracle, differs from the PC16550D): modem
 * status deltas in loopback (QEMU reads MSR D0-D3 as 0 there) and OUT2
 * gating the IRQ line (QEMU raises IRQ 4 whatever OUT2 says); unit.uart16550
 * covers both.
 */
#include "rt.h"

#define COM1 0x3F8
#define RBR  0
#define THR  0
#define DLL  0
#define IER  1
#define DLM  1
#define IIR  2
#define FCR  2
#define LCR  3
#define MCR  4
#define LSR  5
#define MSR  6
#define SCR  7

#define IER_RDI  0x01
#define IER_THRI 0x02
#define IER_RLSI 0x04

#define MCR_DTR  0x01
#define MCR_RTS  0x02
#define MCR_OUT1 0x04
#define MCR_OUT2 0x08
#define MCR_LOOP 0x10

#define COM1_IRQ 4
#define COM1_VEC (0x20 + COM1_IRQ)

#define POLL_LIMIT 50000000u /* bounds every wait: a broken model fails, never hangs */
#define MAX_IIRS   16

static volatile unsigned irqs;
static volatile uint8_t iirs[MAX_IIRS];
static volatile unsigned iir_count;
static volatile uint8_t rx[64];
static volatile unsigned rx_count;

static uint8_t com_in(unsigned reg)
{
    return inb(COM1 + reg);
}

static void com_out(unsigned reg, uint8_t value)
{
    outb(COM1 + reg, value);
}

/* As serial8250_interrupt: service the port until IIR says nothing is
 * pending, then EOI. */
static void com1_handler(struct rt_frame *f)
{
    (void)f;
    irqs++;
    for (unsigned pass = 0; pass < MAX_IIRS; pass++) {
        uint8_t iir = com_in(IIR);
        if (iir & 0x01)
            break;
        if (iir_count < MAX_IIRS)
            iirs[iir_count++] = iir;
        switch (iir & 0x0F) {
        case 0x06: /* line status: reading LSR clears it */
            com_in(LSR);
            break;
        case 0x04: /* received data */
        case 0x0C: /* character timeout */
            while ((com_in(LSR) & 0x01) && rx_count < sizeof(rx))
                rx[rx_count++] = com_in(RBR);
            break;
        case 0x02: /* THR empty: reading IIR cleared it */
            break;
        default: /* modem status */
            com_in(MSR);
            break;
        }
    }
    outb(PIC1_CMD, PIC_EOI);
}

static void set_divisor(uint16_t divisor)
{
    uint8_t lcr = com_in(LCR);
    com_out(LCR, lcr | 0x80);
    com_out(DLL, (uint8_t)divisor);
    com_out(DLM, (uint8_t)(divisor >> 8));
    com_out(LCR, lcr);
}

/* Back to what the runtime prints with: 115200 8N1, FIFO on, DTR|RTS. */
static void console_mode(void)
{
    com_out(IER, 0);
    set_divisor(1);
    com_out(LCR, 0x03);
    com_out(MCR, MCR_DTR | MCR_RTS);
    com_out(FCR, 0x07);
    com_in(MSR);
    com_in(LSR);
}

static void reset_record(void)
{
    irqs = 0;
    iir_count = 0;
    rx_count = 0;
}

/* Waits with interrupts enabled until `count` interrupts were taken. */
static bool wait_irqs(unsigned count)
{
    sti();
    for (uint32_t i = 0; i < POLL_LIMIT && irqs < count; i++)
        __asm__ volatile("pause");
    cli();
    return irqs >= count;
}

/* What the handler saw for one case, kept until COM1 can print again. */
struct record {
    unsigned irqs, iir_count, rx_count;
    uint8_t iirs[MAX_IIRS], rx[sizeof(rx)];
};

static void take_record(struct record *r)
{
    r->irqs = irqs;
    r->iir_count = iir_count;
    r->rx_count = rx_count;
    for (unsigned i = 0; i < iir_count; i++)
        r->iirs[i] = iirs[i];
    for (unsigned i = 0; i < rx_count; i++)
        r->rx[i] = rx[i];
}

static void print_record(const char *what, const struct record *r)
{
    rt_printf("%s: %u interrupt(s), IIR", what, r->irqs);
    for (unsigned i = 0; i < r->iir_count; i++)
        rt_printf(" %02x", r->iirs[i]);
    rt_printf(", %u byte(s)", r->rx_count);
    for (unsigned i = 0; i < r->rx_count; i++)
        rt_printf(" %02x", r->rx[i]);
    rt_printf("\n");
}

static void test_probe(void)
{
    com_out(IER, 0x00);
    uint8_t ier0 = com_in(IER) & 0x0F;
    com_out(IER, 0xFF);
    uint8_t ier_all = com_in(IER);
    com_out(IER, 0x00);
    CHECK(ier0 == 0 && ier_all == 0x0F, "IER: 0 reads 0x%x, 0xff reads 0x%x", ier0, ier_all);

    com_out(SCR, 0x5A);
    uint8_t scr = com_in(SCR);
    com_out(SCR, 0xA5);
    CHECK_EQ(scr | (com_in(SCR) << 8), 0xA55A, "scratch register holds its bytes");

    com_out(LCR, 0x83);
    com_out(DLL, 0x34);
    com_out(DLM, 0x12);
    uint16_t dl = (uint16_t)(com_in(DLL) | com_in(DLM) << 8);
    com_out(LCR, 0x03);
    CHECK_EQ(dl, 0x1234, "divisor latch read back with DLAB");
    CHECK_EQ(com_in(IER), 0, "IER again once DLAB is clear");
    set_divisor(1);

    com_out(MCR, 0xFF);
    uint8_t mcr = com_in(MCR);
    com_out(MCR, MCR_LOOP | MCR_OUT2 | MCR_RTS); /* Linux's loopback probe */
    uint8_t msr_probe = com_in(MSR) & 0xF0;
    com_out(MCR, MCR_LOOP | MCR_DTR | MCR_OUT1);
    uint8_t msr_dtr_out1 = com_in(MSR) & 0xF0;
    com_out(MCR, MCR_DTR | MCR_RTS);
    com_in(MSR);
    CHECK_EQ(mcr, 0x1F, "MCR written 0xff");
    CHECK_EQ(msr_probe, 0x90, "MSR in loopback with RTS|OUT2 (CTS, DCD)");
    CHECK_EQ(msr_dtr_out1, 0x60, "MSR in loopback with DTR|OUT1 (DSR, RI)");

    com_out(FCR, 0x00);
    uint8_t iir_off = com_in(IIR);
    com_out(FCR, 0x01);
    uint8_t iir_on = com_in(IIR);
    CHECK_EQ(iir_off, 0x01, "IIR with the FIFOs off");
    CHECK_EQ(iir_on, 0xC1, "IIR with the FIFOs on (a 16550A: bits 6-7 set)");
    com_out(FCR, 0x07);
    CHECK_EQ(com_in(LSR), 0x60, "LSR idle: THRE and TEMT");
}

static void test_thr_empty_interrupt(void)
{
    com_out(MCR, MCR_LOOP | MCR_OUT2);
    com_in(MSR);
    reset_record();

    com_out(IER, IER_THRI); /* THR empty: raised at once */
    bool first = wait_irqs(1);
    com_out(IER, IER_THRI); /* rewritten set: nothing new */
    sti();
    for (volatile int i = 0; i < 10000; i++)
        ;
    cli();
    unsigned after_rewrite = irqs;
    com_out(IER, 0); /* off and on: raised again */
    com_out(IER, IER_THRI);
    bool again = wait_irqs(2);
    com_out(THR, 'x'); /* THR empty again right after the write */
    bool after_write = wait_irqs(3);
    com_out(IER, 0);
    unsigned got = irqs, n_iir = iir_count;
    uint8_t iir0 = iirs[0], iir2 = iirs[2];
    uint8_t looped = com_in(RBR);
    console_mode();

    CHECK(first, "enabling ETBEI with THR empty interrupts");
    CHECK_EQ(after_rewrite, 1, "interrupts after rewriting IER with ETBEI still set");
    CHECK(again, "ETBEI off then on interrupts again");
    CHECK(after_write, "a THR write interrupts once THR is empty again");
    CHECK_EQ(got, 3, "THR-empty interrupts");
    CHECK_EQ(n_iir, 3, "IIR reads that named a source");
    CHECK_EQ(iir0, 0xC2, "IIR in the handler (THR empty, FIFOs on)");
    CHECK_EQ(iir2, 0xC2, "IIR after the THR write");
    CHECK_EQ(looped, 'x', "the byte written came back through loopback");
}

static void test_receive_interrupts(void)
{
    static const char eight[] = "ABCDEFGH";
    static const char three[] = "xyz";

    com_out(FCR, 0x87); /* FIFOs on, cleared, trigger level 8 */
    com_out(MCR, MCR_LOOP | MCR_OUT2);
    com_in(MSR);
    com_out(IER, IER_RDI | IER_RLSI);

    struct record at_trigger, timeout, overrun;

    set_divisor(0x0900); /* 50 baud: no timeout while we write */
    reset_record();
    for (int i = 0; i < 8; i++)
        com_out(THR, (uint8_t)eight[i]);
    wait_irqs(1);
    take_record(&at_trigger);

    set_divisor(12); /* 9600 baud: the timeout comes 4.2 ms after the last byte */
    reset_record();
    for (int i = 0; i < 3; i++)
        com_out(THR, (uint8_t)three[i]);
    wait_irqs(1);
    uint8_t iir_after = com_in(IIR);
    take_record(&timeout);

    set_divisor(0x0900);
    reset_record();
    for (int i = 0; i < 17; i++)
        com_out(THR, (uint8_t)(0x40 + i));
    wait_irqs(1);
    uint8_t lsr_after = com_in(LSR);
    take_record(&overrun);

    console_mode(); /* printing in loopback would print to ourselves */
    print_record("8 bytes at trigger level 8", &at_trigger);
    print_record("3 bytes (character timeout)", &timeout);
    print_record("17 bytes into a 16-byte FIFO", &overrun);
    CHECK_EQ(iir_after, 0xC1, "IIR once the handler read them");
    CHECK_EQ(lsr_after, 0x60, "LSR after the overrun was handled (OE cleared)");
    CHECK(at_trigger.irqs == 1 && timeout.irqs == 1 && overrun.irqs == 1,
          "one interrupt for each case");
}

int main(const struct multiboot_info *mbi)
{
    (void)mbi;
    rt_pic_init((uint8_t) ~(1u << COM1_IRQ), 0xFF); /* only IRQ 4 */
    rt_set_handler(COM1_VEC, com1_handler);

    test_probe();
    test_thr_empty_interrupt();
    test_receive_interrupts();
    console_mode();
    rt_finish();
}
