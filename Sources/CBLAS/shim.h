#ifndef DLLM_CBLAS_SHIM_H
#define DLLM_CBLAS_SHIM_H
// OpenBLAS's CBLAS interface (Debian: libopenblas-dev).
#include <cblas.h>
// Thread control lives outside the CBLAS standard; declared by OpenBLAS's cblas.h
// as well, repeated here so the module never depends on the header variant.
void openblas_set_num_threads(int num_threads);
int openblas_get_num_threads(void);
#endif
