#ifndef DLLM_CBFLOAT16_AMX_H
#define DLLM_CBFLOAT16_AMX_H
// The AMX part of the bf16 product (BF16AMX.c), called by cbf16_gemm_packed.
#include "CBFloat16.h"

/// C rows [row0, row1) (+)= packed A . packed B over the first `amx_pairs` pairs of k, on the
/// AMX tiles. row1 - row0 and amx_pairs are multiples of 16; B's panels hold `pairs` pairs;
/// A's rows are `ka` bf16 apart (cbf16_packed_a_stride). Requires cbf16_amx_supported().
void cbf16_amx_gemm(const uint16_t *a, long ka, const uint16_t *b, long pairs, long amx_pairs,
                    long n, long row0, long row1, float *c, long ldc, int beta);

#endif
