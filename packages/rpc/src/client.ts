import {
  InvalidArgumentError, PeerId, type CallOptions, type NotAWireValue, type PeerIdLike, type WireCompatible, type WireValue,
} from '@peernet/interface';
import type { RpcNode } from './node.js';
import type { WithContext } from './serve.js';
import { encodeRequest, renameArgumentError } from './wire.js';

// ---- types -----------------------------------------------------------------

type AnyFunction = (...args: any[]) => any;

/** The string keys of `Api` whose values are functions: the methods a client can name. */
export type MethodName<Api> = {
  [K in keyof Api]-?: K extends string ? (NonNullable<Api[K]> extends AnyFunction ? K : never) : never;
}[keyof Api];

/** The params a caller passes to method `F`: its own, without the context of a {@link withContext} method. */
export type RemoteParams<F> =
  F extends WithContext<(ctx: any, ...params: infer P) => any>
    ? P
    : F extends (...params: infer P) => any
      ? P
      : never;

/**
 * `F` if its params (those the caller passes) and its awaited result can
 * travel as wire values, otherwise {@link NotAWireValue}; anything that is
 * not a function is left as it is.
 */
export type WireMethod<F> = F extends (...params: any[]) => infer R
  ? [RemoteParams<F>] extends [WireCompatible<RemoteParams<F>>]
    ? [Awaited<R>] extends [WireCompatible<Awaited<R>>]
      ? F
      : NotAWireValue
    : NotAWireValue
  : F;

/**
 * `Api` with each method checked by {@link WireMethod}. `serve`, `client`
 * and `caster` take an `Api` that extends `WireApi<Api>`, so a method that
 * takes or returns a `Date`, a `Map`, a function or a class instance fails
 * to type-check, on both sides. Data members are left alone (never called).
 */
export type WireApi<Api> = { [K in keyof Api]: WireMethod<Api[K]> };

/** A typed stub of a served `Api`: every method returns a promise of its (awaited) result. */
export type Client<Api> = {
  readonly [K in MethodName<Api>]: NonNullable<Api[K]> extends (...args: any[]) => infer R
    ? (...params: RemoteParams<NonNullable<Api[K]>>) => Promise<Awaited<R>>
    : never;
};

/** A typed stub for fire-and-forget casts: every method resolves once the request is handed to the socket. */
export type Caster<Api> = {
  readonly [K in MethodName<Api>]: (...params: RemoteParams<NonNullable<Api[K]>>) => Promise<void>;
};

/** Options of {@link client} (and of {@link callMethod}). */
export interface ClientOptions {
  /** Milliseconds before a call fails with `timeout` (the node's default when omitted). */
  timeoutMs?: number;
  /**
   * Milliseconds before a call fails with `timeout`; read only when `timeoutMs` is not given.
   * @deprecated Use `timeoutMs`, like every other duration of the API.
   */
  timeout?: number;
  /** Aborts every call made with these options (they fail with `aborted`). */
  signal?: AbortSignal;
}

// ---- plain functions -------------------------------------------------------

function callOptions(options: ClientOptions): CallOptions {
  const result: CallOptions = {};
  const timeoutMs = options.timeoutMs ?? options.timeout;
  if (timeoutMs !== undefined) result.timeoutMs = timeoutMs;
  if (options.signal !== undefined) result.signal = options.signal;
  return result;
}

/**
 * Calls `method` of the object served as `name` on `peer`, with `params`.
 * What the proxy of {@link client} does, for method names the proxy cannot
 * carry (`then`, `toString`, ...) or names known only at run time.
 */
export function callMethod(
  node: RpcNode,
  peer: PeerIdLike,
  name: string,
  method: string,
  params: readonly unknown[] = [],
  options: ClientOptions = {},
): Promise<WireValue> {
  try {
    return node.call(peer, name, encodeRequest(method, params), callOptions(options)).catch((error: unknown) => {
      throw renameArgumentError(error, method);
    });
  } catch (error) {
    return Promise.reject(renameArgumentError(error, method));
  }
}

/** Casts to `method` of the object served as `name` on `peer` (no reply; the method's errors stay there). */
export function castMethod(
  node: RpcNode,
  peer: PeerIdLike,
  name: string,
  method: string,
  params: readonly unknown[] = [],
): Promise<void> {
  try {
    return node.send(peer, name, encodeRequest(method, params)).catch((error: unknown) => {
      throw renameArgumentError(error, method);
    });
  } catch (error) {
    return Promise.reject(renameArgumentError(error, method));
  }
}

// ---- proxies ---------------------------------------------------------------

/**
 * Names the proxies never forward, because the language or common tools call
 * them implicitly: `await` and `Promise.resolve` look for `then`, `JSON.stringify`
 * for `toJSON`, string conversion for `toString`/`valueOf`, old inspectors for
 * `inspect`, and many libraries read `constructor`. Call a remote method of
 * one of these names with `callMethod`/`castMethod`.
 */
export const RESERVED_NAMES: readonly string[] = Object.freeze([
  'then',
  'catch',
  'finally',
  'toJSON',
  'toString',
  'toLocaleString',
  'valueOf',
  'inspect',
  'constructor',
]);
const reserved = new Set(RESERVED_NAMES);

function stub(kind: string, peer: PeerId, name: string, invoke: (method: string, params: unknown[]) => Promise<unknown>): object {
  const description = `[${kind} '${name}' on ${peer.toString()}]`;
  const describe = (): string => description;
  const methods = new Map<string, (...params: unknown[]) => Promise<unknown>>();
  const target = Object.create(null) as object;
  return new Proxy(target, {
    get(_, property) {
      if (typeof property === 'symbol') {
        if (property === Symbol.toPrimitive) return describe;
        if (property === Symbol.toStringTag) return kind;
        return undefined;
      }
      if (property === 'toString') return describe;
      if (reserved.has(property)) return undefined;
      let method = methods.get(property);
      if (method === undefined) {
        method = (...params: unknown[]) => invoke(property, params);
        Object.defineProperty(method, 'name', { value: property });
        methods.set(property, method);
      }
      return method;
    },
    // Read-only, and nothing to enumerate: the served side's methods are not known here.
    set: () => false,
    defineProperty: () => false,
    deleteProperty: () => false,
    setPrototypeOf: () => false,
    has: () => false,
  });
}

/**
 * A typed stub for the object `peer` serves as `name`: `stub.method(...params)`
 * calls it and resolves with its result, or rejects with the error the served
 * side raised (same `code`). The stub is not thenable, and converting or
 * serialising it makes no call.
 */
export function client<Api extends WireApi<Api>>(
  node: RpcNode,
  peer: PeerIdLike,
  name: string,
  options: ClientOptions = {},
): Client<Api> {
  const id = checked(node, peer, name);
  const settings = { ...options };
  return stub('RpcClient', id, name, (method, params) => callMethod(node, id, name, method, params, settings)) as Client<Api>;
}

/**
 * A typed stub for casts to the object `peer` serves as `name`: `stub.method(...params)`
 * runs it there without a reply, and resolves once the request is handed to the socket.
 */
export function caster<Api extends WireApi<Api>>(node: RpcNode, peer: PeerIdLike, name: string): Caster<Api> {
  const id = checked(node, peer, name);
  return stub('RpcCaster', id, name, (method, params) => castMethod(node, id, name, method, params)) as Caster<Api>;
}

function checked(node: RpcNode, peer: PeerIdLike, name: string): PeerId {
  if (typeof node !== 'object' || node === null || typeof node.call !== 'function' || typeof node.send !== 'function') {
    throw new InvalidArgumentError('client needs a node with call and send');
  }
  if (typeof name !== 'string' || name === '') throw new InvalidArgumentError('the handle name must be a non-empty string');
  return PeerId.from(peer);
}
