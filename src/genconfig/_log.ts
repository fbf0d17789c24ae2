/**
 * Logging callback of gen_config (MLC prints the same messages through Python logging).
 *
 * @module
 */

/** Receives MLC-style log messages. */
export type GenConfigLog = (level: "info" | "warning", message: string) => void;
