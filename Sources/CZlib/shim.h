#ifndef DLLM_CZLIB_SHIM_H
#define DLLM_CZLIB_SHIM_H
// zlib (Debian: zlib1g-dev). Only the tests use it: they inflate the IDAT
// stream of the dashboard screenshot (PNG) with `uncompress`.
#include <zlib.h>
#endif
