// Block structs of the ggml formats (layouts from ggml-common.h) and the per-path kernels.
#ifndef CQK_BLOCKS_H
#define CQK_BLOCKS_H

#include <stdint.h>
#include <stddef.h>

typedef struct { uint16_t d; int8_t qs[32]; } cqk_block_q8_0;               // 34 bytes
typedef struct { uint16_t d; uint8_t qs[16]; } cqk_block_q4_0;              // 18 bytes
typedef struct { uint16_t d; uint16_t m; uint8_t qs[16]; } cqk_block_q4_1;  // 20 bytes
typedef struct { float d; float s; int8_t qs[32]; } cqk_block_q8_1;         // 40 bytes

_Static_assert(sizeof(cqk_block_q8_0) == 34, "Q8_0 block is 34 bytes");
_Static_assert(sizeof(cqk_block_q4_0) == 18, "Q4_0 block is 18 bytes");
_Static_assert(sizeof(cqk_block_q4_1) == 20, "Q4_1 block is 20 bytes");
_Static_assert(sizeof(cqk_block_q8_1) == 40, "Q8_1 block is 40 bytes");

typedef float (*cqk_dot_fn)(const void *w, const void *a, int nblocks);

float cqk_scalar_dot_q4_0_q8_0(const void *w, const void *a, int nb);
float cqk_scalar_dot_q4_1_q8_1(const void *w, const void *a, int nb);
float cqk_scalar_dot_q8_0_q8_0(const void *w, const void *a, int nb);

float cqk_avx2_dot_q4_0_q8_0(const void *w, const void *a, int nb);
float cqk_avx2_dot_q4_1_q8_1(const void *w, const void *a, int nb);
float cqk_avx2_dot_q8_0_q8_0(const void *w, const void *a, int nb);

float cqk_avx512_dot_q4_0_q8_0(const void *w, const void *a, int nb);
float cqk_avx512_dot_q4_1_q8_1(const void *w, const void *a, int nb);
float cqk_avx512_dot_q8_0_q8_0(const void *w, const void *a, int nb);

float cqk_vnni_dot_q4_0_q8_0(const void *w, const void *a, int nb);
float cqk_vnni_dot_q4_1_q8_1(const void *w, const void *a, int nb);
float cqk_vnni_dot_q8_0_q8_0(const void *w, const void *a, int nb);

/// Four rows (`row_bytes` apart from `w`) against one activation row, into out[0..3]; AVX-512 paths only.
typedef void (*cqk_rows4_fn)(const char *w, size_t row_bytes, const void *a, int nb, float *out);
void cqk_avx512_rows4_q4_0_q8_0(const char *w, size_t row_bytes, const void *a, int nb, float *out);
void cqk_avx512_rows4_q4_1_q8_1(const char *w, size_t row_bytes, const void *a, int nb, float *out);
void cqk_avx512_rows4_q8_0_q8_0(const char *w, size_t row_bytes, const void *a, int nb, float *out);
void cqk_vnni_rows4_q4_0_q8_0(const char *w, size_t row_bytes, const void *a, int nb, float *out);
void cqk_vnni_rows4_q4_1_q8_1(const char *w, size_t row_bytes, const void *a, int nb, float *out);
void cqk_vnni_rows4_q8_0_q8_0(const char *w, size_t row_bytes, const void *a, int nb, float *out);

#endif
