import { InvalidArgumentError } from '@peernet/interface';

/**
 * Throws an `InvalidArgumentError` unless `value` is a Uint8Array (of `length` bytes, when
 * given), with the messages of the providers of `@peernet/noise`.
 */
export function assertBytes(value: unknown, name: string, length?: number): asserts value is Uint8Array {
  if (!(value instanceof Uint8Array)) {
    throw new InvalidArgumentError(`${name} must be a Uint8Array, got ${describe(value)}`);
  }
  if (length !== undefined && value.length !== length) {
    throw new InvalidArgumentError(`${name} must be ${length} bytes, got ${value.length}`);
  }
}

/** True if every byte is zero, without an early exit. */
export function isAllZero(bytes: Uint8Array): boolean {
  let acc = 0;
  for (let i = 0; i < bytes.length; i++) acc |= bytes[i] as number;
  return acc === 0;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'object') return (value as object).constructor?.name ?? 'object';
  return typeof value;
}
