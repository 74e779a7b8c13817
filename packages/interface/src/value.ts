/**
 * What a call, a send or a reply can carry: exactly what the CBOR codec of
 * `@peernet/frame` encodes. Integers beyond ±(2^53 − 1) are bigints; maps
 * have text keys only; byte strings are `Uint8Array`s (a `Buffer` is one).
 *
 * `undefined` follows JSON's rules: a map entry whose value is `undefined`
 * is left out, an `undefined` array element travels as `null`, and so does
 * an `undefined` payload. A `Date`, `Map`, `Set`, function, symbol or class
 * instance is not a wire value: convert it first (`date.toISOString()`,
 * `Object.fromEntries(map)`, `[...set]`).
 */
export type WireValue =
  | null
  | boolean
  | number
  | bigint
  | string
  | Uint8Array
  | readonly WireValue[]
  | { readonly [key: string]: WireValue | undefined };

/**
 * The former name of {@link WireValue}, kept so that code written against it
 * still compiles.
 */
export type Value = WireValue;

declare const notAWireValue: unique symbol;

/**
 * Stands where {@link WireCompatible} found a part that cannot travel. No
 * value has this type, so an argument with such a part fails to type-check,
 * and the compiler's message names this type and the part.
 */
export interface NotAWireValue {
  readonly [notAWireValue]: 'Date, Map, Set, functions, symbols and class instances cannot travel: convert them to plain data';
}

type WirePrimitive = null | undefined | void | boolean | number | bigint | string;
type AnyFunction = (...args: never[]) => unknown;

// True for `any`, which would otherwise match every branch below.
type IsAny<T> = 0 extends 1 & T ? true : false;

// The keys of T whose values are functions (methods of a class, Date, Map, ...).
type MethodKeys<T> = {
  [K in keyof T]-?: IsAny<T[K]> extends true ? never : NonNullable<T[K]> extends AnyFunction ? K : never;
}[keyof T];

/**
 * The shape `T` must fit to travel as a {@link WireValue}, checked
 * structurally, so interfaces with optional fields pass as well as type
 * literals. Each part that cannot travel (a `Date`, `Map`, `Set`, function,
 * symbol, or an object with methods) is {@link NotAWireValue} in it, so a
 * parameter typed `A & WireCompatible<A>` (with `A` inferred from the
 * argument) refuses such arguments at compile time. `unknown` and `any`
 * pass: they say nothing to check, and the encoder still refuses at run time
 * what cannot travel.
 */
export type WireCompatible<T> = [T] extends [WireValue | undefined | void]
  ? WireValue | undefined | void
  : unknown extends T
    ? unknown
    : WireShape<T>;

/**
 * `unknown` (no constraint) when `Result`, awaited, can travel as a wire
 * value; {@link NotAWireValue} otherwise. Intersected with a handler's type
 * it refuses a handler whose result cannot travel.
 */
export type WireResult<Result> = [Awaited<Result>] extends [WireCompatible<Awaited<Result>>] ? unknown : NotAWireValue;

// The structural check, for types that are not plainly wire values (interfaces
// have no index signature). Its leaves are the broad wire types: intersected
// with T they leave T's own (narrower) leaves in place.
type WireShape<T> = T extends WirePrimitive
  ? WirePrimitive
  : T extends Uint8Array
    ? Uint8Array
    : T extends AnyFunction
      ? NotAWireValue
      : T extends readonly unknown[]
        ? { [K in keyof T]: WireCompatible<T[K]> }
        : T extends object
          ? [MethodKeys<T>] extends [never]
            ? { [K in keyof T]: K extends symbol ? unknown : WireCompatible<T[K]> }
            : NotAWireValue
          : NotAWireValue;

const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;

/**
 * The text form of a place inside a value, for error messages:
 * `formatValuePath('args', ['items', 2, 'a b'])` is `args.items[2]["a b"]`.
 */
export function formatValuePath(root: string, path: readonly (string | number)[]): string {
  let text = root;
  for (const segment of path) {
    if (typeof segment === 'number') text += `[${segment}]`;
    else if (IDENTIFIER.test(segment)) text += `.${segment}`;
    else text += `[${JSON.stringify(segment)}]`;
  }
  return text;
}
