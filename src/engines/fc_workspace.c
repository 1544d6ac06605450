#include "fc_workspace.h"

#include "../core/fc_alloc.h"

struct fc_workspace {
    void *buf[FC_WORKSPACE_SLOTS];
    size_t size[FC_WORKSPACE_SLOTS];
};

fc_workspace *fc_workspace_create(void) { return fc_calloc(1, sizeof(fc_workspace)); }

void fc_workspace_free(fc_workspace *ws)
{
    if (!ws)
        return;
    for (int i = 0; i < FC_WORKSPACE_SLOTS; i++)
        fc_free(ws->buf[i]);
    fc_free(ws);
}

void *fc_workspace_get(fc_workspace *ws, int slot, size_t bytes)
{
    if (!ws || slot < 0 || slot >= FC_WORKSPACE_SLOTS)
        return NULL;
    if (bytes == 0)
        bytes = 1;
    if (ws->size[slot] >= bytes)
        return ws->buf[slot];
    /* Grow by 1.5x so slowly growing requests do not reallocate each time. */
    size_t want = bytes;
    if (ws->size[slot] && ws->size[slot] / 2 <= SIZE_MAX / 3) {
        size_t grown = ws->size[slot] + ws->size[slot] / 2;
        if (grown > want)
            want = grown;
    }
    void *p = fc_malloc(want);
    if (!p)
        return NULL;
    fc_free(ws->buf[slot]);
    ws->buf[slot] = p;
    ws->size[slot] = want;
    return p;
}
