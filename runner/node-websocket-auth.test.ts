import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MetricsFeed } from '../edge/metrics/metrics-feed.ts';
import { websocketProtocolKey } from '../edge/auth/websocket-protocol-key.ts';
import { localTestInference, testApp } from '../test/helpers/test-app.ts';
import { nodeWebSockets } from './node-websocket.ts';
import { serveFetch, type Served } from './serve.ts';

const base64url = (text: string) => Buffer.from(text).toString('base64url');

/** Opens a WebSocket offering `protocols`; resolves with the selected protocol, rejects when refused. */
function open(url: string, protocols?: string[]): Promise<string> {
  const ws = new WebSocket(url, protocols);
  return new Promise((resolve, reject) => {
    ws.addEventListener('open', () => {
      resolve(ws.protocol);
      ws.close();
    });
    ws.addEventListener('error', () => reject(new Error('WebSocket refused')));
  });
}

describe('/ws/system-metrics with API keys on: a browser offers its key as a subprotocol', () => {
  const inference = localTestInference();
  let served: Served;
  let cleanup: () => void;
  let wsUrl: string;
  let key: string;

  beforeAll(async () => {
    const websockets = nodeWebSockets();
    const t = await testApp({
      inference,
      extra: { upgradeWebSocket: websockets.upgradeWebSocket, metricsFeed: new MetricsFeed({ inference }) },
    });
    cleanup = t.cleanup;
    key = (await t.deps.apiKeys.create('monitor')).key;
    websockets.attach(t.app);
    served = await serveFetch(t.app.fetch, '127.0.0.1', 0, { onServer: websockets.inject });
    wsUrl = `${served.url.replace(/^http/, 'ws')}/ws/system-metrics`;
  });
  afterAll(async () => {
    await served?.close();
    cleanup?.();
  });

  it('refuses a socket without a key, opens with the key offered, and selects the plain protocol', async () => {
    await expect(open(wsUrl)).rejects.toThrow('refused');
    await expect(
      open(wsUrl, ['edgerunner', `edgerunner.key.${base64url('apiKey.000000000000.wrong')}`]),
    ).rejects.toThrow('refused');
    expect(await open(wsUrl, ['edgerunner', `edgerunner.key.${base64url(key)}`])).toBe('edgerunner');
  });

  it('reads the key only from a WebSocket upgrade offering it', () => {
    const offered = `edgerunner, edgerunner.key.${base64url('apiKey.1.abc')}`;
    expect(websocketProtocolKey('websocket', offered)).toBe('apiKey.1.abc');
    expect(websocketProtocolKey(undefined, offered)).toBeUndefined();
    expect(websocketProtocolKey('websocket', 'edgerunner')).toBeUndefined();
    expect(websocketProtocolKey('websocket', 'edgerunner.key.!!')).toBeUndefined();
  });
});
