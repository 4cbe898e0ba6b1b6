import type { Inference } from '../../shared/inference.ts';
import { createLogger, type Logger } from '../../shared/log.ts';
import type { SystemMetricsMessage } from '../../shared/schemas/system-metrics.ts';

/** Told each message: the reading as an object and as the JSON text to send (serialised once for all). */
export type MetricsListener = (message: SystemMetricsMessage, text: string) => void;

/** Where `/ws/system-metrics` gets its messages; `subscribe` returns the unsubscribe function. */
export interface MetricsSource {
  subscribe(listener: MetricsListener): () => void;
}

export interface MetricsFeedOptions {
  inference: Pick<Inference, 'systemMetrics'>;
  /** Time from the start of one poll to the start of the next; default 1 s (the document's rate). */
  intervalMs?: number;
  /** Where a failing poll is reported (once per run of failures); default silent. */
  logger?: Logger;
  /** The clock of `timestamp`s and intervals; default `Date.now`. */
  now?: () => number;
  /** Runs `fn` after `ms`, returning a cancel function; default `setTimeout`. */
  schedule?: (fn: () => void, ms: number) => () => void;
}

interface Run {
  controller: AbortController;
  cancel?: () => void;
}

const defaultSchedule = (fn: () => void, ms: number) => {
  const timer = setTimeout(fn, ms);
  return () => clearTimeout(timer);
};

/**
 * One poll loop over `inference.systemMetrics()` shared by every subscriber:
 * it starts (polling at once) with the first subscriber and stops, aborting
 * a poll in flight, when the last one leaves. Each runner's reading goes to
 * every listener as the document's JSON plus `runner` and `timestamp` (ms).
 * A poll that fails is skipped; a listener that throws is skipped.
 */
export class MetricsFeed implements MetricsSource {
  readonly #listeners = new Set<{ listener: MetricsListener }>();
  readonly #inference: Pick<Inference, 'systemMetrics'>;
  readonly #intervalMs: number;
  readonly #logger: Logger;
  readonly #now: () => number;
  readonly #schedule: (fn: () => void, ms: number) => () => void;
  #run: Run | undefined;
  #failing = false;

  constructor({
    inference,
    intervalMs = 1_000,
    logger = createLogger('silent'),
    now = Date.now,
    schedule = defaultSchedule,
  }: MetricsFeedOptions) {
    this.#inference = inference;
    this.#intervalMs = intervalMs;
    this.#logger = logger;
    this.#now = now;
    this.#schedule = schedule;
  }

  /** Listeners subscribed now. */
  get subscribers(): number {
    return this.#listeners.size;
  }

  /** Whether the poll loop runs (it does exactly while someone is subscribed). */
  get polling(): boolean {
    return this.#run !== undefined;
  }

  subscribe(listener: MetricsListener): () => void {
    const entry = { listener };
    this.#listeners.add(entry);
    if (!this.#run) this.#start();
    return () => {
      if (!this.#listeners.delete(entry) || this.#listeners.size > 0) return;
      const run = this.#run;
      this.#run = undefined;
      run?.cancel?.();
      run?.controller.abort();
    };
  }

  #start(): void {
    const run: Run = { controller: new AbortController() };
    this.#run = run;
    void this.#poll(run);
  }

  async #poll(run: Run): Promise<void> {
    const started = this.#now();
    try {
      const readings = await this.#inference.systemMetrics({ signal: run.controller.signal });
      if (this.#run !== run) return;
      if (this.#failing) this.#logger.info('system metrics poll recovered');
      this.#failing = false;
      const timestamp = this.#now();
      for (const { runner, sample } of readings) this.#send({ ...sample, runner, timestamp });
    } catch (err) {
      if (this.#run !== run) return;
      if (!this.#failing) this.#logger.warn('system metrics poll failed', { error: (err as Error)?.message });
      this.#failing = true;
    }
    if (this.#run !== run) return;
    const wait = Math.max(0, this.#intervalMs - (this.#now() - started));
    run.cancel = this.#schedule(() => void this.#poll(run), wait);
  }

  #send(message: SystemMetricsMessage): void {
    const text = JSON.stringify(message);
    for (const { listener } of [...this.#listeners]) {
      try {
        listener(message, text);
      } catch (err) {
        this.#logger.debug('system metrics listener failed', { error: (err as Error)?.message });
      }
    }
  }
}

/**
 * A source that gives each subscriber its own `MetricsFeed`. For Workers: an
 * isolate may not do one request's I/O (a WebSocket, a fetch) from
 * another's, so connections there cannot share one poll loop.
 */
export function perSubscriberFeed(options: MetricsFeedOptions): MetricsSource {
  return { subscribe: (listener) => new MetricsFeed(options).subscribe(listener) };
}
