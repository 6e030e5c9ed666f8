/*
 * guest-tests/acpi_poweroff.c — soft-off the way an ACPI OS does it (ACPI
 * 2.0, §9.1.7 "Transitioning from the Working to the Soft Off State" and
 * §4.7.2.4): find the FADT through the RSDP, the SLP_TYPa value of \_S5 in
 * the DSDT, put the machine in ACPI mode if it is not (SMI_CMD /
 * ACPI_ENABLE, then wait for SCI_EN), and write SLP_TYPa | SLP_EN to
 * PM1a_CNT.
 *
 * The machine must then be off: the runner expects process status 0
 * (popek, and QEMU, which exits on a guest power-off), not the debug-exit
 * port's. PASS is printed just before the write; a machine still running
 * afterwards prints FAIL and exits through the debug-exit port instead.
 * The SLP_TYP value itself differs (QEMU's PIIX4 uses 0, popek 5) and is
 * not printed.
 */
#include "pc_tables.h"
#include "rt.h"

#define PM1_SCI_EN        0x0001u
#define PM1_SLP_TYP_SHIFT 10
#define PM1_SLP_EN        0x2000u
#define POLL_LIMIT        5000000u

int main(const struct multiboot_info *mbi)
{
    (void)mbi;
    const uint8_t *fadt = pt_acpi_table("FACP");
    uint32_t slp_typ = 0;

    CHECK(fadt && pt_checksum_ok(fadt, pt_acpi_length(fadt)), "FADT found through the RSDP");
    if (!fadt)
        rt_finish();
    const uint8_t *dsdt = (const uint8_t *)pt_le32(fadt + 40);
    uint16_t pm1a_cnt = (uint16_t)pt_le32(fadt + 64);
    uint32_t smi_cmd = pt_le32(fadt + 48);
    CHECK(pt_dsdt_s5(dsdt, &slp_typ) && slp_typ < 8, "\\_S5 in the DSDT gives SLP_TYPa");
    CHECK(pm1a_cnt != 0 && fadt[89] >= 2, "PM1a_CNT_BLK present, 2 bytes or more");

    /* §4.7.2.5: OSPM enables ACPI mode through SMI_CMD unless the
     * hardware is already in it (SMI_CMD 0, or SCI_EN set). */
    if (!(inw(pm1a_cnt) & PM1_SCI_EN) && smi_cmd != 0) {
        outb((uint16_t)smi_cmd, fadt[52]); /* ACPI_ENABLE */
        for (uint32_t i = 0; i < POLL_LIMIT && !(inw(pm1a_cnt) & PM1_SCI_EN); i++)
            ;
    }
    CHECK(inw(pm1a_cnt) & PM1_SCI_EN, "SCI_EN set: the machine is in ACPI mode");
    if (rt_failures())
        rt_finish();

    rt_puts("PASS");
    rt_drain();
    uint16_t cnt = inw(pm1a_cnt) & (uint16_t) ~(7u << PM1_SLP_TYP_SHIFT);
    outw(pm1a_cnt, (uint16_t)(cnt | slp_typ << PM1_SLP_TYP_SHIFT | PM1_SLP_EN));
    for (uint32_t i = 0; i < POLL_LIMIT; i++)
        __asm__ volatile("pause");
    rt_puts("FAIL: still running after SLP_TYP | SLP_EN");
    rt_exit(RT_EXIT_FAIL);
}
