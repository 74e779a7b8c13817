import type { Authorize, CallOptions, Handler, PeerIdLike, WireValue } from '@peernet/interface';

/** Options `serve` passes to {@link RpcNode.expose}. */
export interface RpcExposeOptions {
  authorize?: Authorize | undefined;
  exposeErrorStack?: boolean | undefined;
}

/**
 * What this package needs of a node. A `PeerNet` node from `peernet` is one;
 * so is anything else with these four members (a test double, a wrapper that
 * logs or meters calls).
 */
export interface RpcNode {
  /** Makes `handler` callable by peers under `name`, replacing any handler of that name. */
  expose(name: string, handler: Handler, options?: RpcExposeOptions): void;
  /** Removes the handler `name`; returns whether it existed. */
  unexpose(name: string): boolean;
  /** Calls `name` on `peer` and resolves with its reply. */
  call(peer: PeerIdLike, name: string, args?: WireValue, options?: CallOptions): Promise<WireValue>;
  /** Sends to `name` on `peer` without waiting for (or getting) a reply. */
  send(peer: PeerIdLike, name: string, args?: WireValue): Promise<void>;
}
