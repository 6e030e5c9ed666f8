/*
 * monitor/machine.c — assembling a virtual PC (machine.h).
 */
#include "monitor/machine.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <x86intrin.h>

#include "common/bytes.h"
#include "common/log.h"
#include "common/snapshot.h"
#include "devices/acpi_pm.h"
#include "devices/ata.h"
#include "devices/chipset.h"
#include "devices/chardev.h"
#include "devices/debug_ports.h"
#include "devices/i8042.h"
#include "devices/ioapic.h"
#include "devices/ioport.h"
#include "devices/irq.h"
#include "devices/lapic.h"
#include "devices/mmio.h"
#include "devices/pci.h"
#include "devices/vga_text.h"
#include "devices/pic8259.h"
#include "devices/pit8254.h"
#include "devices/platform.h"
#include "devices/port92.h"
#include "devices/rtc_cmos.h"
#include "monitor/host_timer.h"
#include "devices/uart16550.h"
#include "emul/emul.h"
#include "monitor/run_loop.h"
#include "monitor/signals.h"
#include "monitor/stats.h"
#include "monitor/trampoline.h"
#include "monitor/vcpu_runtime.h"
#include "shadowpt/shadow.h"

#define TCACHE_ARENA_BYTES (64u << 20)

struct machine {
    struct machine_config config;
    struct guest_ram *ram;
    struct shadow_mmu *mmu; /* the views and the shadow page tables */
    struct ioport_bus *ioport;
    struct mmio_bus *mmio;
    struct vga_text *vga_text;
    struct uart16550 *com[MACHINE_SERIAL_PORTS];
    struct debug_ports *debug_ports;
    struct pic8259 *pic;
    struct irq_router *irq; /* ISA lines to the PIC and I/O APIC; their way to the CPU */
    struct lapic *lapic;
    struct ioapic *ioapic;
    struct pit8254 *pit;
    struct acpi_pm *acpi_pm;
    struct pci_bus *pci;
    struct chipset *chipset; /* the 440FX/PIIX3 functions, reset control at 0xCF9 */
    struct ata_host *ata;
    struct rtc_cmos *rtc;
    struct i8042 *kbc;
    struct port92 *port92;
    struct platform *platform;
    struct host_timer *timer;
    struct vcpu *cpu; /* runtime vCPU (translated code's r15) around the arch state */
    struct tcache *tc;
    struct run_stats run_stats;
    bool exit_requested;
    int exit_status;
    const char *reset_by;  /* a device pulled the reset line: what it said */
    char stop_reason[160]; /* why the guest stopped when it asked for what popek lacks */
    uint64_t resets, device_resets;
    uint64_t stop_at_ns;  /* --time-limit as a monotonic deadline, set by the first run */
    bool console_started; /* the serial backends' input runs */
    bool resumed;         /* loaded from a state file: the model state is the file's */
    bool save_watch;      /* --save-when: COM1's output is watched (asked after every exit) */
    /* While a state is saved or loaded, the devices' clock stands at this
     * instant (0: it runs), the one the TSC is read at: every clock of
     * the machine is then saved (or rebased) against the same moment,
     * however long writing or reading guest RAM takes in between. */
    uint64_t clock_frozen_ns;
};

static void machine_on_debug_exit(void *ctx, int status)
{
    struct machine *m = ctx;

    m->exit_requested = true;
    m->exit_status = status;
}

/* ACPI SLP_EN (devices/acpi_pm.h): soft-off ends the run as the debug
 * exit port does, with status 0; the other sleep states would need the
 * machine to keep its memory and wake later, which popek does not model. */
static void machine_on_acpi_sleep(void *ctx, unsigned slp_typ)
{
    struct machine *m = ctx;

    m->exit_requested = true;
    if (slp_typ == ACPI_SLP_TYP_S5) {
        if (log_enabled(LOG_PLATFORM))
            log_printf("acpi: PM1a_CNT SLP_TYP=%u SLP_EN: soft-off (S5), powering off\n", slp_typ);
        m->exit_status = 0;
        return;
    }
    m->exit_status = 1;
    snprintf(m->stop_reason, sizeof(m->stop_reason),
             "the guest entered ACPI sleep type %u (SLP_EN); popek models only soft-off "
             "(S5, SLP_TYP %u)",
             slp_typ, ACPI_SLP_TYP_S5);
}

/* A device pulled the PC's reset line (0xCF9, the 8042, port 0x92): the
 * run loop ends with RUN_RESET, or with -no-reboot stops and says which
 * device did it. */
static void machine_on_reset_line(void *ctx, const char *why)
{
    struct machine *m = ctx;

    m->reset_by = why;
}

/* Canary bytes right after the vCPU structure (which translated code
 * reaches through r15): checked at exit like the views' canary pages. */
#define VCPU_CANARY_BYTES 4096
#define VCPU_CANARY_BYTE  0xA5
#define VCPU_ALLOC_BYTES  ((sizeof(struct vcpu) + VCPU_CANARY_BYTES + 63) & ~(size_t)63)

static uint8_t *vcpu_canary(struct vcpu *cpu)
{
    return (uint8_t *)cpu + sizeof(*cpu);
}

bool machine_integrity_intact(struct machine *m)
{
    const uint8_t *canary = vcpu_canary(m->cpu);

    for (size_t i = 0; i < VCPU_CANARY_BYTES; i++) {
        if (canary[i] != VCPU_CANARY_BYTE)
            return false;
    }
    return shadow_canaries_intact(m->mmu);
}

/* The devices' clock: the host's monotonic clock (DESIGN.md: timekeeping
 * follows the host). */
static uint64_t machine_clock_ns(void *ctx)
{
    const struct machine *m = ctx;

    return m->clock_frozen_ns ? m->clock_frozen_ns : host_monotonic_ns();
}

/* The RTC's date: the host's real time (UTC). */
static uint64_t machine_wall_clock_ns(void *ctx)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Input threads wake the vCPU through the host timer's flag and signal. */
static void machine_wake(void *ctx)
{
    struct machine *m = ctx;

    host_timer_wake(m->timer);
}

/* The save/load hooks of a device: its own functions, typed. */
#define MACHINE_STATE_HOOKS(dev, type)                                          \
    static void machine_##dev##_save(const void *opaque, struct snap_writer *w) \
    {                                                                           \
        dev##_save((const type *)opaque, w);                                    \
    }                                                                           \
    static bool machine_##dev##_load(void *opaque, struct snap_section *s)      \
    {                                                                           \
        return dev##_load((type *)opaque, s);                                   \
    }

MACHINE_STATE_HOOKS(pic8259, struct pic8259)
MACHINE_STATE_HOOKS(pit8254, struct pit8254)
MACHINE_STATE_HOOKS(lapic, struct lapic)
MACHINE_STATE_HOOKS(ioapic, struct ioapic)
MACHINE_STATE_HOOKS(acpi_pm, struct acpi_pm)
MACHINE_STATE_HOOKS(rtc_cmos, struct rtc_cmos)
MACHINE_STATE_HOOKS(i8042, struct i8042)
MACHINE_STATE_HOOKS(port92, struct port92)
MACHINE_STATE_HOOKS(uart16550, struct uart16550)
MACHINE_STATE_HOOKS(vga_text, struct vga_text)
MACHINE_STATE_HOOKS(pci_bus, struct pci_bus)
MACHINE_STATE_HOOKS(chipset, struct chipset)
MACHINE_STATE_HOOKS(ata, struct ata_host)

static void machine_pic_reset(void *opaque)
{
    pic8259_reset(opaque);
}

static const struct platform_device_ops pic_platform_ops = {
    .name = "pic8259",
    .state_version = PIC8259_STATE_VERSION,
    .save = machine_pic8259_save,
    .load = machine_pic8259_load,
    .reset = machine_pic_reset,
};

static void machine_pit_reset(void *opaque)
{
    pit8254_reset(opaque);
}

static void machine_pit_update(void *opaque)
{
    pit8254_update(opaque);
}

static uint64_t machine_pit_deadline(void *opaque)
{
    return pit8254_next_deadline(opaque);
}

static const struct platform_device_ops pit_platform_ops = {
    .name = "pit8254",
    .state_version = PIT8254_STATE_VERSION,
    .save = machine_pit8254_save,
    .load = machine_pit8254_load,
    .reset = machine_pit_reset,
    .update = machine_pit_update,
    .next_deadline = machine_pit_deadline,
};

static void machine_lapic_reset(void *opaque)
{
    lapic_reset(opaque);
}

static void machine_lapic_update(void *opaque)
{
    lapic_update(opaque);
}

static uint64_t machine_lapic_deadline(void *opaque)
{
    return lapic_next_deadline(opaque);
}

static const struct platform_device_ops lapic_platform_ops = {
    .name = "lapic",
    .state_version = LAPIC_STATE_VERSION,
    .save = machine_lapic_save,
    .load = machine_lapic_load,
    .reset = machine_lapic_reset,
    .update = machine_lapic_update,
    .next_deadline = machine_lapic_deadline,
};

static void machine_ioapic_reset(void *opaque)
{
    ioapic_reset(opaque);
}

static const struct platform_device_ops ioapic_platform_ops = {
    .name = "ioapic",
    .state_version = IOAPIC_STATE_VERSION,
    .save = machine_ioapic_save,
    .load = machine_ioapic_load,
    .reset = machine_ioapic_reset,
};

static void machine_acpi_pm_reset(void *opaque)
{
    acpi_pm_reset(opaque);
}

static void machine_acpi_pm_update(void *opaque)
{
    acpi_pm_update(opaque);
}

static uint64_t machine_acpi_pm_deadline(void *opaque)
{
    return acpi_pm_next_deadline(opaque);
}

static const struct platform_device_ops acpi_pm_platform_ops = {
    .name = "acpi_pm",
    .state_version = ACPI_PM_STATE_VERSION,
    .save = machine_acpi_pm_save,
    .load = machine_acpi_pm_load,
    .reset = machine_acpi_pm_reset,
    .update = machine_acpi_pm_update,
    .next_deadline = machine_acpi_pm_deadline,
};

static void machine_rtc_reset(void *opaque)
{
    rtc_cmos_reset(opaque);
}

static void machine_rtc_update(void *opaque)
{
    rtc_cmos_update(opaque);
}

static uint64_t machine_rtc_deadline(void *opaque)
{
    return rtc_cmos_next_deadline(opaque);
}

static const struct platform_device_ops rtc_platform_ops = {
    .name = "rtc_cmos",
    .state_version = RTC_CMOS_STATE_VERSION,
    .save = machine_rtc_cmos_save,
    .load = machine_rtc_cmos_load,
    .reset = machine_rtc_reset,
    .update = machine_rtc_update,
    .next_deadline = machine_rtc_deadline,
};

static void machine_kbc_reset(void *opaque)
{
    i8042_reset(opaque);
}

static const struct platform_device_ops kbc_platform_ops = {
    .name = "i8042",
    .state_version = I8042_STATE_VERSION,
    .save = machine_i8042_save,
    .load = machine_i8042_load,
    .reset = machine_kbc_reset,
};

static void machine_port92_reset(void *opaque)
{
    port92_reset(opaque);
}

static const struct platform_device_ops port92_platform_ops = {
    .name = "port92",
    .state_version = PORT92_STATE_VERSION,
    .save = machine_port92_save,
    .load = machine_port92_load,
    .reset = machine_port92_reset,
};

static void machine_uart_reset(void *opaque)
{
    uart16550_reset(opaque);
}

static void machine_uart_update(void *opaque)
{
    uart16550_update(opaque);
}

static uint64_t machine_uart_deadline(void *opaque)
{
    return uart16550_next_deadline(opaque);
}

static const struct platform_device_ops uart_platform_ops = {
    .name = "uart16550",
    .state_version = UART16550_STATE_VERSION,
    .save = machine_uart16550_save,
    .load = machine_uart16550_load,
    .reset = machine_uart_reset,
    .update = machine_uart_update,
    .next_deadline = machine_uart_deadline,
};

/* A backend's buffered output is written out by its deadline. */
static void machine_chardev_update(void *opaque)
{
    chardev_update(opaque);
}

static uint64_t machine_chardev_deadline(void *opaque)
{
    return chardev_flush_deadline(opaque);
}

static const struct platform_device_ops chardev_platform_ops = {
    .name = "chardev",
    .update = machine_chardev_update,
    .next_deadline = machine_chardev_deadline,
};

/* COM1 and COM2 where a backend is given (-serial none leaves a port
 * empty: its registers float high, as on a PC without the card). */
static bool machine_add_serial_ports(struct machine *m, struct popek_error *err)
{
    static const io_port_t base[MACHINE_SERIAL_PORTS] = {UART_COM1_BASE, UART_COM2_BASE};
    static const unsigned irq[MACHINE_SERIAL_PORTS] = {UART_COM1_IRQ, UART_COM2_IRQ};

    for (unsigned i = 0; i < MACHINE_SERIAL_PORTS; i++) {
        if (!m->config.serial[i])
            continue;
        m->com[i] = uart16550_create(m->ioport, base[i], m->irq, irq[i], m->config.serial[i],
                                     machine_clock_ns, m, err);
        if (!m->com[i] || !platform_add(m->platform, &uart_platform_ops, m->com[i], err) ||
            !platform_add(m->platform, &chardev_platform_ops, m->config.serial[i], err))
            return false;
    }
    /* The debug console is COM1's backend, or one of its own. */
    struct chardev *debugcon = m->config.debugcon;
    if (debugcon && debugcon != m->config.serial[0] && debugcon != m->config.serial[1])
        return platform_add(m->platform, &chardev_platform_ops, debugcon, err);
    return true;
}

/* Host input for the serial ports starts when the guest first runs, so a
 * kernel that fails to load never touches the terminal. */
static bool machine_start_console(struct machine *m, struct popek_error *err)
{
    if (m->console_started)
        return true;
    m->console_started = true;
    for (unsigned i = 0; i < MACHINE_SERIAL_PORTS; i++) {
        struct chardev *cd = m->config.serial[i];
        bool connected;
        if (!cd)
            continue;
        if (!chardev_start_input(cd, machine_wake, m, &connected, err))
            return false;
        if (connected)
            platform_set_has_input(m->platform);
    }
    return true;
}

static void machine_vga_reset(void *opaque)
{
    vga_text_reset(opaque);
}

static const struct platform_device_ops vga_platform_ops = {
    .name = "vga_text",
    .state_version = VGA_TEXT_STATE_VERSION,
    .save = machine_vga_text_save,
    .load = machine_vga_text_load,
    .reset = machine_vga_reset,
};

static void machine_pci_reset(void *opaque)
{
    pci_bus_reset(opaque);
}

static const struct platform_device_ops pci_platform_ops = {
    .name = "pci",
    .state_version = PCI_STATE_VERSION,
    .save = machine_pci_bus_save,
    .load = machine_pci_bus_load,
    .reset = machine_pci_reset,
};

static void machine_chipset_reset(void *opaque)
{
    chipset_reset(opaque);
}

static const struct platform_device_ops chipset_platform_ops = {
    .name = "chipset",
    .state_version = CHIPSET_STATE_VERSION,
    .save = machine_chipset_save,
    .load = machine_chipset_load,
    .reset = machine_chipset_reset,
};

static void machine_ata_reset(void *opaque)
{
    ata_reset(opaque);
}

static const struct platform_device_ops ata_platform_ops = {
    .name = "ata",
    .state_version = ATA_STATE_VERSION,
    .save = machine_ata_save,
    .load = machine_ata_load,
    .reset = machine_ata_reset,
};

/* The ATA channels' INTRQ lines are ISA IRQ 14 and 15: the slave 8259A's
 * and the I/O APIC's pins of the same numbers. */
static void machine_ata_irq(void *ctx, unsigned irq, bool level)
{
    struct machine *m = ctx;

    irq_set_level(m->irq, irq, level);
}

static void machine_chipset_reset_request(void *ctx)
{
    machine_on_reset_line(ctx, "PIIX3 reset control register 0xCF9");
}

/* The FPU/SSE reset state (FCW 0x37F, MXCSR 0x1F80, XMM zero; SDM vol. 3,
 * §9.1.2): the x87 part in the registers, where the guest's lives (see
 * monitor/trampoline.c), the SSE part in the vCPU's save area. */
static void machine_reset_fpu(struct machine *m)
{
    memset(m->cpu->fpu_state, 0, sizeof(m->cpu->fpu_state));
    __asm__ volatile("fninit\n\tfxsave64 %0" : "=m"(m->cpu->fpu_state));
    memset(m->cpu->fpu_state + 160, 0, 128);
}

struct machine *machine_create(const struct machine_config *config, struct popek_error *err)
{
    struct machine *m = calloc(1, sizeof(*m));

    if (!m) {
        popek_fail(err, "out of memory");
        return NULL;
    }
    m->config = *config;
    m->cpu = aligned_alloc(64, VCPU_ALLOC_BYTES);
    if (!m->cpu) {
        popek_fail(err, "out of memory");
        goto fail;
    }
    memset(m->cpu, 0, sizeof(*m->cpu));
    memset(vcpu_canary(m->cpu), VCPU_CANARY_BYTE, VCPU_CANARY_BYTES);
    vcpu_state_reset(&m->cpu->arch);
    m->ram = guest_ram_create(config->ram_bytes, err);
    if (!m->ram)
        goto fail;
    m->mmu = shadow_create(
        m->ram, config->address_spaces ? config->address_spaces : SHADOW_DEFAULT_SPACES, err);
    if (!m->mmu)
        goto fail;
    m->platform = platform_create(machine_wake, m, err);
    if (!m->platform)
        goto fail;
    m->ioport = ioport_bus_create();
    if (!m->ioport) {
        popek_fail(err, "out of memory");
        goto fail;
    }
    m->mmio = mmio_bus_create();
    if (!m->mmio) {
        popek_fail(err, "out of memory");
        goto fail;
    }
    m->vga_text = vga_text_create(m->mmio, err);
    if (!m->vga_text || !platform_add(m->platform, &vga_platform_ops, m->vga_text, err))
        goto fail;
    m->debug_ports = debug_ports_create(m->ioport, config->debugcon, machine_on_debug_exit, m, err);
    if (!m->debug_ports)
        goto fail;
    m->pic = pic8259_create(m->ioport, err);
    if (!m->pic || !platform_add(m->platform, &pic_platform_ops, m->pic, err))
        goto fail;
    m->irq = irq_router_create(m->pic, err);
    if (!m->irq)
        goto fail;
    m->lapic = lapic_create(m->mmio, machine_clock_ns, m, irq_apic_eoi, m->irq, err);
    if (!m->lapic || !platform_add(m->platform, &lapic_platform_ops, m->lapic, err))
        goto fail;
    m->ioapic = ioapic_create(m->mmio, irq_apic_deliver, m->irq, err);
    if (!m->ioapic || !platform_add(m->platform, &ioapic_platform_ops, m->ioapic, err))
        goto fail;
    irq_router_attach_apic(m->irq, m->ioapic, m->lapic);
    if (!machine_add_serial_ports(m, err))
        goto fail;
    m->pit = pit8254_create(m->ioport, m->irq, machine_clock_ns, m, err);
    if (!m->pit || !platform_add(m->platform, &pit_platform_ops, m->pit, err))
        goto fail;
    m->acpi_pm =
        acpi_pm_create(m->ioport, m->irq, machine_clock_ns, m, machine_on_acpi_sleep, m, err);
    if (!m->acpi_pm || !platform_add(m->platform, &acpi_pm_platform_ops, m->acpi_pm, err))
        goto fail;
    m->pci = pci_bus_create(m->ioport, err);
    if (!m->pci || !platform_add(m->platform, &pci_platform_ops, m->pci, err))
        goto fail;
    m->chipset = chipset_create(m->ioport, m->pci, machine_chipset_reset_request, m, err);
    if (!m->chipset || !platform_add(m->platform, &chipset_platform_ops, m->chipset, err))
        goto fail;
    m->ata = ata_create(m->ioport, config->drives, machine_ata_irq, m, err);
    if (!m->ata || !platform_add(m->platform, &ata_platform_ops, m->ata, err))
        goto fail;
    const struct rtc_cmos_clocks rtc_clocks = {
        .monotonic_ns = machine_clock_ns,
        .wall_ns = machine_wall_clock_ns,
        .ctx = m,
    };
    m->rtc = rtc_cmos_create(m->ioport, m->irq, &rtc_clocks, config->ram_bytes, err);
    if (!m->rtc || !platform_add(m->platform, &rtc_platform_ops, m->rtc, err))
        goto fail;
    m->kbc = i8042_create(m->ioport, m->irq, machine_on_reset_line, m, err);
    if (!m->kbc || !platform_add(m->platform, &kbc_platform_ops, m->kbc, err))
        goto fail;
    m->port92 = port92_create(m->ioport, machine_on_reset_line, m, err);
    if (!m->port92 || !platform_add(m->platform, &port92_platform_ops, m->port92, err))
        goto fail;
    /* Before any thread may nudge this one (the timer, console input). */
    if (!signals_install(err))
        goto fail;
    m->timer = host_timer_create(&m->cpu->event_pending, SIGNAL_EVENT_NUDGE, err);
    if (!m->timer)
        goto fail;
    m->tc = tcache_create(config->tc_bytes ? config->tc_bytes : TCACHE_ARENA_BYTES, err);
    if (!m->tc)
        goto fail;
    m->cpu->view_base = (uint64_t)(uintptr_t)shadow_view_base(m->mmu, false);
    m->cpu->view_base_high = m->cpu->view_base + 0x80000000ull;
    m->cpu->exit_routine = (uint64_t)(uintptr_t)tc_exit_routine;
    machine_reset_fpu(m);
    return m;
fail:
    machine_destroy(m);
    return NULL;
}

void machine_destroy(struct machine *m)
{
    if (!m)
        return;
    host_timer_destroy(m->timer);
    tcache_destroy(m->tc);
    port92_destroy(m->port92);
    i8042_destroy(m->kbc);
    rtc_cmos_destroy(m->rtc);
    ata_destroy(m->ata);
    chipset_destroy(m->chipset);
    pci_bus_destroy(m->pci);
    acpi_pm_destroy(m->acpi_pm);
    pit8254_destroy(m->pit);
    ioapic_destroy(m->ioapic);
    lapic_destroy(m->lapic);
    irq_router_destroy(m->irq);
    pic8259_destroy(m->pic);
    debug_ports_destroy(m->debug_ports);
    for (unsigned i = 0; i < MACHINE_SERIAL_PORTS; i++)
        uart16550_destroy(m->com[i]);
    ioport_bus_destroy(m->ioport);
    vga_text_destroy(m->vga_text);
    mmio_bus_destroy(m->mmio);
    platform_destroy(m->platform);
    shadow_destroy(m->mmu);
    guest_ram_destroy(m->ram);
    free(m->cpu);
    free(m);
}

struct guest_ram *machine_ram(struct machine *m)
{
    return m->ram;
}

struct vcpu_state *machine_vcpu_state(struct machine *m)
{
    return &m->cpu->arch;
}

struct ioport_bus *machine_ioport_bus(struct machine *m)
{
    return m->ioport;
}

bool machine_exit_requested(const struct machine *m, int *status)
{
    if (m->exit_requested) {
        if (status)
            *status = m->exit_status;
        return true;
    }
    for (unsigned i = 0; i < MACHINE_SERIAL_PORTS; i++) {
        if (m->config.serial[i] && chardev_quit_requested(m->config.serial[i])) {
            if (status)
                *status = 0;
            return true;
        }
    }
    return false;
}

bool machine_reset(struct machine *m, struct popek_error *err)
{
    if (!guest_ram_clear(m->ram, err))
        return false;
    tcache_flush(m->tc);
    shadow_reset(m->mmu);
    memset(m->cpu->ibl, 0, sizeof(m->cpu->ibl));
    vcpu_state_reset(&m->cpu->arch);
    machine_reset_fpu(m);
    m->cpu->event_pending = 0;
    m->cpu->exit_link = 0;
    platform_reset(m->platform);
    m->exit_requested = false;
    if (m->reset_by)
        m->device_resets++;
    m->reset_by = NULL;
    m->stop_reason[0] = '\0';
    m->resets++;
    return true;
}

/* The run loop's questions after every exit: stop for the debug-exit
 * port or an ACPI sleep request? did a device pull the reset line? */
static bool machine_exit_check(void *ctx, int *status)
{
    const struct machine *m = ctx;

    if (machine_exit_requested(m, status))
        return true;
    if (m->save_watch && uart16550_watch_seen(m->com[0])) {
        *status = MACHINE_RUN_SAVE;
        return true;
    }
    return false;
}

static const char *machine_reset_check(void *ctx)
{
    const struct machine *m = ctx;

    return m->reset_by;
}

/* Before popek writes to stderr: the guest's console lines come first. */
static void machine_flush_output(void *ctx)
{
    const struct machine *m = ctx;

    for (unsigned i = 0; i < MACHINE_SERIAL_PORTS; i++) {
        if (m->config.serial[i])
            chardev_flush(m->config.serial[i]);
    }
    if (m->config.debugcon)
        chardev_flush(m->config.debugcon);
}

int machine_run(struct machine *m, struct popek_error *err)
{
    /* The time limit counts from the first run, across resets. */
    if (!m->stop_at_ns)
        m->stop_at_ns = m->config.time_limit_s
                            ? host_monotonic_ns() + (uint64_t)m->config.time_limit_s * 1000000000u
                            : HOST_TIMER_NEVER;
    struct run_env env = {
        .cpu = m->cpu,
        .tc = m->tc,
        .ram = m->ram,
        .io = m->ioport,
        .mmio = m->mmio,
        .irq = m->irq,
        .platform = m->platform,
        .timer = m->timer,
        .mmu = m->mmu,
        .exit_requested = machine_exit_check,
        .reset_requested = machine_reset_check,
        .flush_output = machine_flush_output,
        .ctx = m,
        .no_reboot = m->config.no_reboot,
        .collect_stats = m->config.collect_stats,
        .no_adaptive = m->config.no_adaptive,
        .stop_at_ns = m->stop_at_ns,
    };
    /* The loader reset the architectural state; MSRs and model state start
     * at their power-on values — unless the state came from a file. */
    if (!m->resumed)
        emul_reset_model_state(&m->cpu->arch);
    m->resumed = false;
    if (!machine_start_console(m, err))
        return 1;
    int status = run_loop(&env, &m->run_stats, err);
    machine_flush_output(m); /* the caller may print err next */
    if (m->stop_reason[0])
        popek_fail(err, "%s", m->stop_reason);
    return status;
}

void machine_collect_stats(const struct machine *m, struct stats_report *r)
{
    const struct tcache_stats *tc = tcache_stats(m->tc);
    const struct run_stats *rs = &m->run_stats;
    uint64_t ibl_lookups = m->cpu->ibl_lookups;

    stats_add(r, "translation", "blocks_translated", tc->blocks_translated);
    stats_add(r, "translation", "guest_insns_translated", tc->guest_insns_translated);
    stats_add(r, "cache", "lookups", tc->lookups);
    stats_add(r, "cache", "hits", tc->hits);
    stats_add(r, "cache", "misses", tc->misses);
    stats_add_ratio(r, "cache", "hit_rate", tc->hits, tc->lookups);
    stats_add(r, "cache", "chained_jumps", tc->chains);
    stats_add(r, "cache", "unchained_jumps", tc->unchains);
    stats_add(r, "cache", "invalidations", tc->invalidations);
    stats_add(r, "cache", "flushes", tc->flushes);
    stats_add(r, "cache", "links_dropped", tc->links_dropped);
    stats_add(r, "cache", "links_suspended", tc->links_suspended);
    stats_add(r, "cache", "links_restored", tc->links_restored);
    stats_add(r, "cache", "arena_bytes",
              m->config.tc_bytes ? m->config.tc_bytes : TCACHE_ARENA_BYTES);
    if (!m->config.collect_stats)
        ibl_lookups = 0; /* only counted when asked for */
    stats_add(r, "indirect_branches", "lookups", ibl_lookups);
    stats_add(r, "indirect_branches", "misses", rs->ibl_misses);
    stats_add(r, "indirect_branches", "inline_caches_filled", tc->ic_fills);
    stats_add_ratio(r, "indirect_branches", "hit_rate",
                    ibl_lookups > rs->ibl_misses ? ibl_lookups - rs->ibl_misses : 0, ibl_lookups);
    stats_add(r, "exits", "branch", rs->exits_branch);
    stats_add(r, "exits", "callout", rs->exits_callout);
    stats_add(r, "exits", "callouts_chained", rs->callouts_chained);
    stats_add(r, "exits", "fault", rs->exits_fault);
    stats_add(r, "exits", "raise", rs->exits_raise);
    stats_add(r, "exits", "stale_callouts", rs->stale_callouts);
    stats_add(r, "events", "exceptions_delivered", rs->exceptions_delivered);
    stats_add(r, "events", "interrupts_delivered", rs->interrupts_delivered);
    stats_add(r, "events", "machine_resets", m->resets);
    stats_add(r, "events", "device_resets", m->device_resets);
    stats_add(r, "events", "rtc_interrupts", rtc_cmos_interrupts(m->rtc));
    stats_add(r, "events", "timer_nudges", rs->events);
    stats_add(r, "host_signals", "sigsegv", rs->signals_segv);
    stats_add(r, "host_signals", "sigfpe", rs->signals_fpe);
    stats_add(r, "host_signals", "other", rs->signals_other);
    stats_add(r, "host_signals", "smc_write_faults", rs->smc_write_faults);
    stats_add(r, "host_signals", "shadow_fill_faults", rs->shadow_fill_faults);
    stats_add(r, "host_signals", "bounce_executions", rs->bounce_executions);
    stats_add(r, "host_signals", "direct_movs", rs->direct_movs);
    stats_add(r, "host_signals", "implicit_emulations", rs->implicit_emulations);
    const struct shadow_stats *sh = shadow_stats(m->mmu);
    stats_add(r, "shadow", "fills", sh->fills);
    stats_add(r, "shadow", "prefaulted_pages", sh->prefaulted_pages);
    stats_add(r, "shadow", "populated_run_pages", sh->populated_run_pages);
    stats_add(r, "shadow", "prefills", sh->prefills);
    stats_add(r, "shadow", "cross_view_fills", sh->cross_view_fills);
    stats_add(r, "shadow", "dirty_upgrades", sh->dirty_upgrades);
    stats_add(r, "shadow", "guest_page_faults", rs->page_faults_delivered);
    stats_add(r, "shadow", "tracked_pages", sh->tracked_pages);
    stats_add(r, "shadow", "unsyncs", sh->unsyncs);
    stats_add(r, "shadow", "page_table_write_faults", rs->page_table_write_faults);
    stats_add(r, "shadow", "resyncs", sh->resyncs);
    stats_add(r, "shadow", "resync_entry_changes", sh->resync_entry_changes);
    stats_add(r, "shadow", "cr3_loads", sh->cr3_loads);
    stats_add(r, "shadow", "space_cache_hits", sh->space_hits);
    stats_add(r, "shadow", "space_cache_misses", sh->space_misses);
    stats_add(r, "shadow", "space_retargets", sh->space_retargets);
    stats_add(r, "shadow", "deferred_rechecks", sh->deferred_rechecks);
    stats_add(r, "shadow", "resync_refreshes", sh->resync_refreshes);
    stats_add(r, "shadow", "write_hot_resyncs", sh->write_hot_resyncs);
    stats_add(r, "shadow", "write_hot_cooled", sh->write_hot_cooled);
    stats_add(r, "shadow", "write_hot_tracked", sh->write_hot_tracked);
    stats_add(r, "shadow", "invlpgs", sh->invlpgs);
    stats_add(r, "shadow", "evictions", sh->evictions);
    stats_add(r, "shadow", "host_map_ops", sh->host_map_ops);
    stats_add(r, "shadow", "code_frames", sh->code_frames);
    stats_add(r, "shadow", "not_ram_accesses", sh->not_ram);
    stats_add(r, "mmio", "faults", rs->mmio_faults);
    stats_add(r, "mmio", "device_accesses", mmio_accesses(m->mmio));
    stats_add(r, "adaptive", "retranslations", rs->adaptive_retranslations);
    stats_add(r, "adaptive", "emulations", rs->adaptive_emulations);
    stats_add(r, "adaptive", "restores", rs->adaptive_restores);
    stats_add(r, "adaptive", "would_trap", rs->adaptive_would_trap);
    stats_add(r, "adaptive", "would_not_trap", rs->adaptive_would_not_trap);
    for (unsigned i = 0; i < RUN_STATS_MNEMONICS; i++) {
        if (rs->callouts[i])
            stats_add(r, "callouts",
                      i == 0 ? "undecodable" : ZydisMnemonicGetString((ZydisMnemonic)i),
                      rs->callouts[i]);
    }
}

/* ---- snapshots ---- */

#define MACHINE_STATE_VERSION 1
#define FPU_STATE_VERSION     1
/* The part of the FXSAVE image (SDM vol. 1, table 10-2) a 32-bit guest
 * has: FCW, FSW, FTW, FOP, FPU IP/CS/DP/DS, MXCSR, ST0-7 and XMM0-7. */
#define FPU_IMAGE_BYTES       288

bool machine_save_when(struct machine *m, const char *text, struct popek_error *err)
{
    if (!m->com[0])
        return popek_fail(err,
                          "--save-when watches COM1, and this machine has none (-serial none)");
    uart16550_watch_output(m->com[0], text);
    m->save_watch = true;
    return true;
}

/* A string the command line may not have given (NULL: empty). */
static void put_optional(struct snap_writer *w, const char *s)
{
    snap_put_string(w, s ? s : "");
}

static void machine_section_save(const struct machine *m, struct snap_writer *w)
{
    snap_begin(w, "machine", 0, MACHINE_STATE_VERSION);
    snap_put_u64(w, m->config.ram_bytes);
    for (unsigned i = 0; i < MACHINE_SERIAL_PORTS; i++)
        snap_put_bool(w, m->com[i] != NULL);
    put_optional(w, m->config.kernel);
    put_optional(w, m->config.append);
    put_optional(w, m->config.initrd);
    snap_end(w);
}

/* The configuration a state needs: the same RAM and serial ports (drives
 * are checked by the ATA host's section). Mismatches name the option. */
static bool machine_section_load(struct machine *m, struct snap_reader *r,
                                 struct machine_boot_record *boot, struct popek_error *err)
{
    struct snap_section s;

    if (!snap_open(r, "machine", 0, MACHINE_STATE_VERSION, &s, err))
        return false;
    uint64_t ram = snap_get_u64(&s);
    bool com[MACHINE_SERIAL_PORTS];
    for (unsigned i = 0; i < MACHINE_SERIAL_PORTS; i++)
        com[i] = snap_get_bool(&s);
    snap_get_string(&s, boot->kernel, sizeof(boot->kernel));
    snap_get_string(&s, boot->append, sizeof(boot->append));
    snap_get_string(&s, boot->initrd, sizeof(boot->initrd));
    if (!snap_close(&s, err))
        return false;
    if (ram != m->config.ram_bytes)
        return snap_fail(&s, err,
                         "the machine was saved with -m %lluM; this one has -m %lluM (give the "
                         "same -m)",
                         (unsigned long long)(ram >> 20),
                         (unsigned long long)(m->config.ram_bytes >> 20));
    for (unsigned i = 0; i < MACHINE_SERIAL_PORTS; i++) {
        if (com[i] != (m->com[i] != NULL))
            return snap_fail(&s, err,
                             "the machine was saved %s COM%u; this one has %s (see -serial)",
                             com[i] ? "with" : "without", i + 1, com[i] ? "none" : "one");
    }
    return true;
}

/* The guest's x87/MMX state is live in the host's registers while the
 * monitor runs C code, its XMM0-7 and MXCSR are in the vCPU's save area
 * (monitor/trampoline.c): the image joins the two. */
static void fpu_section_save(struct machine *m, struct snap_writer *w)
{
    uint8_t image[512] __attribute__((aligned(16)));

    __asm__ volatile("fxsave64 %0" : "=m"(image));
    memcpy(image + FXSAVE_MXCSR, m->cpu->fpu_state + FXSAVE_MXCSR, 4);
    memcpy(image + FXSAVE_XMM0, m->cpu->fpu_state + FXSAVE_XMM0, 128);
    snap_begin(w, "fpu", 0, FPU_STATE_VERSION);
    snap_put_bytes(w, image, FPU_IMAGE_BYTES);
    snap_end(w);
}

static bool fpu_section_load(struct machine *m, struct snap_reader *r, struct popek_error *err)
{
    uint8_t image[512] __attribute__((aligned(16)));
    struct snap_section s;
    uint32_t mask, mxcsr;

    if (!snap_open(r, "fpu", 0, FPU_STATE_VERSION, &s, err))
        return false;
    __asm__ volatile("fxsave64 %0" : "=m"(image));
    mask = load_le32(image + FXSAVE_MXCSR_MSK);
    if (!mask)
        mask = 0xFFBF; /* SDM vol. 1, §11.6.6: the default MXCSR_MASK */
    uint32_t host_mxcsr = load_le32(image + FXSAVE_MXCSR);
    snap_get_bytes(&s, image, FPU_IMAGE_BYTES);
    mxcsr = load_le32(image + FXSAVE_MXCSR);
    /* A reserved MXCSR bit would make FXRSTOR fault in popek itself. */
    snap_check(&s, !(mxcsr & ~mask), "MXCSR bits the processor reserves");
    if (!snap_close(&s, err))
        return false;
    memcpy(m->cpu->fpu_state + FXSAVE_MXCSR, image + FXSAVE_MXCSR, 4);
    memcpy(m->cpu->fpu_state + FXSAVE_XMM0, image + FXSAVE_XMM0, 128);
    store_le32(image + FXSAVE_MXCSR, host_mxcsr); /* C code keeps the host's */
    __asm__ volatile("fxrstor64 %0" : : "m"(image));
    return true;
}

bool machine_save_state(struct machine *m, const char *path, struct popek_error *err)
{
    struct snap_writer *w = snap_writer_create(path, err);
    struct vcpu_state arch = m->cpu->arch;

    if (!w)
        return false;
    m->clock_frozen_ns = host_monotonic_ns();
    uint64_t host_tsc = __rdtsc();
    /* Stopped right after an inline sti: the shadow is the next
     * instruction's (the run loop would have set it at its top). */
    if (m->cpu->sti_shadow_eip == arch.seg[SEG_CS].base + arch.eip)
        arch.interrupt_shadow = EMUL_SHADOW_STI;
    machine_section_save(m, w);
    snap_begin(w, "cpu", 0, VCPU_STATE_VERSION);
    vcpu_state_save(&arch, host_tsc, w);
    snap_end(w);
    fpu_section_save(m, w);
    snap_begin(w, "ram", 0, GUEST_RAM_STATE_VERSION);
    guest_ram_save(m->ram, w);
    snap_end(w);
    platform_save(m->platform, w);
    m->clock_frozen_ns = 0;
    return snap_writer_commit(w, err);
}

/* Every section, in the order machine_save_state wrote them, against the
 * one instant the clocks are frozen at. */
static bool machine_load_sections(struct machine *m, struct snap_reader *r, uint64_t host_tsc,
                                  struct machine_boot_record *boot, struct popek_error *err)
{
    struct snap_section s;

    if (!machine_section_load(m, r, boot, err))
        return false;
    if (!snap_open(r, "cpu", 0, VCPU_STATE_VERSION, &s, err))
        return false;
    vcpu_state_load(&m->cpu->arch, host_tsc, &s);
    if (!snap_close(&s, err) || !fpu_section_load(m, r, err))
        return false;
    if (!snap_open(r, "ram", 0, GUEST_RAM_STATE_VERSION, &s, err))
        return false;
    guest_ram_load(m->ram, &s);
    return snap_close(&s, err) && platform_load(m->platform, r, err) && snap_reader_finish(r, err);
}

bool machine_load_state(struct machine *m, const char *path, struct machine_boot_record *boot,
                        struct popek_error *err)
{
    struct snap_reader *r = snap_reader_open(path, err);

    if (!r)
        return false;
    m->clock_frozen_ns = host_monotonic_ns();
    bool ok = machine_load_sections(m, r, __rdtsc(), boot, err);
    m->clock_frozen_ns = 0;
    snap_reader_close(r);
    if (!ok)
        return false;
    /* The caches start empty, as after a reset, and the MMU follows the
     * loaded paging registers as after the guest wrote CR3. */
    const struct vcpu_state *arch = &m->cpu->arch;
    struct paging_regs regs = {.cr0 = arch->cr0, .cr3 = arch->cr3, .cr4 = arch->cr4};
    tcache_flush(m->tc);
    shadow_reset(m->mmu);
    shadow_set_paging(m->mmu, &regs, true);
    memset(m->cpu->ibl, 0, sizeof(m->cpu->ibl));
    m->cpu->event_pending = 0;
    m->cpu->exit_link = 0;
    m->cpu->sti_shadow_eip = 0xFFFFFFFFu;
    m->exit_requested = false;
    m->reset_by = NULL;
    m->resumed = true;
    if (!m->config.kernel && boot->kernel[0]) {
        /* Created without -kernel: what the file booted is this machine's
         * kernel now, for resets and for a state saved again. */
        m->config.kernel = boot->kernel;
        m->config.append = boot->append[0] ? boot->append : NULL;
        m->config.initrd = boot->initrd[0] ? boot->initrd : NULL;
    }
    return true;
}
