import { describe, expect, it } from 'vitest';
import { createLogger } from '../shared/log.ts';
import { tempDb } from '../test/helpers/test-app.ts';
import { ConfigError, loadConfig } from './config.ts';
import { buildServerDeps } from './server-deps.ts';

describe('configuration', () => {
  it('has the documented defaults', () => {
    const c = loadConfig({});
    expect(c).toMatchObject({
      mode: 'embedded',
      host: '127.0.0.1',
      port: 8080,
      hfEndpoint: 'https://huggingface.co/',
      maxBodyBytes: 25 * 1024 * 1024,
      logLevel: 'info',
    });
    expect(c.dataDir).toMatch(/\/data$/);
    expect(c.modelsDir).toBe(`${c.dataDir}/models`);
    expect(c.databaseUrl).toBe(`file:${c.dataDir}/edgerunner.db`);
  });

  it('reads LLM_MAX_TOKENS as a positive ceiling, unset by default', () => {
    expect(loadConfig({}).llmMaxTokens).toBeUndefined();
    expect(loadConfig({ LLM_MAX_TOKENS: '2048' }).llmMaxTokens).toBe(2048);
    expect(() => loadConfig({ LLM_MAX_TOKENS: '0' })).toThrow(/LLM_MAX_TOKENS must be a positive integer/);
  });

  it('normalises HF_ENDPOINT and picks the mode', () => {
    expect(loadConfig({ HF_ENDPOINT: 'http://127.0.0.1:9000' }).hfEndpoint).toBe('http://127.0.0.1:9000/');
    const edge = loadConfig({ RUNNER_URLS: 'http://127.0.0.1:1, http://127.0.0.1:2', RUNNER_SECRET: 'x'.repeat(16) });
    expect(edge.mode).toBe('edge');
    expect(edge.runnerUrls).toEqual(['http://127.0.0.1:1', 'http://127.0.0.1:2']);
    expect(loadConfig({ RUNNER_SECRET: 'x'.repeat(16), RUNNER_ID: 'gpu' }, ['--runner'])).toMatchObject({
      mode: 'runner',
      runnerId: 'gpu',
    });
  });

  it('names every variable that is wrong', () => {
    const attempt = () =>
      loadConfig({ PORT: 'eighty', HF_ENDPOINT: 'not a url', LOG_LEVEL: 'loud', RUNNER_URLS: 'http://127.0.0.1:1' });
    expect(attempt).toThrow(ConfigError);
    const message = (() => {
      try {
        attempt();
      } catch (e) {
        return (e as Error).message;
      }
    })();
    for (const name of ['PORT', 'HF_ENDPOINT', 'LOG_LEVEL', 'RUNNER_SECRET']) expect(message).toContain(name);
    expect(() => loadConfig({}, ['--runner'])).toThrow(/RUNNER_SECRET/);
    expect(() => loadConfig({ RUNNER_SECRET: 'short' }, ['--runner'])).toThrow(/at least 16/);
    expect(() => loadConfig({ RUNNER_VERIFY_KEY: '{"kty":"RSA"}' }, ['--runner'])).toThrow(/Ed25519/);
  });

  it('reads CORS_ORIGINS as a comma list and names entries that are no origin', () => {
    expect(loadConfig({}).corsOrigins).toEqual([]);
    expect(loadConfig({ CORS_ORIGINS: 'https://app.example, chrome-extension://*' }).corsOrigins).toEqual([
      'https://app.example',
      'chrome-extension://*',
    ]);
    expect(() => loadConfig({ CORS_ORIGINS: 'app.example' })).toThrow(/CORS_ORIGINS/);
  });

  it('reads RUNNER_CREDENTIALS as id:secret pairs', () => {
    expect(loadConfig({}).runnerCredentials.size).toBe(0);
    const creds = loadConfig({
      RUNNER_CREDENTIALS: 'gpu-1:0123456789abcdef, gpu-2:fedcba9876543210',
    }).runnerCredentials;
    expect([...creds]).toEqual([
      ['gpu-1', '0123456789abcdef'],
      ['gpu-2', 'fedcba9876543210'],
    ]);
    expect(() => loadConfig({ RUNNER_CREDENTIALS: 'gpu-1' })).toThrow(/RUNNER_CREDENTIALS: entry 1 is not id:secret/);
  });

  it('warns at start when JWT_SECRET has no JWT_AUDIENCE', async () => {
    const temp = await tempDb();
    const warnings: string[] = [];
    const logger = { ...createLogger('silent'), warn: (msg: string) => void warnings.push(msg) };
    const config = loadConfig({ DATABASE_URL: temp.url, JWT_SECRET: 'a-secret' });
    await buildServerDeps(config, logger);
    expect(warnings.join('\n')).toMatch(/JWT_SECRET is set without JWT_AUDIENCE/);
    warnings.length = 0;
    await buildServerDeps({ ...config, tokens: { ...config.tokens, jwtAudience: 'edgerunner' } }, logger);
    expect(warnings.join('\n')).not.toContain('JWT_AUDIENCE');
    temp.cleanup();
  });

  it('refuses a non-loopback address with no auth configured, before binding anything', async () => {
    const temp = await tempDb();
    const config = { ...loadConfig({ DATABASE_URL: temp.url }), host: '0.0.0.0' };
    await expect(buildServerDeps(config, createLogger('silent'))).rejects.toThrow(/not a loopback address/);
    const withJwt = { ...config, tokens: { jwtSecret: 'a-secret' } };
    await expect(buildServerDeps(withJwt, createLogger('silent'))).resolves.toMatchObject({ anonymous: 'never' });
    temp.cleanup();
  });
});
