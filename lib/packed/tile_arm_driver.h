/* The ARM64 kernels' tile driver, written once for tile_neon.c (sdot) and
 * tile_i8mm.c (smmla), each of which includes it inside its own target
 * pragma after defining PANEL_KERNEL(t, w, j0, acc, NT, CB): one panel's
 * 16 rows x tokens j0 .. j0 + NT - 1 (NT 1..4) of CB-bit codes into acc.
 * TILE_ENTRY names the path's qat_packed_tile_fn. The two panels of the
 * tile, 4 tokens per pass; the token count and the code width become
 * constants of each instance, so the kernels' loops unroll. */
static QAT_PACKED_INLINE void arm_tile(const qat_packed_tile *t, const int CB)
{
    for (int p = 0; p < 2; p++) {
        const uint8_t *w = t->m->data + (size_t)(t->panel + p) * t->m->panel_bytes;
        for (int j0 = 0; j0 < t->tokens; j0 += 4) {
            int32_t *acc = t->acc + j0 * QAT_PACKED_TILE_ROWS + p * QAT_PACKED_PANEL;
            switch (t->tokens - j0) {
            case 1: PANEL_KERNEL(t, w, j0, acc, 1, CB); break;
            case 2: PANEL_KERNEL(t, w, j0, acc, 2, CB); break;
            case 3: PANEL_KERNEL(t, w, j0, acc, 3, CB); break;
            default: PANEL_KERNEL(t, w, j0, acc, 4, CB); break;
            }
        }
    }
}

static void arm_tile_2bit(const qat_packed_tile *t) { arm_tile(t, 2); }
static void arm_tile_4bit(const qat_packed_tile *t) { arm_tile(t, 4); }
static void arm_tile_8bit(const qat_packed_tile *t) { arm_tile(t, 8); }

void TILE_ENTRY(const qat_packed_tile *t)
{
    switch (t->m->code_bits) {
    case 2: arm_tile_2bit(t); break;
    case 4: arm_tile_4bit(t); break;
    default: arm_tile_8bit(t); break;
    }
}
