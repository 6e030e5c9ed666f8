/*
 * devices/ata.c — ATA PIO disks on two channels (ata.h).
 *
 * Written from ATA/ATAPI-6 (T13 1410D); names in quotes below are its
 * headings. Register map of one channel ("Interface register definitions
 * and descriptions"):
 *
 *   offset  read                      write
 *   base+0  Data (16 or 32 bits)      Data
 *   base+1  Error                     Features
 *   base+2  Sector Count              Sector Count
 *   base+3  LBA Low  (CHS: sector)    LBA Low
 *   base+4  LBA Mid  (cylinder low)   LBA Mid
 *   base+5  LBA High (cylinder high)  LBA High
 *   base+6  Device: 6 LBA, 4 DEV, 3-0 head or LBA 27:24
 *   base+7  Status (clears INTRQ)     Command
 *   ctrl    Alternate Status          Device Control: 1 nIEN, 2 SRST
 *
 *   Status  7 BSY  6 DRDY  5 DF  4 DSC  3 DRQ  0 ERR
 *   Error   6 UNC  4 IDNF  2 ABRT  (after a reset: diagnostic code)
 *
 * Both devices on a channel latch every write to the command block, so
 * the task file is kept once per channel; each device has its own Status,
 * Error and pending interrupt. A device that is not there answers nothing:
 * when the selected device is absent but the other one present, the other
 * device answers its Status and Error with 0 — which is how Linux tells
 * that a slave is missing (ata_sff_dev_classify) — and the rest of the
 * task file as written; on a channel without devices every register reads
 * 0.
 *
 * Commands ("Command descriptions") — all PIO or non-data:
 *   EC IDENTIFY DEVICE     A1 IDENTIFY PACKET DEVICE (aborts: not ATAPI)
 *   20/21 READ SECTORS     30/31 WRITE SECTORS     40/41 READ VERIFY
 *   C4 READ MULTIPLE       C5 WRITE MULTIPLE       C6 SET MULTIPLE MODE
 *   EF SET FEATURES        91 INITIALIZE DEVICE PARAMETERS
 *   90 EXECUTE DEVICE DIAGNOSTIC   E7/EA FLUSH CACHE (fdatasync)
 *   E0-E3, 94-97 STANDBY/IDLE (accepted), E5/98 CHECK POWER MODE (active),
 *   E6/99 SLEEP (accepted), 1x RECALIBRATE, 7x SEEK;  anything else ABRT.
 * Addresses are LBA28 or CHS through the current geometry; a command that
 * reaches past the last sector ends with IDNF before moving any data.
 *
 * Data transfer ("PIO data-in", "PIO data-out" protocols): a block is one
 * sector, or the multiple count for READ/WRITE MULTIPLE. Data-in: each
 * block is read from the file, then DRQ and INTRQ; the guest drains it.
 * Data-out: DRQ without INTRQ for the first block; each filled block is
 * written to the file, then DRQ and INTRQ for the next, or INTRQ alone at
 * the end. INTRQ is the selected device's pending interrupt unless nIEN;
 * reading Status or writing a command clears it ("INTRQ").
 *
 * Reset ("Power-on and hardware reset", "Software reset" protocols): SRST
 * set holds both devices BSY; SRST cleared, a power-on reset or EXECUTE
 * DEVICE DIAGNOSTIC leaves the ATA signature (count 01, LBA 01 00 00,
 * device 00), Error = 01 (passed; device 1 passed or absent) and Status
 * DRDY|DSC. A software reset also takes the settings back to their
 * defaults unless SET FEATURES 66h said not to.
 */
#include "devices/ata.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

enum ata_register {
    ATA_REG_DATA = 0,
    ATA_REG_ERROR = 1, /* Features when written */
    ATA_REG_COUNT = 2,
    ATA_REG_LBA_LOW = 3,
    ATA_REG_LBA_MID = 4,
    ATA_REG_LBA_HIGH = 5,
    ATA_REG_DEVICE = 6,
    ATA_REG_STATUS = 7, /* Command when written */
};

#define ATA_STATUS_BSY  0x80
#define ATA_STATUS_DRDY 0x40
#define ATA_STATUS_DF   0x20
#define ATA_STATUS_DSC  0x10
#define ATA_STATUS_DRQ  0x08
#define ATA_STATUS_ERR  0x01
#define ATA_STATUS_IDLE (ATA_STATUS_DRDY | ATA_STATUS_DSC)

#define ATA_ERROR_UNC  0x40
#define ATA_ERROR_IDNF 0x10
#define ATA_ERROR_ABRT 0x04
#define ATA_DIAG_PASS  0x01 /* diagnostic code: device 0 passed, device 1 passed or absent */

#define ATA_DEVICE_LBA  0x40
#define ATA_DEVICE_DEV  0x10
#define ATA_DEVICE_HEAD 0x0F

#define ATA_CONTROL_NIEN 0x02
#define ATA_CONTROL_SRST 0x04

enum ata_command {
    ATA_CMD_NOP = 0x00,
    ATA_CMD_RECALIBRATE = 0x10, /* 10h-1Fh */
    ATA_CMD_READ_SECTORS = 0x20,
    ATA_CMD_READ_SECTORS_NORETRY = 0x21,
    ATA_CMD_WRITE_SECTORS = 0x30,
    ATA_CMD_WRITE_SECTORS_NORETRY = 0x31,
    ATA_CMD_READ_VERIFY = 0x40,
    ATA_CMD_READ_VERIFY_NORETRY = 0x41,
    ATA_CMD_SEEK = 0x70, /* 70h-7Fh */
    ATA_CMD_EXECUTE_DIAGNOSTIC = 0x90,
    ATA_CMD_INITIALIZE_PARAMETERS = 0x91,
    ATA_CMD_STANDBY_IMMEDIATE_OLD = 0x94,
    ATA_CMD_IDLE_IMMEDIATE_OLD = 0x95,
    ATA_CMD_STANDBY_OLD = 0x96,
    ATA_CMD_IDLE_OLD = 0x97,
    ATA_CMD_CHECK_POWER_MODE_OLD = 0x98,
    ATA_CMD_SLEEP_OLD = 0x99,
    ATA_CMD_IDENTIFY_PACKET = 0xA1,
    ATA_CMD_READ_MULTIPLE = 0xC4,
    ATA_CMD_WRITE_MULTIPLE = 0xC5,
    ATA_CMD_SET_MULTIPLE = 0xC6,
    ATA_CMD_STANDBY_IMMEDIATE = 0xE0,
    ATA_CMD_IDLE_IMMEDIATE = 0xE1,
    ATA_CMD_STANDBY = 0xE2,
    ATA_CMD_IDLE = 0xE3,
    ATA_CMD_CHECK_POWER_MODE = 0xE5,
    ATA_CMD_SLEEP = 0xE6,
    ATA_CMD_FLUSH_CACHE = 0xE7,
    ATA_CMD_FLUSH_CACHE_EXT = 0xEA,
    ATA_CMD_IDENTIFY = 0xEC,
    ATA_CMD_SET_FEATURES = 0xEF,
};

/* SET FEATURES subcommands (Features register values). */
enum ata_feature {
    ATA_FEATURE_WCACHE_ON = 0x02,
    ATA_FEATURE_XFER_MODE = 0x03,
    ATA_FEATURE_LOOKAHEAD_OFF = 0x55,
    ATA_FEATURE_KEEP_SETTINGS = 0x66,
    ATA_FEATURE_WCACHE_OFF = 0x82,
    ATA_FEATURE_LOOKAHEAD_ON = 0xAA,
    ATA_FEATURE_REVERT_SETTINGS = 0xCC,
};

#define ATA_XFER_PIO_DEFAULT 0x00
#define ATA_XFER_PIO_NOIORDY 0x01
#define ATA_XFER_PIO_FLOW    0x08 /* | mode 0-4 */
#define ATA_MAX_PIO_MODE     4

#define ATA_LBA28_LIMIT     0x0FFFFFFFu /* sectors reachable with 28-bit addresses */
#define ATA_MAX_CYLINDERS   16383       /* IDENTIFY word 1 for large disks */
#define ATA_DEFAULT_HEADS   16
#define ATA_DEFAULT_SPT     63
#define ATA_POWER_MODE_IDLE 0xFF /* CHECK POWER MODE: active or idle */

#define ATA_MODEL    "popek HARDDISK"
#define ATA_FIRMWARE POPEK_VERSION

struct ata_geometry {
    uint32_t cylinders, heads, sectors;
};

struct ata_drive {
    bool present;
    int fd;
    bool read_only;
    unsigned index;    /* 0-3, for the serial number */
    uint32_t capacity; /* addressable sectors (at most the LBA28 limit) */
    struct ata_geometry default_chs, current_chs;
    unsigned multiple;  /* sectors per READ/WRITE MULTIPLE block; 0 = off */
    bool write_cache;   /* off: every write command ends with fdatasync */
    bool keep_settings; /* SET FEATURES 66h: SRST keeps the settings */
    uint8_t status, error;
    bool intrq;  /* interrupt pending ("INTRQ") */
    char *image; /* the image's canonical path (saved states name it) */
};

enum ata_transfer { ATA_XFER_NONE, ATA_XFER_IN, ATA_XFER_OUT };

struct ata_channel {
    io_port_t base, control_port;
    unsigned irq;
    struct ata_host *host;
    struct ata_drive drive[2];
    /* The command block as both devices latched it. */
    uint8_t features, count, lba_low, lba_mid, lba_high, device;
    uint8_t control;
    bool line; /* INTRQ as last driven */
    /* The PIO transfer in progress: the buffer holds one block; lba and
     * remaining count from its first sector. */
    enum ata_transfer transfer;
    bool from_media; /* sectors of the image, not an IDENTIFY page */
    uint32_t lba, remaining;
    unsigned block;
    unsigned pos, len;
    uint8_t buffer[ATA_MAX_MULTIPLE * ATA_SECTOR_SIZE];
};

struct ata_host {
    struct ata_channel channel[2];
    ata_irq_fn set_irq;
    void *ctx;
};

/* ---- interrupt line and selection ---- */

static struct ata_drive *ata_selected(struct ata_channel *ch)
{
    return &ch->drive[(ch->device & ATA_DEVICE_DEV) ? 1 : 0];
}

static bool ata_channel_empty(const struct ata_channel *ch)
{
    return !ch->drive[0].present && !ch->drive[1].present;
}

/* INTRQ: driven by the selected device while nIEN = 0, high impedance
 * otherwise ("INTRQ"). */
static void ata_update_irq(struct ata_channel *ch)
{
    const struct ata_drive *d = ata_selected(ch);
    bool level = d->present && d->intrq && !(ch->control & ATA_CONTROL_NIEN);

    if (level != ch->line) {
        ch->line = level;
        ch->host->set_irq(ch->host->ctx, ch->irq, level);
    }
}

static void ata_raise(struct ata_channel *ch, struct ata_drive *d)
{
    d->intrq = true;
    ata_update_irq(ch);
}

/* ---- geometry and addresses ---- */

/* The default translation (IDENTIFY words 1, 3, 6): 16 heads of 63
 * sectors, as many cylinders as fit (at most 16383); an image smaller than
 * one such cylinder gets one head. */
static struct ata_geometry ata_default_geometry(uint32_t capacity)
{
    struct ata_geometry g = {0, ATA_DEFAULT_HEADS, ATA_DEFAULT_SPT};

    g.cylinders = capacity / (ATA_DEFAULT_HEADS * ATA_DEFAULT_SPT);
    if (g.cylinders > ATA_MAX_CYLINDERS)
        g.cylinders = ATA_MAX_CYLINDERS;
    if (g.cylinders == 0) {
        g.heads = 1;
        g.sectors = capacity < ATA_DEFAULT_SPT ? capacity : ATA_DEFAULT_SPT;
        g.cylinders = capacity / g.sectors;
    }
    return g;
}

static uint32_t ata_chs_capacity(const struct ata_geometry *g)
{
    return g->cylinders * g->heads * g->sectors;
}

/* The first sector a command names ("Device register": LBA bit set —
 * 28-bit LBA in LBA High:Mid:Low and Device 3-0; clear — cylinder in LBA
 * High:Mid, head in Device 3-0, sector 1-based in LBA Low). False for a
 * CHS address outside the current geometry. */
static bool ata_command_address(const struct ata_channel *ch, const struct ata_drive *d,
                                uint32_t *lba)
{
    const struct ata_geometry *g = &d->current_chs;
    uint32_t cylinder = (uint32_t)ch->lba_high << 8 | ch->lba_mid;
    uint32_t head = ch->device & ATA_DEVICE_HEAD;
    uint32_t sector = ch->lba_low;

    if (ch->device & ATA_DEVICE_LBA) {
        *lba = (uint32_t)(ch->device & ATA_DEVICE_HEAD) << 24 | (uint32_t)ch->lba_high << 16 |
               (uint32_t)ch->lba_mid << 8 | ch->lba_low;
        return true;
    }
    if (sector == 0 || sector > g->sectors || head >= g->heads || cylinder >= g->cylinders)
        return false;
    *lba = (cylinder * g->heads + head) * g->sectors + sector - 1;
    return true;
}

/* Puts lba back into the task file in the form the command used. */
static void ata_set_address(struct ata_channel *ch, const struct ata_drive *d, uint32_t lba)
{
    const struct ata_geometry *g = &d->current_chs;

    if (ch->device & ATA_DEVICE_LBA) {
        ch->lba_low = (uint8_t)lba;
        ch->lba_mid = (uint8_t)(lba >> 8);
        ch->lba_high = (uint8_t)(lba >> 16);
        ch->device = (uint8_t)((ch->device & ~ATA_DEVICE_HEAD) | ((lba >> 24) & ATA_DEVICE_HEAD));
    } else {
        uint32_t cylinder = lba / (g->heads * g->sectors);
        uint32_t rest = lba % (g->heads * g->sectors);

        ch->lba_low = (uint8_t)(rest % g->sectors + 1);
        ch->lba_mid = (uint8_t)cylinder;
        ch->lba_high = (uint8_t)(cylinder >> 8);
        ch->device = (uint8_t)((ch->device & ~ATA_DEVICE_HEAD) | (rest / g->sectors));
    }
}

/* Sector Count: 0 means 256 (READ SECTORS and the others' inputs). */
static uint32_t ata_command_count(const struct ata_channel *ch)
{
    return ch->count ? ch->count : 256;
}

/* ---- command endings ---- */

static void ata_stop_transfer(struct ata_channel *ch)
{
    ch->transfer = ATA_XFER_NONE;
    ch->pos = ch->len = 0;
}

/* Command completed: DRDY, no DRQ, and (for all but the end of a data-in
 * command) an interrupt. */
static void ata_complete(struct ata_channel *ch, struct ata_drive *d, bool interrupt)
{
    ata_stop_transfer(ch);
    d->status = ATA_STATUS_IDLE;
    if (interrupt)
        ata_raise(ch, d);
}

/* Command failed with the given Error bits: ERR and an interrupt. */
static void ata_fail(struct ata_channel *ch, struct ata_drive *d, uint8_t error)
{
    ata_stop_transfer(ch);
    d->status = ATA_STATUS_DRDY | ATA_STATUS_ERR;
    d->error = error;
    ata_raise(ch, d);
}

/* ---- the image file ---- */

static bool ata_read_media(struct ata_drive *d, uint32_t lba, unsigned count, uint8_t *buf)
{
    size_t bytes = (size_t)count * ATA_SECTOR_SIZE;
    off_t offset = (off_t)lba * ATA_SECTOR_SIZE;

    while (bytes > 0) {
        ssize_t n = pread(d->fd, buf, bytes, offset);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false; /* an I/O error, or the file shrank under us */
        buf += n;
        bytes -= (size_t)n;
        offset += n;
    }
    return true;
}

static bool ata_write_media(struct ata_drive *d, uint32_t lba, unsigned count, const uint8_t *buf)
{
    size_t bytes = (size_t)count * ATA_SECTOR_SIZE;
    off_t offset = (off_t)lba * ATA_SECTOR_SIZE;

    while (bytes > 0) {
        ssize_t n = pwrite(d->fd, buf, bytes, offset);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        buf += n;
        bytes -= (size_t)n;
        offset += n;
    }
    return true;
}

static bool ata_flush_media(struct ata_drive *d)
{
    return d->read_only || fdatasync(d->fd) == 0;
}

/* ---- IDENTIFY DEVICE ("IDENTIFY DEVICE", its table of words) ---- */

/* ATA strings hold two characters per word, the first in the high byte
 * ("Byte ordering for data transfers"), padded with spaces. */
static void ata_put_string(uint16_t *words, unsigned first, unsigned nwords, const char *s)
{
    size_t len = strlen(s);

    for (unsigned i = 0; i < nwords * 2; i++) {
        uint8_t c = i < len ? (uint8_t)s[i] : ' ';

        if (i % 2 == 0)
            words[first + i / 2] = (uint16_t)(c << 8);
        else
            words[first + i / 2] |= c;
    }
}

static void ata_identify_page(const struct ata_drive *d, uint8_t *page)
{
    uint16_t w[256] = {0};
    char serial[21];
    uint32_t chs_capacity = ata_chs_capacity(&d->current_chs);

    snprintf(serial, sizeof(serial), "PK%04u", d->index + 1);
    w[0] = 0x0040; /* ATA device, fixed */
    w[1] = (uint16_t)d->default_chs.cylinders;
    w[3] = (uint16_t)d->default_chs.heads;
    w[6] = (uint16_t)d->default_chs.sectors;
    ata_put_string(w, 10, 10, serial);
    ata_put_string(w, 23, 4, ATA_FIRMWARE);
    ata_put_string(w, 27, 20, ATA_MODEL);
    w[47] = 0x8000 | ATA_MAX_MULTIPLE;
    w[49] = 0x0A00; /* IORDY supported, LBA supported; no DMA */
    w[50] = 0x4000; /* bit 14 shall be one */
    w[51] = 0x0200; /* obsolete PIO timing mode: 2 */
    w[53] = 0x0003; /* words 54-58 and 64-70 valid */
    w[54] = (uint16_t)d->current_chs.cylinders;
    w[55] = (uint16_t)d->current_chs.heads;
    w[56] = (uint16_t)d->current_chs.sectors;
    w[57] = (uint16_t)chs_capacity;
    w[58] = (uint16_t)(chs_capacity >> 16);
    if (d->multiple)
        w[59] = (uint16_t)(0x0100 | d->multiple); /* setting valid, current count */
    w[60] = (uint16_t)d->capacity;
    w[61] = (uint16_t)(d->capacity >> 16);
    w[64] = 0x0003; /* PIO modes 3 and 4 */
    w[67] = 120;    /* minimum PIO cycle time without flow control, ns */
    w[68] = 120;    /* with IORDY */
    w[80] = 0x007E; /* ATA-1 to ATA-6 */
    w[82] = 0x0028; /* write cache, power management */
    w[83] = 0x5000; /* FLUSH CACHE; bit 14 shall be one */
    w[84] = 0x4000;
    w[85] = (uint16_t)(0x0008 | (d->write_cache ? 0x0020 : 0));
    w[86] = 0x1000;
    w[87] = 0x4000;
    w[93] = d->index % 2 ? 0x4B00 : 0x400B; /* reset results: jumpered, diagnostics passed */
    for (unsigned i = 0; i < 256; i++) {
        page[2 * i] = (uint8_t)w[i];
        page[2 * i + 1] = (uint8_t)(w[i] >> 8);
    }
}

/* ---- PIO data transfers ---- */

/* Starts the next data-in block, or ends the command after the last. */
static void ata_next_block_in(struct ata_channel *ch, struct ata_drive *d)
{
    unsigned n = ch->remaining < ch->block ? ch->remaining : ch->block;

    if (ch->remaining == 0) {
        ata_complete(ch, d, false); /* no interrupt after the last block (PIO data-in) */
        return;
    }
    if (ch->from_media && !ata_read_media(d, ch->lba, n, ch->buffer)) {
        ata_set_address(ch, d, ch->lba);
        ata_fail(ch, d, ATA_ERROR_UNC);
        return;
    }
    ch->pos = 0;
    ch->len = n * ATA_SECTOR_SIZE;
    d->status = ATA_STATUS_IDLE | ATA_STATUS_DRQ;
    ata_raise(ch, d);
}

/* The sectors of the block just moved are done: the task file counts them
 * and names the last one, as drives do. */
static void ata_account_block(struct ata_channel *ch, struct ata_drive *d)
{
    unsigned n = ch->len / ATA_SECTOR_SIZE;

    ch->remaining -= n;
    ch->lba += n;
    if (ch->from_media) {
        ch->count = (uint8_t)(ch->count - n);
        ata_set_address(ch, d, ch->lba - 1);
    }
}

static void ata_block_drained(struct ata_channel *ch, struct ata_drive *d)
{
    ata_account_block(ch, d);
    ata_next_block_in(ch, d);
}

/* A data-out block is full: write it, then ask for the next one or end. */
static void ata_block_filled(struct ata_channel *ch, struct ata_drive *d)
{
    unsigned n = ch->len / ATA_SECTOR_SIZE;

    if (!ata_write_media(d, ch->lba, n, ch->buffer)) {
        ata_set_address(ch, d, ch->lba);
        ata_fail(ch, d, ATA_ERROR_ABRT);
        return;
    }
    ata_account_block(ch, d);
    if (ch->remaining == 0) {
        if (!d->write_cache && !ata_flush_media(d)) {
            ata_fail(ch, d, ATA_ERROR_ABRT);
            return;
        }
        ata_complete(ch, d, true);
        return;
    }
    n = ch->remaining < ch->block ? ch->remaining : ch->block;
    ch->pos = 0;
    ch->len = n * ATA_SECTOR_SIZE;
    d->status = ATA_STATUS_IDLE | ATA_STATUS_DRQ;
    ata_raise(ch, d);
}

/* One data-register access of size bytes (2, or 4 for the PIIX's 32-bit
 * PIO: two words). A byte access moves nothing. */
static uint32_t ata_data_read(struct ata_channel *ch, unsigned size)
{
    struct ata_drive *d = ata_selected(ch);
    uint32_t value = 0;

    if (ch->transfer != ATA_XFER_IN || size == 1 || !d->present)
        return 0;
    for (unsigned i = 0; i < size && ch->pos < ch->len; i++)
        value |= (uint32_t)ch->buffer[ch->pos++] << (8 * i);
    if (ch->pos >= ch->len)
        ata_block_drained(ch, d);
    return value;
}

static void ata_data_write(struct ata_channel *ch, unsigned size, uint32_t value)
{
    struct ata_drive *d = ata_selected(ch);

    if (ch->transfer != ATA_XFER_OUT || size == 1 || !d->present)
        return;
    for (unsigned i = 0; i < size && ch->pos < ch->len; i++)
        ch->buffer[ch->pos++] = (uint8_t)(value >> (8 * i));
    if (ch->pos >= ch->len)
        ata_block_filled(ch, d);
}

/* ---- commands ---- */

/* Checks the address range of a media command and sets up the transfer.
 * False (the command already failed) when it is out of range. */
static bool ata_start_media_command(struct ata_channel *ch, struct ata_drive *d, unsigned block)
{
    uint32_t lba, count = ata_command_count(ch);

    if (!ata_command_address(ch, d, &lba) || lba >= d->capacity || count > d->capacity - lba) {
        ata_fail(ch, d, ATA_ERROR_IDNF);
        return false;
    }
    ch->from_media = true;
    ch->lba = lba;
    ch->remaining = count;
    ch->block = block;
    return true;
}

static void ata_cmd_read(struct ata_channel *ch, struct ata_drive *d, unsigned block)
{
    if (!ata_start_media_command(ch, d, block))
        return;
    ch->transfer = ATA_XFER_IN;
    ata_next_block_in(ch, d);
}

static void ata_cmd_write(struct ata_channel *ch, struct ata_drive *d, unsigned block)
{
    if (d->read_only) {
        ata_fail(ch, d, ATA_ERROR_ABRT);
        return;
    }
    if (!ata_start_media_command(ch, d, block))
        return;
    ch->transfer = ATA_XFER_OUT;
    ch->pos = 0;
    ch->len = (ch->remaining < block ? ch->remaining : block) * ATA_SECTOR_SIZE;
    d->status = ATA_STATUS_IDLE | ATA_STATUS_DRQ; /* no interrupt before the first block */
}

static void ata_cmd_verify(struct ata_channel *ch, struct ata_drive *d)
{
    if (!ata_start_media_command(ch, d, 0))
        return;
    ch->count = 0;
    ata_set_address(ch, d, ch->lba + ch->remaining - 1);
    ata_complete(ch, d, true);
}

static void ata_cmd_identify(struct ata_channel *ch, struct ata_drive *d)
{
    ata_identify_page(d, ch->buffer);
    ch->from_media = false;
    ch->remaining = 1;
    ch->block = 1;
    ch->transfer = ATA_XFER_IN;
    ata_next_block_in(ch, d);
}

/* SET MULTIPLE MODE: a power of two up to word 47's maximum, or 0
 * to turn READ/WRITE MULTIPLE off. */
static void ata_cmd_set_multiple(struct ata_channel *ch, struct ata_drive *d)
{
    unsigned count = ch->count;

    if (count > ATA_MAX_MULTIPLE || (count & (count - 1))) {
        ata_fail(ch, d, ATA_ERROR_ABRT);
        return;
    }
    d->multiple = count;
    ata_complete(ch, d, true);
}

static void ata_cmd_multiple(struct ata_channel *ch, struct ata_drive *d, bool write)
{
    if (d->multiple == 0) {
        ata_fail(ch, d, ATA_ERROR_ABRT);
        return;
    }
    if (write)
        ata_cmd_write(ch, d, d->multiple);
    else
        ata_cmd_read(ch, d, d->multiple);
}

/* INITIALIZE DEVICE PARAMETERS: heads from Device 3-0 plus one,
 * sectors per track from Sector Count. */
static void ata_cmd_initialize_parameters(struct ata_channel *ch, struct ata_drive *d)
{
    struct ata_geometry g = {0, (ch->device & ATA_DEVICE_HEAD) + 1u, ch->count};

    if (g.sectors == 0) {
        ata_fail(ch, d, ATA_ERROR_ABRT);
        return;
    }
    g.cylinders = d->capacity / (g.heads * g.sectors);
    if (g.cylinders > 65535)
        g.cylinders = 65535;
    d->current_chs = g;
    ata_complete(ch, d, true);
}

/* SET FEATURES: PIO transfer modes, the write cache, read
 * look-ahead (nothing to do) and whether a software reset reverts. */
static void ata_cmd_set_features(struct ata_channel *ch, struct ata_drive *d)
{
    uint8_t mode = ch->count;

    switch (ch->features) {
    case ATA_FEATURE_XFER_MODE:
        if (mode != ATA_XFER_PIO_DEFAULT && mode != ATA_XFER_PIO_NOIORDY &&
            (mode & ~7u) != ATA_XFER_PIO_FLOW) {
            ata_fail(ch, d, ATA_ERROR_ABRT); /* DMA modes: not implemented */
            return;
        }
        if ((mode & ~7u) == ATA_XFER_PIO_FLOW && (mode & 7u) > ATA_MAX_PIO_MODE) {
            ata_fail(ch, d, ATA_ERROR_ABRT);
            return;
        }
        break;
    case ATA_FEATURE_WCACHE_ON:
        d->write_cache = true;
        break;
    case ATA_FEATURE_WCACHE_OFF:
        if (!ata_flush_media(d)) {
            ata_fail(ch, d, ATA_ERROR_ABRT);
            return;
        }
        d->write_cache = false;
        break;
    case ATA_FEATURE_KEEP_SETTINGS:
        d->keep_settings = true;
        break;
    case ATA_FEATURE_REVERT_SETTINGS:
        d->keep_settings = false;
        break;
    case ATA_FEATURE_LOOKAHEAD_ON:
    case ATA_FEATURE_LOOKAHEAD_OFF:
        break;
    default:
        ata_fail(ch, d, ATA_ERROR_ABRT);
        return;
    }
    ata_complete(ch, d, true);
}

static void ata_cmd_flush(struct ata_channel *ch, struct ata_drive *d)
{
    if (!ata_flush_media(d)) {
        ata_fail(ch, d, ATA_ERROR_ABRT);
        return;
    }
    ata_complete(ch, d, true);
}

/* ---- resets and diagnostics ---- */

static void ata_default_settings(struct ata_drive *d)
{
    d->current_chs = d->default_chs;
    d->multiple = ATA_MAX_MULTIPLE;
    d->write_cache = true;
    d->keep_settings = false;
}

/* The ATA signature ("Signature and persistence") and a passed diagnostic in every present
 * device; device 0 selected. */
static void ata_signature(struct ata_channel *ch)
{
    ata_stop_transfer(ch);
    ch->count = 0x01;
    ch->lba_low = 0x01;
    ch->lba_mid = 0x00;
    ch->lba_high = 0x00;
    ch->device = 0x00;
    for (unsigned i = 0; i < 2; i++) {
        ch->drive[i].status = ch->drive[i].present ? ATA_STATUS_IDLE : 0;
        ch->drive[i].error = ch->drive[i].present ? ATA_DIAG_PASS : 0;
        ch->drive[i].intrq = false;
    }
}

static void ata_cmd_execute_diagnostic(struct ata_channel *ch)
{
    ata_signature(ch);
    for (unsigned i = 0; i < 2; i++) {
        if (ch->drive[i].present)
            ch->drive[i].intrq = true;
    }
    ata_update_irq(ch);
}

static void ata_write_control(struct ata_channel *ch, uint8_t value)
{
    bool was_reset = ch->control & ATA_CONTROL_SRST;

    ch->control = value;
    if (value & ATA_CONTROL_SRST) {
        ata_stop_transfer(ch);
        for (unsigned i = 0; i < 2; i++) {
            ch->drive[i].status = ch->drive[i].present ? ATA_STATUS_BSY : 0;
            ch->drive[i].intrq = false;
        }
    } else if (was_reset) {
        ata_signature(ch);
        for (unsigned i = 0; i < 2; i++) {
            if (ch->drive[i].present && !ch->drive[i].keep_settings)
                ata_default_settings(&ch->drive[i]);
        }
    }
    ata_update_irq(ch);
}

static void ata_write_command(struct ata_channel *ch, uint8_t command)
{
    struct ata_drive *d = ata_selected(ch);

    if (ch->control & ATA_CONTROL_SRST)
        return;
    if (command == ATA_CMD_EXECUTE_DIAGNOSTIC) {
        /* Addressed to both devices whatever DEV says. */
        if (!ata_channel_empty(ch))
            ata_cmd_execute_diagnostic(ch);
        return;
    }
    if (!d->present)
        return;
    ata_stop_transfer(ch);
    d->intrq = false; /* writing Command clears the interrupt */
    ata_update_irq(ch);
    d->error = 0;
    d->status = ATA_STATUS_IDLE;

    if ((command & 0xF0) == ATA_CMD_RECALIBRATE || (command & 0xF0) == ATA_CMD_SEEK) {
        ata_complete(ch, d, true);
        return;
    }
    switch (command) {
    case ATA_CMD_IDENTIFY:
        ata_cmd_identify(ch, d);
        break;
    case ATA_CMD_READ_SECTORS:
    case ATA_CMD_READ_SECTORS_NORETRY:
        ata_cmd_read(ch, d, 1);
        break;
    case ATA_CMD_WRITE_SECTORS:
    case ATA_CMD_WRITE_SECTORS_NORETRY:
        ata_cmd_write(ch, d, 1);
        break;
    case ATA_CMD_READ_MULTIPLE:
        ata_cmd_multiple(ch, d, false);
        break;
    case ATA_CMD_WRITE_MULTIPLE:
        ata_cmd_multiple(ch, d, true);
        break;
    case ATA_CMD_READ_VERIFY:
    case ATA_CMD_READ_VERIFY_NORETRY:
        ata_cmd_verify(ch, d);
        break;
    case ATA_CMD_SET_MULTIPLE:
        ata_cmd_set_multiple(ch, d);
        break;
    case ATA_CMD_SET_FEATURES:
        ata_cmd_set_features(ch, d);
        break;
    case ATA_CMD_INITIALIZE_PARAMETERS:
        ata_cmd_initialize_parameters(ch, d);
        break;
    case ATA_CMD_FLUSH_CACHE:
    case ATA_CMD_FLUSH_CACHE_EXT:
        ata_cmd_flush(ch, d);
        break;
    case ATA_CMD_CHECK_POWER_MODE:
    case ATA_CMD_CHECK_POWER_MODE_OLD:
        ch->count = ATA_POWER_MODE_IDLE;
        ata_complete(ch, d, true);
        break;
    case ATA_CMD_STANDBY_IMMEDIATE:
    case ATA_CMD_IDLE_IMMEDIATE:
    case ATA_CMD_STANDBY:
    case ATA_CMD_IDLE:
    case ATA_CMD_SLEEP:
    case ATA_CMD_STANDBY_IMMEDIATE_OLD:
    case ATA_CMD_IDLE_IMMEDIATE_OLD:
    case ATA_CMD_STANDBY_OLD:
    case ATA_CMD_IDLE_OLD:
    case ATA_CMD_SLEEP_OLD:
        ata_complete(ch, d, true); /* a virtual disk has no spindle to stop */
        break;
    case ATA_CMD_IDENTIFY_PACKET: /* not a packet device */
    case ATA_CMD_NOP:             /* NOP always aborts */
    default:
        ata_fail(ch, d, ATA_ERROR_ABRT);
        break;
    }
}

/* ---- port handlers ---- */

static uint8_t ata_read_register(struct ata_channel *ch, enum ata_register reg)
{
    struct ata_drive *d = ata_selected(ch);

    if (ata_channel_empty(ch))
        return 0;
    switch (reg) {
    case ATA_REG_ERROR:
        return d->present ? d->error : 0;
    case ATA_REG_COUNT:
        return ch->count;
    case ATA_REG_LBA_LOW:
        return ch->lba_low;
    case ATA_REG_LBA_MID:
        return ch->lba_mid;
    case ATA_REG_LBA_HIGH:
        return ch->lba_high;
    case ATA_REG_DEVICE:
        return ch->device;
    case ATA_REG_STATUS:
        if (!d->present)
            return 0;
        d->intrq = false; /* reading Status clears the interrupt */
        ata_update_irq(ch);
        return d->status;
    case ATA_REG_DATA:
        break;
    }
    return 0;
}

static void ata_write_register(struct ata_channel *ch, enum ata_register reg, uint8_t value)
{
    switch (reg) {
    case ATA_REG_ERROR:
        ch->features = value;
        break;
    case ATA_REG_COUNT:
        ch->count = value;
        break;
    case ATA_REG_LBA_LOW:
        ch->lba_low = value;
        break;
    case ATA_REG_LBA_MID:
        ch->lba_mid = value;
        break;
    case ATA_REG_LBA_HIGH:
        ch->lba_high = value;
        break;
    case ATA_REG_DEVICE:
        ch->device = value;
        ata_update_irq(ch); /* INTRQ follows the selected device */
        break;
    case ATA_REG_STATUS:
        ata_write_command(ch, value);
        break;
    case ATA_REG_DATA:
        break;
    }
}

/* Wider accesses to the byte registers see the addressed register only. */
static uint32_t ata_command_block_read(void *opaque, io_port_t port, unsigned size)
{
    struct ata_channel *ch = opaque;
    enum ata_register reg = (enum ata_register)(port - ch->base);

    if (reg == ATA_REG_DATA)
        return ata_data_read(ch, size);
    return ata_read_register(ch, reg);
}

static void ata_command_block_write(void *opaque, io_port_t port, unsigned size, uint32_t value)
{
    struct ata_channel *ch = opaque;
    enum ata_register reg = (enum ata_register)(port - ch->base);

    if (reg == ATA_REG_DATA)
        ata_data_write(ch, size, value);
    else
        ata_write_register(ch, reg, (uint8_t)value);
}

/* Alternate Status: Status without clearing the interrupt. */
static uint32_t ata_control_block_read(void *opaque, io_port_t port, unsigned size)
{
    struct ata_channel *ch = opaque;
    const struct ata_drive *d = ata_selected(ch);

    return d->present ? d->status : 0;
}

static void ata_control_block_write(void *opaque, io_port_t port, unsigned size, uint32_t value)
{
    ata_write_control(opaque, (uint8_t)value);
}

static const struct ioport_ops ata_command_block_ops = {
    .name = "ata",
    .read = ata_command_block_read,
    .write = ata_command_block_write,
};

static const struct ioport_ops ata_control_block_ops = {
    .name = "ata-control",
    .read = ata_control_block_read,
    .write = ata_control_block_write,
};

/* ---- creation ---- */

static bool ata_open_drive(struct ata_drive *d, unsigned index, const struct ata_drive_config *cfg,
                           struct popek_error *err)
{
    struct stat st;
    off_t size;

    d->fd = open(cfg->path, (cfg->read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC);
    if (d->fd < 0) {
        if (!cfg->read_only && (errno == EACCES || errno == EROFS || errno == EPERM) &&
            access(cfg->path, R_OK) == 0)
            return popek_fail(err,
                              "disk image '%s' is not writable (add readonly=on to use it "
                              "read-only)",
                              cfg->path);
        return popek_fail(err, "cannot open disk image '%s': %s", cfg->path, strerror(errno));
    }
    if (fstat(d->fd, &st) != 0 || !(S_ISREG(st.st_mode) || S_ISBLK(st.st_mode)))
        return popek_fail(err, "disk image '%s' is not a regular file or block device", cfg->path);
    if (flock(d->fd, (cfg->read_only ? LOCK_SH : LOCK_EX) | LOCK_NB) != 0)
        return popek_fail(err, "disk image '%s' is in use by another process", cfg->path);
    size = lseek(d->fd, 0, SEEK_END);
    if (size < ATA_SECTOR_SIZE)
        return popek_fail(err, "disk image '%s' is smaller than one sector (512 bytes)", cfg->path);
    d->image = realpath(cfg->path, NULL);
    if (!d->image)
        return popek_fail(err, "cannot resolve disk image '%s': %s", cfg->path, strerror(errno));
    d->present = true;
    d->read_only = cfg->read_only;
    d->index = index;
    /* A tail shorter than a sector is not addressable; beyond 2^28 - 1
     * sectors (128 GiB) neither is the rest, without 48-bit commands. */
    d->capacity = (uint64_t)size / ATA_SECTOR_SIZE > ATA_LBA28_LIMIT
                      ? ATA_LBA28_LIMIT
                      : (uint32_t)((uint64_t)size / ATA_SECTOR_SIZE);
    d->default_chs = ata_default_geometry(d->capacity);
    ata_default_settings(d);
    return true;
}

struct ata_host *ata_create(struct ioport_bus *io, const struct ata_drive_config *drives,
                            ata_irq_fn set_irq, void *ctx, struct popek_error *err)
{
    static const struct {
        io_port_t base, control;
        unsigned irq;
    } wiring[2] = {
        {ATA_PRIMARY_BASE, ATA_PRIMARY_CONTROL, ATA_PRIMARY_IRQ},
        {ATA_SECONDARY_BASE, ATA_SECONDARY_CONTROL, ATA_SECONDARY_IRQ},
    };
    struct ata_host *ata = calloc(1, sizeof(*ata));

    if (!ata) {
        popek_fail(err, "out of memory");
        return NULL;
    }
    ata->set_irq = set_irq;
    ata->ctx = ctx;
    for (unsigned c = 0; c < 2; c++) {
        struct ata_channel *ch = &ata->channel[c];

        ch->base = wiring[c].base;
        ch->control_port = wiring[c].control;
        ch->irq = wiring[c].irq;
        ch->host = ata;
        ch->drive[0].fd = ch->drive[1].fd = -1;
    }
    for (unsigned i = 0; i < ATA_MAX_DRIVES; i++) {
        if (drives[i].path &&
            !ata_open_drive(&ata->channel[i / 2].drive[i % 2], i, &drives[i], err))
            goto fail;
    }
    for (unsigned c = 0; c < 2; c++) {
        struct ata_channel *ch = &ata->channel[c];

        if (!ioport_register(io, ch->base, 8, &ata_command_block_ops, ch, err) ||
            !ioport_register(io, ch->control_port, 1, &ata_control_block_ops, ch, err))
            goto fail;
    }
    ata_reset(ata);
    return ata;
fail:
    ata_destroy(ata);
    return NULL;
}

void ata_destroy(struct ata_host *ata)
{
    if (!ata)
        return;
    for (unsigned i = 0; i < ATA_MAX_DRIVES; i++) {
        struct ata_drive *d = &ata->channel[i / 2].drive[i % 2];

        if (d->fd >= 0)
            close(d->fd);
        free(d->image);
    }
    free(ata);
}

void ata_reset(struct ata_host *ata)
{
    for (unsigned c = 0; c < 2; c++) {
        struct ata_channel *ch = &ata->channel[c];

        ch->control = 0;
        ch->features = 0;
        for (unsigned i = 0; i < 2; i++) {
            if (ch->drive[i].present)
                ata_default_settings(&ch->drive[i]);
        }
        ata_signature(ch);
        ata_update_irq(ch);
    }
}

uint64_t ata_drive_sectors(const struct ata_host *ata, unsigned index)
{
    if (index >= ATA_MAX_DRIVES)
        return 0;
    return ata->channel[index / 2].drive[index % 2].capacity;
}

/* ---- saved state ---- */

static uint64_t ata_image_bytes(const struct ata_drive *d)
{
    struct stat st;

    return fstat(d->fd, &st) == 0 && S_ISREG(st.st_mode) ? (uint64_t)st.st_size
                                                         : (uint64_t)d->capacity * ATA_SECTOR_SIZE;
}

static void ata_drive_save(const struct ata_drive *d, struct snap_writer *w)
{
    snap_put_bool(w, d->present);
    if (!d->present)
        return;
    snap_put_string(w, d->image);
    snap_put_u64(w, ata_image_bytes(d));
    snap_put_bool(w, d->read_only);
    snap_put_u32(w, d->current_chs.cylinders);
    snap_put_u32(w, d->current_chs.heads);
    snap_put_u32(w, d->current_chs.sectors);
    snap_put_u8(w, (uint8_t)d->multiple);
    snap_put_bool(w, d->write_cache);
    snap_put_bool(w, d->keep_settings);
    snap_put_u8(w, d->status);
    snap_put_u8(w, d->error);
    snap_put_bool(w, d->intrq);
}

/* The drive must be the one saved: the same image, of the same size. */
static void ata_drive_load(struct ata_drive *d, struct snap_section *s)
{
    char image[4096];

    if (!snap_check_config(s, snap_get_bool(s) == d->present,
                           d->present ? "the machine was saved without a disk where this one "
                                        "has one (see -drive)"
                                      : "the machine was saved with a disk where this one has "
                                        "none (see -drive)") ||
        !d->present)
        return;
    snap_get_string(s, image, sizeof(image));
    uint64_t bytes = snap_get_u64(s);
    if (!s->bad && strcmp(image, d->image) != 0) {
        char why[256];
        snprintf(why, sizeof(why), "the disk was '%.110s', not '%.110s'", image, d->image);
        snap_check_config(s, false, why);
    }
    if (!s->bad && bytes != ata_image_bytes(d)) {
        char why[256];
        snprintf(why, sizeof(why), "disk image '%.80s' was %llu bytes, now %llu", image,
                 (unsigned long long)bytes, (unsigned long long)ata_image_bytes(d));
        snap_check_config(s, false, why);
    }
    snap_check_config(s, snap_get_bool(s) == d->read_only,
                      "the disk was saved with another readonly= setting");
    d->current_chs.cylinders = snap_get_u32(s);
    d->current_chs.heads = snap_get_u32(s);
    d->current_chs.sectors = snap_get_u32(s);
    snap_check(s,
               d->current_chs.cylinders <= 65535 && d->current_chs.heads >= 1 &&
                   d->current_chs.heads <= 16 && d->current_chs.sectors >= 1 &&
                   d->current_chs.sectors <= 255,
               "a disk geometry out of range");
    d->multiple = snap_get_u8(s);
    snap_check(s, d->multiple <= ATA_MAX_MULTIPLE, "a READ/WRITE MULTIPLE block out of range");
    d->write_cache = snap_get_bool(s);
    d->keep_settings = snap_get_bool(s);
    d->status = snap_get_u8(s);
    d->error = snap_get_u8(s);
    d->intrq = snap_get_bool(s);
}

void ata_save(const struct ata_host *ata, struct snap_writer *w)
{
    for (unsigned c = 0; c < 2; c++) {
        const struct ata_channel *ch = &ata->channel[c];
        for (unsigned i = 0; i < 2; i++)
            ata_drive_save(&ch->drive[i], w);
        snap_put_u8(w, ch->features);
        snap_put_u8(w, ch->count);
        snap_put_u8(w, ch->lba_low);
        snap_put_u8(w, ch->lba_mid);
        snap_put_u8(w, ch->lba_high);
        snap_put_u8(w, ch->device);
        snap_put_u8(w, ch->control);
        snap_put_bool(w, ch->line);
        snap_put_u8(w, (uint8_t)ch->transfer);
        snap_put_bool(w, ch->from_media);
        snap_put_u32(w, ch->lba);
        snap_put_u32(w, ch->remaining);
        snap_put_u8(w, (uint8_t)ch->block);
        snap_put_u16(w, (uint16_t)ch->pos);
        snap_put_u16(w, (uint16_t)ch->len);
        snap_put_bytes(w, ch->buffer, ch->len);
    }
}

bool ata_load(struct ata_host *ata, struct snap_section *s)
{
    for (unsigned c = 0; c < 2 && !s->bad; c++) {
        struct ata_channel *ch = &ata->channel[c];
        for (unsigned i = 0; i < 2; i++)
            ata_drive_load(&ch->drive[i], s);
        ch->features = snap_get_u8(s);
        ch->count = snap_get_u8(s);
        ch->lba_low = snap_get_u8(s);
        ch->lba_mid = snap_get_u8(s);
        ch->lba_high = snap_get_u8(s);
        ch->device = snap_get_u8(s);
        ch->control = snap_get_u8(s);
        ch->line = snap_get_bool(s);
        uint8_t transfer = snap_get_u8(s);
        snap_check(s, transfer <= ATA_XFER_OUT, "a transfer direction out of range");
        ch->transfer = (enum ata_transfer)transfer;
        ch->from_media = snap_get_bool(s);
        ch->lba = snap_get_u32(s);
        ch->remaining = snap_get_u32(s);
        ch->block = snap_get_u8(s);
        ch->pos = snap_get_u16(s);
        ch->len = snap_get_u16(s);
        if (!snap_check(s,
                        ch->block <= ATA_MAX_MULTIPLE && ch->len <= sizeof(ch->buffer) &&
                            ch->len % ATA_SECTOR_SIZE == 0 && ch->pos <= ch->len,
                        "a transfer out of range"))
            return false;
        /* A pending transfer holds what the commands set up: the block
         * under way is min(remaining, block) sectors and not yet all moved
         * (the data port accounts len / 512 sectors per block and would
         * write past the image, or wrap remaining, otherwise); data out is
         * always to the media; IDENTIFY's page is one block of one sector. */
        if (ch->transfer != ATA_XFER_NONE &&
            !snap_check(s,
                        ch->block > 0 && ch->remaining > 0 &&
                            ch->len == (ch->remaining < ch->block ? ch->remaining : ch->block) *
                                           ATA_SECTOR_SIZE &&
                            ch->pos < ch->len &&
                            (ch->from_media ||
                             (ch->transfer == ATA_XFER_IN && ch->remaining == 1 && ch->block == 1)),
                        "a transfer out of range"))
            return false;
        snap_get_bytes(s, ch->buffer, ch->len);
        /* A transfer of sectors stays on the selected drive's media (a
         * hostile file must not make popek write past the image). */
        const struct ata_drive *d = &ch->drive[(ch->device & ATA_DEVICE_DEV) ? 1 : 0];
        if (ch->transfer != ATA_XFER_NONE && ch->from_media)
            snap_check(s,
                       d->present && (uint64_t)ch->lba + ch->remaining <= d->capacity &&
                           (ch->transfer == ATA_XFER_IN || !d->read_only),
                       "a sector transfer outside the disk");
    }
    return !s->bad;
}
