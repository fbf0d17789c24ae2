/**
 * Deterministic pseudo-random numbers shared by the checkpoint generator and `verify`'s seeded
 * activations: mulberry32, Box-Muller, and the FNV-1a hash that seeds them by name.
 *
 * @module
 */

/** A small deterministic PRNG (mulberry32) with a Gaussian helper. */
export class Rng {
  #s: number;
  /** Seeds the generator. */
  constructor(seed: number) {
    this.#s = seed >>> 0;
  }
  /** Uniform in [0, 1). */
  next(): number {
    let t = (this.#s = (this.#s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  /** Standard normal (Box-Muller). */
  gauss(): number {
    const u = 1 - this.next();
    const v = this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }
}

/**
 * 32-bit FNV-1a of the UTF-16 code units of `text`, from `basis` (the standard offset basis by
 * default).
 *
 * @example
 * ```ts
 * import { fnv1a } from "./rng.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 * deepStrictEqual(fnv1a(""), 2166136261);
 * deepStrictEqual(fnv1a("a"), 3826002220);
 * ```
 */
export function fnv1a(text: string, basis: number = 2166136261): number {
  let h = basis;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619);
  return h >>> 0;
}
