/*
 * Exhaustive check of the two rounding identities the int4/int3 f16 kernels rely on
 * (kernels/src/quantize.rs: round16_split, codes_of_q), run by kernels/check.sh:
 *
 * 1. Veltkamp's splitting g = x * 8193, g + (x - g) rounds x to 11 significant bits with ties
 *    to even, exactly as the bit rounding (x + 0xfff + odd) & ~0x1fff, for every normal f32
 *    with |x| < 16 (and keeps zeros zero).
 * 2. The codes of q = w / scale: with the bit rounding and the clamp to [0, 2 max_int] (the
 *    step-by-step semantics of the reference), and with the splitting, no clamp, ties away as
 *    t + 2^-12 before the integer rounding (2^23 added), are equal for every f32 q with
 *    |q| <= max_int + 0.01, max_int 7 and 3, both tie rules.
 *
 * Build and run: cc -O2 -ffp-contract=off kernels/check_rounding.c -lm && ./a.out
 * (-ffp-contract=off: no fused multiply-add, as in WebAssembly). Exit status 0 when both hold.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static uint32_t bits(float f) {
  uint32_t u;
  memcpy(&u, &f, 4);
  return u;
}
static float from_bits(uint32_t u) {
  float f;
  memcpy(&f, &u, 4);
  return f;
}
/* (volatile: the compiler must not fold or reassociate the rounding steps) */
static volatile float SPLIT = 8193.0f, MAGIC = 8388608.0f, EPS = 1.0f / 4096.0f;

static float round16_bits(float x) {
  uint32_t u = bits(x);
  return from_bits((u + 0xfff + ((u >> 13) & 1)) & 0xffffe000u);
}
static float round16_split(float x) {
  float g = x * SPLIT;
  return g + (x - g);
}
static int32_t to_code(float t) { return (int32_t)(bits(t + MAGIC) - 0x4b000000u); }

static int32_t code_reference(float q, float max_int, int away) {
  float t = round16_bits(round16_bits(q) + max_int);
  t = fminf(2 * max_int, fmaxf(0.0f, t));
  if (away) {
    float f = floorf(t);
    t = f + (t - f >= 0.5f ? 1.0f : 0.0f);
  }
  return to_code(t);
}
static int32_t code_split(float q, float max_int, int away) {
  float t = round16_split(round16_split(q) + max_int);
  if (away) t = t + EPS;
  return to_code(t);
}

int main(void) {
  uint64_t bad = 0;
  for (uint32_t u = 0x00800000u; u < 0x41800000u; u++) { /* normal f32 in [2^-126, 16) */
    for (int neg = 0; neg < 2; neg++) {
      float x = from_bits(u | (neg ? 0x80000000u : 0));
      if (bits(round16_split(x)) != bits(round16_bits(x))) {
        if (bad++ < 5) printf("splitting differs at %a\n", x);
      }
    }
  }
  if (round16_split(0.0f) != 0.0f || round16_split(-0.0f) != 0.0f) bad++;
  printf("1. splitting vs bit rounding: %llu differences\n", (unsigned long long)bad);
  const float max_ints[2] = {7.0f, 3.0f};
  uint64_t bad_codes = 0;
  for (int m = 0; m < 2; m++) {
    float mi = max_ints[m];
    uint32_t lim = bits(mi + 0.01f);
    for (uint32_t u = 0; u <= lim; u++) {
      for (int neg = 0; neg < 2; neg++) {
        float q = from_bits(u | (neg ? 0x80000000u : 0));
        for (int away = 0; away < 2; away++) {
          if (code_split(q, mi, away) != code_reference(q, mi, away)) {
            if (bad_codes++ < 5) printf("codes differ: max_int %g q %a away %d\n", mi, q, away);
          }
        }
      }
    }
  }
  printf("2. codes, max_int 7 and 3, both tie rules: %llu differences\n", (unsigned long long)bad_codes);
  return bad || bad_codes ? 1 : 0;
}
