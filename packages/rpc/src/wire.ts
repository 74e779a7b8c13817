import { BadRequestError, InvalidArgumentError, formatValuePath, isPeerNetError, type WireValue } from '@peernet/interface';

/**
 * The args of every RPC call or cast: a map with exactly two keys,
 * `m` (the method name, a non-empty text string) and `a` (its positional
 * parameters, an array). In CBOR: `{ "m": "reboot", "a": [30] }`.
 */
export interface RpcRequest {
  readonly m: string;
  readonly a: readonly WireValue[];
}

/** Longest method name quoted back in error messages (the name itself is not limited). */
const QUOTE_LIMIT = 64;

/** A method name fit for an error message: JSON-quoted, cut short when long. */
export function quoteMethod(method: string): string {
  return JSON.stringify(method.length > QUOTE_LIMIT ? `${method.slice(0, QUOTE_LIMIT)}…` : method);
}

/**
 * Builds the args of a request; throws `invalid_argument` for a bad method
 * name. Trailing `undefined` params are left out, so the method sees them
 * as not passed, as a local call would; an `undefined` before a param that
 * is passed travels as `null`, as in any array (see `WireValue`).
 */
export function encodeRequest(method: string, params: readonly unknown[]): WireValue {
  if (typeof method !== 'string' || method === '') {
    throw new InvalidArgumentError('the method name must be a non-empty string');
  }
  let count = params.length;
  while (count > 0 && params[count - 1] === undefined) count--;
  return { m: method, a: (count === params.length ? params : params.slice(0, count)) as WireValue[] };
}

/**
 * A `bad_request` raised while our own request was encoded names its place
 * from `args.a[i]`; it is renamed from the caller's point of view, as
 * `"method" argument i`. Any other error is returned as it is.
 */
export function renameArgumentError(error: unknown, method: string): unknown {
  if (!isPeerNetError(error) || error.code !== 'bad_request') return error;
  const path = (error as BadRequestError).valuePath;
  if (path === undefined || path[0] !== 'a' || typeof path[1] !== 'number') return error;
  const prefix = formatValuePath('args', path.slice(0, 2));
  if (!error.message.startsWith(prefix)) return error;
  const valuePath = path.slice(2);
  const message = `${quoteMethod(method)} argument ${path[1]}${error.message.slice(prefix.length)}`;
  return new BadRequestError(message, { cause: error, valuePath });
}

/** Checks the shape of a received request; anything else is `bad_request`. */
export function parseRequest(args: WireValue): RpcRequest {
  if (typeof args !== 'object' || args === null || Array.isArray(args) || args instanceof Uint8Array) {
    throw new BadRequestError('an RPC request must be a map { m: method, a: [params] }');
  }
  const keys = Object.keys(args);
  if (keys.length !== 2 || !Object.hasOwn(args, 'm') || !Object.hasOwn(args, 'a')) {
    throw new BadRequestError('an RPC request must have exactly the keys m (method) and a (params)');
  }
  const { m, a } = args as { m: WireValue; a: WireValue };
  if (typeof m !== 'string' || m === '') {
    throw new BadRequestError('the method name (m) of an RPC request must be a non-empty string');
  }
  if (!Array.isArray(a)) {
    throw new BadRequestError(`the params (a) of an RPC request for ${quoteMethod(m)} must be an array`);
  }
  return { m, a };
}
