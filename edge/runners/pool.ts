import { eq, gt } from 'drizzle-orm';
import type { Db } from '../../drizzle/db.ts';
import { runners } from '../../drizzle/schema.ts';
import { AppError } from '../../shared/errors.ts';
import { createLogger, type Logger } from '../../shared/log.ts';
import { checkRunnerProof, newRunnerChallenge } from '../../shared/runner-proof.ts';
import type { RunnerCall } from '../../shared/runner-token.ts';
import { RunnerStatus, type RunnerHeartbeat } from '../../shared/schemas/runner.ts';
import type { RunnerCredential } from './registration.ts';
import { noRunner, runnerError, runnerLost } from './runner-errors.ts';
import { TransportError, type Transport, type TransportResponse } from './transport.ts';

export { noRunner } from './runner-errors.ts';

export interface RunnerState {
  url: string;
  id: string | null;
  status: RunnerStatus | null;
  /** Set when a call failed to connect; the runner is skipped until then. */
  downUntil: number;
  checkedAt: number;
  /** When this edge instance last checked the runner's proof of identity at this URL (0: never). */
  verifiedAt: number;
  /** Calls this edge has in flight on the runner; a stream counts until it ends. */
  inflight: number;
  source: 'static' | 'registered';
}

export interface RunnerPoolOptions {
  /** Static runners (`RUNNER_URLS`). */
  urls?: string[];
  /** Where self-registered runners are kept (shared by all edge instances). */
  db?: Db;
  /** Signs a token for one call to a runner id (`aud`). */
  sign: (runnerId: string, call: RunnerCall) => Promise<string>;
  transport: Transport;
  /** How long a runner's reported status is trusted before it is asked again; default 2 s. */
  statusTtlMs?: number;
  /** A registered runner silent for longer is dropped; default 30 s. */
  heartbeatTimeoutMs?: number;
  /** How long a runner that refused a connection is skipped; default 1 s. */
  downMs?: number;
  /** How long a verified registration is trusted before its runner must prove itself again; default 10 min. */
  reverifyMs?: number;
  /** How long a registering runner has to answer its identity challenge; default 5 s. */
  verifyTimeoutMs?: number;
  /** Where lost runners are reported; default silent. */
  logger?: Logger;
}

/** Calls that generate nothing: safe to send to another runner whatever happened to the first try. */
const IDEMPOTENT = new Set(['GET', 'HEAD']);

export interface PickHints {
  model?: string;
  runnerId?: string | null;
}

export interface CallInit {
  method?: string;
  body?: unknown;
  signal?: AbortSignal;
  headers?: Record<string, string>;
  /** The answer is a long event stream: it goes on the stream connections and counts as in flight until it ends. */
  stream?: boolean;
}

/**
 * The runners an edge knows: static ones and those that registered with a
 * heartbeat. Picks a runner for a call (has the model loaded, then session
 * affinity, then least busy) and fails over only when a runner did not
 * take the call (connection refused, or 503 before any byte). Only
 * transport failures mark a runner down.
 */
export class RunnerPool {
  readonly #runners = new Map<string, RunnerState>();
  readonly #opts: Required<Omit<RunnerPoolOptions, 'db' | 'urls'>> & Pick<RunnerPoolOptions, 'db'>;
  /** Where the pool reports lost runners; the runner client logs through it too. */
  readonly logger: Logger;
  #registeredAt = 0;
  #refreshing: Promise<void> | null = null;

  constructor(options: RunnerPoolOptions) {
    this.#opts = {
      statusTtlMs: 2_000,
      heartbeatTimeoutMs: 30_000,
      downMs: 1_000,
      reverifyMs: 600_000,
      verifyTimeoutMs: 5_000,
      logger: createLogger('silent'),
      ...options,
    };
    this.logger = this.#opts.logger;
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
   * Calls `path` on the best runner. Goes on to the next runner only when
   * this one did not take the call: the connection failed, a GET failed in
   * any way, or it answered 503 (its error is thrown if every runner does).
   * A POST that may have reached a runner is never sent twice: a transport
   * failure after sending is a 502 `runner_lost`. 503 when none can serve.
   */
  async call(
    path: string,
    init: CallInit = {},
    hints: PickHints = {},
  ): Promise<{ response: TransportResponse; runner: RunnerState }> {
    const body = serialise(init.body);
    const method = init.method ?? (body !== undefined ? 'POST' : 'GET');
    let tried = 0;
    let refused: AppError | undefined;
    for (const runner of await this.candidates(hints)) {
      if (init.signal?.aborted) throw init.signal.reason;
      let response: TransportResponse;
      try {
        response = await this.#send(runner, path, { ...init, method }, body);
      } catch (err) {
        if (init.signal?.aborted || !(err instanceof TransportError)) throw err;
        tried++;
        if (err.sent && !IDEMPOTENT.has(method)) throw runnerLost(runner.id, err.message, err);
        continue;
      }
      if (response.status === 503) {
        tried++;
        refused = await runnerError(response);
        continue;
      }
      return { response, runner };
    }
    throw refused ?? noRunner(tried);
  }

  /**
   * One call to one runner, signed for its id, method and path. Throws
   * `TransportError` (and marks the runner down) only when no answer came; a
   * body that cannot be serialised is a 400 and touches no runner.
   */
  async callRunner(runner: RunnerState, path: string, init: CallInit = {}): Promise<TransportResponse> {
    const body = serialise(init.body);
    return this.#send(runner, path, { ...init, method: init.method ?? (body !== undefined ? 'POST' : 'GET') }, body);
  }

  async #send(
    runner: RunnerState,
    path: string,
    init: CallInit & { method: string },
    body: string | undefined,
  ): Promise<TransportResponse> {
    const token = await this.#opts.sign(runner.id!, { method: init.method, path });
    const headers: Record<string, string> = { authorization: `Bearer ${token}`, ...init.headers };
    if (body !== undefined) headers['content-type'] = 'application/json';
    runner.inflight++;
    let response: TransportResponse;
    try {
      response = await this.#opts.transport(runner.url + path, {
        method: init.method,
        headers,
        body,
        signal: init.signal,
        stream: init.stream,
      });
    } catch (err) {
      runner.inflight--;
      if (err instanceof TransportError && !init.signal?.aborted) this.markDown(runner, err.message);
      throw err;
    }
    if (!init.stream) {
      runner.inflight--;
      return response;
    }
    return holdUntilEnd(response, () => runner.inflight--);
  }

  /** Skips a runner for a while after a transport failure (a lost connection, a refused one), and says so once. */
  markDown(runner: RunnerState, reason: string): void {
    const now = Date.now();
    if (runner.downUntil <= now) {
      this.logger.warn('runner unreachable', { runner: runner.id, url: runner.url, error: reason });
    }
    runner.downUntil = now + this.#opts.downMs;
  }

  /** Notes that a runner loaded or unloaded a model, so routing knows before its next status report. */
  noteModel(runner: RunnerState, model: string, loaded: boolean): void {
    if (!runner.status) return;
    const others = runner.status.loadedModels.filter((m) => m !== model);
    runner.status = { ...runner.status, loadedModels: loaded ? [...others, model] : others };
  }

  /** A runner's unsigned health answer (with a proof when `challenge` is given). */
  async #health(url: string, challenge?: string, signal?: AbortSignal): Promise<{ id?: unknown; proof?: unknown }> {
    const query = challenge ? `?challenge=${challenge}` : '';
    const res = await this.#opts.transport(`${url}/_runner/health${query}`, { method: 'GET', headers: {}, signal });
    if (!res.ok) throw new Error(`health answered ${res.status}`);
    const body = await res.json();
    return body && typeof body === 'object' ? body : {};
  }

  /**
   * Registers a runner from its heartbeat, `credential` being what the
   * heartbeat authenticated with. A new id or URL is added only once the
   * runner at that URL answers a fresh challenge with this id and a proof
   * made with the credential (422 `runner_unverified` otherwise); the proof
   * is asked again after `reverifyMs`, since a heartbeat shows that its
   * sender holds the credential, not that the runner at the URL still does.
   * An id held by a live runner at another URL is refused (409
   * `runner_id_taken`) unless the credential is the id's own: then the
   * runner has moved, and its old URL is dropped.
   */
  async register(beat: RunnerHeartbeat, credential: RunnerCredential, signal?: AbortSignal): Promise<void> {
    const url = trimSlash(beat.url);
    const known = this.#runners.get(url);
    if (known?.id === beat.id && Date.now() - known.verifiedAt < this.#opts.reverifyMs) return this.heartbeat(beat);
    const refuse = (status: number, code: string, message: string, reason: string) => {
      this.logger.warn('runner registration refused', { runner: beat.id, url, reason });
      return new AppError(status, message, { code });
    };
    if (!credential.own && (await this.#heldElsewhere(beat.id, url))) {
      const wait = this.#opts.heartbeatTimeoutMs / 1000;
      throw refuse(
        409,
        'runner_id_taken',
        `Runner id "${beat.id}" is held by a live runner at another URL; choose another RUNNER_ID, or retry once that runner has been silent for ${wait} s`,
        'id held by a live runner at another URL',
      );
    }
    const why = await this.#unverified(beat.id, url, credential.secret, signal);
    if (why) throw refuse(422, 'runner_unverified', `Runner "${beat.id}" at ${url} could not be verified: ${why}`, why);
    await this.heartbeat(beat);
    this.#runners.get(url)!.verifiedAt = Date.now();
    for (const [other, r] of this.#runners) {
      if (other !== url && r.source === 'registered' && r.id === beat.id) this.#runners.delete(other);
    }
  }

  /** Why the runner at `url` failed to prove that it is `id` holding `secret`; undefined when it proved it. */
  async #unverified(id: string, url: string, secret: string, signal?: AbortSignal): Promise<string | undefined> {
    const challenge = newRunnerChallenge();
    const timeout = AbortSignal.timeout(this.#opts.verifyTimeoutMs);
    let answer: { id?: unknown; proof?: unknown };
    try {
      answer = await this.#health(url, challenge, signal ? AbortSignal.any([signal, timeout]) : timeout);
    } catch (err) {
      if (signal?.aborted) throw signal.reason;
      const detail = timeout.aborted ? `no answer within ${this.#opts.verifyTimeoutMs} ms` : (err as Error).message;
      return `its health check failed (${detail})`;
    }
    if (answer.id !== id) return `it answers as ${JSON.stringify(answer.id ?? null)}`;
    if (!(await checkRunnerProof(secret, { challenge, id, url }, answer.proof))) {
      return 'its proof of identity was not made with this credential (is its RUNNER_TOKEN the one it registers with?)';
    }
    return undefined;
  }

  /** Whether a live runner (a recent heartbeat, or a static runner that answers) holds `id` at a URL other than `url`. */
  async #heldElsewhere(id: string, url: string): Promise<boolean> {
    const since = Date.now() - this.#opts.heartbeatTimeoutMs;
    for (const r of this.#runners.values()) {
      if (r.id !== id || r.url === url || !r.status) continue;
      if (r.source === 'static' || r.checkedAt > since) return true;
    }
    if (!this.#opts.db) return false;
    const row = await this.#opts.db.select().from(runners).where(eq(runners.id, id)).get();
    return Boolean(row && row.url !== url && row.lastSeenAt.getTime() > since);
  }

  /** Records a heartbeat already authenticated and verified (see `register`), in memory and, when a database is set, for the other edge instances. */
  async heartbeat(beat: RunnerHeartbeat): Promise<void> {
    const url = trimSlash(beat.url);
    const status: RunnerStatus = {
      id: beat.id,
      loadedModels: beat.loadedModels,
      capacity: beat.capacity,
      busy: beat.busy,
      ...(beat.models && { models: beat.models }),
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
      const claimed = new Set(rows.map((r) => r.id));
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
        // Gone silent, or its id has registered at another URL since (rows are keyed by id).
        const moved = r.id !== null && claimed.has(r.id);
        if (
          r.source === 'registered' &&
          !alive.has(url) &&
          (moved || now - r.checkedAt > this.#opts.heartbeatTimeoutMs)
        ) {
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
        const { id } = await this.#health(runner.url);
        if (typeof id !== 'string' || !id) throw new Error('health named no runner id');
        runner.id = id;
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

/** The body as JSON; a body that cannot be serialised (nested too deeply) is the request's fault: a 400. */
function serialise(body: unknown): string | undefined {
  if (body === undefined) return undefined;
  try {
    return JSON.stringify(body);
  } catch (err) {
    const why = err instanceof RangeError ? 'it is nested too deeply' : (err as Error).message;
    throw new AppError(400, `The request cannot be forwarded to a runner: ${why}`, {
      code: 'invalid_request',
      cause: err,
    });
  }
}

/** A streamed answer whose `release` runs once, when its body ends, fails, is cancelled or is read whole. */
function holdUntilEnd(res: TransportResponse, release: () => void): TransportResponse {
  let held = true;
  const end = () => {
    if (!held) return;
    held = false;
    release();
  };
  const source = res.body;
  if (!source) {
    end();
    return res;
  }
  const reader = source.getReader();
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const { value, done } = await reader.read();
        if (done) {
          end();
          controller.close();
        } else controller.enqueue(value);
      } catch (err) {
        end();
        controller.error(err);
      }
    },
    cancel(reason) {
      end();
      return reader.cancel(reason);
    },
  });
  const text = async () => {
    try {
      return await new Response(body).text();
    } finally {
      end();
    }
  };
  return {
    status: res.status,
    ok: res.ok,
    headers: res.headers,
    body,
    text,
    json: async () => JSON.parse(await text()) as unknown,
  };
}

function blank(url: string, source: RunnerState['source']): RunnerState {
  return { url, id: null, status: null, downUntil: 0, checkedAt: 0, verifiedAt: 0, inflight: 0, source };
}

function trimSlash(url: string): string {
  return url.replace(/\/+$/, '');
}
