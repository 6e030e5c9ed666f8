/*
 * guest-tests/apic_platform.c — the platform as an SMP-aware kernel finds
 * and uses it: the MP configuration and the ACPI tables located by the
 * specifications' searches (pc_tables.h) and walked, then the I/O APIC and
 * the local APIC programmed the way Linux and xv6 do: PIT interrupts
 * through I/O APIC pin 2 (ISA IRQ 0's override), the local APIC timer in
 * periodic and one-shot mode, self-IPIs, the TPR holding back a lower
 * priority class, EOI.
 *
 * Printed are only facts QEMU (SeaBIOS's tables, QEMU's APICs) and popek
 * share: SeaBIOS also lists a PCI bus, IRQs 5/9/10/11 as PCI interrupts
 * and more ACPI tables, its FADT is revision 1 and its I/O APIC register
 * says version 0x20, so none of those are printed; counts are lower bounds
 * and relations, never speed-dependent values.
 */
#include "pc_tables.h"
#include "rt.h"

#define LAPIC   0xFEE00000u
#define IOAPIC  0xFEC00000u
#define PIT_CH0 0x40
#define PIT_CMD 0x43
#define PIT_1MS 1193

enum {
    LAPIC_ID = 0x20,
    LAPIC_VERSION = 0x30,
    LAPIC_TPR = 0x80,
    LAPIC_PPR = 0xA0,
    LAPIC_EOI = 0xB0,
    LAPIC_SVR = 0xF0,
    LAPIC_ISR = 0x100,
    LAPIC_IRR = 0x200,
    LAPIC_ESR = 0x280,
    LAPIC_ICR_LOW = 0x300,
    LAPIC_ICR_HIGH = 0x310,
    LAPIC_LVT_TIMER = 0x320,
    LAPIC_LVT_LINT0 = 0x350,
    LAPIC_LVT_ERROR = 0x370,
    LAPIC_TIMER_INITIAL = 0x380,
    LAPIC_TIMER_CURRENT = 0x390,
    LAPIC_TIMER_DIVIDE = 0x3E0,
};

#define LVT_MASKED   0x10000u
#define LVT_PERIODIC 0x20000u
#define ICR_SELF     0x40000u
#define ICR_BUSY     0x01000u
#define POLL_LIMIT   5000000u

#define VEC_PIT      0x30
#define VEC_TIMER    0x40
#define VEC_ONE_SHOT 0x41
#define VEC_MASKED   0x42
#define VEC_LOW      0x45
#define VEC_IPI      0x50
#define VEC_SPURIOUS 0xFF

static uint32_t lapic_read(unsigned reg)
{
    return *(volatile uint32_t *)(LAPIC + reg);
}

static void lapic_write(unsigned reg, uint32_t value)
{
    *(volatile uint32_t *)(LAPIC + reg) = value;
}

/* Gives a pending interrupt time to arrive: an emulator may take it only
 * at the end of its current block of instructions. */
static void interrupt_window(void)
{
    sti();
    for (unsigned n = 0; n < 1000; n++)
        __asm__ volatile("nop");
    cli();
}

static bool lapic_bit(unsigned base, unsigned vector)
{
    return lapic_read(base + 0x10 * (vector >> 5)) & (1u << (vector & 31));
}

static uint32_t ioapic_read(uint8_t index)
{
    *(volatile uint32_t *)IOAPIC = index;
    return *(volatile uint32_t *)(IOAPIC + 0x10);
}

static void ioapic_write(uint8_t index, uint32_t value)
{
    *(volatile uint32_t *)IOAPIC = index;
    *(volatile uint32_t *)(IOAPIC + 0x10) = value;
}

/* ---- the MP configuration ---- */

static void walk_mp(void)
{
    const uint8_t *fp = pt_find_mp();
    const uint8_t *t, *e;
    unsigned processors = 0, ioapics = 0;
    bool isa = false, bsp = false, irq0_pin2 = false, irq2 = false, identity = true;
    bool extint_lint0 = false, nmi_lint1 = false;
    unsigned identity_irqs = 0;
    uint8_t ioapic_id = 0xFF, isa_bus = 0xFF, lapic_version = 0;
    uint32_t ioapic_addr = 0;

    CHECK(fp != NULL, "MP floating pointer found by the specification's search");
    if (!fp)
        return;
    CHECK_EQ(fp[9], 4, "MP specification revision (1.4)");
    CHECK_EQ(fp[11], 0, "MP feature byte 1 (a configuration table follows)");
    t = (const uint8_t *)pt_le32(fp + 4);
    CHECK(memcmp(t, "PCMP", 4) == 0 && pt_checksum_ok(t, pt_le16(t + 4)),
          "MP configuration table: signature and checksum");
    CHECK_EQ(pt_le32(t + 36), LAPIC, "MP local APIC address");

    /* Buses first: the interrupt entries name the ISA bus by its ID. */
    e = t + 44;
    for (unsigned i = 0; i < pt_le16(t + 34); i++) {
        if (e[0] == 1 && memcmp(e + 2, "ISA", 3) == 0) {
            isa = true;
            isa_bus = e[1];
        }
        e += e[0] == 0 ? 20 : 8;
    }
    e = t + 44;
    for (unsigned i = 0; i < pt_le16(t + 34); i++) {
        switch (e[0]) {
        case 0:
            processors++;
            bsp = (e[3] & 3) == 3 && e[1] == 0;
            lapic_version = e[2];
            break;
        case 2:
            ioapics++;
            ioapic_id = e[1];
            ioapic_addr = pt_le32(e + 4);
            break;
        case 3:
            if (e[4] != isa_bus || e[1] != 0)
                break;
            if (e[5] == 0)
                irq0_pin2 = e[7] == 2 && e[6] == ioapic_id;
            else if (e[5] == 2)
                irq2 = true;
            else if (e[5] != 5 && e[5] != 9 && e[5] != 10 && e[5] != 11) {
                identity_irqs++;
                identity = identity && e[7] == e[5];
            }
            break;
        case 4:
            if (e[1] == 3 && e[7] == 0)
                extint_lint0 = true;
            if (e[1] == 1 && e[6] == 0xFF && e[7] == 1)
                nmi_lint1 = true;
            break;
        }
        e += e[0] == 0 ? 20 : 8;
    }
    CHECK_EQ(processors, 1, "MP processor entries");
    CHECK(bsp, "the processor is the enabled bootstrap processor, local APIC ID 0");
    CHECK_EQ(lapic_version, 0x14, "MP processor entry: local APIC version");
    CHECK(isa, "MP bus entry for the ISA bus");
    CHECK_EQ(ioapics, 1, "MP I/O APIC entries");
    CHECK_EQ(ioapic_id, 0, "MP I/O APIC ID");
    CHECK_EQ(ioapic_addr, IOAPIC, "MP I/O APIC address");
    CHECK(irq0_pin2, "ISA IRQ 0 on I/O APIC pin 2");
    CHECK(!irq2, "no entry for ISA IRQ 2 (the cascade)");
    CHECK(identity && identity_irqs == 10,
          "ISA IRQs 1 3 4 6 7 8 12 13 14 15 on the pins of the same number");
    CHECK(extint_lint0, "ExtINT on LINT0 of the bootstrap processor");
    CHECK(nmi_lint1, "NMI on LINT1 of every local APIC");
}

/* ---- the ACPI tables ---- */

static void walk_acpi(void)
{
    const uint8_t *rsdp = pt_find_rsdp();
    const uint8_t *fadt, *madt, *dsdt, *facs, *e, *end;
    unsigned processors = 0, ioapics = 0;
    bool irq0_gsi2 = false, sci_override = false, nmi_lint1 = false, lapic0 = false;
    uint32_t slp_typ;

    CHECK(rsdp != NULL, "RSDP found by the specification's search");
    if (!rsdp)
        return;
    CHECK_EQ(rsdp[15], 0, "RSDP revision (ACPI 1.0 RSDP, RSDT only)");
    const uint8_t *rsdt = (const uint8_t *)pt_le32(rsdp + 16);
    CHECK(memcmp(rsdt, "RSDT", 4) == 0 && pt_checksum_ok(rsdt, pt_acpi_length(rsdt)),
          "RSDT: signature and checksum");

    fadt = pt_acpi_table("FACP");
    CHECK(fadt && pt_checksum_ok(fadt, pt_acpi_length(fadt)), "FADT listed, checksum");
    if (!fadt)
        return;
    CHECK_EQ(pt_le16(fadt + 46), 9, "FADT SCI_INT");
    CHECK_EQ(pt_le32(fadt + 56), 0x600, "FADT PM1a_EVT_BLK");
    CHECK_EQ(pt_le32(fadt + 64), 0x604, "FADT PM1a_CNT_BLK");
    CHECK_EQ(pt_le32(fadt + 76), 0x608, "FADT PM_TMR_BLK");
    CHECK(fadt[88] == 4 && fadt[89] == 2 && fadt[91] == 4,
          "FADT PM1_EVT_LEN 4, PM1_CNT_LEN 2, PM_TMR_LEN 4");
    CHECK_EQ(pt_le32(fadt + 112) & (1u << 8), 0, "FADT TMR_VAL_EXT (24-bit PM timer)");
    facs = (const uint8_t *)pt_le32(fadt + 36);
    CHECK(memcmp(facs, "FACS", 4) == 0 && pt_le32(facs + 4) == 64 && ((uint32_t)facs & 63) == 0,
          "FACS: signature, length 64, 64-byte aligned");
    dsdt = (const uint8_t *)pt_le32(fadt + 40);
    CHECK(memcmp(dsdt, "DSDT", 4) == 0 && pt_checksum_ok(dsdt, pt_acpi_length(dsdt)),
          "DSDT: signature and checksum");
    CHECK(pt_dsdt_s5(dsdt, &slp_typ), "DSDT: Name (_S5, Package ...)");

    madt = pt_acpi_table("APIC");
    CHECK(madt && pt_checksum_ok(madt, pt_acpi_length(madt)), "MADT listed, checksum");
    if (!madt)
        return;
    CHECK_EQ(pt_le32(madt + 36), LAPIC, "MADT local APIC address");
    CHECK_EQ(pt_le32(madt + 40) & 1, 1, "MADT PCAT_COMPAT (8259A pair present)");
    end = madt + pt_acpi_length(madt);
    for (e = madt + 44; e < end && e[1] >= 2; e += e[1]) {
        switch (e[0]) {
        case 0:
            processors++;
            lapic0 = e[3] == 0 && (pt_le32(e + 4) & 1);
            break;
        case 1:
            ioapics++;
            CHECK(e[2] == 0 && pt_le32(e + 4) == IOAPIC && pt_le32(e + 8) == 0,
                  "MADT I/O APIC: ID 0, 0xFEC00000, GSI base 0");
            break;
        case 2:
            if (e[2] == 0 && e[3] == 0)
                irq0_gsi2 = pt_le32(e + 4) == 2 && pt_le16(e + 8) == 0;
            if (e[2] == 0 && e[3] == 9)
                sci_override = pt_le32(e + 4) == 9 && pt_le16(e + 8) == 0x000D;
            break;
        case 4:
            nmi_lint1 = e[2] == 0xFF && e[5] == 1;
            break;
        }
    }
    CHECK_EQ(processors, 1, "MADT processor local APIC entries");
    CHECK(lapic0, "MADT processor: APIC ID 0, enabled");
    CHECK_EQ(ioapics, 1, "MADT I/O APIC entries");
    CHECK(irq0_gsi2, "MADT override: ISA IRQ 0 -> GSI 2, conforming");
    CHECK(sci_override, "MADT override: ISA IRQ 9 (SCI) -> GSI 9, level, active high");
    CHECK(nmi_lint1, "MADT local APIC NMI on LINT1 of every processor");
}

/* ---- interrupts through the APICs ---- */

static volatile unsigned pit_ticks, timer_ticks, one_shot_ticks, masked_ticks, ipis, low_ticks;
static volatile uint32_t pit_isr_before, pit_isr_after, pit_ppr, ipi_isr;

static void pit_handler(struct rt_frame *f)
{
    (void)f;
    if (pit_ticks++ == 0) {
        pit_isr_before = lapic_bit(LAPIC_ISR, VEC_PIT);
        pit_ppr = lapic_read(LAPIC_PPR);
    }
    lapic_write(LAPIC_EOI, 0);
    if (pit_ticks == 1)
        pit_isr_after = lapic_bit(LAPIC_ISR, VEC_PIT);
}

static void timer_handler(struct rt_frame *f)
{
    (void)f;
    timer_ticks++;
    lapic_write(LAPIC_EOI, 0);
}

static void one_shot_handler(struct rt_frame *f)
{
    (void)f;
    one_shot_ticks++;
    lapic_write(LAPIC_EOI, 0);
}

static void masked_handler(struct rt_frame *f)
{
    (void)f;
    masked_ticks++;
    lapic_write(LAPIC_EOI, 0);
}

static void ipi_handler(struct rt_frame *f)
{
    (void)f;
    ipis++;
    ipi_isr = lapic_bit(LAPIC_ISR, VEC_IPI);
    lapic_write(LAPIC_EOI, 0);
}

static void low_handler(struct rt_frame *f)
{
    (void)f;
    low_ticks++;
    lapic_write(LAPIC_EOI, 0);
}

/* Latched read of PIT channel 0's count. */
static uint16_t pit0_count(void)
{
    outb(PIT_CMD, 0x00);
    uint8_t lo = inb(PIT_CH0);
    return (uint16_t)(lo | inb(PIT_CH0) << 8);
}

static bool wait_pit_periods(unsigned periods)
{
    uint16_t prev = pit0_count();

    for (uint32_t i = 0; i < POLL_LIMIT && periods > 0; i++) {
        uint16_t now = pit0_count();
        if (now > prev)
            periods--;
        prev = now;
    }
    return periods == 0;
}

static void setup_controllers(void)
{
    /* The 8259A pair re-based at 0x20/0x28 and fully masked, as Linux does
     * before it switches to the I/O APIC. */
    static const uint8_t init[][2] = {
        {0x20, 0x11}, {0x21, 0x20}, {0x21, 0x04}, {0x21, 0x01}, {0xA0, 0x11},
        {0xA1, 0x28}, {0xA1, 0x02}, {0xA1, 0x01}, {0x21, 0xFF}, {0xA1, 0xFF},
    };
    for (unsigned i = 0; i < sizeof(init) / sizeof(init[0]); i++)
        outb(init[i][0], init[i][1]);

    CHECK_EQ(lapic_read(LAPIC_VERSION), 0x00050014, "local APIC version register");
    CHECK_EQ(lapic_read(LAPIC_ID) >> 24, 0, "local APIC ID");
    CHECK_EQ((ioapic_read(0x01) >> 16) & 0xFF, 23, "I/O APIC maximum redirection entry");
    lapic_write(LAPIC_SVR, 0x100 | VEC_SPURIOUS); /* software-enabled */
    lapic_write(LAPIC_LVT_LINT0, LVT_MASKED | 0x700);
    lapic_write(LAPIC_LVT_ERROR, LVT_MASKED);
    lapic_write(LAPIC_TPR, 0);
    lapic_write(LAPIC_ESR, 0);
    CHECK_EQ(lapic_read(LAPIC_ESR), 0, "ESR after the write that latches it");
    /* Every redirection entry masked. */
    for (uint8_t pin = 0; pin < 24; pin++) {
        ioapic_write((uint8_t)(0x11 + 2 * pin), 0);
        ioapic_write((uint8_t)(0x10 + 2 * pin), LVT_MASKED);
    }
}

static void test_pit_through_ioapic(void)
{
    /* Pin 2: vector 0x30, fixed, physical destination APIC 0, edge, high. */
    ioapic_write(0x15, 0);
    ioapic_write(0x14, VEC_PIT);
    CHECK_EQ(ioapic_read(0x14), VEC_PIT, "I/O APIC pin 2 entry reads back");
    outb(PIT_CMD, 0x34); /* channel 0, mode 2, 1 ms */
    outb(PIT_CH0, PIT_1MS & 0xFF);
    outb(PIT_CH0, PIT_1MS >> 8);
    sti();
    uint32_t halts = 0;
    while (pit_ticks < 20 && halts < 100000) {
        hlt();
        halts++;
    }
    cli();
    unsigned got = pit_ticks;
    CHECK(got >= 20, "at least 20 PIT interrupts through I/O APIC pin 2 while halting");
    CHECK(halts >= 1 && halts <= got, "every hlt ended by an interrupt");
    CHECK_EQ(pit_isr_before, 1, "ISR bit of vector 0x30 in the handler");
    CHECK_EQ(pit_ppr, VEC_PIT, "PPR in the handler");
    CHECK_EQ(pit_isr_after, 0, "ISR bit after EOI");

    /* Masked: no more interrupts, even with IF=1. An edge the I/O APIC
     * sent before the mask (after the cli above) may wait in the local
     * APIC's IRR: let it in first, then count. */
    ioapic_write(0x14, LVT_MASKED | VEC_PIT);
    __asm__ volatile("sti; nop; nop; cli" ::: "memory");
    unsigned before = pit_ticks;
    sti();
    bool waited = wait_pit_periods(5);
    cli();
    CHECK(waited, "5 PIT periods elapsed (counter polled)");
    CHECK_EQ(pit_ticks - before, 0, "PIT interrupts with pin 2 masked");
    outb(PIT_CMD, 0x30); /* stop: mode 0 with a full count */
    outb(PIT_CH0, 0xFF);
    outb(PIT_CH0, 0xFF);
}

static void test_lapic_timer(void)
{
    /* Periodic: divide by 16, vector 0x40. */
    lapic_write(LAPIC_TIMER_DIVIDE, 0x3);
    lapic_write(LAPIC_LVT_TIMER, LVT_PERIODIC | VEC_TIMER);
    lapic_write(LAPIC_TIMER_INITIAL, 62500);
    uint32_t current = lapic_read(LAPIC_TIMER_CURRENT);
    CHECK(current > 0 && current <= 62500, "timer current count within (0, initial]");
    sti();
    uint32_t halts = 0;
    while (timer_ticks < 10 && halts < 100000) {
        hlt();
        halts++;
    }
    cli();
    CHECK(timer_ticks >= 10, "at least 10 local APIC timer interrupts (periodic) while halting");
    CHECK(halts >= 1 && halts <= timer_ticks, "every hlt ended by a timer interrupt");
    lapic_write(LAPIC_TIMER_INITIAL, 0);
    CHECK_EQ(lapic_read(LAPIC_TIMER_CURRENT), 0, "current count after writing initial count 0");

    /* One-shot: exactly one interrupt, the count stays at 0. */
    lapic_write(LAPIC_LVT_TIMER, VEC_ONE_SHOT);
    lapic_write(LAPIC_TIMER_INITIAL, 6250);
    sti();
    for (uint32_t i = 0; i < POLL_LIMIT && one_shot_ticks == 0; i++)
        __asm__ volatile("pause");
    for (unsigned i = 0; i < 2000; i++)
        (void)lapic_read(LAPIC_TIMER_CURRENT);
    cli();
    CHECK_EQ(one_shot_ticks, 1, "one-shot timer interrupts");
    CHECK_EQ(lapic_read(LAPIC_TIMER_CURRENT), 0, "one-shot current count after expiry");

    /* Masked: the count runs out, nothing is delivered. */
    lapic_write(LAPIC_LVT_TIMER, LVT_MASKED | VEC_MASKED);
    lapic_write(LAPIC_TIMER_INITIAL, 6250);
    sti();
    for (uint32_t i = 0; i < POLL_LIMIT && lapic_read(LAPIC_TIMER_CURRENT) != 0; i++)
        ;
    cli();
    CHECK_EQ(lapic_read(LAPIC_TIMER_CURRENT), 0, "masked one-shot count ran out");
    CHECK_EQ(masked_ticks, 0, "interrupts from the masked timer");
}

static void test_ipis(void)
{
    /* A self-IPI with IF=0 waits in the IRR; sti delivers it. */
    lapic_write(LAPIC_ICR_HIGH, 0);
    lapic_write(LAPIC_ICR_LOW, ICR_SELF | VEC_IPI);
    uint32_t i;
    for (i = 0; i < POLL_LIMIT && (lapic_read(LAPIC_ICR_LOW) & ICR_BUSY); i++)
        ;
    CHECK_EQ(lapic_read(LAPIC_ICR_LOW) & ICR_BUSY, 0, "ICR delivery status idle after sending");
    CHECK(lapic_bit(LAPIC_IRR, VEC_IPI), "self-IPI pending in the IRR with IF=0");
    interrupt_window();
    CHECK_EQ(ipis, 1, "self-IPIs delivered after sti");
    CHECK_EQ(ipi_isr, 1, "ISR bit of the IPI vector in its handler");
    CHECK(!lapic_bit(LAPIC_IRR, VEC_IPI) && !lapic_bit(LAPIC_ISR, VEC_IPI),
          "IRR and ISR clear after EOI");

    /* The TPR holds back a class at or below it. */
    lapic_write(LAPIC_TPR, 0x50);
    lapic_write(LAPIC_ICR_LOW, ICR_SELF | VEC_LOW);
    interrupt_window();
    CHECK_EQ(low_ticks, 0, "vector 0x45 delivered with TPR 0x50");
    CHECK_EQ(lapic_read(LAPIC_PPR), 0x50, "PPR follows the TPR");
    lapic_write(LAPIC_TPR, 0);
    interrupt_window();
    CHECK_EQ(low_ticks, 1, "vector 0x45 delivered once the TPR is lowered");

    /* Physical destination 0 (no shorthand) is this processor. */
    lapic_write(LAPIC_ICR_HIGH, 0);
    lapic_write(LAPIC_ICR_LOW, VEC_IPI);
    interrupt_window();
    CHECK_EQ(ipis, 2, "IPI to physical destination 0");
}

int main(const struct multiboot_info *mbi)
{
    (void)mbi;
    walk_mp();
    walk_acpi();

    rt_set_handler(VEC_PIT, pit_handler);
    rt_set_handler(VEC_TIMER, timer_handler);
    rt_set_handler(VEC_ONE_SHOT, one_shot_handler);
    rt_set_handler(VEC_MASKED, masked_handler);
    rt_set_handler(VEC_IPI, ipi_handler);
    rt_set_handler(VEC_LOW, low_handler);
    setup_controllers();
    test_pit_through_ioapic();
    test_lapic_timer();
    test_ipis();
    rt_finish();
}
