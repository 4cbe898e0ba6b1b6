import { gt } from 'drizzle-orm';
import type { Db } from '../../drizzle/db.ts';
import { runners } from '../../drizzle/schema.ts';
import { AppError } from '../../shared/errors.ts';
import { RunnerStatus, type RunnerHeartbeat } from '../../shared/schemas/runner.ts';
import type { Transport, TransportResponse } from './transport.ts';

export interface RunnerState {
  url: string;
  id: string | null;
  status: RunnerStatus | null;
  /** Set when a call failed to connect; the runner is skipped until then. */
  downUntil: number;
  checkedAt: number;
  /** Calls this edge has in flight on the runner. */
  inflight: number;
  source: 'static' | 'registered';
}

export interface RunnerPoolOptions {
  /** Static runners (`RUNNER_URLS`). */
  urls?: string[];
  /** Where self-registered runners are kept (shared by all edge instances). */
  db?: Db;
  /** Signs a token for a runner id (`aud`). */
  sign: (runnerId: string) => Promise<string>;
  transport: Transport;
  /** How long a runner's reported status is trusted before it is asked again; default 2 s. */
  statusTtlMs?: number;
  /** A registered runner silent for longer is dropped; default 30 s. */
  heartbeatTimeoutMs?: number;
  /** How long a runner that refused a connection is skipped; default 1 s. */
  downMs?: number;
}

export interface PickHints {
  model?: string;
  runnerId?: string | null;
}

export interface CallInit {
  method?: string;
  body?: unknown;
  signal?: AbortSignal;
  headers?: Record<string, string>;
}

/**
 * The runners an edge knows: static ones and those that registered with a
 * heartbeat. Picks a runner for a call (has the model loaded, then session
 * affinity, then least busy) and fails over when a runner refuses the
 * connection before answering.
 */
export class RunnerPool {
  readonly #runners = new Map<string, RunnerState>();
  readonly #opts: Required<Omit<RunnerPoolOptions, 'db' | 'urls'>> & Pick<RunnerPoolOptions, 'db'>;
  #registeredAt = 0;
  #refreshing: Promise<void> | null = null;

  constructor(options: RunnerPoolOptions) {
    this.#opts = { statusTtlMs: 2_000, heartbeatTimeoutMs: 30_000, downMs: 1_000, ...options };
    for (const url of options.urls ?? []) this.#runners.set(trimSlash(url), blank(trimSlash(url), 'static'));
  }

  /** Every runner known now, after refreshing stale status. */
  async list(): Promise<RunnerState[]> {
    await this.refresh();
    return [...this.#runners.values()];
  }

  /** Runners that can take a call now, best first. */
  async candidates(hints: PickHints = {}): Promise<RunnerState[]> {
    await this.refresh();
    const now = Date.now();
    const up: RunnerState[] = [];
    for (const r of this.#runners.values()) if (r.id && r.status && r.downUntil <= now) up.push(r);
    if (up.length < 2) return up;
    const score = (r: RunnerState) => [
      hints.model && r.status!.loadedModels.includes(hints.model) ? 0 : 1,
      hints.runnerId && r.id === hints.runnerId ? 0 : 1,
      (r.inflight + r.status!.busy) / Math.max(1, r.status!.capacity),
    ];
    return up.sort((a, b) => {
      const [x, y] = [score(a), score(b)];
      for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return x[i]! - y[i]!;
      return 0;
    });
  }

  /**
   * Calls `path` on the best runner; on a connection refused before any
   * answer, marks it down and tries the next. 503 when none can serve.
   */
  async call(
    path: string,
    init: CallInit = {},
    hints: PickHints = {},
  ): Promise<{ response: TransportResponse; runner: RunnerState }> {
    const tried: string[] = [];
    for (const runner of await this.candidates(hints)) {
      if (init.signal?.aborted) throw init.signal.reason;
      try {
        return { response: await this.callRunner(runner, path, init), runner };
      } catch (err) {
        if (init.signal?.aborted) throw err;
        tried.push(runner.url);
        runner.downUntil = Date.now() + this.#opts.downMs;
      }
    }
    throw noRunner(tried.length);
  }

  /** One call to one runner, signed for its id. Throws only when no answer came. */
  async callRunner(runner: RunnerState, path: string, init: CallInit = {}): Promise<TransportResponse> {
    const token = await this.#opts.sign(runner.id!);
    const headers: Record<string, string> = { authorization: `Bearer ${token}`, ...init.headers };
    let body: string | undefined;
    if (init.body !== undefined) {
      body = JSON.stringify(init.body);
      headers['content-type'] = 'application/json';
    }
    runner.inflight++;
    try {
      return await this.#opts.transport(runner.url + path, {
        method: init.method ?? (body ? 'POST' : 'GET'),
        headers,
        body,
        signal: init.signal,
      });
    } finally {
      runner.inflight--;
    }
  }

  /** Notes that a runner loaded or unloaded a model, so routing knows before its next status report. */
  noteModel(runner: RunnerState, model: string, loaded: boolean): void {
    if (!runner.status) return;
    const others = runner.status.loadedModels.filter((m) => m !== model);
    runner.status = { ...runner.status, loadedModels: loaded ? [...others, model] : others };
  }

  /** Records a heartbeat (in memory and, when a database is set, for the other edge instances). */
  async heartbeat(beat: RunnerHeartbeat): Promise<void> {
    const url = trimSlash(beat.url);
    const status: RunnerStatus = {
      id: beat.id,
      loadedModels: beat.loadedModels,
      capacity: beat.capacity,
      busy: beat.busy,
    };
    const now = Date.now();
    const known = this.#runners.get(url) ?? blank(url, 'registered');
    Object.assign(known, { id: beat.id, status, checkedAt: now, downUntil: 0 });
    this.#runners.set(url, known);
    if (this.#opts.db) {
      const row = { id: beat.id, url, status, lastSeenAt: new Date(now) };
      await this.#opts.db
        .insert(runners)
        .values(row)
        .onConflictDoUpdate({ target: runners.id, set: { url, status, lastSeenAt: row.lastSeenAt } })
        .run();
    }
  }

  /** Refreshes what is stale; concurrent callers share one refresh. */
  refresh(): Promise<void> {
    const now = Date.now();
    const stale =
      now - this.#registeredAt > this.#opts.statusTtlMs ||
      [...this.#runners.values()].some((r) => r.source === 'static' && now - r.checkedAt > this.#opts.statusTtlMs);
    if (!stale) return Promise.resolve();
    if (!this.#refreshing) {
      this.#refreshing = this.#refreshAll().finally(() => (this.#refreshing = null));
    }
    // Callers with usable state go on at once; only a pool that knows nothing waits.
    const usable = [...this.#runners.values()].some((r) => r.status);
    return usable ? Promise.resolve() : this.#refreshing;
  }

  async #refreshAll(): Promise<void> {
    const now = Date.now();
    if (this.#opts.db && now - this.#registeredAt > this.#opts.statusTtlMs) {
      this.#registeredAt = now;
      const since = new Date(now - this.#opts.heartbeatTimeoutMs);
      const rows = await this.#opts.db.select().from(runners).where(gt(runners.lastSeenAt, since)).all();
      const alive = new Set(rows.map((r) => r.url));
      for (const row of rows) {
        const known = this.#runners.get(row.url) ?? blank(row.url, 'registered');
        if (row.lastSeenAt.getTime() >= known.checkedAt) {
          Object.assign(known, {
            id: row.id,
            status: { id: row.id, ...row.status },
            checkedAt: row.lastSeenAt.getTime(),
          });
        }
        this.#runners.set(row.url, known);
      }
      for (const [url, r] of this.#runners) {
        if (r.source === 'registered' && !alive.has(url) && now - r.checkedAt > this.#opts.heartbeatTimeoutMs) {
          this.#runners.delete(url);
        }
      }
    }
    await Promise.all(
      [...this.#runners.values()]
        .filter((r) => r.source === 'static' && now - r.checkedAt > this.#opts.statusTtlMs)
        .map((r) => this.#probe(r)),
    );
  }

  /** Asks a static runner who it is (unsigned) and how it is doing (signed). */
  async #probe(runner: RunnerState): Promise<void> {
    runner.checkedAt = Date.now();
    try {
      if (!runner.id) {
        const res = await this.#opts.transport(`${runner.url}/_runner/health`, { method: 'GET', headers: {} });
        const body = (await res.json()) as { id?: string };
        if (!res.ok || !body.id) throw new Error(`health answered ${res.status}`);
        runner.id = body.id;
      }
      const res = await this.callRunner(runner, '/_runner/v1/status');
      if (!res.ok) throw new Error(`status answered ${res.status}`);
      runner.status = RunnerStatus.parse(await res.json());
      runner.downUntil = 0;
    } catch {
      runner.status = null;
      runner.id = null;
    }
  }
}

/** 503 with `Retry-After`: no runner can take the call. */
export function noRunner(tried = 0): AppError {
  return new AppError(
    503,
    tried
      ? `No runner could be reached (tried ${tried}); retry shortly`
      : 'No runner is available to serve this request; start one with `npm run runner` and list it in RUNNER_URLS',
    { code: 'no_runner', headers: { 'Retry-After': '1' } },
  );
}

function blank(url: string, source: RunnerState['source']): RunnerState {
  return { url, id: null, status: null, downUntil: 0, checkedAt: 0, inflight: 0, source };
}

function trimSlash(url: string): string {
  return url.replace(/\/+$/, '');
}
