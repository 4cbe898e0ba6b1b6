import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createGuardedFetch } from '../../net/ssrf.ts';
import type { ExecTool, ToolRunContext } from '../tool.ts';
import { openApiAdapter } from './openapi.ts';

/**
 * The real Petstore documents of @readme/oas-examples (Swagger 2.0, OpenAPI 3.0 and 3.1), each served by a
 * Prism mock server, called through the adapter's tools. Prism checks the security the operation requires:
 * `api_key` (a header) for getPetById, an OAuth2 bearer for findPetsByStatus.
 */

const VERSIONS = ['2.0', '3.0', '3.1'] as const;
const PRISM = fileURLToPath(new URL('../../../node_modules/@stoplight/prism-cli/dist/index.js', import.meta.url));
const READY_WITHIN_MS = 25_000;

function petstorePath(version: string): string {
  return fileURLToPath(
    new URL(`../../../node_modules/@readme/oas-examples/${version}/json/petstore.json`, import.meta.url),
  );
}

async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as { port: number };
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

interface Mock {
  child: ChildProcess;
  url: string;
  log: string[];
}

async function startPrism(version: string): Promise<Mock> {
  const port = await freePort();
  const child = spawn(process.execPath, [PRISM, 'mock', '-h', '127.0.0.1', '-p', String(port), petstorePath(version)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const log: string[] = [];
  child.stdout!.on('data', (chunk: Buffer) => log.push(chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => log.push(chunk.toString()));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + READY_WITHIN_MS;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`prism (${version}) exited: ${log.join('').slice(-2000)}`);
    try {
      await fetch(`${url}/store/inventory`, { signal: AbortSignal.timeout(1000) });
      return { child, url, log };
    } catch {
      if (Date.now() > deadline) {
        child.kill();
        throw new Error(`prism (${version}) did not start: ${log.join('').slice(-2000)}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}

const mocks = new Map<string, Mock>();

beforeAll(async () => {
  const started = await Promise.allSettled(VERSIONS.map(async (v) => mocks.set(v, await startPrism(v))));
  const failed = started.find((s) => s.status === 'rejected');
  if (failed) throw (failed as PromiseRejectedResult).reason;
}, 40_000);

afterAll(async () => {
  await Promise.all(
    [...mocks.values()].map(
      ({ child }) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve();
          child.once('exit', () => resolve());
          child.kill('SIGTERM');
        }),
    ),
  );
});

const context: ToolRunContext = {
  signal: new AbortController().signal,
  fetch: createGuardedFetch({ allowlist: ['127.0.0.1'] }),
};

describe.each(VERSIONS)('Petstore %s served by prism', (version) => {
  const adapter = openApiAdapter();
  let tools: Map<string, ExecTool>;

  beforeAll(async () => {
    const list = await adapter(
      {
        type: 'openapi',
        schema: readFileSync(petstorePath(version), 'utf8'),
        base_url: mocks.get(version)!.url,
        security: [
          { type: 'apiKey', value: 'special-key' },
          { type: 'oauth2', value: 'oauth-token' },
        ],
      },
      context,
    );
    tools = new Map(list.map((t) => [t.name, t]));
  });

  it('offers every operation by its operationId', () => {
    expect(tools.size).toBe(20);
    expect(tools.get('getPetById')!.parameters).toMatchObject({
      properties: { path: { properties: { petId: { type: 'integer' } }, required: ['petId'] } },
      required: ['path'],
    });
  });

  it('gets a pet by id (api_key header from the document scheme)', async () => {
    const output = await tools.get('getPetById')!.run!({ path: { petId: 1 } }, context);
    expect(output.isError).toBeFalsy();
    const result = output.result as { status: number; body: { name?: unknown; photoUrls?: unknown } };
    expect(result.status).toBeGreaterThanOrEqual(200);
    expect(result.status).toBeLessThan(300);
    expect(typeof result.body.name).toBe('string');
    expect(Array.isArray(result.body.photoUrls)).toBe(true);
  });

  it('finds pets by status (array query, oauth2 bearer)', async () => {
    const output = await tools.get('findPetsByStatus')!.run!({ query: { status: ['available', 'sold'] } }, context);
    expect(output.isError).toBeFalsy();
    const result = output.result as { status: number; body: unknown };
    expect(result.status).toBe(200);
    expect(Array.isArray(result.body)).toBe(true);
  });

  it('sends JSON and form bodies that prism validates', async () => {
    // Prism answers the one documented response (405) to a valid request, 422 to an invalid body.
    const valid = await tools.get('addPet')!.run!(
      { body: { name: 'Rex', photoUrls: ['https://x.example/rex.png'] } },
      context,
    );
    expect((valid.result as { status: number }).status).toBe(405);
    const invalid = await tools.get('addPet')!.run!({ body: { name: 'Rex' } }, context);
    expect((invalid.result as { status: number }).status).toBe(422);
    const form = await tools.get('updatePetWithForm')!.run!(
      { path: { petId: 1 }, body: { name: 'Rex', status: 'sold' } },
      context,
    );
    expect((form.result as { status: number }).status).toBe(405);
  });

  it('reports a request prism rejects as an error result', async () => {
    const output = await tools.get('findPetsByStatus')!.run!({ query: { status: ['not-a-status'] } }, context);
    expect(output.isError).toBe(true);
    expect((output.result as { status: number }).status).toBeGreaterThanOrEqual(400);
  });
});
