import type { Authorize, Handler } from '@peernet/interface';

/** A handler as registered by `expose`. */
export interface ExposedHandler {
  readonly handler: Handler;
  readonly authorize?: Authorize | undefined;
  /** Send the stack trace of a thrown error to the caller (off by default: stacks leak internals). */
  readonly exposeErrorStack?: boolean | undefined;
}

/** Where a connection looks handlers up, at the moment each envelope arrives. */
export interface HandlerLookup {
  get(name: string): ExposedHandler | undefined;
}
