// Quantized dot-product kernels for inference on ggml block formats (numeric code only).
//
// Block layouts (facts from ggml's ggml-common.h; 32 elements per block):
//   Q8_0: f16 d, int8 q[32]                     value = d·q
//   Q4_0: f16 d, u8 nibbles[16]                 value = d·(q − 8); low nibbles are elements 0..15, high 16..31
//   Q4_1: f16 d, f16 m, u8 nibbles[16]          value = d·q + m
//   Q8_1 (activations only, this package's own layout): f32 d, f32 s = d·Σq, int8 q[32]
//
// Weights of type Q4_0 and Q8_0 multiply activations quantised to Q8_0; Q4_1 multiplies Q8_1
// (its offset m needs the activation block's sum s).
#ifndef CQUANTKERNELS_H
#define CQUANTKERNELS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// ggml type ids of the supported formats.
enum {
    CQK_TYPE_F32 = 0,
    CQK_TYPE_F16 = 1,
    CQK_TYPE_Q4_0 = 2,
    CQK_TYPE_Q4_1 = 3,
    CQK_TYPE_Q8_0 = 8,
    CQK_TYPE_Q8_1 = 9,
};

/// Instruction-set paths of the dot kernels.
enum {
    CQK_ISA_SCALAR = 0,
    CQK_ISA_AVX2 = 1,         // AVX2 + FMA + F16C, 256-bit maddubs
    CQK_ISA_AVX512 = 2,       // AVX-512 F/BW/VL/DQ, two blocks per 512-bit register
    CQK_ISA_AVX512VNNI = 3,   // as AVX512 with vpdpbusd
};

#define CQK_BLOCK 32

/// The best path this CPU runs (checked with __builtin_cpu_supports).
int cqk_best_isa(void);
/// True when this CPU can run `isa`.
int cqk_isa_supported(int isa);
/// "scalar", "avx2", "avx512", "avx512vnni".
const char *cqk_isa_name(int isa);

/// Bytes of one block of `type` (0 for an unsupported type).
size_t cqk_block_bytes(int type);
/// The activation block type a weight type multiplies (Q8_1 for Q4_1, Q8_0 for Q4_0/Q8_0; −1 if none).
int cqk_activation_type(int weight_type);

/// Quantises `n` floats (a multiple of 32) into n/32 Q8_0 blocks at `y` (mirrors ggml `quantize_row_q8_0_ref`).
void cqk_quantize_row_q8_0(const float *x, void *y, int n);
/// Quantises `n` floats (a multiple of 32) into n/32 Q8_1 blocks at `y` (f32 scale and sum).
void cqk_quantize_row_q8_1(const float *x, void *y, int n);
/// Quantises `n` floats into Q4_0 blocks: d = (value of largest magnitude) / −8, q = clamp(round(x/d) + 8, 0, 15)
/// (the rule of ggml `quantize_row_q4_0_ref`). For tests and synthetic models.
void cqk_quantize_row_q4_0(const float *x, void *y, int n);
/// Quantises `n` floats into Q4_1 blocks: m = min, d = (max − min) / 15, q = clamp(round((x − m)/d), 0, 15)
/// (the rule of ggml `quantize_row_q4_1_ref`).
void cqk_quantize_row_q4_1(const float *x, void *y, int n);
/// Quantises `rows` rows of `n` floats (row stride `ldx` floats) into blocks of `type` (Q4_0, Q4_1, Q8_0, Q8_1), row after row.
void cqk_quantize_rows(int type, const float *x, size_t ldx, void *y, int rows, int n);

/// Dequantises `n` elements (a multiple of 32 for block types) of `type` at `src` into floats.
/// Returns 0, or −1 for an unsupported type.
int cqk_dequantize_row(int type, const void *src, float *dst, int n);

/// Σ over `nblocks` blocks of weight·activation, on path `isa`.
float cqk_dot_q4_0_q8_0(int isa, const void *w, const void *a, int nblocks);
float cqk_dot_q4_1_q8_1(int isa, const void *w, const void *a, int nblocks);
float cqk_dot_q8_0_q8_0(int isa, const void *w, const void *a, int nblocks);

/// out[n·ldo + r] = dot(W row r, activation row n) for r in [r0, r1), n in [0, N):
/// W is row-major blocks of `wtype` with `row_bytes` per row, `cols` (a multiple of 32) elements per row;
/// `acts` holds N rows of activation blocks (cqk_activation_type(wtype)) of `cols` elements each.
/// Returns 0, or −1 for an unsupported weight type or path.
int cqk_matmul_rows(int isa, int wtype, const void *w, size_t row_bytes, int r0, int r1, int cols,
                    const void *acts, int N, float *out, size_t ldo);

/// Online-softmax state of fp32 attention over key slots [j0, j1) for `rows` queries × `heads` query heads,
/// query head h reading key/value head h / (heads / kv_heads) (a flash-decoding partial; DecodeAttention.c).
/// Query vector v = i·heads + h is q[i·ldq + h·hd ..< +hd]; slot j's key and value of key/value head g are
/// keys/values[j·ldkv + g·hd ..< +hd]; row i sees slots j < end[i]. Writes mx[v] = max of scale·q·k
/// (−∞ when no slot is seen), l[v] = Σ exp(s − mx[v]) and acc[v·hd ..< +hd] = Σ exp(s − mx[v])·value.
/// `isa`: the AVX-512 path needs hd % 16 == 0, else the scalar loops run.
/// Returns 0, or −1 for bad sizes or a path this CPU lacks.
int cqk_attention_partial_f32(int isa, const float *q, size_t ldq, const float *keys, const float *values, size_t ldkv,
                              int rows, int heads, int kv_heads, int hd, const int *end, int j0, int j1, float scale,
                              float *mx, float *l, float *acc);

/// As cqk_attention_partial_f32 over a cache of IEEE half keys and values (llama.cpp's f16 KV cache):
/// each element widened to fp32 on load, then the same arithmetic in the same order.
int cqk_attention_partial_f16(int isa, const float *q, size_t ldq, const uint16_t *keys, const uint16_t *values, size_t ldkv,
                              int rows, int heads, int kv_heads, int hd, const int *end, int j0, int j1, float scale,
                              float *mx, float *l, float *acc);

/// IEEE half → float (portable).
float cqk_f16_to_f32(uint16_t h);
/// float → IEEE half, round to nearest even (portable).
uint16_t cqk_f32_to_f16(float f);
/// y[i] = cqk_f32_to_f16(x[i]) for i < n (vcvtps2ph where AVX-512 is present: the same rounding).
void cqk_f32_to_f16_row(const float *x, uint16_t *y, int n);

#ifdef __cplusplus
}
#endif

#endif
