/*
 * guest-tests/device_reset.c — a kernel that resets the machine through a
 * device, the way the word on its command line says:
 *
 *   cf9      PIIX3 reset control register: 0x02 then 0x06 (hard reset,
 *            then Reset CPU) — Linux's reboot=pci
 *   kbc      8042 command 0xFE (pulse the reset line) — Linux's reboot
 *            without ACPI
 *   pulse    8042 command 0xF0 (pulse all four output lines)
 *   outport  8042 command 0xD1, output port 0xCE (reset line low, A20 on)
 *   port92   System Control Port A bit 0 from 0 to 1 (A20 bit kept)
 *
 * It prints one line first; a PC then boots again, QEMU with -no-reboot
 * exits with status 0, and so does popek, naming the device.
 * run-reset-test.sh checks all three.
 */
#include "rt.h"

#define KBC_DATA   0x60
#define KBC_STATUS 0x64
#define KBC_IBF    0x02
#define PORT92     0x92
#define PIIX3_RC   0xCF9

static void kbc_wait(void)
{
    for (unsigned i = 0; i < 100000 && (inb(KBC_STATUS) & KBC_IBF); i++)
        ;
}

int main(const struct multiboot_info *mbi)
{
    (void)mbi;
    if (rt_cmdline_has_word("cf9")) {
        rt_printf("device_reset: booted (cf9)\n");
        outb(PIIX3_RC, 0x02);
        outb(PIIX3_RC, 0x06);
    } else if (rt_cmdline_has_word("kbc")) {
        rt_printf("device_reset: booted (kbc)\n");
        kbc_wait();
        outb(KBC_STATUS, 0xFE);
    } else if (rt_cmdline_has_word("pulse")) {
        rt_printf("device_reset: booted (pulse)\n");
        kbc_wait();
        outb(KBC_STATUS, 0xF0);
    } else if (rt_cmdline_has_word("outport")) {
        rt_printf("device_reset: booted (outport)\n");
        kbc_wait();
        outb(KBC_STATUS, 0xD1);
        kbc_wait();
        outb(KBC_DATA, 0xCE);
    } else if (rt_cmdline_has_word("port92")) {
        rt_printf("device_reset: booted (port92)\n");
        outb(PORT92, (uint8_t)((inb(PORT92) & ~1) | 0x02));
        outb(PORT92, (uint8_t)(inb(PORT92) | 1));
    } else {
        rt_printf("device_reset: no method on the command line\n");
        rt_exit(RT_EXIT_FAIL);
    }
    for (volatile unsigned i = 0; i < 1000000; i++)
        ;
    rt_printf("device_reset: still running?\n");
    rt_exit(RT_EXIT_FAIL);
}
