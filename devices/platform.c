/*
 * devices/platform.c — the device list (platform.h).
 */
#include "devices/platform.h"

#include <stdlib.h>
#include <string.h>

#define PLATFORM_MAX_DEVICES 32

struct platform_entry {
    const struct platform_device_ops *ops;
    void *opaque;
};

struct platform {
    struct platform_entry devices[PLATFORM_MAX_DEVICES];
    unsigned count;
    platform_wake_fn wake;
    void *wake_ctx;
    bool has_input;
};

struct platform *platform_create(platform_wake_fn wake, void *wake_ctx, struct popek_error *err)
{
    struct platform *pf = calloc(1, sizeof(*pf));

    if (!pf) {
        popek_fail(err, "out of memory");
        return NULL;
    }
    pf->wake = wake;
    pf->wake_ctx = wake_ctx;
    return pf;
}

void platform_destroy(struct platform *pf)
{
    free(pf);
}

bool platform_add(struct platform *pf, const struct platform_device_ops *ops, void *opaque,
                  struct popek_error *err)
{
    if (pf->count == PLATFORM_MAX_DEVICES)
        return popek_fail(err, "too many devices (%u) for device '%s'", PLATFORM_MAX_DEVICES,
                          ops->name);
    pf->devices[pf->count++] = (struct platform_entry){ops, opaque};
    return true;
}

void platform_reset(struct platform *pf)
{
    for (unsigned i = 0; i < pf->count; i++) {
        if (pf->devices[i].ops->reset)
            pf->devices[i].ops->reset(pf->devices[i].opaque);
    }
}

/* The instance number of entry i: how many devices of its name come
 * before it (COM1 is uart16550 instance 0, COM2 instance 1). */
static uint32_t platform_instance(const struct platform *pf, unsigned i)
{
    uint32_t instance = 0;

    for (unsigned j = 0; j < i; j++) {
        if (!strcmp(pf->devices[j].ops->name, pf->devices[i].ops->name))
            instance++;
    }
    return instance;
}

void platform_save(const struct platform *pf, struct snap_writer *w)
{
    for (unsigned i = 0; i < pf->count; i++) {
        const struct platform_entry *d = &pf->devices[i];
        if (!d->ops->save)
            continue;
        snap_begin(w, d->ops->name, platform_instance(pf, i), d->ops->state_version);
        d->ops->save(d->opaque, w);
        snap_end(w);
    }
}

bool platform_load(struct platform *pf, struct snap_reader *r, struct popek_error *err)
{
    for (unsigned i = 0; i < pf->count; i++) {
        const struct platform_entry *d = &pf->devices[i];
        struct snap_section s;
        if (!d->ops->load)
            continue;
        if (!snap_open(r, d->ops->name, platform_instance(pf, i), d->ops->state_version, &s, err))
            return false;
        /* A hook refuses through the section (snap_check, keeping its
         * reason); a false without one still refuses. */
        snap_check(&s, d->ops->load(d->opaque, &s), "values the device cannot take");
        if (!snap_close(&s, err))
            return false;
    }
    return true;
}

uint64_t platform_next_deadline(const struct platform *pf)
{
    uint64_t earliest = PLATFORM_NEVER;

    for (unsigned i = 0; i < pf->count; i++) {
        const struct platform_entry *d = &pf->devices[i];
        if (d->ops->next_deadline) {
            uint64_t deadline = d->ops->next_deadline(d->opaque);
            if (deadline < earliest)
                earliest = deadline;
        }
    }
    return earliest;
}

uint64_t platform_service(struct platform *pf)
{
    for (unsigned i = 0; i < pf->count; i++) {
        if (pf->devices[i].ops->update)
            pf->devices[i].ops->update(pf->devices[i].opaque);
    }
    return platform_next_deadline(pf);
}

void platform_wake(struct platform *pf)
{
    if (pf->wake)
        pf->wake(pf->wake_ctx);
}

void platform_set_has_input(struct platform *pf)
{
    pf->has_input = true;
}

bool platform_has_input(const struct platform *pf)
{
    return pf->has_input;
}
