import type { Context } from 'hono';
import type { CallOptions } from '../shared/inference.ts';
import type { AppEnv } from './env.ts';

/**
 * The inference options of one request: its signal (the client leaving cancels), its session and the runner the
 * session sticks to, and whether a missing model may be downloaded (admin callers only).
 */
export function requestCallOptions(c: Context<AppEnv>): CallOptions {
  const session = c.get('session');
  return {
    signal: c.req.raw.signal,
    sessionId: session.id,
    runnerId: session.runnerId,
    download: c.get('principal').scope === 'admin',
  };
}
