/** A push-driven async iterable: producers `push`/`end`/`fail`, one consumer iterates. */
export class AsyncQueue<T> implements AsyncIterable<T> {
  readonly #items: T[] = [];
  #waiting: ((r: IteratorResult<T>) => void) | null = null;
  #failWaiting: ((err: unknown) => void) | null = null;
  #done = false;
  #error: unknown = undefined;
  #onReturn: (() => void) | undefined;

  /** `onReturn` runs when the consumer stops early (e.g. a client disconnected). */
  constructor(onReturn?: () => void) {
    this.#onReturn = onReturn;
  }

  push(item: T): void {
    if (this.#done) return;
    if (this.#waiting) {
      const resolve = this.#waiting;
      this.#waiting = this.#failWaiting = null;
      resolve({ value: item, done: false });
    } else this.#items.push(item);
  }

  end(): void {
    if (this.#done) return;
    this.#done = true;
    if (this.#waiting) {
      const resolve = this.#waiting;
      this.#waiting = this.#failWaiting = null;
      resolve({ value: undefined, done: true });
    }
  }

  fail(err: unknown): void {
    if (this.#done) return;
    this.#error = err;
    this.#done = true;
    if (this.#failWaiting) {
      const reject = this.#failWaiting;
      this.#waiting = this.#failWaiting = null;
      reject(err);
    }
  }

  [Symbol.asyncIterator](): AsyncIterator<T> {
    return {
      next: () => {
        if (this.#items.length) return Promise.resolve({ value: this.#items.shift()!, done: false });
        if (this.#error !== undefined) return Promise.reject(this.#error);
        if (this.#done) return Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve, reject) => {
          this.#waiting = resolve;
          this.#failWaiting = reject;
        });
      },
      return: () => {
        this.#done = true;
        this.#items.length = 0;
        this.#onReturn?.();
        return Promise.resolve({ value: undefined, done: true });
      },
    };
  }
}
