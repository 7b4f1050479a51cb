/**
 * Runs tasks one at a time per key (FIFO), concurrently across keys. Used in front of the event
 * store's optimistic check so that commands for one stream inside one process do not race each
 * other into retries; the optimistic check remains the guarantee across processes.
 */
export class KeyedQueue {
  readonly #tails = new Map<string, Promise<unknown>>();

  run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const previous = this.#tails.get(key) ?? Promise.resolve();
    const result = previous.then(task, task);
    const tail = result.then(
      () => undefined,
      () => undefined,
    );
    this.#tails.set(key, tail);
    void tail.then(() => {
      if (this.#tails.get(key) === tail) this.#tails.delete(key);
    });
    return result;
  }

  /** Keys with queued or running work. */
  get size(): number {
    return this.#tails.size;
  }
}
