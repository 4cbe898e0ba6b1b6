import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppError } from '../../../shared/errors.ts';
import type { OpenApiSecurity, OpenApiTool } from '../../../shared/schemas/exec.ts';
import { createGuardedFetch } from '../../net/ssrf.ts';
import type { ExecTool, ToolRunContext } from '../tool.ts';
import { openApiAdapter, operationName } from './openapi.ts';
import { cleanSchema } from './openapi-schema.ts';
import { STRIPE_DOCUMENT } from '../../../test/fixtures/openapi-stripe.ts';

/** What the echo server saw of one request (also what it answers, as JSON). */
interface Seen {
  method: string;
  path: string;
  query: [string, string][];
  headers: Record<string, string>;
  cookies: Record<string, string>;
  contentType?: string;
  body: string;
}

let server: Server;
let baseUrl: string;
const seen: Seen[] = [];

function parseCookies(header: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of (header ?? '').split(';')) {
    const at = part.indexOf('=');
    if (at > 0) out[part.slice(0, at).trim()] = decodeURIComponent(part.slice(at + 1).trim());
  }
  return out;
}

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
      seen.push(record);
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

const context: ToolRunContext = {
  signal: new AbortController().signal,
  fetch: createGuardedFetch({ allowlist: ['127.0.0.1'] }),
};

/** A document that exercises every parameter location, both body encodings, a cycle and OpenAPI-only keywords. */
const PETS = {
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

/** The seed's Stripe example, with base_url pointing at the echo server. */
const STRIPE = STRIPE_DOCUMENT;

function definition(overrides: Partial<OpenApiTool> = {}): OpenApiTool {
  return { type: 'openapi', schema: PETS, base_url: baseUrl, ...overrides };
}

async function resolve(def: OpenApiTool, adapter = openApiAdapter()): Promise<Map<string, ExecTool>> {
  const tools = await adapter(def, context);
  return new Map(tools.map((t) => [t.name, t]));
}

async function call(tool: ExecTool | undefined, args: Record<string, unknown>): Promise<Seen> {
  const output = await tool!.run!(args, context);
  expect(output.isError).toBeFalsy();
  return (output.result as { body: Seen }).body;
}

async function rejection(promise: Promise<unknown>): Promise<AppError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(AppError);
  return err as AppError;
}

const GET_PET_ARGS = { path: { petId: 7 }, cookie: { session: 's1' } };

describe('openapi adapter: tools', () => {
  it('offers one tool per operation, named by operationId or by method and path', async () => {
    const tools = await resolve(definition());
    expect([...tools.keys()].sort()).toEqual(
      ['big', 'createPet', 'getPet', 'get_things_id', 'plantTree', 'status', 'text'].sort(),
    );
    expect(tools.get('getPet')!.description).toBe('Get a pet\n\nReturns one pet.');
    expect(tools.get('get_things_id')!.description).toBe('GET /things/{id}');
    expect(operationName('get', '/pets/{petId}')).toBe('get_pets_petId');
    expect(operationName('DELETE', '/')).toBe('delete');
  });

  it('prefixes descriptions with the definition description and caps them', async () => {
    const long = structuredClone(PETS);
    (long.paths['/big'].get as Record<string, unknown>).description = 'x'.repeat(5000);
    const tools = await resolve(definition({ schema: long, description: 'Pet shop' }));
    expect(tools.get('getPet')!.description).toMatch(/^Pet shop: Get a pet/);
    expect(tools.get('big')!.description!.length).toBeLessThanOrEqual(1024);
  });

  it('keeps only allowed_operations, by operationId or generated name', async () => {
    const tools = await resolve(definition({ allowed_operations: ['getPet', 'get_things_id'] }));
    expect([...tools.keys()].sort()).toEqual(['getPet', 'get_things_id']);
  });

  it('matches a camel-cased name to a generated one (the seed writes getUsers for GET /users)', async () => {
    const tools = await resolve(definition({ allowed_operations: ['getThingsId'] }));
    expect([...tools.keys()]).toEqual(['get_things_id']);
  });

  it('refuses an allowed operation that does not exist, naming it', async () => {
    const err = await rejection(openApiAdapter()(definition({ allowed_operations: ['getPet', 'nope'] }), context));
    expect(err.status).toBe(400);
    expect(err.message).toMatch(/^allowed_operations: no operation "nope"/);
    expect(err.message).toContain('getPet');
  });

  it('groups arguments by location (flatten: false), operation-level parameters winning', async () => {
    const { parameters } = (await resolve(definition())).get('getPet')!;
    expect(parameters).toEqual({
      type: 'object',
      properties: {
        path: {
          type: 'object',
          properties: { petId: { type: 'integer', description: 'operation level' } },
          required: ['petId'],
        },
        query: {
          type: 'object',
          properties: { verbose: { type: 'boolean' }, fields: { type: 'array', items: { type: 'string' } } },
        },
        header: { type: 'object', properties: { 'X-Trace': { type: 'string' } } },
        cookie: { type: 'object', properties: { session: { type: 'string' } }, required: ['session'] },
      },
      required: ['path', 'cookie'],
    });
  });

  it('cleans body schemas: OpenAPI-only keywords and read-only properties dropped', async () => {
    const { parameters } = (await resolve(definition())).get('createPet')!;
    const body = (parameters as { properties: { body: Record<string, unknown> } }).properties.body;
    expect(parameters.required).toEqual(['body']);
    expect(body).toEqual({
      type: 'object',
      required: ['name'],
      properties: {
        name: { type: 'string' },
        tags: { type: 'array', items: { type: 'string' } },
        owner: { type: ['object', 'null'], properties: { name: { type: 'string' } } },
      },
    });
  });

  it('cuts recursive schemas so they serialize', async () => {
    const { parameters } = (await resolve(definition())).get('plantTree')!;
    const text = JSON.stringify(parameters);
    expect(text).toContain('Recursive');
    const node = { type: 'object', properties: {} as Record<string, unknown> };
    node.properties.self = node;
    expect(JSON.stringify(cleanSchema(node))).toBe(
      '{"type":"object","properties":{"self":{"description":"Recursive: the same structure as an enclosing value.","type":"object"}}}',
    );
  });

  it('flattens parameters and body properties into one object (flatten: true), clashes prefixed', async () => {
    const clash = structuredClone(PETS);
    (clash.paths['/pets'].post as Record<string, unknown>).parameters = [
      { name: 'name', in: 'query', schema: { type: 'string' } },
      { name: 'name', in: 'header', schema: { type: 'string' } },
    ];
    const tools = await resolve(definition({ schema: clash, flatten: true }));
    const create = tools.get('createPet')!;
    expect(create.parameters).toEqual({
      type: 'object',
      properties: {
        name: { type: 'string' },
        header_name: { type: 'string' },
        body_name: { type: 'string' },
        tags: { type: 'array', items: { type: 'string' } },
        owner: { type: ['object', 'null'], properties: { name: { type: 'string' } } },
      },
      required: ['body_name'],
    });
    const got = await call(create, { name: 'q', header_name: 'h', body_name: 'Rex', tags: ['a'] });
    expect(got.query).toEqual([['name', 'q']]);
    expect(got.headers.name).toBe('h');
    expect(JSON.parse(got.body)).toEqual({ name: 'Rex', tags: ['a'] });

    const getPet = tools.get('getPet')!;
    expect(Object.keys((getPet.parameters as { properties: object }).properties)).toEqual([
      'petId',
      'verbose',
      'fields',
      'X-Trace',
      'session',
    ]);
    expect(getPet.parameters.required).toEqual(['petId', 'session']);
    const flat = await call(getPet, { petId: 3, verbose: true, session: 'abc' });
    expect(flat.path).toBe('/api/pets/3');
    expect(flat.query).toEqual([['verbose', 'true']]);
    expect(flat.cookies).toEqual({ session: 'abc' });
  });

  it('takes the base URL from the first server, variables filled', async () => {
    const tools = await resolve(definition({ base_url: undefined }));
    const fetched: string[] = [];
    const spy: ToolRunContext = {
      ...context,
      fetch: async (input) => {
        fetched.push(String(input));
        return new Response('{}', { headers: { 'content-type': 'application/json' } });
      },
    };
    await tools.get('getPet')!.run!(GET_PET_ARGS, spy);
    expect(fetched).toEqual(['https://eu.pets.example/v1/pets/7']);
  });

  it('reads servers of a Swagger 2.0 document from host, basePath and schemes', async () => {
    const swagger = {
      swagger: '2.0',
      info: { title: 'Old', version: '1' },
      host: 'old.example',
      basePath: '/base',
      schemes: ['https'],
      paths: { '/items': { get: { operationId: 'listItems', responses: { 200: { description: 'ok' } } } } },
    };
    const fetched: string[] = [];
    const spy: ToolRunContext = {
      ...context,
      fetch: async (input) => {
        fetched.push(String(input));
        return new Response('[]', { headers: { 'content-type': 'application/json' } });
      },
    };
    const [tool] = await openApiAdapter()({ type: 'openapi', schema: swagger }, context);
    await tool!.run!({}, spy);
    expect(fetched).toEqual(['https://old.example/base/items']);
  });

  it('refuses a relative or missing server URL without base_url', async () => {
    const relative = { ...PETS, servers: [{ url: '/v1' }] };
    const err = await rejection(openApiAdapter()(definition({ schema: relative, base_url: undefined }), context));
    expect(err.status).toBe(400);
    expect(err.message).toMatch(/^base_url: .*"\/v1"/);
    const none = { ...PETS, servers: undefined };
    const err2 = await rejection(openApiAdapter()(definition({ schema: none, base_url: undefined }), context));
    expect(err2.message).toMatch(/^base_url: /);
    await expect(openApiAdapter()(definition({ schema: relative }), context)).resolves.toHaveLength(7);
  });

  it('refuses an external $ref with a schema: 400', async () => {
    const external = structuredClone(PETS);
    (external.paths['/big'].get as Record<string, unknown>).parameters = [
      { $ref: 'https://elsewhere.example/params.json#/limit' },
    ];
    const err = await rejection(openApiAdapter()(definition({ schema: external }), context));
    expect(err.status).toBe(400);
    expect(err.message).toMatch(/^schema: external \$ref/);
  });

  it('refuses a document that is not OpenAPI with a schema: 400', async () => {
    const err = await rejection(openApiAdapter()(definition({ schema: 'just: [text' }), context));
    expect(err.status).toBe(400);
    expect(err.message).toMatch(/^schema: /);
  });
});

describe('openapi adapter: document cache', () => {
  it('parses a document once, whether sent as an object or the same text again', async () => {
    const adapter = openApiAdapter();
    await adapter(definition(), context);
    await adapter(definition({ flatten: true, allowed_operations: ['getPet'] }), context);
    expect(adapter.stats).toEqual({ parses: 1, hits: 1 });
    const text = JSON.stringify(STRIPE);
    await Promise.all([adapter(definition({ schema: text }), context), adapter(definition({ schema: text }), context)]);
    expect(adapter.stats).toEqual({ parses: 2, hits: 2 });
  });

  it('evicts the least recently used document past cacheSize', async () => {
    const adapter = openApiAdapter({ cacheSize: 1 });
    await adapter(definition(), context);
    await adapter(definition({ schema: STRIPE }), context);
    await adapter(definition({ schema: STRIPE }), context);
    await adapter(definition(), context);
    expect(adapter.stats).toEqual({ parses: 3, hits: 1 });
  });

  it('does not keep a failed parse', async () => {
    const adapter = openApiAdapter();
    const broken = { openapi: '3.0.0', info: { title: 'x', version: '1' }, paths: { nope: {} } };
    await rejection(adapter(definition({ schema: broken }), context));
    await rejection(adapter(definition({ schema: broken }), context));
    expect(adapter.stats.parses).toBe(2);
  });
});

describe('openapi adapter: requests on the wire', () => {
  it('sends path, query, header and cookie parameters', async () => {
    const tools = await resolve(definition());
    const got = await call(tools.get('getPet'), {
      path: { petId: 'a b/c' },
      query: { fields: ['name', 'tags'], verbose: false },
      header: { 'X-Trace': 't-1' },
      cookie: { session: 'x=y' },
    });
    expect(got.method).toBe('GET');
    expect(got.path).toBe('/api/pets/a%20b%2Fc');
    expect(got.query).toEqual([
      ['verbose', 'false'],
      ['fields', 'name'],
      ['fields', 'tags'],
    ]);
    expect(got.headers['x-trace']).toBe('t-1');
    expect(got.cookies).toEqual({ session: 'x=y' });
  });

  it('sends a JSON body', async () => {
    const tools = await resolve(definition());
    const got = await call(tools.get('createPet'), { body: { name: 'Rex', tags: ['good'] } });
    expect(got.method).toBe('POST');
    expect(got.contentType).toBe('application/json');
    expect(JSON.parse(got.body)).toEqual({ name: 'Rex', tags: ['good'] });
  });

  it('sends the seed Stripe example form-encoded, flat arguments', async () => {
    const tools = await resolve({
      type: 'openapi',
      schema: STRIPE,
      base_url: `${baseUrl}/stripe`,
      description: 'Stripe',
      allowed_operations: ['listCustomers', 'createCustomer'],
      flatten: true,
      security: [{ type: 'http', scheme: 'bearer', value: 'sk_test_1234567890abcdef' }],
    });
    const create = tools.get('createCustomer')!;
    expect(create.parameters).toEqual({
      type: 'object',
      properties: { email: { type: 'string' }, name: { type: 'string' } },
    });
    const got = await call(create, { email: 'a+b@example.com', name: 'Ada Lovelace' });
    expect(got.method).toBe('POST');
    expect(got.path).toBe('/api/stripe/v1/customers');
    expect(got.contentType).toBe('application/x-www-form-urlencoded');
    expect(Object.fromEntries(new URLSearchParams(got.body))).toEqual({
      email: 'a+b@example.com',
      name: 'Ada Lovelace',
    });
    expect(got.headers.authorization).toBe('Bearer sk_test_1234567890abcdef');
    const list = await call(tools.get('listCustomers'), { limit: 3 });
    expect(list.query).toEqual([['limit', '3']]);
    expect(list.body).toBe('');
  });

  it('form-encodes nested values with brackets', async () => {
    const tools = await resolve({ type: 'openapi', schema: STRIPE, base_url: baseUrl });
    const got = await call(tools.get('createCustomer'), {
      body: { email: 'e@x', metadata: { plan: 'pro' }, tags: ['a', 'b'] },
    });
    expect([...new URLSearchParams(got.body).entries()]).toEqual([
      ['email', 'e@x'],
      ['metadata[plan]', 'pro'],
      ['tags', 'a'],
      ['tags', 'b'],
    ]);
  });

  const securityCases: [string, OpenApiSecurity[], (got: Seen) => void][] = [
    [
      'apiKey, named by the document scheme',
      [{ type: 'apiKey', value: 'k1' }],
      (g) => expect(g.headers['x-doc-key']).toBe('k1'),
    ],
    [
      'apiKey in a header',
      [{ type: 'apiKey', in: 'header', name: 'X-Custom', value: 'k2' }],
      (g) => expect(g.headers['x-custom']).toBe('k2'),
    ],
    [
      'apiKey in the query',
      [{ type: 'apiKey', in: 'query', name: 'key', value: 'k 3' }],
      (g) => expect(g.query).toContainEqual(['key', 'k 3']),
    ],
    [
      'apiKey in a cookie',
      [{ type: 'apiKey', in: 'cookie', name: 'auth', value: 'k4' }],
      (g) => expect(g.cookies).toEqual({ session: 's1', auth: 'k4' }),
    ],
    [
      'http bearer',
      [{ type: 'http', scheme: 'bearer', value: 'tok' }],
      (g) => expect(g.headers.authorization).toBe('Bearer tok'),
    ],
    [
      'http basic from user:password',
      [{ type: 'http', scheme: 'basic', value: 'ada:sécret' }],
      (g) => expect(g.headers.authorization).toBe(`Basic ${Buffer.from('ada:sécret').toString('base64')}`),
    ],
    [
      'http basic from username and password',
      [{ type: 'http', scheme: 'basic', username: 'ada', password: 'pw' }],
      (g) => expect(g.headers.authorization).toBe(`Basic ${Buffer.from('ada:pw').toString('base64')}`),
    ],
    ['oauth2', [{ type: 'oauth2', value: 'oa' }], (g) => expect(g.headers.authorization).toBe('Bearer oa')],
    [
      'openIdConnect',
      [{ type: 'openIdConnect', value: 'oidc' }],
      (g) => expect(g.headers.authorization).toBe('Bearer oidc'),
    ],
  ];

  it.each(securityCases)('applies %s', async (_, security, check) => {
    const tools = await resolve(definition({ security }));
    check(await call(tools.get('getPet'), GET_PET_ARGS));
  });

  it('names an apiKey X-API-Key when the document has no apiKey scheme', async () => {
    const tools = await resolve({
      type: 'openapi',
      schema: STRIPE,
      base_url: baseUrl,
      security: [{ type: 'apiKey', value: 'k' }],
    });
    const got = await call(tools.get('listCustomers'), {});
    expect(got.headers['x-api-key']).toBe('k');
  });

  it('sends the definition headers, security winning over them', async () => {
    const tools = await resolve(
      definition({
        headers: { 'X-Team': 'blue', Authorization: 'Bearer from-headers' },
        security: [{ type: 'http', scheme: 'bearer', value: 'from-security' }],
      }),
    );
    const got = await call(tools.get('getPet'), GET_PET_ARGS);
    expect(got.headers['x-team']).toBe('blue');
    expect(got.headers.authorization).toBe('Bearer from-security');
  });

  it('refuses a bearer entry without a token', async () => {
    const err = await rejection(
      openApiAdapter()(definition({ security: [{ type: 'http', scheme: 'bearer' }] }), context),
    );
    expect(err.status).toBe(400);
    expect(err.message).toMatch(/^security\.0\.value: /);
  });
});

describe('openapi adapter: results', () => {
  it('returns the status and the parsed JSON body', async () => {
    const tools = await resolve(definition());
    const output = await tools.get('getPet')!.run!(GET_PET_ARGS, context);
    expect(output.isError).toBeFalsy();
    expect(output.result).toMatchObject({ status: 200, body: { method: 'GET', path: '/api/pets/7' } });
  });

  it('returns text bodies as text', async () => {
    const output = await (await resolve(definition())).get('text')!.run!({}, context);
    expect(output.result).toEqual({ status: 200, body: 'plain words' });
  });

  it('marks an upstream 404 as an error, with status and body', async () => {
    const tools = await resolve(definition());
    const output = await tools.get('status')!.run!({ path: { code: 404 } }, context);
    expect(output).toEqual({ isError: true, result: { status: 404, body: { message: 'no such pet' } } });
  });

  it('summarises a large response', async () => {
    const output = await (await resolve(definition())).get('big')!.run!({}, context);
    const result = output.result as { status: number; body: { items: unknown[] }; note: string };
    expect(result.status).toBe(200);
    expect(JSON.stringify(result.body).length).toBeLessThanOrEqual(16 * 1024);
    expect(result.body.items.at(-1)).toMatch(/more items not shown$/);
    expect(result.note).toMatch(/shortened/);
  });

  it('throws on a network failure', async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = closed.address() as AddressInfo;
    await new Promise((r) => closed.close(r));
    const tools = await resolve(definition({ base_url: `http://127.0.0.1:${port.port}` }));
    await expect(tools.get('text')!.run!({}, context)).rejects.toThrow();
  });

  it('turns an argument that cannot be sent into an error result', async () => {
    const tools = await resolve(definition());
    const output = await tools.get('getPet')!.run!({ path: {}, cookie: { session: 's' } }, context);
    expect(output.isError).toBe(true);
    expect(JSON.stringify(output.result)).toContain('petId');
  });
});
