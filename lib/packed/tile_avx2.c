/* AVX2 micro-kernel over the matrix layout (matrix.c), three ways:
 *
 * maddubs: vpmaddubsw multiplies u8 by s8 and adds pairs into int16 with
 * saturation. The unsigned operand is the activations shifted by amax
 * (a + amax in [0, 2 amax]), the signed one the weight codes q = u - offset,
 * so the weights can come straight from memory (the only operand a
 * vpmaddubsw may load), and per k-quad a lane gains at most 4 amax qmax:
 * the int16 sums stay exact for nblk = 32767 / (4 amax qmax) quads
 * (ternary: 63 at A8, 255 at A6) and are widened into the int32
 * accumulators (vpmaddwd by 1) before that — the int16 accumulation that
 * halves the work of ternary and low-bit codes. Used when nblk >= 4.
 * A call takes up to 128 tokens; the panels' codes are decoded to q once
 * per call, KC inputs at a time, and the shift is taken off at the end as
 * amax * qsum[row] (matrix.c).
 *
 * spans: codes of 5 to 8 bits against wide activations (nblk < 4) take
 * the same form over spans the codes themselves allow (m->spans, made by
 * matrix.c): a lane's int16 sum stays exact while its codes of one sign
 * sum to at most 128 (times activations shifted into [0, 255]): about 12
 * quads for 8-bit codes at LSQ's initial step, so a widening every span
 * instead of a vpmaddwd per product. A pair sum (a + amax) q0 + (a' + amax) q1 is
 * exact in int16 only when q0 + q1 of one sign stays within [-128, 128];
 * matrix.c cuts the few pairs beyond that (m->fix) and this file adds the
 * cut back, so every result is exact.
 *
 * madd: a matrix with too many such pairs (m->fix NULL): both operands
 * are widened to int16 and vpmaddwd sums pairs into int32, exact for every
 * code: activations once per tile and chunk of inputs, weights once per
 * quad and pass of 6 tokens over half a panel; it subtracts offset * sum(a)
 * at the end (u = q + offset). */
#include <string.h>

#include "packed/packed_internal.h"

#if defined(QAT_PACKED_X86)
#include <immintrin.h>

#define AVX2 __attribute__((target("avx2")))

/* Inputs decoded at a time: 2 panels x 16 rows x KC codes = 8 KiB of L1,
 * read by every group of tokens of the call. */
#define KC (4 * QAT_PACKED_SPAN_QUADS)
/* Tokens of a group: shifted into one buffer a chunk at a time, and
 * handed to the tile's finish together. */
#define NT_MAX 4
/* Tokens of one pass over the panel pair: 8 int16 sums (2 tokens x 4
 * row groups of 8) and the broadcast stay in registers, the codes are
 * memory operands. Each broadcast feeds 4 multiplies: with 16 rows x 4
 * tokens a pass (2 multiplies a broadcast) the loop ran 1.43 vpmaddubsw a
 * cycle on Zen 3, with 32 x 2 1.52-1.57, near the int16 form's 1.63
 * (bench/maddubs_ceiling.c, panel16 and pair32). */
#define NT_PASS 2

AVX2 static QAT_PACKED_INLINE __m256i broadcast4(const uint8_t *p)
{
    int32_t v;
    memcpy(&v, p, 4);
    return _mm256_set1_epi32(v);
}

/* acc[j][h] (int32, 8 rows each) += the int16 sums (= when fresh: acc
 * not yet written, so no memset), which restart at 0. */
AVX2 static QAT_PACKED_INLINE void widen(__m256i acc16[][4], int32_t *acc, int fresh)
{
    const __m256i ones = _mm256_set1_epi16(1);
    for (int j = 0; j < NT_PASS; j++)
        for (int h = 0; h < 4; h++) {
            int32_t *dst = acc + j * QAT_PACKED_TILE_ROWS + 8 * h;
            __m256i v = _mm256_madd_epi16(acc16[j][h], ones);
            if (!fresh)
                v = _mm256_add_epi32(v, _mm256_loadu_si256((const __m256i *)dst));
            _mm256_storeu_si256((__m256i *)dst, v);
            acc16[j][h] = _mm256_setzero_si256();
        }
}

/* The panel pair (32 rows as four 8-row groups: panel p's at q + p *
 * pstride) x NT_PASS tokens over `quads` (<= 64) quads of signed codes (64
 * bytes a quad a panel) and the tokens' shifted codes at a (rows of KC
 * bytes): acc (int32, the tile's first row of the first token) += the
 * products (= when fresh: the first chunk), the int16 sums widened at the
 * end of each span (a span starts at quad 0 and at each bit set in starts). */
AVX2 static void pair_maddubs(const int8_t *q, int64_t pstride, const uint8_t *a, int64_t quads, int32_t *acc,
                              uint64_t starts, int fresh)
{
    __m256i s[NT_PASS][4];
    for (int j = 0; j < NT_PASS; j++)
        s[j][0] = s[j][1] = s[j][2] = s[j][3] = _mm256_setzero_si256();
    for (int64_t k0 = 0; k0 < quads;) {
        const uint64_t later = k0 + 1 < 64 ? starts >> (k0 + 1) << (k0 + 1) : 0;
        const int64_t k1 = later && __builtin_ctzll(later) < quads ? __builtin_ctzll(later) : quads;
        for (int64_t k = k0; k < k1; k++) {
            const __m256i *w0 = (const __m256i *)(q + k * 64), *w1 = (const __m256i *)(q + pstride + k * 64);
            for (int j = 0; j < NT_PASS; j++) {
                const __m256i b = broadcast4(a + j * KC + 4 * k);
                s[j][0] = _mm256_add_epi16(s[j][0], _mm256_maddubs_epi16(b, _mm256_load_si256(w0)));
                s[j][1] = _mm256_add_epi16(s[j][1], _mm256_maddubs_epi16(b, _mm256_load_si256(w0 + 1)));
                s[j][2] = _mm256_add_epi16(s[j][2], _mm256_maddubs_epi16(b, _mm256_load_si256(w1)));
                s[j][3] = _mm256_add_epi16(s[j][3], _mm256_maddubs_epi16(b, _mm256_load_si256(w1 + 1)));
            }
            /* Keeps the sums in registers, one add per quad: without it
             * GCC reassociates the adds of several quads into a tree and
             * spills the products. */
            __asm__("" : "+x"(s[0][0]), "+x"(s[0][1]), "+x"(s[0][2]), "+x"(s[0][3]), "+x"(s[1][0]), "+x"(s[1][1]),
                    "+x"(s[1][2]), "+x"(s[1][3]));
        }
        widen(s, acc, fresh);
        fresh = 0;
        k0 = k1;
    }
}

/* Spans of every nblk quads. */
static uint64_t every(int nblk)
{
    uint64_t s = 0;
    for (int b = 0; b < 64; b += nblk)
        s |= 1ull << b;
    return s;
}

/* The pair fixes of panel `panel` with inputs in [k0, k0 + kn): [*lo, *hi). */
static QAT_PACKED_INLINE void fixes_in(const qat_packed_matrix *m, int64_t panel, int64_t k0, int64_t kn, int64_t *lo,
                                       int64_t *hi)
{
    int64_t i = m->fix_start[panel], e = m->fix_start[panel + 1];
    while (i < e && m->fix[i].col < k0)
        i++;
    *lo = i;
    while (i < e && m->fix[i].col < k0 + kn)
        i++;
    *hi = i;
}

/* Quads [q0, q0 + n) of panel bytes `src` (CB-bit codes u, 8 / CB quads to
 * a 64-byte chunk, q0 a multiple of that) as signed codes u - offset, 64
 * bytes a quad, at dst. */
AVX2 static QAT_PACKED_INLINE void decode(const uint8_t *src, int64_t q0, int64_t n, int offset, int8_t *dst,
                                          const int CB)
{
    const int per_chunk = 8 / CB;
    const __m256i mask = _mm256_set1_epi8((char)((1 << CB) - 1)), off = _mm256_set1_epi8((char)offset);
    const uint8_t *chunk = src + q0 / per_chunk * 64;
    for (int64_t q = 0; q < n; q += per_chunk, chunk += 64)
        for (int h = 0; h < 2; h++) {
            const __m256i v = _mm256_load_si256((const __m256i *)(chunk + 32 * h));
            for (int s = 0; s < per_chunk; s++) {
                __m256i u = v;
                if (CB < 8)
                    u = _mm256_and_si256(_mm256_srli_epi16(v, s * CB), mask);
                _mm256_store_si256((__m256i *)(dst + (q + s) * 64 + 32 * h), _mm256_sub_epi8(u, off));
            }
        }
}

/* The tile: per KC inputs, both panels decoded into q, then each group of
 * tokens shifted into a and run over them. Spans every nblk quads
 * (starts), or, FIXED, the matrix's own spans with its pair cuts taken
 * from the codes and added back. */
AVX2 static QAT_PACKED_INLINE void maddubs_tile(const qat_packed_tile *t, uint64_t starts, const int CB,
                                                const int FIXED)
{
    const qat_packed_matrix *m = t->m;
    _Alignas(32) int8_t q[2 * KC * QAT_PACKED_PANEL];
    _Alignas(32) uint8_t a[NT_MAX * KC];
    const __m256i shift = _mm256_set1_epi8((char)t->amax);
    const size_t chunk_bytes = (size_t)KC * QAT_PACKED_PANEL * CB / 8;
    const int32_t *qsum = m->qsum + t->panel * QAT_PACKED_PANEL;
    const __m256i amax = _mm256_set1_epi32(t->amax);
    for (int64_t k0 = 0; k0 < m->kpad; k0 += KC) {
        const int64_t kn = m->kpad - k0 < KC ? m->kpad - k0 : KC;
        int64_t fix_lo[2] = {0, 0}, fix_hi[2] = {0, 0};
        for (int p = 0; p < 2; p++) {
            int8_t *qp = q + p * KC * QAT_PACKED_PANEL;
            decode(m->data + (size_t)(t->panel + p) * m->panel_bytes, k0 / 4, kn / 4, m->offset, qp, CB);
            if (FIXED) {
                fixes_in(m, t->panel + p, k0, kn, &fix_lo[p], &fix_hi[p]);
                for (int64_t f = fix_lo[p]; f < fix_hi[p]; f++) {
                    const int64_t c = m->fix[f].col - k0;
                    qp[c / 4 * 64 + 4 * m->fix[f].row + c % 4] -= (int8_t)m->fix[f].cut;
                }
            }
        }
        /* The next chunk's codes (at the last, the next pair's first) come
         * from memory while this one runs: at 128 tokens a forward reads
         * every weight once, and decode waited on them. */
        for (int p = 0; p < 2; p++) {
            const uint8_t *next = k0 + KC < m->kpad ? m->data + (size_t)(t->panel + p) * m->panel_bytes +
                                                          (size_t)(k0 + KC) * QAT_PACKED_PANEL * CB / 8
                                  : t->panel + 2 < m->panels ? m->data + (size_t)(t->panel + 2 + p) * m->panel_bytes
                                                             : NULL;
            for (size_t i = 0; next && i < chunk_bytes; i += 64)
                _mm_prefetch((const char *)(next + i), _MM_HINT_T0);
        }
        for (int j0 = 0; j0 < t->tokens; j0 += NT_MAX) {
            /* a + amax as u8 (amax = 128 wraps to the same bytes as a ^ 0x80);
             * past the last token, a = 0 (sums written to acc rows the
             * caller's 128-token buffer has and never reads). */
            for (int j = 0; j < NT_MAX; j++) {
                const int8_t *src = t->acts + (j0 + j) * t->lda + k0;
                for (int64_t i = 0; i < kn; i += 32) {
                    const __m256i v = j0 + j < t->tokens ? _mm256_loadu_si256((const __m256i *)(src + i))
                                                         : _mm256_setzero_si256();
                    _mm256_store_si256((__m256i *)(a + j * KC + i), _mm256_add_epi8(v, shift));
                }
                /* and the next group's codes from L2 */
                for (int64_t i = 0; j0 + NT_MAX + j < t->tokens && i < kn; i += 64)
                    _mm_prefetch((const char *)(src + NT_MAX * t->lda + i), _MM_HINT_T0);
            }
            /* Both panels' spans cut the pair's (a shorter run of exact
             * int16 sums is exact). */
            const uint64_t pair_starts =
                FIXED ? m->spans[t->panel * m->span_words + k0 / KC] | m->spans[(t->panel + 1) * m->span_words + k0 / KC]
                      : starts;
            for (int j = 0; j < NT_MAX; j += NT_PASS)
                pair_maddubs(q, KC * QAT_PACKED_PANEL, a + j * KC, kn / 4,
                             t->acc + (j0 + j) * QAT_PACKED_TILE_ROWS, pair_starts, k0 == 0);
            for (int p = 0; FIXED && p < 2; p++) {
                int32_t *acc = t->acc + j0 * QAT_PACKED_TILE_ROWS + p * QAT_PACKED_PANEL;
                /* What the cuts took, times the same shifted activations. */
                for (int64_t f = fix_lo[p]; f < fix_hi[p]; f++)
                    for (int j = 0; j < NT_MAX; j++)
                        acc[j * QAT_PACKED_TILE_ROWS + m->fix[f].row] +=
                            (int32_t)a[j * KC + m->fix[f].col - k0] * m->fix[f].cut;
            }
            if (k0 + KC < m->kpad)
                continue;
            /* The group's sums are whole: the shift comes off, and its
             * outputs are written while acc is in L1. */
            const int n = t->tokens - j0 < NT_MAX ? t->tokens - j0 : NT_MAX;
            for (int j = j0; j < j0 + n; j++)
                for (int r = 0; r < QAT_PACKED_TILE_ROWS; r += 8) {
                    int32_t *acc = t->acc + j * QAT_PACKED_TILE_ROWS + r;
                    const __m256i corr = _mm256_mullo_epi32(amax, _mm256_loadu_si256((const __m256i *)(qsum + r)));
                    _mm256_storeu_si256((__m256i *)acc,
                                        _mm256_sub_epi32(_mm256_loadu_si256((const __m256i *)acc), corr));
                }
            if (t->finish)
                t->finish(t, j0, n);
        }
    }
}

AVX2 static void tile_2bit(const qat_packed_tile *t, uint64_t starts) { maddubs_tile(t, starts, 2, 0); }
AVX2 static void tile_4bit(const qat_packed_tile *t, uint64_t starts) { maddubs_tile(t, starts, 4, 0); }
AVX2 static void tile_8bit(const qat_packed_tile *t, uint64_t starts) { maddubs_tile(t, starts, 8, 0); }
AVX2 static void tile_8bit_spans(const qat_packed_tile *t) { maddubs_tile(t, 0, 8, 1); }

/* Inputs per chunk of int16 activations (tile_madd): 8 tokens x 512 x 2
 * bytes = 8 KiB of stack. */
#define MADD_KC 512

/* Half a panel (8 rows: rows 4g..4g+3 of quad kb are the 16 bytes at
 * w + 64 kb + 16 g, g = 0, 1) x NT tokens (1..6) over `quads` quads:
 * the rows are widened to int16 (r0k0 r0k1 r0k2 r0k3 r1k0 ...) once per
 * quad and meet each token's 4 codes, already int16 in a16 (row stride
 * MADD_KC) and broadcast by one 8-byte load, in vpmaddwd; the lane pairs
 * (k0k1, k2k3) of a row are added at the end, into acc (int32, += ). */
AVX2 static QAT_PACKED_INLINE void half_madd(const uint8_t *w, const int16_t *a16, int64_t quads, int32_t *acc,
                                             const int NT)
{
    __m256i s[6][2];
    for (int j = 0; j < NT; j++)
        s[j][0] = s[j][1] = _mm256_setzero_si256();
    for (int64_t kb = 0; kb < quads; kb++) {
        const __m256i w0 = _mm256_cvtepu8_epi16(_mm_load_si128((const __m128i *)(w + kb * 64)));
        const __m256i w1 = _mm256_cvtepu8_epi16(_mm_load_si128((const __m128i *)(w + kb * 64 + 16)));
        for (int j = 0; j < NT; j++) {
            int64_t v;
            memcpy(&v, a16 + j * MADD_KC + 4 * kb, 8);
            const __m256i a = _mm256_set1_epi64x(v);
            s[j][0] = _mm256_add_epi32(s[j][0], _mm256_madd_epi16(w0, a));
            s[j][1] = _mm256_add_epi32(s[j][1], _mm256_madd_epi16(w1, a));
            /* One token at a time: GCC otherwise hoists all the broadcasts
             * and spills the sums (15 registers are live). */
            __asm__("" : "+x"(s[j][0]), "+x"(s[j][1]));
        }
    }
    for (int j = 0; j < NT; j++) {
        /* hadd within 128-bit lanes gives rows (0 1 4 5 | 2 3 6 7): reorder. */
        __m256i r = _mm256_hadd_epi32(s[j][0], s[j][1]);
        r = _mm256_permute4x64_epi64(r, _MM_SHUFFLE(3, 1, 2, 0));
        int32_t *dst = acc + j * QAT_PACKED_TILE_ROWS;
        _mm256_storeu_si256((__m256i *)dst, _mm256_add_epi32(_mm256_loadu_si256((const __m256i *)dst), r));
    }
}

/* 8-bit code layout only (the maddubs paths take every narrower one). The
 * activations of the tile are widened to int16 once per chunk of inputs,
 * so each token costs one broadcast load per quad instead of a widening;
 * 8-row halves leave registers for 6 tokens per pass over the weights. */
AVX2 static void tile_madd(const qat_packed_tile *t)
{
    const qat_packed_matrix *m = t->m;
    _Alignas(32) int16_t a16[QAT_PACKED_TILE_TOKENS * MADD_KC];
    for (int j = 0; j < t->tokens; j++)
        memset(t->acc + j * QAT_PACKED_TILE_ROWS, 0, QAT_PACKED_TILE_ROWS * sizeof(int32_t));
    for (int64_t k0 = 0; k0 < m->kpad; k0 += MADD_KC) {
        const int64_t kc = m->kpad - k0 < MADD_KC ? m->kpad - k0 : MADD_KC;
        for (int j = 0; j < t->tokens; j++)
            for (int64_t i = 0; i < kc; i += 16)
                _mm256_store_si256((__m256i *)(a16 + j * MADD_KC + i),
                                   _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(t->acts + j * t->lda + k0 + i))));
        for (int h = 0; h < 4; h++) {
            const uint8_t *w = m->data + (size_t)(t->panel + h / 2) * m->panel_bytes + k0 / 4 * 64 + (h % 2) * 32;
            for (int j0 = 0; j0 < t->tokens; j0 += 6) {
                const int16_t *a = a16 + j0 * MADD_KC;
                int32_t *acc = t->acc + j0 * QAT_PACKED_TILE_ROWS + 8 * h;
                switch (t->tokens - j0) {
                case 1: half_madd(w, a, kc / 4, acc, 1); break;
                case 2: half_madd(w, a, kc / 4, acc, 2); break;
                case 3: half_madd(w, a, kc / 4, acc, 3); break;
                case 4: half_madd(w, a, kc / 4, acc, 4); break;
                case 5: half_madd(w, a, kc / 4, acc, 5); break;
                default: half_madd(w, a, kc / 4, acc, 6); break;
                }
            }
        }
    }
}

AVX2 void qat_packed_tile_avx2(const qat_packed_tile *t)
{
    const qat_packed_matrix *m = t->m;
    const int qmax = m->offset > m->umax - m->offset ? m->offset : m->umax - m->offset;
    const int nblk = 32767 / (4 * (t->amax > 0 ? t->amax : 1) * (qmax > 0 ? qmax : 1));
    if (nblk >= 4) {
        const uint64_t starts = every(nblk);
        if (m->code_bits == 2)
            tile_2bit(t, starts);
        else if (m->code_bits == 4)
            tile_4bit(t, starts);
        else
            tile_8bit(t, starts);
        return;
    }
    if (m->fix) {
        tile_8bit_spans(t);
        return;
    }
    for (int j0 = 0; j0 < t->tokens; j0 += QAT_PACKED_TILE_TOKENS) {
        qat_packed_tile s = *t;
        s.acts += j0 * t->lda;
        s.tokens = t->tokens - j0 < QAT_PACKED_TILE_TOKENS ? t->tokens - j0 : QAT_PACKED_TILE_TOKENS;
        s.row_sum += j0;
        s.acc += j0 * QAT_PACKED_TILE_ROWS;
        tile_madd(&s);
    }
    for (int j = 0; j < t->tokens; j++) {
        const __m256i corr = _mm256_set1_epi32(m->offset * t->row_sum[j]);
        for (int r = 0; r < QAT_PACKED_TILE_ROWS; r += 8) {
            int32_t *acc = t->acc + j * QAT_PACKED_TILE_ROWS + r;
            _mm256_storeu_si256((__m256i *)acc, _mm256_sub_epi32(_mm256_loadu_si256((const __m256i *)acc), corr));
        }
    }
    if (t->finish)
        t->finish(t, 0, t->tokens);
}

#endif
