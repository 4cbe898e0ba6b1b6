import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { GenerationObservation, MetricsRecorder } from '../../edge/metrics/http-metrics.ts';
import type { RunnerPool } from '../../edge/runners/pool.ts';
import type { RunnerStatus } from '../../shared/schemas/runner.ts';

/** One runner the edge knows, as `edgerunner_runner_up` shows it. */
export interface RunnerHealth {
  /** Its id (the last one it answered with), else its URL. */
  runner: string;
  url: string;
  up: boolean;
}

export interface PrometheusMetricsOptions {
  /** Runners' state (`Inference.status`): models loaded, sequences busy and queued. Absent: none of those series. */
  status?: () => Promise<RunnerStatus[]>;
  /** The edge's runners (`poolHealth(pool)`); absent (embedded, a runner): no `edgerunner_runner_up`. */
  runners?: () => Promise<RunnerHealth[]>;
  /** prom-client's process metrics (`process_*`, `nodejs_*`); default true. */
  defaultMetrics?: boolean;
}

const HTTP_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
const TTFT_BUCKETS = [0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120];

/**
 * The Prometheus series of one process (embedded server, edge on Node, or
 * runner), in its own registry. Requests and generations are counted as
 * they happen (`MetricsRecorder`); models, sequences and runner health are
 * read when scraped (`render`).
 */
export class PrometheusMetrics implements MetricsRecorder {
  readonly registry = new Registry();
  readonly #requests: Counter<'route' | 'method' | 'status'>;
  readonly #duration: Histogram<'route' | 'method' | 'status'>;
  readonly #tokens: Counter<'model'>;
  readonly #ttft: Histogram<'model'>;
  readonly #modelsLoaded: Gauge<'runner'>;
  readonly #modelLoaded: Gauge<'runner' | 'model'>;
  readonly #busy: Gauge<'runner' | 'model'>;
  readonly #queued: Gauge<'runner' | 'model'>;
  readonly #capacity: Gauge<'runner'>;
  readonly #up: Gauge<'runner' | 'url'>;

  constructor(readonly options: PrometheusMetricsOptions = {}) {
    const registers = [this.registry];
    if (options.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry });
    const http = ['route', 'method', 'status'] as const;
    this.#requests = new Counter({
      name: 'edgerunner_http_requests_total',
      help: 'HTTP requests answered, by route pattern, method and status.',
      labelNames: http,
      registers,
    });
    this.#duration = new Histogram({
      name: 'edgerunner_http_request_duration_seconds',
      help: 'Time to answer an HTTP request (streams: until the headers), by route pattern, method and status.',
      labelNames: http,
      buckets: HTTP_BUCKETS,
      registers,
    });
    this.#tokens = new Counter({
      name: 'edgerunner_tokens_generated_total',
      help: 'Tokens generated (completion tokens of chat and text completions), by model.',
      labelNames: ['model'],
      registers,
    });
    this.#ttft = new Histogram({
      name: 'edgerunner_time_to_first_token_seconds',
      help: 'Time from a generation call to its first text or tool call, by model.',
      labelNames: ['model'],
      buckets: TTFT_BUCKETS,
      registers,
    });
    this.#modelsLoaded = new Gauge({
      name: 'edgerunner_models_loaded',
      help: 'Models loaded, by runner.',
      labelNames: ['runner'],
      registers,
    });
    this.#modelLoaded = new Gauge({
      name: 'edgerunner_model_loaded',
      help: '1 for each model loaded on a runner.',
      labelNames: ['runner', 'model'],
      registers,
    });
    this.#busy = new Gauge({
      name: 'edgerunner_sequences_busy',
      help: 'Chat sequences generating now, by runner and model.',
      labelNames: ['runner', 'model'],
      registers,
    });
    this.#queued = new Gauge({
      name: 'edgerunner_sequences_queued',
      help: 'Calls waiting for a free sequence, by runner and model.',
      labelNames: ['runner', 'model'],
      registers,
    });
    this.#capacity = new Gauge({
      name: 'edgerunner_sequences_capacity',
      help: 'Sequences a runner can run at once (all its loaded chat models).',
      labelNames: ['runner'],
      registers,
    });
    this.#up = new Gauge({
      name: 'edgerunner_runner_up',
      help: '1 when the edge can reach the runner now, else 0.',
      labelNames: ['runner', 'url'],
      registers,
    });
  }

  observeRequest(route: string, method: string, status: number, seconds: number): void {
    const labels = { route, method, status: String(status) };
    this.#requests.inc(labels);
    this.#duration.observe(labels, seconds);
  }

  observeGeneration({ model, tokens, ttftSeconds }: GenerationObservation): void {
    if (tokens > 0) this.#tokens.inc({ model }, tokens);
    if (ttftSeconds !== undefined) this.#ttft.observe({ model }, ttftSeconds);
  }

  /** The exposition text, after reading runners and models now (a source that fails leaves its series empty). */
  async render(): Promise<string> {
    const [statuses, runners] = await Promise.all([
      this.options.status?.().catch(() => []) ?? [],
      this.options.runners?.().catch(() => []) ?? [],
    ]);
    for (const gauge of [this.#modelsLoaded, this.#modelLoaded, this.#busy, this.#queued, this.#capacity, this.#up]) {
      gauge.reset();
    }
    for (const s of statuses) {
      const runner = s.id;
      this.#modelsLoaded.set({ runner }, s.loadedModels.length);
      this.#capacity.set({ runner }, s.capacity);
      for (const model of s.loadedModels) this.#modelLoaded.set({ runner, model }, 1);
      for (const m of s.models ?? []) {
        this.#busy.set({ runner, model: m.name }, m.busy);
        this.#queued.set({ runner, model: m.name }, m.queued);
      }
    }
    for (const r of runners) this.#up.set({ runner: r.runner, url: r.url }, r.up ? 1 : 0);
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}

/**
 * The health of the edge's runners for `edgerunner_runner_up`: up when the
 * pool has a status for it and has not marked it down. A static runner that
 * stops answering loses its id in the pool; it keeps the last one it had here,
 * so its series does not change labels.
 */
export function poolHealth(pool: Pick<RunnerPool, 'list'>): () => Promise<RunnerHealth[]> {
  const ids = new Map<string, string>();
  return async () => {
    const now = Date.now();
    return (await pool.list()).map((r) => {
      if (r.id) ids.set(r.url, r.id);
      return { runner: ids.get(r.url) ?? r.url, url: r.url, up: r.status !== null && r.downUntil <= now };
    });
  };
}
