import type { OptionsReader } from '@peernet/interface';

/**
 * Reads a rate per second: any number from 0 up, `Infinity` meaning no
 * limit (which `OptionsReader.number`, made for finite values, refuses).
 * Without a `fallback` the option is required.
 */
export function readRate(reader: OptionsReader, name: string, fallback?: number): number {
  const value = reader.raw(name);
  if (value === undefined) {
    if (fallback === undefined) throw reader.error(name, 'is required');
    return fallback;
  }
  if (typeof value !== 'number' || Number.isNaN(value) || value < 0) {
    throw reader.error(name, `must be a number >= 0 (or Infinity), got ${String(value)}`);
  }
  return value;
}
