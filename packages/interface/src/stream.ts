/**
 * A reliable, ordered, bidirectional byte stream: the only thing a secure
 * session needs from a transport. It is the subset of Node's `stream.Duplex`
 * that PeerNet uses, so a `net.Socket` is one as it is; a custom transport
 * (WebSocket, serial line, in-memory pipe) implements just these members.
 */
export interface DuplexStream {
  /** Queues bytes; returns false when the caller should wait for `'drain'`. */
  write(chunk: Uint8Array): boolean;
  /** Half-closes: no more writes; the remote side sees `'end'`. */
  end(): void;
  /** Closes both directions at once and releases the resource. */
  destroy(error?: Error): void;
  /** Stops `'data'` events until `resume()`. */
  pause(): void;
  /** Restarts `'data'` events. */
  resume(): void;
  /** True once `destroy()` was called or the stream closed. */
  readonly destroyed: boolean;
  /** Optional (Node's `cork`): hold writes until `uncork()`, which hands them on together. */
  cork?(): void;
  /** Optional: the other half of `cork()`. */
  uncork?(): void;

  on(event: 'data', listener: (chunk: Uint8Array) => void): unknown;
  on(event: 'error', listener: (error: Error) => void): unknown;
  on(event: 'drain' | 'end' | 'close', listener: () => void): unknown;
  once(event: 'data', listener: (chunk: Uint8Array) => void): unknown;
  once(event: 'error', listener: (error: Error) => void): unknown;
  once(event: 'drain' | 'end' | 'close', listener: () => void): unknown;
  off(event: 'data', listener: (chunk: Uint8Array) => void): unknown;
  off(event: 'error', listener: (error: Error) => void): unknown;
  off(event: 'drain' | 'end' | 'close', listener: () => void): unknown;
}
