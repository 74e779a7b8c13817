/**
 * The values that travel in calls, sends and replies: what the CBOR codec of
 * `@peernet/frame` carries, no more. Integers beyond ±(2^53 − 1) are bigints;
 * maps have text keys only; byte strings are `Uint8Array`s.
 */
export type Value = null | boolean | number | bigint | string | Uint8Array | Value[] | { [key: string]: Value };
