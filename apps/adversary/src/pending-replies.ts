// Requests to a child process over its IPC channel, matched to their replies
// by sequence number, each with a timeout; shared by the attack target and
// the soak nodes.

interface Waiter {
  resolve(value: unknown): void;
  reject(error: Error): void;
}

/** The requests sent to one child process that have not been answered yet. */
export class PendingReplies {
  #seq = 0;
  readonly #waiting = new Map<number, Waiter>();

  /**
   * Sends a request through `send` (given its sequence number) and resolves
   * with the value its reply carries, or rejects with `timeoutError` after `timeoutMs`.
   */
  request<T>(send: (seq: number) => void, timeoutMs: number, timeoutError: () => Error): Promise<T> {
    const seq = ++this.#seq;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiting.delete(seq);
        reject(timeoutError());
      }, timeoutMs);
      this.#waiting.set(seq, {
        resolve: (value) => {
          clearTimeout(timer);
          resolve(value as T);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      });
      send(seq);
    });
  }

  /** Settles request `seq` with `value`, or with `error` when one is given; unknown numbers are ignored. */
  settle(seq: number, value: unknown, error?: Error): void {
    const waiter = this.#waiting.get(seq);
    if (!waiter) return;
    this.#waiting.delete(seq);
    if (error) waiter.reject(error);
    else waiter.resolve(value);
  }

  /** Rejects every request still waiting (the process is gone). */
  rejectAll(error: Error): void {
    for (const waiter of this.#waiting.values()) waiter.reject(error);
    this.#waiting.clear();
  }
}
