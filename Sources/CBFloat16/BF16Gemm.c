// bfloat16 x bfloat16 -> float32 matrix product on AVX512_BF16 (`vdpbf16ps`, Intel SDM
// "VDPBF16PS: dot product of BF16 pairs accumulated into packed single precision").
//
// One `vdpbf16ps` multiplies 16 pairs of bf16 from A by 16 pairs from B and adds each pair's
// two products into a float32 lane. A is packed as bf16 rows with an even length, so one 32-bit
// broadcast carries (A[i][2t], A[i][2t+1]); B is packed in panels of NR = 64 columns where each
// 32-bit lane holds (B[2t][j], B[2t+1][j]). The micro-kernel keeps a 6 x 64 block of C in 24
// zmm registers (BLIS-style register blocking), looping over k in blocks that keep a B panel
// slice in L1.
#include "CBFloat16.h"
#include "amx.h"
#include "rounding.h"

#if defined(__x86_64__)
#include <cpuid.h>
#endif

// At most this many pairs of k per pass over a B panel, the pairs split evenly between the
// passes, and rows of A per pass over every panel. Each pass after the first reads and writes
// all of C again, so a short last pass (k = 576 in passes of 256 pairs: 256 + 256 + 32) costs a
// pass over C for a sliver of products; one pass of up to 1,024 pairs ran the step's shapes
// 15-30 % faster on a Zen 5 EPYC (docs/benchmarks.md, "bf16 kernel passes").
enum { KC_MAX_PAIRS = 1024, MC_ROWS = 48 };

// MARK: Rounding (round_one, round16: rounding.h)

#if defined(__x86_64__)
CBF16_AVX512 static void from_float_avx512(const float *src, uint16_t *dst, long count) {
    long i = 0;
    for (; i + 16 <= count; i += 16) {
        _mm256_storeu_si256((__m256i *)(dst + i), _mm512_cvtepi32_epi16(round16(_mm512_loadu_ps(src + i))));
    }
    for (; i < count; i++) dst[i] = round_one(src[i]);
}
#endif

static int vector_wanted = 1;   // cbf16_use_vector
static int packers_wanted = 1;  // cbf16_use_vector_packers

void cbf16_use_vector(int enabled) { __atomic_store_n(&vector_wanted, enabled != 0, __ATOMIC_RELEASE); }

int cbf16_supported(void) { return __atomic_load_n(&vector_wanted, __ATOMIC_ACQUIRE) && cbf16_vector_detected(); }

void cbf16_use_vector_packers(int enabled) { __atomic_store_n(&packers_wanted, enabled != 0, __ATOMIC_RELEASE); }

int cbf16_vector_packers(void) {
    return __atomic_load_n(&packers_wanted, __ATOMIC_ACQUIRE) && cbf16_avx512_detected();
}

int cbf16_avx512_detected(void) {
#if defined(__x86_64__)
    static int cached = -1;
    if (cached < 0) {
        cached = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw")
            && __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");
    }
    return cached;
#else
    return 0;
#endif
}

int cbf16_vector_detected(void) {
#if defined(__x86_64__)
    static int cached = -1;
    if (cached >= 0) return cached;
    unsigned eax, ebx, ecx, edx;
    int ok = cbf16_avx512_detected();
    // CPUID.(EAX=7, ECX=1):EAX bit 5 = AVX512_BF16 (the OS's zmm state is implied by avx512f above).
    if (ok && __get_cpuid_count(7, 1, &eax, &ebx, &ecx, &edx)) ok = (eax >> 5) & 1u;
    else ok = 0;
    cached = ok;
    return ok;
#else
    return 0;
#endif
}

void cbf16_from_float(const float *src, uint16_t *dst, long count) {
#if defined(__x86_64__)
    if (cbf16_vector_packers()) { from_float_avx512(src, dst, count); return; }
#endif
    for (long i = 0; i < count; i++) dst[i] = round_one(src[i]);
}

#if defined(__x86_64__)
CBF16_AVX512 static void to_float_avx512(const uint16_t *src, float *dst, long count) {
    long i = 0;
    for (; i + 16 <= count; i += 16) {
        __m512i wide = _mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)(const void *)(src + i)));
        _mm512_storeu_si512((void *)(dst + i), _mm512_slli_epi32(wide, 16));
    }
    for (; i < count; i++) {
        uint32_t bits = (uint32_t)src[i] << 16;
        memcpy(dst + i, &bits, 4);
    }
}

/// One packed row of a panel (NR pair words: rows 2t and 2t + 1 of the panel's columns, lanes
/// interleaved) widened into those two rows of a row-major float32 matrix, `cols` columns each;
/// `second` is 0 when row 2t + 1 is past k.
CBF16_AVX512 static void unpack_pair_avx512(const uint16_t *words, int cols, int second, float *row0, float *row1) {
    for (int c0 = 0; c0 < cols; c0 += 16) {
        int valid = cols - c0 < 16 ? cols - c0 : 16;
        __mmask16 mask = (__mmask16)((1u << valid) - 1u);
        __m512i pairs = _mm512_maskz_loadu_epi32(mask, words + 2 * c0);
        _mm512_mask_storeu_epi32(row0 + c0, mask, _mm512_slli_epi32(pairs, 16));
        if (second) _mm512_mask_storeu_epi32(row1 + c0, mask, _mm512_and_si512(pairs, _mm512_set1_epi32((int)0xffff0000u)));
    }
}
#endif

void cbf16_to_float(const uint16_t *src, float *dst, long count) {
#if defined(__x86_64__)
    if (cbf16_vector_packers()) { to_float_avx512(src, dst, count); return; }
#endif
    for (long i = 0; i < count; i++) {
        uint32_t bits = (uint32_t)src[i] << 16;
        memcpy(dst + i, &bits, 4);
    }
}

// MARK: Packing

long cbf16_packed_a_stride(long k) {
    long kp = (k + 1) & ~1L;
    // A stride of a multiple of 4 KiB would put the 16 rows of an AMX tile (or of a vdpbf16ps
    // block's broadcasts) in one L1 set, beyond its 12 ways; one more cache line spreads them.
    return kp % 2048 == 0 ? kp + 32 : kp;
}

long cbf16_packed_b_count(long k, long n) {
    long pairs = (k + 1) / 2, panels = (n + CBF16_NR - 1) / CBF16_NR;
    return panels * pairs * 2 * CBF16_NR;
}

#if defined(__x86_64__)
/// Transposes a 16 x 16 matrix of 32-bit words held as 16 rows (unpacks within 128-bit lanes,
/// then two rounds of lane shuffles; the usual AVX-512 in-register transpose).
CBF16_AVX512 static inline void transpose16x16_epi32(__m512i r[16]) {
    __m512i t[16], u[16];
    for (int i = 0; i < 16; i += 2) {
        t[i] = _mm512_unpacklo_epi32(r[i], r[i + 1]);
        t[i + 1] = _mm512_unpackhi_epi32(r[i], r[i + 1]);
    }
    // u[4g + c], lane l: column 4l + c of rows 4g .. 4g + 3.
    for (int i = 0; i < 16; i += 4) {
        u[i] = _mm512_unpacklo_epi64(t[i], t[i + 2]);
        u[i + 1] = _mm512_unpackhi_epi64(t[i], t[i + 2]);
        u[i + 2] = _mm512_unpacklo_epi64(t[i + 1], t[i + 3]);
        u[i + 3] = _mm512_unpackhi_epi64(t[i + 1], t[i + 3]);
    }
    // Column 4l + c = lane l of u[c], u[4 + c], u[8 + c], u[12 + c].
    for (int c = 0; c < 4; c++) {
        __m512i x0 = _mm512_shuffle_i32x4(u[c], u[4 + c], 0x44), x1 = _mm512_shuffle_i32x4(u[c], u[4 + c], 0xEE);
        __m512i y0 = _mm512_shuffle_i32x4(u[8 + c], u[12 + c], 0x44), y1 = _mm512_shuffle_i32x4(u[8 + c], u[12 + c], 0xEE);
        r[c] = _mm512_shuffle_i32x4(x0, y0, 0x88);
        r[4 + c] = _mm512_shuffle_i32x4(x0, y0, 0xDD);
        r[8 + c] = _mm512_shuffle_i32x4(x1, y1, 0x88);
        r[12 + c] = _mm512_shuffle_i32x4(x1, y1, 0xDD);
    }
}

/// 16 values of a float32 source (rounded) or a bfloat16 source (as they are) from `index` on,
/// lanes past `mask` zero, each in the low half of its 32-bit lane.
CBF16_AVX512 static inline __m512i load16(const void *src, int bf16, long index, __mmask16 mask) {
    if (bf16) return _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(mask, (const uint16_t *)src + index));
    return round16(_mm512_maskz_loadu_ps(mask, (const float *)src + index));
}

/// Rows [row0, row1) of op(A) when op(A) is a transposed row-major matrix (rs == 1: element
/// (i, p) at a[i + p*cs]), float32 (rounded) or, with `bf16`, bfloat16 (as it is). Reading down
/// a column would touch one cache line per element, so the rows go 16 at a time: 16 contiguous
/// rows' values of one p round in one vector. Blocks of
/// 32 p values pair up (p, p + 1) into 32-bit words, one vector per pair, and a 16 x 16 word
/// transpose gives each row its 32 values in one store; a leftover block of 16 p values
/// transposes through the stack, and the last p values go one by one. (Measured on
/// 1536 x 4096 and 32000 x 4096, the LM head's weight gradient: docs/mixed-precision.md.)
CBF16_AVX512 static void pack_a_transposed(const void *a, int bf16, long cs, long k, long ka, long row0, long row1, uint16_t *dst) {
    uint16_t block[16][16];
    // Rows in spans of 256 (1 KiB of each stored row), each span swept over p, so every page of A
    // that a sweep visits gives up 1 KiB, not one 64-byte line per 16 rows.
    for (long span0 = row0; span0 < row1; span0 += 256) {
        long span1 = row1 - span0 < 256 ? row1 : span0 + 256;
        long whole = k / 32 * 32;  // p values in blocks of 32
        for (long p0 = 0; p0 < whole; p0 += 32) {
            for (long i0 = span0; i0 < span1; i0 += 16) {
                int rows = (int)(span1 - i0 < 16 ? span1 - i0 : 16);
                __mmask16 mask = (__mmask16)((1u << rows) - 1u);
                __m512i words[16];
                for (int c = 0; c < 16; c++) {
                    __m512i lo = load16(a, bf16, (p0 + 2 * c) * cs + i0, mask);
                    __m512i hi = load16(a, bf16, (p0 + 2 * c + 1) * cs + i0, mask);
                    words[c] = _mm512_or_si512(lo, _mm512_slli_epi32(hi, 16));
                }
                transpose16x16_epi32(words);
                for (int r = 0; r < rows; r++) _mm512_storeu_si512((void *)(dst + (i0 + r) * ka + p0), words[r]);
            }
        }
        for (long i0 = span0; i0 < span1; i0 += 16) {
            int rows = (int)(span1 - i0 < 16 ? span1 - i0 : 16);
            __mmask16 mask = (__mmask16)((1u << rows) - 1u);
            long p0 = whole;
            for (; p0 + 16 <= k; p0 += 16) {
                for (int c = 0; c < 16; c++) {
                    __m512i words = load16(a, bf16, (p0 + c) * cs + i0, mask);
                    _mm256_storeu_si256((__m256i *)(void *)block[c], _mm512_cvtepi32_epi16(words));
                }
                for (int r = 0; r < rows; r++) {
                    uint16_t *out = dst + (i0 + r) * ka + p0;
                    for (int c = 0; c < 16; c++) out[c] = block[c][r];
                }
            }
            for (int r = 0; r < rows; r++) {
                uint16_t *out = dst + (i0 + r) * ka;
                for (long p = p0; p < k; p++) out[p] = bf16 ? ((const uint16_t *)a)[p * cs + i0 + r] : round_one(((const float *)a)[p * cs + i0 + r]);
                if (k % 2) out[k] = 0;
            }
        }
    }
}
#endif

/// Rows [row0, row1) of op(A) (element (i, p) at a[i*rs + p*cs]) as packed rows, from a float32
/// source (rounded) or, with `bf16`, a bfloat16 one (as it is): what both public packers share.
static void pack_a(const void *a, int bf16, long rs, long cs, long k, long row0, long row1, uint16_t *dst) {
    long ka = cbf16_packed_a_stride(k);
#if defined(__x86_64__)
    if (rs == 1 && cs != 1 && cbf16_vector_packers()) { pack_a_transposed(a, bf16, cs, k, ka, row0, row1, dst); return; }
#endif
    for (long i = row0; i < row1; i++) {
        uint16_t *out = dst + i * ka;
        if (bf16) {
            const uint16_t *row = (const uint16_t *)a + i * rs;
            for (long p = 0; p < k; p++) out[p] = row[p * cs];
        } else {
            const float *row = (const float *)a + i * rs;
            if (cs == 1) {
                cbf16_from_float(row, out, k);
            } else {
                for (long p = 0; p < k; p++) out[p] = round_one(row[p * cs]);
            }
        }
        if (k % 2) out[k] = 0;
    }
}

void cbf16_pack_a(const float *a, long rs, long cs, long k, long row0, long row1, uint16_t *dst) {
    pack_a(a, 0, rs, cs, k, row0, row1, dst);
}

void cbf16_pack_a_bf16(const uint16_t *a, long rs, long cs, long k, long row0, long row1, uint16_t *dst) {
    pack_a(a, 1, rs, cs, k, row0, row1, dst);
}

/// Pair t of column j as one 32-bit word: bf16(B[2t][j]) | bf16(B[2t+1][j]) << 16.
static inline uint32_t pair_word(const float *b, long rs, long cs, long k, long t, long j) {
    uint32_t lo = round_one(b[2 * t * rs + j * cs]);
    uint32_t hi = 2 * t + 1 < k ? round_one(b[(2 * t + 1) * rs + j * cs]) : 0;
    return lo | (hi << 16);
}

#if defined(__x86_64__)
/// One panel when op(B)'s rows are contiguous (cs == 1), from float32 (rounded) or bfloat16 rows
/// (`bf16`): rows 2t and 2t+1 interleave lane by lane. Inlined into one function per source type.
CBF16_AVX512 __attribute__((always_inline)) static inline void pack_b_panel_rows(
    const void *b, int bf16, long rs, long k, long n, long q, uint32_t *out) {
    long pairs = (k + 1) / 2, j0 = q * CBF16_NR;
    for (long t = 0; t < pairs; t++) {
        int hasSecond = 2 * t + 1 < k;
        for (int v = 0; v < CBF16_NR / 16; v++) {
            long j = j0 + v * 16;
            long valid = n - j < 0 ? 0 : (n - j > 16 ? 16 : n - j);
            __mmask16 mask = (__mmask16)((1u << valid) - 1u);  // lanes past n load as zero
            __m512i lo = load16(b, bf16, 2 * t * rs + j, mask);
            __m512i hi = hasSecond ? load16(b, bf16, (2 * t + 1) * rs + j, mask) : _mm512_setzero_si512();
            _mm512_storeu_si512((void *)(out + t * CBF16_NR + v * 16), _mm512_or_si512(lo, _mm512_slli_epi32(hi, 16)));
        }
    }
}

CBF16_AVX512 static void pack_b_panel_rows_float(const float *b, long rs, long k, long n, long q, uint32_t *out) {
    pack_b_panel_rows(b, 0, rs, k, n, q, out);
}

CBF16_AVX512 static void pack_b_panel_rows_bf16(const uint16_t *b, long ld, long k, long n, long q, uint32_t *out) {
    pack_b_panel_rows(b, 1, ld, k, n, q, out);
}

/// One panel when op(B)'s columns are contiguous (rs == 1, a (n, k) row-major matrix read transposed,
/// such as a linear layer's weight): sixteen columns at a time, each column's 32 values of a block
/// of p round into 16 pair words (one vector per column), and a 16 x 16 word transpose turns them
/// into one vector per pair, stored whole (writing each word NR words apart cost more than the
/// rounding). The last p values, past the blocks of 32, go one pair at a time.
CBF16_AVX512 static void pack_b_panel_columns(const float *b, long cs, long k, long n, long q, uint32_t *out) {
    long pairs = (k + 1) / 2, j0 = q * CBF16_NR, whole = k / 32 * 32;
    // 32 bf16 in order (the low halves of lo's then hi's lanes), i.e. 16 pair words.
    const __m512i order = _mm512_set_epi16(
        62, 60, 58, 56, 54, 52, 50, 48, 46, 44, 42, 40, 38, 36, 34, 32,
        30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
    for (long c0 = 0; c0 < CBF16_NR; c0 += 16) {
        long left = n - j0 - c0;
        int cols = (int)(left < 0 ? 0 : (left > 16 ? 16 : left));
        for (long p0 = 0; p0 < whole; p0 += 32) {
            __m512i words[16];
            for (int r = 0; r < 16; r++) {
                if (r >= cols) { words[r] = _mm512_setzero_si512(); continue; }
                const float *col = b + (j0 + c0 + r) * cs + p0;
                __m512i lo = round16(_mm512_loadu_ps(col)), hi = round16(_mm512_loadu_ps(col + 16));
                words[r] = _mm512_permutex2var_epi16(lo, order, hi);
            }
            transpose16x16_epi32(words);
            for (int w = 0; w < 16; w++) _mm512_storeu_si512((void *)(out + (p0 / 2 + w) * CBF16_NR + c0), words[w]);
        }
        for (long t = whole / 2; t < pairs; t++) {
            for (int r = 0; r < 16; r++) out[t * CBF16_NR + c0 + r] = r < cols ? pair_word(b, 1, cs, k, t, j0 + c0 + r) : 0;
        }
    }
}
#endif

void cbf16_pack_b(const float *b, long rs, long cs, long k, long n, long panel0, long panel1, uint16_t *dst) {
    long pairs = (k + 1) / 2;
    for (long q = panel0; q < panel1; q++) {
        uint32_t *out = (uint32_t *)(void *)(dst + q * pairs * 2 * CBF16_NR);
#if defined(__x86_64__)
        if (cbf16_vector_packers() && cs == 1) { pack_b_panel_rows_float(b, rs, k, n, q, out); continue; }
        if (cbf16_vector_packers() && rs == 1) { pack_b_panel_columns(b, cs, k, n, q, out); continue; }
#endif
        for (long t = 0; t < pairs; t++) {
            for (long c = 0; c < CBF16_NR; c++) {
                long j = q * CBF16_NR + c;
                out[t * CBF16_NR + c] = j < n ? pair_word(b, rs, cs, k, t, j) : 0;
            }
        }
    }
}

void cbf16_pack_b_bf16(const uint16_t *b, long ld, long k, long n, long panel0, long panel1, uint16_t *dst) {
    long pairs = (k + 1) / 2;
    for (long q = panel0; q < panel1; q++) {
        uint32_t *out = (uint32_t *)(void *)(dst + q * pairs * 2 * CBF16_NR);
#if defined(__x86_64__)
        if (cbf16_vector_packers()) { pack_b_panel_rows_bf16(b, ld, k, n, q, out); continue; }
#endif
        for (long t = 0; t < pairs; t++) {
            for (long c = 0; c < CBF16_NR; c++) {
                long j = q * CBF16_NR + c;
                uint32_t lo = j < n ? b[2 * t * ld + j] : 0;
                uint32_t hi = j < n && 2 * t + 1 < k ? b[(2 * t + 1) * ld + j] : 0;
                out[t * CBF16_NR + c] = lo | (hi << 16);
            }
        }
    }
}

void cbf16_unpack_b(const uint16_t *packed, long k, long n, long panel0, long panel1, float *dst) {
    // Panel by panel, pair by pair: each packed row of 2 x NR values holds rows 2t and 2t + 1 of
    // the panel's columns interleaved, so the loops below read and write contiguously and no
    // element needs a division to find its place.
    long pairs = (k + 1) / 2;
    int vector = cbf16_vector_packers();
    for (long q = panel0; q < panel1; q++) {
        long j0 = q * CBF16_NR, cols = n - j0 < CBF16_NR ? n - j0 : CBF16_NR;
        for (long t = 0; t < pairs; t++) {
            const uint16_t *words = packed + (q * pairs + t) * 2 * CBF16_NR;
#if defined(__x86_64__)
            if (vector) {
                int second = 2 * t + 1 < k;
                unpack_pair_avx512(words, (int)cols, second, dst + 2 * t * n + j0, second ? dst + (2 * t + 1) * n + j0 : NULL);
                continue;
            }
#else
            (void)vector;
#endif
            for (long h = 0; h < 2 && 2 * t + h < k; h++) {
                float *out = dst + (2 * t + h) * n + j0;
                for (long c = 0; c < cols; c++) {
                    uint32_t bits = (uint32_t)words[2 * c + h] << 16;
                    memcpy(out + c, &bits, 4);
                }
            }
        }
    }
}

// MARK: Product

#if defined(__x86_64__)
/// C (rows x cols, at most 6 x 64) (+)= A rows (ka apart) . B panel slice, `pairs` pairs.
/// `rows` is a constant at every call, so the loops unroll into straight register code.
CBF16_TARGET __attribute__((always_inline)) static inline void micro_kernel(
    const uint16_t *a, long ka, const uint16_t *b, long pairs, float *c, long ldc, int rows, int cols, int accumulate) {
    __m512 acc[CBF16_MR][4];
    for (int r = 0; r < CBF16_MR; r++)
        for (int v = 0; v < 4; v++) acc[r][v] = _mm512_setzero_ps();
    for (long t = 0; t < pairs; t++) {
        const uint16_t *bt = b + t * 2 * CBF16_NR;
        __m512bh b0 = (__m512bh)_mm512_loadu_si512((const void *)bt);
        __m512bh b1 = (__m512bh)_mm512_loadu_si512((const void *)(bt + 32));
        __m512bh b2 = (__m512bh)_mm512_loadu_si512((const void *)(bt + 64));
        __m512bh b3 = (__m512bh)_mm512_loadu_si512((const void *)(bt + 96));
        for (int r = 0; r < rows; r++) {
            int32_t pair;
            memcpy(&pair, a + r * ka + 2 * t, 4);
            __m512bh ar = (__m512bh)_mm512_set1_epi32(pair);
            acc[r][0] = _mm512_dpbf16_ps(acc[r][0], ar, b0);
            acc[r][1] = _mm512_dpbf16_ps(acc[r][1], ar, b1);
            acc[r][2] = _mm512_dpbf16_ps(acc[r][2], ar, b2);
            acc[r][3] = _mm512_dpbf16_ps(acc[r][3], ar, b3);
        }
    }
    for (int v = 0; v < 4; v++) {
        int valid = cols - v * 16;
        if (valid <= 0) break;
        __mmask16 mask = valid >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << valid) - 1u);
        for (int r = 0; r < rows; r++) {
            float *out = c + r * ldc + v * 16;
            __m512 sum = accumulate ? _mm512_add_ps(_mm512_maskz_loadu_ps(mask, out), acc[r][v]) : acc[r][v];
            _mm512_mask_storeu_ps(out, mask, sum);
        }
    }
}

/// Pairs [pair0, pairs) of the product for C rows [row0, row1); pair0 > 0 adds to what an
/// earlier pass (AMX's) left in C.
CBF16_TARGET static void gemm_packed_avx512(const uint16_t *a, const uint16_t *b, long k, long n,
                                            long row0, long row1, float *c, long ldc, int beta, long pair0) {
    long kp = (k + 1) & ~1L, pairs = kp / 2, panels = (n + CBF16_NR - 1) / CBF16_NR, ka = cbf16_packed_a_stride(k);
    if (pairs == 0) {
        if (!beta) for (long i = row0; i < row1; i++) memset(c + i * ldc, 0, (size_t)n * sizeof(float));
        return;
    }
    if (pair0 >= pairs) return;
    long passes = (pairs - pair0 + KC_MAX_PAIRS - 1) / KC_MAX_PAIRS;
    long per_pass = (pairs - pair0 + passes - 1) / passes;
    for (long t0 = pair0; t0 < pairs; t0 += per_pass) {
        long tc = pairs - t0 < per_pass ? pairs - t0 : per_pass;
        int accumulate = beta || t0 > 0;
        for (long m0 = row0; m0 < row1; m0 += MC_ROWS) {
            long m1 = row1 - m0 < MC_ROWS ? row1 : m0 + MC_ROWS;
            for (long q = 0; q < panels; q++) {
                const uint16_t *bq = b + (q * pairs + t0) * 2 * CBF16_NR;
                int cols = (int)(n - q * CBF16_NR < CBF16_NR ? n - q * CBF16_NR : CBF16_NR);
                for (long i = m0; i < m1; i += CBF16_MR) {
                    const uint16_t *ai = a + i * ka + 2 * t0;
                    float *ci = c + i * ldc + q * CBF16_NR;
                    switch (m1 - i < CBF16_MR ? m1 - i : CBF16_MR) {
                    case 6: micro_kernel(ai, ka, bq, tc, ci, ldc, 6, cols, accumulate); break;
                    case 5: micro_kernel(ai, ka, bq, tc, ci, ldc, 5, cols, accumulate); break;
                    case 4: micro_kernel(ai, ka, bq, tc, ci, ldc, 4, cols, accumulate); break;
                    case 3: micro_kernel(ai, ka, bq, tc, ci, ldc, 3, cols, accumulate); break;
                    case 2: micro_kernel(ai, ka, bq, tc, ci, ldc, 2, cols, accumulate); break;
                    default: micro_kernel(ai, ka, bq, tc, ci, ldc, 1, cols, accumulate); break;
                    }
                }
            }
        }
    }
}
#endif

long cbf16_row_block(void) { return cbf16_amx_active() ? 16 : CBF16_MR; }

void cbf16_gemm_packed(const uint16_t *a, const uint16_t *b, long k, long n,
                       long row0, long row1, float *c, long ldc, int beta) {
#if defined(__x86_64__)
    if (cbf16_amx_active()) {
        // Whole tiles on AMX: rows in sixteens, k in sixteens of pairs; the remaining pairs of
        // those rows, and the remaining rows, on vdpbf16ps.
        long pairs = ((k + 1) & ~1L) / 2;
        long amx_rows = (row1 - row0) / 16 * 16, amx_pairs = pairs / 16 * 16;
        if (amx_rows > 0 && amx_pairs > 0) {
            cbf16_amx_gemm(a, cbf16_packed_a_stride(k), b, pairs, amx_pairs, n, row0, row0 + amx_rows, c, ldc, beta);
            if (amx_pairs < pairs) gemm_packed_avx512(a, b, k, n, row0, row0 + amx_rows, c, ldc, 1, amx_pairs);
            row0 += amx_rows;
        }
    }
    if (cbf16_supported()) { if (row0 < row1) gemm_packed_avx512(a, b, k, n, row0, row1, c, ldc, beta, 0); return; }
#endif
    // Portable path (the caller only takes it in tests): the same sums, pair by pair, in float.
    long kp = (k + 1) & ~1L, pairs = kp / 2, ka = cbf16_packed_a_stride(k);
    for (long i = row0; i < row1; i++) {
        for (long j = 0; j < n; j++) {
            long q = j / CBF16_NR, col = j % CBF16_NR;
            float sum = 0;
            for (long t = 0; t < pairs; t++) {
                const uint16_t *bp = b + (q * pairs + t) * 2 * CBF16_NR + 2 * col;
                float a0, a1, b0, b1;
                cbf16_to_float(a + i * ka + 2 * t, &a0, 1); cbf16_to_float(a + i * ka + 2 * t + 1, &a1, 1);
                cbf16_to_float(bp, &b0, 1); cbf16_to_float(bp + 1, &b1, 1);
                sum += a0 * b0 + a1 * b1;
            }
            c[i * ldc + j] = (beta ? c[i * ldc + j] : 0) + sum;
        }
    }
}
