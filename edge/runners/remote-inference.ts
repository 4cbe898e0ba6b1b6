import { AppError } from '../../shared/errors.ts';
import type { CallOptions, Inference } from '../../shared/inference.ts';
import type { ChatEvent, ChatRequest } from '../../shared/schemas/chat.ts';
import { EmbedResult } from '../../shared/schemas/embeddings.ts';
import { ModelList, type LoadEvent, type ModelSummary } from '../../shared/schemas/models.ts';
import { parseSSE } from '../../shared/sse.ts';
import type { RunnerStatus } from '../../shared/schemas/runner.ts';
import { noRunner, type CallInit, type PickHints, type RunnerPool, type RunnerState } from './pool.ts';
import type { TransportResponse } from './transport.ts';

/** Turns a runner's error answer back into an AppError with the runner's status and message. */
export async function runnerError(res: TransportResponse): Promise<AppError> {
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
    if (runners.length === 1) {
      return this.#catalogOf(runners[0]!, options.signal).catch((err: unknown) => {
        throw err instanceof AppError ? err : noRunner(1);
      });
    }
    const lists = await Promise.allSettled(runners.map((runner) => this.#catalogOf(runner, options.signal)));
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

  async #catalogOf(runner: RunnerState, signal: AbortSignal | undefined): Promise<ModelSummary[]> {
    const res = await this.pool.callRunner(runner, '/_runner/v1/models', { signal });
    if (!res.ok) throw await runnerError(res);
    return ModelList.parse(await res.json()).models;
  }

  async status(): Promise<RunnerStatus[]> {
    const runners = await this.pool.list();
    return runners.flatMap((r) => (r.status ? [r.status] : []));
  }

  async loadModel(name: string, options: CallOptions = {}): Promise<AsyncIterable<LoadEvent>> {
    const path = `/_runner/v1/models/${encodeURIComponent(name)}/load`;
    return this.#stream<LoadEvent>(
      path,
      { method: 'POST', signal: options.signal },
      { model: name, runnerId: options.runnerId },
      options,
      (event, runner) => {
        if ('status' in event && event.status === 'loaded') this.pool.noteModel(runner, name, true);
      },
    );
  }

  /** Unloads the model from every runner that has it. */
  async unloadModel(name: string, options: CallOptions = {}): Promise<boolean> {
    const path = `/_runner/v1/models/${encodeURIComponent(name)}/unload`;
    const runners = await this.pool.candidates();
    if (runners.length === 0) throw noRunner();
    const results = await Promise.all(
      runners.map(async (runner) => {
        const res = await this.pool.callRunner(runner, path, { method: 'POST', signal: options.signal });
        if (!res.ok) throw await runnerError(res);
        const { unloaded } = (await res.json()) as { unloaded: boolean };
        this.pool.noteModel(runner, name, false);
        return unloaded;
      }),
    );
    return results.some(Boolean);
  }

  async chat(request: ChatRequest, options: CallOptions & { sessionId: string }): Promise<AsyncIterable<ChatEvent>> {
    const init = { method: 'POST', body: { sessionId: options.sessionId, request }, signal: options.signal };
    return this.#stream<ChatEvent>(
      '/_runner/v1/chat',
      init,
      { model: request.model, runnerId: options.runnerId },
      options,
    );
  }

  async embed(model: string, inputs: string[], options: CallOptions = {}): Promise<EmbedResult> {
    const init = { method: 'POST', body: { model, inputs }, signal: options.signal };
    const { response } = await this.pool.call('/_runner/v1/embed', init, { model, runnerId: options.runnerId });
    if (!response.ok) throw await runnerError(response);
    return EmbedResult.parse(await response.json());
  }

  /** Asks every runner to stop the session (it may have moved); true if one did. */
  async stop(sessionId: string, options: CallOptions = {}): Promise<boolean> {
    const runners = await this.pool.candidates({ runnerId: options.runnerId });
    const results = await Promise.allSettled(
      runners.map(async (runner) => {
        const res = await this.pool.callRunner(runner, '/_runner/v1/stop', { method: 'POST', body: { sessionId } });
        return res.ok && ((await res.json()) as { stopped: boolean }).stopped;
      }),
    );
    return results.some((r) => r.status === 'fulfilled' && r.value);
  }

  /** Calls a streaming rpc; an error answer becomes an AppError, an error event ends the stream with one. */
  async #stream<T>(
    path: string,
    init: CallInit,
    hints: PickHints,
    options: CallOptions,
    onEvent?: (event: T, runner: RunnerState) => void,
  ): Promise<AsyncIterable<T>> {
    const { response, runner } = await this.pool.call(path, init, hints);
    if (!response.ok || !response.body) throw await runnerError(response);
    options.onRoute?.(runner.id!);
    const body = response.body;
    return (async function* () {
      for await (const data of parseSSE(body, options.signal)) {
        const event = JSON.parse(data) as
          T | { type: 'error'; error: { message: string; status: number; code?: string } };
        if (typeof event === 'object' && event && 'type' in event && event.type === 'error' && 'error' in event) {
          throw new AppError(event.error.status, event.error.message, { code: event.error.code });
        }
        onEvent?.(event as T, runner);
        yield event as T;
      }
    })();
  }
}
