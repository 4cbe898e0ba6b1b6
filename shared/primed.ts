/**
 * Waits for an iterable's first item, then gives it back with the rest: a failure before any output is thrown
 * here, so a route can still answer it with an HTTP status instead of an error inside a stream.
 */
export async function primed<T>(events: AsyncIterable<T>): Promise<AsyncIterable<T>> {
  const iterator = events[Symbol.asyncIterator]();
  const first = await iterator.next();
  return (async function* () {
    try {
      if (first.done) return;
      yield first.value;
      for (let next = await iterator.next(); !next.done; next = await iterator.next()) yield next.value;
    } finally {
      await iterator.return?.();
    }
  })();
}
