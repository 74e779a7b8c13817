import {
  InvalidArgumentError, OptionsReader,
  type Authorize, type ExposedHandler, type ExposedStreamHandler, type Handler, type StreamHandler,
} from '@peernet/interface';

/** Options of `expose`. */
export interface ExposeOptions {
  /** Runs before the handler; false or a throw answers `forbidden` and the handler never runs. */
  authorize?: Authorize;
  /** Send thrown errors' stack traces to callers (default false). */
  exposeErrorStack?: boolean;
}

/** Options of `exposeStream`. */
export interface ExposeStreamOptions {
  /** Runs before the stream is accepted; false or a throw refuses the open with `forbidden`. */
  authorize?: Authorize;
}

/**
 * What a node exposes: its handlers and its stream handlers, by name. Every
 * connection looks names up here as each message or open arrives, so a
 * change takes effect for the next one.
 */
export class Exposed {
  readonly handlers = new Map<string, ExposedHandler>();
  readonly streams = new Map<string, ExposedStreamHandler>();

  /** Checks and stores a handler (see `PeerNet.expose`). */
  expose(name: string, handler: Handler, options: ExposeOptions): void {
    checkEntry('handler', name, handler);
    const reader = new OptionsReader('expose', options);
    const authorize = reader.function<Authorize, undefined>('authorize', undefined);
    const exposeErrorStack = reader.boolean('exposeErrorStack', undefined);
    this.handlers.set(name, { handler, authorize, exposeErrorStack });
  }

  /** Checks and stores a stream handler (see `PeerNet.exposeStream`). */
  exposeStream(name: string, handler: StreamHandler, options: ExposeStreamOptions): void {
    checkEntry('stream handler', name, handler);
    const reader = new OptionsReader('exposeStream', options);
    this.streams.set(name, { handler, authorize: reader.function<Authorize, undefined>('authorize', undefined) });
  }
}

function checkEntry(kind: string, name: unknown, handler: unknown): void {
  if (typeof name !== 'string' || name === '') throw new InvalidArgumentError(`${kind} name must be a non-empty string`);
  if (typeof handler !== 'function') throw new InvalidArgumentError(`${kind} must be a function`);
}
