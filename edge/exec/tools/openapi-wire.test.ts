import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import type { OpenApiSecurity } from '../../../shared/schemas/exec.ts';
import { STRIPE_DOCUMENT } from '../../../test/fixtures/openapi-stripe.ts';
import { context, GET_PET_ARGS, openApiEcho, type Seen } from '../../../test/helpers/openapi-echo.ts';
import { appErrorOf } from '../../../test/helpers/rejection.ts';
import { openApiAdapter } from './openapi.ts';

const echo = openApiEcho();
const { definition, resolve, call } = echo;

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
      schema: STRIPE_DOCUMENT,
      base_url: `${echo.baseUrl}/stripe`,
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
    const tools = await resolve({ type: 'openapi', schema: STRIPE_DOCUMENT, base_url: echo.baseUrl });
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
      schema: STRIPE_DOCUMENT,
      base_url: echo.baseUrl,
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
    const err = await appErrorOf(
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
