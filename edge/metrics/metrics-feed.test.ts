import { describe, expect, it } from 'vitest';
import type { CallOptions } from '../../shared/inference.ts';
import type { Logger } from '../../shared/log.ts';
import type { RunnerSample, SystemMetricsMessage, SystemSample } from '../../shared/schemas/system-metrics.ts';
import { MetricsFeed, perSubscriberFeed } from './metrics-feed.ts';

const SAMPLE: SystemSample = {
  cpu: { percent: 12.5, frequency_current: 2000, frequency_max: 3000, cores: 8 },
  memory: { total: 16, available: 12, used: 4, percent: 25 },
  gpu: [],
};

/** A clock and timer queue the test advances by hand. */
function manualTime(start = 1_000_000) {
  let now = start;
  const timers: { at: number; fn: () => void; cancelled: boolean }[] = [];
  return {
    now: () => now,
    schedule: (fn: () => void, ms: number) => {
      const timer = { at: now + ms, fn, cancelled: false };
      timers.push(timer);
      return () => {
        timer.cancelled = true;
      };
    },
    pending: () => timers.filter((t) => !t.cancelled).length,
    /** Moves the clock on by `ms`, running the timers due. */
    async advance(ms: number) {
      now += ms;
      for (;;) {
        const due = timers.find((t) => !t.cancelled && t.at <= now);
        if (!due) break;
        due.cancelled = true;
        due.fn();
        await settle();
      }
      await settle();
    },
  };
}

const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

/** A fake inference answering each poll with `answer(call number)`; records each call's signal. */
function fakeInference(answer: (call: number) => RunnerSample[] | Promise<RunnerSample[]>) {
  const signals: (AbortSignal | undefined)[] = [];
  return {
    signals,
    get calls() {
      return signals.length;
    },
    systemMetrics: async (options?: CallOptions) => {
      signals.push(options?.signal);
      return answer(signals.length);
    },
  };
}

function recordingLogger() {
  const lines: { level: string; msg: string }[] = [];
  const at = (level: string) => (msg: string) => void lines.push({ level, msg });
  const logger: Logger = { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
  return { logger, lines };
}

describe('MetricsFeed', () => {
  it('polls only while someone listens: at once on the first subscriber, every interval, never after the last leaves', async () => {
    const time = manualTime();
    const inference = fakeInference(() => [{ runner: 'embedded', sample: SAMPLE }]);
    const feed = new MetricsFeed({ inference, ...time });
    await time.advance(5_000);
    expect(inference.calls).toBe(0);

    const got: SystemMetricsMessage[] = [];
    const unsubscribe = feed.subscribe((m) => got.push(m));
    await settle();
    expect(inference.calls).toBe(1);
    expect(got).toEqual([{ ...SAMPLE, runner: 'embedded', timestamp: 1_005_000 }]);
    await time.advance(999);
    expect(inference.calls).toBe(1);
    await time.advance(1);
    expect(inference.calls).toBe(2);
    expect(got.at(-1)?.timestamp).toBe(1_006_000);
    expect(feed.polling).toBe(true);

    unsubscribe();
    unsubscribe();
    expect(feed.subscribers).toBe(0);
    expect(feed.polling).toBe(false);
    expect(time.pending()).toBe(0);
    await time.advance(10_000);
    expect(inference.calls).toBe(2);
  });

  it('shares one poll loop among subscribers and stops with the last one', async () => {
    const time = manualTime();
    const inference = fakeInference(() => [{ runner: 'embedded', sample: SAMPLE }]);
    const feed = new MetricsFeed({ inference, ...time });
    const a: string[] = [];
    const b: string[] = [];
    const leaveA = feed.subscribe((_m, text) => a.push(text));
    await settle();
    const leaveB = feed.subscribe((_m, text) => b.push(text));
    await time.advance(1_000);
    expect(inference.calls).toBe(2);
    expect(a).toHaveLength(2);
    expect(b).toHaveLength(1);
    expect(JSON.parse(b[0]!)).toEqual({ ...SAMPLE, runner: 'embedded', timestamp: 1_001_000 });
    leaveA();
    expect(feed.subscribers).toBe(1);
    await time.advance(1_000);
    expect(inference.calls).toBe(3);
    expect(b).toHaveLength(2);
    leaveB();
    await time.advance(3_000);
    expect(inference.calls).toBe(3);
  });

  it('sends one message per runner reading', async () => {
    const time = manualTime();
    const gpu = [{ id: 0, name: 'G', load: 1, memory_used: 2, memory_total: 3, temperature: 4 }];
    const inference = fakeInference(() => [
      { runner: 'r1', sample: SAMPLE },
      { runner: 'r2', sample: { ...SAMPLE, gpu } },
    ]);
    const got: SystemMetricsMessage[] = [];
    new MetricsFeed({ inference, ...time }).subscribe((m) => got.push(m));
    await settle();
    expect(got.map((m) => [m.runner, m.gpu.length])).toEqual([
      ['r1', 0],
      ['r2', 1],
    ]);
  });

  it('skips a failing poll, logs the run of failures once, and goes on polling', async () => {
    const time = manualTime();
    const { logger, lines } = recordingLogger();
    const inference = fakeInference((call) => {
      if (call === 2 || call === 3) throw new Error('no runner');
      return [{ runner: 'embedded', sample: SAMPLE }];
    });
    const got: SystemMetricsMessage[] = [];
    new MetricsFeed({ inference, logger, ...time }).subscribe((m) => got.push(m));
    await settle();
    await time.advance(1_000);
    await time.advance(1_000);
    await time.advance(1_000);
    expect(inference.calls).toBe(4);
    expect(got).toHaveLength(2);
    expect(lines.filter((l) => l.level === 'warn')).toEqual([{ level: 'warn', msg: 'system metrics poll failed' }]);
    expect(lines.some((l) => l.msg === 'system metrics poll recovered')).toBe(true);
  });

  it('aborts a poll in flight when the last one leaves, and drops its late answer', async () => {
    const time = manualTime();
    let release: () => void = () => {};
    const inference = fakeInference(async (call) => {
      if (call === 2) await new Promise<void>((resolve) => (release = resolve));
      return [{ runner: 'embedded', sample: SAMPLE }];
    });
    const feed = new MetricsFeed({ inference, ...time });
    const got: SystemMetricsMessage[] = [];
    const leave = feed.subscribe((m) => got.push(m));
    await settle();
    await time.advance(1_000);
    expect(inference.calls).toBe(2);
    leave();
    expect(inference.signals[1]?.aborted).toBe(true);
    release();
    await settle();
    expect(got).toHaveLength(1);
    await time.advance(5_000);
    expect(inference.calls).toBe(2);
  });

  it('waits only what is left of the interval after a slow poll', async () => {
    const time = manualTime();
    const inference = fakeInference(async (call) => {
      if (call === 1) await time.advance(400);
      return [{ runner: 'embedded', sample: SAMPLE }];
    });
    new MetricsFeed({ inference, ...time }).subscribe(() => {});
    await settle();
    await settle();
    await time.advance(599);
    expect(inference.calls).toBe(1);
    await time.advance(1);
    expect(inference.calls).toBe(2);
  });

  it('survives a listener that throws', async () => {
    const time = manualTime();
    const inference = fakeInference(() => [{ runner: 'embedded', sample: SAMPLE }]);
    const feed = new MetricsFeed({ inference, ...time });
    const got: unknown[] = [];
    feed.subscribe(() => {
      throw new Error('socket closed');
    });
    feed.subscribe((m) => got.push(m));
    await settle();
    await time.advance(1_000);
    expect(got).toHaveLength(2);
  });
});

describe('perSubscriberFeed', () => {
  it('runs one poll loop per subscriber', async () => {
    const time = manualTime();
    const inference = fakeInference(() => [{ runner: 'embedded', sample: SAMPLE }]);
    const source = perSubscriberFeed({ inference, ...time });
    const leaveA = source.subscribe(() => {});
    const leaveB = source.subscribe(() => {});
    await settle();
    expect(inference.calls).toBe(2);
    leaveA();
    await time.advance(1_000);
    expect(inference.calls).toBe(3);
    leaveB();
    await time.advance(1_000);
    expect(inference.calls).toBe(3);
  });
});
