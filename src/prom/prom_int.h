/* prom_int.h -- what the files of src/prom share and nobody else needs. */
#ifndef PROM_INT_H
#define PROM_INT_H

#include <stddef.h>
#include <stdint.h>

#include "prom.h"

/* Room for prom_fmt_seconds(): sign, 15 digits, point, 3 digits, NUL. */
#define PROM_SEC_BUF 32

/* Writes <ms> as seconds with only the decimals it needs ("1795676820", "1700000000.123",
 * "-0.5") into <out>, as Prometheus reads times and steps. |ms| must be below 2^62. Returns
 * <out>. */
char *prom_fmt_seconds(int64_t ms, char out[PROM_SEC_BUF]);

/* Makes the next prom_endpoint_build() on <e> re-read every credential file even if its stat()
 * looks unchanged (after a 401). */
void prom_endpoint_invalidate(struct prom_endpoint *e);

#endif
