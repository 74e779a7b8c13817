import { InvalidArgumentError } from '@peernet/interface';

/** Event names mapped to listener signatures. */
export type EventMap<Events> = { [E in keyof Events]: (...args: never[]) => void };

/**
 * A minimal typed event emitter that runs in any JavaScript runtime. A
 * listener that throws does not stop the others nor the emitting operation;
 * its error is rethrown from a microtask, where it surfaces as an uncaught
 * exception like a throwing `EventTarget` listener.
 */
export class TypedEmitter<Events extends EventMap<Events>> {
  readonly #listeners = new Map<keyof Events, Set<Events[keyof Events]>>();

  /** Adds a listener (adding the same function twice has no effect). */
  on<E extends keyof Events>(event: E, listener: Events[E]): void {
    if (typeof listener !== 'function') throw new InvalidArgumentError('listener must be a function');
    let set = this.#listeners.get(event);
    if (set === undefined) this.#listeners.set(event, (set = new Set()));
    set.add(listener);
  }

  /** Removes a listener; unknown listeners are ignored. */
  off<E extends keyof Events>(event: E, listener: Events[E]): void {
    const set = this.#listeners.get(event);
    if (set === undefined) return;
    set.delete(listener);
    if (set.size === 0) this.#listeners.delete(event);
  }

  /** Calls the event's listeners in the order they were added. */
  emit<E extends keyof Events>(event: E, ...args: Parameters<Events[E]>): void {
    const set = this.#listeners.get(event);
    if (set === undefined) return;
    for (const listener of [...set]) {
      try {
        (listener as (...values: Parameters<Events[E]>) => void)(...args);
      } catch (error) {
        queueMicrotask(() => {
          throw error;
        });
      }
    }
  }
}
