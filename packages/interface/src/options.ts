import { InvalidArgumentError } from './errors.js';

/** Range and fallback of a numeric option. */
export interface NumberRule<D extends number | undefined> {
  /** Used when the option is absent. */
  default: D;
  /** Smallest accepted value (default 0). */
  min?: number;
  /** Accept only values above this (instead of `min`): `0` for a positive number. */
  above?: number;
  /** Largest accepted value (default `Number.MAX_SAFE_INTEGER`). */
  max?: number;
  /** An older name still accepted when the option itself is absent. */
  alias?: string;
}

/**
 * Reads one options object and checks each option as it is read, so every
 * component validates the same way and every message names the component
 * and the option: `tcp option backlog must be an integer from 1 to 65535, got -1`.
 */
export class OptionsReader {
  readonly #owner: string;
  readonly #options: Readonly<Record<string, unknown>>;

  /** `owner` names the component in messages; `options` may be undefined (all defaults). */
  constructor(owner: string, options: unknown) {
    if (options !== undefined && (typeof options !== 'object' || options === null || Array.isArray(options))) {
      throw new InvalidArgumentError(`${owner} options must be an object, got ${describeValue(options)}`);
    }
    this.#owner = owner;
    this.#options = (options ?? {}) as Record<string, unknown>;
  }

  /** The raw value of an option (or of its alias when it is absent). */
  raw(name: string, alias?: string): unknown {
    const value = this.#options[name];
    return value === undefined && alias !== undefined ? this.#options[alias] : value;
  }

  /** An error naming this component's option. */
  error(name: string, problem: string): InvalidArgumentError {
    return new InvalidArgumentError(`${this.#owner} option ${name} ${problem}`);
  }

  /** An integer within `[min, max]`. */
  integer<D extends number | undefined>(name: string, rule: NumberRule<D>): number | D {
    return this.#number(name, rule, true);
  }

  /** A finite number within `[min, max]`. */
  number<D extends number | undefined>(name: string, rule: NumberRule<D>): number | D {
    return this.#number(name, rule, false);
  }

  /** A boolean. */
  boolean<D extends boolean | undefined>(name: string, fallback: D): boolean | D {
    const value = this.raw(name);
    if (value === undefined) return fallback;
    if (typeof value !== 'boolean') throw this.error(name, `must be a boolean, got ${describeValue(value)}`);
    return value;
  }

  /** A function. */
  function<F, D extends F | undefined = F>(name: string, fallback: D): F | D {
    const value = this.raw(name);
    if (value === undefined) return fallback;
    if (typeof value !== 'function') throw this.error(name, `must be a function, got ${describeValue(value)}`);
    return value as F;
  }

  /** A non-empty string. */
  string<D extends string | undefined>(name: string, fallback: D): string | D {
    const value = this.raw(name);
    if (value === undefined) return fallback;
    if (typeof value !== 'string' || value === '') {
      throw this.error(name, `must be a non-empty string, got ${describeValue(value)}`);
    }
    return value;
  }

  /** One of a fixed set of values. */
  oneOf<T, D extends T | undefined>(name: string, allowed: readonly T[], fallback: D): T | D {
    const value = this.raw(name);
    if (value === undefined) return fallback;
    if (!allowed.includes(value as T)) {
      throw this.error(name, `must be one of ${allowed.map((a) => JSON.stringify(a)).join(', ')}, got ${describeValue(value)}`);
    }
    return value as T;
  }

  /** An object with the named methods (a `Clock`, a `Transport`, …). */
  object<T, D extends T | undefined>(name: string, methods: readonly string[], fallback: D): T | D {
    const value = this.raw(name);
    if (value === undefined) return fallback;
    if (typeof value !== 'object' || value === null) {
      throw this.error(name, `must be an object, got ${describeValue(value)}`);
    }
    for (const method of methods) {
      if (typeof (value as Record<string, unknown>)[method] !== 'function') {
        throw this.error(name, `must have a ${method}() method`);
      }
    }
    return value as T;
  }

  #number<D extends number | undefined>(name: string, rule: NumberRule<D>, integer: boolean): number | D {
    const value = this.raw(name, rule.alias);
    if (value === undefined) return rule.default;
    const min = rule.min ?? 0;
    const max = rule.max ?? Number.MAX_SAFE_INTEGER;
    const fits = typeof value === 'number' && (integer ? Number.isInteger(value) : Number.isFinite(value));
    const n = value as number;
    if (!fits || (rule.above === undefined ? n < min : n <= rule.above) || n > max) {
      const kind = integer ? 'an integer' : 'a number';
      const lower = rule.above === undefined ? `of at least ${min}` : `above ${rule.above}`;
      const range = max === Number.MAX_SAFE_INTEGER ? lower : rule.above === undefined ? `from ${min} to ${max}` : `${lower} and at most ${max}`;
      throw this.error(name, `must be ${kind} ${range}, got ${describeValue(value)}`);
    }
    return value;
  }
}

/** A short, safe rendering of any value for an error message. */
export function describeValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (typeof value === 'function') return 'a function';
  if (Array.isArray(value)) return 'an array';
  if (value === null) return 'null';
  if (typeof value === 'object') return 'an object';
  return String(value);
}
