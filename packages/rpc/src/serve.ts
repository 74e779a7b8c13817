import { ForbiddenError, InvalidArgumentError, NoSuchHandleError, type HandlerContext, type PeerId, type WireValue } from '@peernet/interface';
import type { WireApi } from './client.js';
import type { RpcNode } from './node.js';
import { parseRequest, quoteMethod } from './wire.js';

/** What a method wrapped in {@link withContext} receives first, before the caller's params. */
export interface RpcContext extends HandlerContext {
  /** The method the peer called. */
  readonly method: string;
}

declare const contextBrand: unique symbol;

/** A method that receives the {@link RpcContext} as its first argument (see {@link withContext}). */
export type WithContext<F> = F & { readonly [contextBrand]: true };

/** Decides whether `peer` may call `method`; false, a rejection or a throw means `forbidden`. */
export type AuthorizeMethod = (peer: PeerId, method: string) => boolean | Promise<boolean>;

/** Options of {@link serve}. */
export interface ServeOptions {
  /**
   * Runs before every call and cast, with the method the peer asked for
   * (checked before the method is looked up, so a refused peer learns nothing
   * about which methods exist). Without it, every paired peer may call every
   * method.
   */
  authorize?: AuthorizeMethod;
  /** Send thrown errors' stack traces to callers (default false: stacks leak internals). */
  exposeErrorStack?: boolean;
}

/** A served object; `close()` takes it off the node. */
export interface Service {
  /** The handle name the object is served under. */
  readonly name: string;
  /** Stops serving: later calls get `no_such_handle`. Idempotent. */
  close(): void;
}

// Functions marked by withContext: serve passes them the context first.
const contextual = new WeakSet<object>();

/**
 * Marks `fn` as a method that wants to know who calls it: `serve` calls it as
 * `fn(ctx, ...params)`, with `this` bound to the served object. Returns `fn`
 * itself (typed so that `client<typeof impl>` leaves `ctx` out). Other
 * methods receive exactly the params the caller sent, nothing more.
 */
export function withContext<F extends (ctx: RpcContext, ...params: any[]) => unknown>(fn: F): WithContext<F> {
  if (typeof fn !== 'function') throw new InvalidArgumentError('withContext needs a function');
  contextual.add(fn);
  return fn as WithContext<F>;
}

// Per node, the service currently registered under each name, so closing a
// service that was replaced does not take its successor down.
const current = new WeakMap<RpcNode, Map<string, object>>();

type Method = (...args: unknown[]) => unknown;

/**
 * The method `method` of `impl` if it may be called: an own, enumerable data
 * property whose value is a function. Nothing inherited (`constructor`,
 * `toString`, `__proto__`, methods of a class), no getter (it is never run),
 * no hidden (non-enumerable) property, no non-function member.
 */
function methodOf(impl: object, method: string): Method | undefined {
  const descriptor = Reflect.getOwnPropertyDescriptor(impl, method);
  if (descriptor === undefined || !descriptor.enumerable || !('value' in descriptor)) return undefined;
  return typeof descriptor.value === 'function' ? (descriptor.value as Method) : undefined;
}

/**
 * Serves the own function properties of `impl` under the single handle
 * `name`: a peer's request `{ m, a }` runs `impl[m](...a)` (or
 * `impl[m](ctx, ...a)` for a method marked with {@link withContext}) with
 * `this` bound to `impl`. See the package README for what is and is not callable.
 * The type of `impl` is checked as {@link WireApi}: a method whose params or
 * result cannot travel fails to type-check.
 */
export function serve<Impl extends object & WireApi<Impl>>(
  node: RpcNode,
  name: string,
  impl: Impl,
  options: ServeOptions = {},
): Service {
  if ((typeof impl !== 'object' && typeof impl !== 'function') || impl === null) {
    throw new InvalidArgumentError('serve needs an object whose own function properties are the methods');
  }
  const { authorize, exposeErrorStack } = options;
  if (authorize !== undefined && typeof authorize !== 'function') {
    throw new InvalidArgumentError('authorize must be a function');
  }
  const token = {};
  let open = true;

  const handler = async (args: WireValue, context: HandlerContext): Promise<WireValue> => {
    if (!open) throw new NoSuchHandleError(`no handler named '${name}'`);
    const { m: method, a: params } = parseRequest(args);
    if (authorize !== undefined) {
      let allowed: boolean;
      try {
        allowed = (await authorize(context.peer, method)) === true;
      } catch {
        allowed = false;
      }
      if (!allowed) throw new ForbiddenError(`not allowed to call ${quoteMethod(method)} on '${name}'`);
    }
    const fn = methodOf(impl, method);
    if (fn === undefined) throw new NoSuchHandleError(`'${name}' has no method ${quoteMethod(method)}`);
    if (!contextual.has(fn)) return (await Reflect.apply(fn, impl, params)) as WireValue;
    const ctx: RpcContext = Object.freeze({
      peer: context.peer,
      name: context.name,
      signal: context.signal,
      oneWay: context.oneWay,
      method,
    });
    return (await Reflect.apply(fn, impl, [ctx, ...params])) as WireValue;
  };

  node.expose(name, handler, exposeErrorStack === undefined ? {} : { exposeErrorStack });
  let names = current.get(node);
  if (names === undefined) current.set(node, (names = new Map()));
  names.set(name, token);

  return {
    name,
    close(): void {
      if (!open) return;
      open = false;
      const registered = current.get(node);
      if (registered?.get(name) !== token) return; // replaced by a later serve: leave that one alone
      registered.delete(name);
      node.unexpose(name);
    },
  };
}
