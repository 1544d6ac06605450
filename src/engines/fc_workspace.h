/* Engine-owned scratch memory (see fc_kernel.h for the kernel side).
 * Growing buffers: a run of the same model at the same batch size allocates
 * nothing after the first. */
#ifndef FC_WORKSPACE_H
#define FC_WORKSPACE_H

#include "fc_kernel.h"

/* NULL on allocation failure.  Freed with fc_workspace_free (NULL allowed). */
fc_workspace *fc_workspace_create(void);
void fc_workspace_free(fc_workspace *ws);

#endif
