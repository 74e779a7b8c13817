import { BadRequestError, InvalidArgumentError, type Value } from '@peernet/interface';

/**
 * The args of every RPC call or cast: a map with exactly two keys,
 * `m` (the method name, a non-empty text string) and `a` (its positional
 * parameters, an array). In CBOR: `{ "m": "reboot", "a": [30] }`.
 */
export interface RpcRequest {
  readonly m: string;
  readonly a: readonly Value[];
}

/** Longest method name quoted back in error messages (the name itself is not limited). */
const QUOTE_LIMIT = 64;

/** A method name fit for an error message: JSON-quoted, cut short when long. */
export function quoteMethod(method: string): string {
  return JSON.stringify(method.length > QUOTE_LIMIT ? `${method.slice(0, QUOTE_LIMIT)}…` : method);
}

/** Builds the args of a request; throws `invalid_argument` for what cannot cross the wire as given. */
export function encodeRequest(method: string, params: readonly unknown[]): Value {
  if (typeof method !== 'string' || method === '') {
    throw new InvalidArgumentError('the method name must be a non-empty string');
  }
  const index = params.indexOf(undefined);
  if (index !== -1) {
    throw new InvalidArgumentError(
      `argument ${index} of ${quoteMethod(method)} is undefined, which cannot be sent; pass null instead`,
    );
  }
  return { m: method, a: params as Value[] };
}

/** Checks the shape of a received request; anything else is `bad_request`. */
export function parseRequest(args: Value): RpcRequest {
  if (typeof args !== 'object' || args === null || Array.isArray(args) || args instanceof Uint8Array) {
    throw new BadRequestError('an RPC request must be a map { m: method, a: [params] }');
  }
  const keys = Object.keys(args);
  if (keys.length !== 2 || !Object.hasOwn(args, 'm') || !Object.hasOwn(args, 'a')) {
    throw new BadRequestError('an RPC request must have exactly the keys m (method) and a (params)');
  }
  const { m, a } = args as { m: Value; a: Value };
  if (typeof m !== 'string' || m === '') {
    throw new BadRequestError('the method name (m) of an RPC request must be a non-empty string');
  }
  if (!Array.isArray(a)) {
    throw new BadRequestError(`the params (a) of an RPC request for ${quoteMethod(m)} must be an array`);
  }
  return { m, a };
}
