import { AppError } from '../../shared/errors.ts';
import { AsyncQueue } from '../../shared/async-queue.ts';
import type { LoadEvent } from '../../shared/schemas/models.ts';
import type { HostedModel, ModelHost } from './model-host.ts';

/**
 * Downloads (when missing) and loads `name` on the host, as the document's SSE events of
 * `POST /v1/models/{name}/load`: `{progress}` while downloading, `{status: 'exists' | 'completed'}` for the file,
 * then `{status: 'loaded'}`. An unknown name (404) or a kind no engine loads (400) throws before any event.
 */
export function loadEvents(
  host: ModelHost<HostedModel>,
  name: string,
  { signal }: { signal?: AbortSignal } = {},
): AsyncIterable<LoadEvent> {
  const entry = host.entry(name);
  if (!host.loads(entry.kind))
    throw new AppError(400, `Model ${name} is a ${entry.kind} model, which this server does not load`, {
      param: 'model',
    });
  const queue = new AsyncQueue<LoadEvent>();
  (async () => {
    let last = -1;
    let found = false;
    const lease = await host.acquire(name, {
      signal,
      onProgress: (p) => {
        if (p !== last) queue.push({ progress: (last = p) });
      },
      onFile: (status) => {
        found = true;
        queue.push({ status });
      },
    });
    lease.release();
    if (!found) queue.push({ status: 'exists' });
    queue.push({ status: 'loaded' });
    queue.end();
  })().catch((err: unknown) => queue.fail(err));
  return queue;
}
