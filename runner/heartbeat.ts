import type { Inference } from '../shared/inference.ts';
import type { Logger } from '../shared/log.ts';
import type { RunnerHeartbeat } from '../shared/schemas/runner.ts';

export interface HeartbeatOptions {
  edgeUrl: string;
  runnerToken: string;
  /** What the edge should call this runner at. */
  publicUrl: string;
  inference: Inference;
  logger: Logger;
  /** Default 10 s (the edge drops a runner silent for 30 s). */
  intervalMs?: number;
  signal: AbortSignal;
}

/** Registers this runner with an edge and keeps it registered until `signal` aborts. */
export async function runHeartbeat(options: HeartbeatOptions): Promise<void> {
  const { edgeUrl, runnerToken, publicUrl, inference, logger, intervalMs = 10_000, signal } = options;
  const target = new URL('/_edge/runners/heartbeat', edgeUrl);
  let failing = false;
  while (!signal.aborted) {
    try {
      const [status] = await inference.status({ signal });
      const beat: RunnerHeartbeat = { ...status!, url: publicUrl };
      const res = await fetch(target, {
        method: 'POST',
        headers: { authorization: `Bearer ${runnerToken}`, 'content-type': 'application/json' },
        body: JSON.stringify(beat),
        signal,
      });
      if (!res.ok) throw new Error(`edge answered ${res.status}: ${await res.text()}`);
      if (failing) logger.info('registered with edge again', { edge: edgeUrl });
      failing = false;
    } catch (err) {
      if (signal.aborted) return;
      if (!failing) logger.warn('heartbeat to edge failed', { edge: edgeUrl, error: (err as Error).message });
      failing = true;
    }
    await new Promise((r) => {
      const t = setTimeout(r, intervalMs);
      signal.addEventListener('abort', () => (clearTimeout(t), r(undefined)), { once: true });
    });
  }
}
