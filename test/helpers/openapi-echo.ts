import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, expect } from 'vitest';
import { createGuardedFetch } from '../../edge/net/ssrf.ts';
import type { ExecTool, ToolRunContext } from '../../edge/exec/tool.ts';
import { openApiAdapter } from '../../edge/exec/tools/openapi.ts';
import type { OpenApiTool } from '../../shared/schemas/exec.ts';

/** What the echo server saw of one request (also what it answers, as JSON). */
export interface Seen {
  method: string;
  path: string;
  query: [string, string][];
  headers: Record<string, string>;
  cookies: Record<string, string>;
  contentType?: string;
  body: string;
}

function parseCookies(header: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of (header ?? '').split(';')) {
    const at = part.indexOf('=');
    if (at > 0) out[part.slice(0, at).trim()] = decodeURIComponent(part.slice(at + 1).trim());
  }
  return out;
}

/** The context tools run in: the SSRF guard, allowing the echo server on 127.0.0.1. */
export const context: ToolRunContext = {
  signal: new AbortController().signal,
  fetch: createGuardedFetch({ allowlist: ['127.0.0.1'] }),
};

/** A document that exercises every parameter location, both body encodings, a cycle and OpenAPI-only keywords. */
export const PETS = {
  openapi: '3.0.3',
  info: { title: 'Pets', version: '1.0.0' },
  servers: [
    {
      url: 'https://{region}.pets.example/{version}',
      variables: { region: { default: 'eu' }, version: { default: 'v1' } },
    },
  ],
  paths: {
    '/pets/{petId}': {
      parameters: [
        { name: 'petId', in: 'path', required: true, schema: { type: 'string' }, description: 'path level' },
        { name: 'verbose', in: 'query', schema: { type: 'boolean' } },
      ],
      get: {
        operationId: 'getPet',
        summary: '  Get a pet  ',
        description: 'Returns one pet.',
        parameters: [
          { name: 'petId', in: 'path', required: true, schema: { type: 'integer' }, description: 'operation level' },
          { name: 'fields', in: 'query', schema: { type: 'array', items: { type: 'string' } } },
          { name: 'X-Trace', in: 'header', schema: { type: 'string' } },
          { name: 'Accept', in: 'header', schema: { type: 'string' } },
          { name: 'session', in: 'cookie', required: true, schema: { type: 'string' } },
        ],
      },
    },
    '/pets': {
      post: {
        operationId: 'createPet',
        requestBody: {
          required: true,
          content: {
            'application/xml': { schema: { $ref: '#/components/schemas/Pet' } },
            'application/json': { schema: { $ref: '#/components/schemas/Pet' } },
          },
        },
      },
    },
    '/things/{id}': {
      get: { parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }] },
    },
    '/tree': {
      post: {
        operationId: 'plantTree',
        requestBody: { content: { 'application/json': { schema: { $ref: '#/components/schemas/Node' } } } },
      },
    },
    '/status/{code}': {
      get: {
        operationId: 'status',
        parameters: [{ name: 'code', in: 'path', required: true, schema: { type: 'integer' } }],
      },
    },
    '/big': { get: { operationId: 'big' } },
    '/text': { get: { operationId: 'text' } },
  },
  components: {
    securitySchemes: { docKey: { type: 'apiKey', name: 'X-Doc-Key', in: 'header' } },
    schemas: {
      Pet: {
        type: 'object',
        required: ['id', 'name'],
        xml: { name: 'pet' },
        example: { id: 1, name: 'Rex' },
        discriminator: { propertyName: 'kind' },
        properties: {
          id: { type: 'integer', readOnly: true },
          name: { type: 'string', example: 'Rex', 'x-internal': true },
          tags: { type: 'array', items: { type: 'string' } },
          owner: { type: 'object', nullable: true, properties: { name: { type: 'string' } } },
        },
      },
      Node: {
        type: 'object',
        properties: {
          name: { type: 'string' },
          children: { type: 'array', items: { $ref: '#/components/schemas/Node' } },
        },
      },
    },
  },
};

export const GET_PET_ARGS = { path: { petId: 7 }, cookie: { session: 's1' } };

/**
 * An echo server on 127.0.0.1 for the openapi adapter's tests, started before the file's tests and closed after:
 * every request is answered with what it saw (`Seen`), except `/api/status/<code>`, `/api/big` (a large JSON
 * body) and `/api/text`. Returns the base URL and helpers bound to it.
 */
export function openApiEcho() {
  let server: Server;
  let baseUrl = '';
  beforeAll(async () => {
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const url = new URL(req.url ?? '/', 'http://127.0.0.1');
        const record: Seen = {
          method: req.method ?? '',
          path: url.pathname,
          query: [...url.searchParams.entries()],
          headers: Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, String(v)])),
          cookies: parseCookies(req.headers.cookie),
          contentType: req.headers['content-type'],
          body: Buffer.concat(chunks).toString('utf8'),
        };
        const status = /^\/api\/status\/(\d{3})$/.exec(url.pathname);
        if (status) {
          res.writeHead(Number(status[1]), { 'content-type': 'application/json' });
          res.end(JSON.stringify({ message: 'no such pet' }));
        } else if (url.pathname === '/api/big') {
          const items = Array.from({ length: 2000 }, (_, i) => ({ id: i, name: `pet number ${i}` }));
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ items }));
        } else if (url.pathname === '/api/text') {
          res.writeHead(200, { 'content-type': 'text/plain' });
          res.end('plain words');
        } else {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(JSON.stringify(record));
        }
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api`;
  });
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
  });
  const definition = (overrides: Partial<OpenApiTool> = {}): OpenApiTool => ({
    type: 'openapi',
    schema: PETS,
    base_url: baseUrl,
    ...overrides,
  });
  return {
    /** The echo server's `/api` URL (set once the server listens). */
    get baseUrl() {
      return baseUrl;
    },
    /** The PETS document's tool definition against the echo server. */
    definition,
    /** The tools of a definition, by name. */
    async resolve(def: OpenApiTool, adapter = openApiAdapter()): Promise<Map<string, ExecTool>> {
      const tools = await adapter(def, context);
      return new Map(tools.map((t) => [t.name, t]));
    },
    /** Runs a tool and returns what the echo server saw. */
    async call(tool: ExecTool | undefined, args: Record<string, unknown>): Promise<Seen> {
      const output = await tool!.run!(args, context);
      expect(output.isError).toBeFalsy();
      return (output.result as { body: Seen }).body;
    },
  };
}
