#ifndef DLLM_CBFLOAT16_H
#define DLLM_CBFLOAT16_H
// bfloat16 matrix products with float32 accumulation (AMX `tdpbf16ps` where the CPU has it,
// else AVX512_BF16 `vdpbf16ps`), and the float32 -> bfloat16 rounding they need. bfloat16 values are stored as uint16_t bit patterns.
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// 1 when this CPU (and OS) runs AVX512_BF16 with AVX512F/BW/VL, else 0.
int cbf16_vector_detected(void);

/// Whether the AVX512_BF16 kernels (vdpbf16ps and AMX) may run (default 1); 0 makes the
/// products take the path of a CPU without it: callers widen the packed operands for sgemm
/// (tests and the benchmark compare the two).
void cbf16_use_vector(int enabled);

/// 1 when the AVX512_BF16 kernels run now: detected and not switched off.
int cbf16_supported(void);

/// 1 when this CPU (and OS) runs AVX512F/BW/VL/DQ, else 0: what the packers, the rounding and
/// attention's row passes need (AVX512_BF16 is for the products alone).
int cbf16_avx512_detected(void);

/// Whether the packers, rounding and row passes may use AVX-512 where the CPU has it (default
/// 1); 0 makes them take their portable loops, as on a CPU without AVX-512 (tests compare the two).
void cbf16_use_vector_packers(int enabled);

/// 1 when the packers, rounding and row passes run on AVX-512 now: detected and not switched off.
int cbf16_vector_packers(void);

/// dst[i] = bf16(src[i]), rounding to nearest, ties to even (as c10::BFloat16's
/// `round_to_nearest_even`: NaN stays a quiet NaN, denormals are kept, overflow goes to inf).
void cbf16_from_float(const float *src, uint16_t *dst, long count);

/// dst[i] = float(src[i]) (exact).
void cbf16_to_float(const uint16_t *src, float *dst, long count);

/// Rows a packed A holds per row block and columns a packed B holds per panel.
enum { CBF16_MR = 6, CBF16_NR = 64 };

/// Row stride, in bf16 values, of a packed A with k columns: kp = k rounded up to even, plus one
/// cache line (32 values) when kp * 2 bytes is a multiple of 4 KiB (L1 set aliasing). A packed
/// A of m rows takes m * cbf16_packed_a_stride(k) elements.
long cbf16_packed_a_stride(long k);

/// Elements a packed B of op(B) (k, n) takes: ceil(n / NR) panels of ceil(k / 2) pairs x NR x 2.
long cbf16_packed_b_count(long k, long n);

/// Packs rows [row0, row1) of op(A) (m, k), element (i, p) at a[i*rs + p*cs], into `dst`
/// as bfloat16 rows, k rounded up to even (zero padded), cbf16_packed_a_stride(k) apart:
/// dst[i*stride + p].
void cbf16_pack_a(const float *a, long rs, long cs, long k, long row0, long row1, uint16_t *dst);

/// cbf16_pack_a for an operand already in bfloat16 (element (i, p) at a[i*rs + p*cs]): the same
/// rows, no rounding. A transposed source (rs == 1) goes through the same 16 x 16 word transpose.
void cbf16_pack_a_bf16(const uint16_t *a, long rs, long cs, long k, long row0, long row1, uint16_t *dst);

/// Packs panels [panel0, panel1) of op(B) (k, n), element (p, j) at b[p*rs + j*cs], in the
/// layout `vdpbf16ps` multiplies: panel q, pair t, column c of the panel, half s at
/// dst[(q*kpairs + t)*2*NR + 2*c + s] = bf16(op(B)[2t+s][q*NR + c]), zero padded past k and n.
void cbf16_pack_b(const float *b, long rs, long cs, long k, long n, long panel0, long panel1, uint16_t *dst);

/// cbf16_pack_b for an operand already in bfloat16: op(B) (k, n) with element (p, j) at
/// b[p*ld + j] (rows of a packed A serve, ld = cbf16_packed_a_stride). Same layout, no rounding.
void cbf16_pack_b_bf16(const uint16_t *b, long ld, long k, long n, long panel0, long panel1, uint16_t *dst);

/// The inverse of cbf16_pack_b for panels [panel0, panel1): those columns of op(B) (k, n)
/// widened into a row-major float32 (k, n) matrix, dst[p*n + j] (exact).
void cbf16_unpack_b(const uint16_t *packed, long k, long n, long panel0, long panel1, float *dst);

/// 1 when this CPU has AMX-TILE and AMX-BF16 (with AVX512_BF16) and Linux granted this
/// process the tile state, else 0.
int cbf16_amx_supported(void);

/// Whether cbf16_gemm_packed may use AMX (default 1); 0 keeps it on `vdpbf16ps` (for
/// benchmarks and tests that compare the two).
void cbf16_use_amx(int enabled);

/// 1 when cbf16_gemm_packed runs on AMX now: supported and not switched off.
int cbf16_amx_active(void);

/// Rows of C per unit of work when splitting cbf16_gemm_packed between threads: 16 (an AMX
/// tile's rows) when AMX is active, else CBF16_MR.
long cbf16_row_block(void);

/// C rows [row0, row1) (n columns, row stride ldc) = (beta ? C : 0) + packedA . packedB, float32
/// accumulation; beta must be 0 or 1. Without cbf16_supported() a slow scalar loop (the Swift
/// callers widen the operands for sgemm instead: cbf16_unpack_b).
void cbf16_gemm_packed(const uint16_t *a, const uint16_t *b, long k, long n,
                       long row0, long row1, float *c, long ldc, int beta);

// MARK: Attention's row passes (AttentionRows.c), for bf16 attention's score tiles

/// row[c] *= scale for c < cols, in place; returns the largest of them (-inf for none).
float cbf16_attention_scale_max(float *row, long cols, float scale);

/// row[c] = e^(row[c] * scale - shift) for c < cols, in place (scale 1 skips the product),
/// with DLLMCompute's Float.fastExp bit for bit; and, unless `packed` is NULL, those values
/// rounded to bf16 into packed[0, cols), zero-padded to an even length: one packed A row.
void cbf16_attention_exp(float *row, long cols, float scale, float shift, uint16_t *packed);

/// d[c] = p[c] * (d[c] - rowsum) * scale for c < cols (the score gradient dS = P * (dP - D),
/// scaled), in place; and, unless `packed` is NULL, rounded into a packed A row as above.
void cbf16_attention_score_gradient(const float *p, float *d, long cols, float rowsum, float scale, uint16_t *packed);

#ifdef __cplusplus
}
#endif
#endif
