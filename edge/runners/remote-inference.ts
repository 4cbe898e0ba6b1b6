import { AppError } from '../../shared/errors.ts';
import type { CallOptions, Inference } from '../../shared/inference.ts';
import { ModelList, type ModelSummary } from '../../shared/schemas/models.ts';
import type { RunnerStatus } from '../../shared/schemas/runner.ts';
import { noRunner, type RunnerPool } from './pool.ts';

/** Turns a runner's error answer back into an AppError with the runner's status and message. */
export async function runnerError(res: Response): Promise<AppError> {
  const text = await res.text().catch(() => '');
  let message = `Runner answered ${res.status}`;
  let code: string | undefined;
  try {
    const body = JSON.parse(text) as { error?: { message?: string; code?: string } };
    if (body.error?.message) message = body.error.message;
    code = body.error?.code;
  } catch {
    // Not our error shape: keep the status line.
  }
  const status = res.status === 401 ? 502 : res.status;
  return new AppError(status, status === 502 ? `Runner refused the edge's credentials: ${message}` : message, { code });
}

/** `Inference` over the runner pool: what the edge uses when engines live on runner nodes. */
export class RemoteInference implements Inference {
  constructor(readonly pool: RunnerPool) {}

  /** The union of every reachable runner's catalog; a model is loaded if any runner has it loaded. */
  async listModels(options: CallOptions = {}): Promise<ModelSummary[]> {
    const runners = await this.pool.candidates();
    if (runners.length === 0) throw noRunner();
    const lists = await Promise.allSettled(
      runners.map(async (runner) => {
        const res = await this.pool.callRunner(runner, '/_runner/v1/models', { signal: options.signal });
        if (!res.ok) throw await runnerError(res);
        return ModelList.parse(await res.json()).models;
      }),
    );
    const merged = new Map<string, ModelSummary>();
    let answered = false;
    for (const list of lists) {
      if (list.status !== 'fulfilled') continue;
      answered = true;
      for (const m of list.value) {
        const prev = merged.get(m.id);
        merged.set(m.id, prev ? { ...prev, loaded: prev.loaded || m.loaded } : m);
      }
    }
    if (!answered) {
      const first = lists.find((l) => l.status === 'rejected');
      if (first?.status === 'rejected' && first.reason instanceof AppError) throw first.reason;
      throw noRunner(runners.length);
    }
    return [...merged.values()];
  }

  async status(): Promise<RunnerStatus[]> {
    const runners = await this.pool.list();
    return runners.flatMap((r) => (r.status ? [r.status] : []));
  }
}
