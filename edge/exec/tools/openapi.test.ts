import { describe, expect, it } from 'vitest';
import { STRIPE_DOCUMENT } from '../../../test/fixtures/openapi-stripe.ts';
import { context, GET_PET_ARGS, openApiEcho, PETS } from '../../../test/helpers/openapi-echo.ts';
import { appErrorOf } from '../../../test/helpers/rejection.ts';
import type { ToolRunContext } from '../tool.ts';
import { openApiAdapter, operationName } from './openapi.ts';
import { cleanSchema } from './openapi-schema.ts';

const echo = openApiEcho();
const { definition, resolve, call } = echo;

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
    const err = await appErrorOf(openApiAdapter()(definition({ allowed_operations: ['getPet', 'nope'] }), context));
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
    const err = await appErrorOf(openApiAdapter()(definition({ schema: relative, base_url: undefined }), context));
    expect(err.status).toBe(400);
    expect(err.message).toMatch(/^base_url: .*"\/v1"/);
    const none = { ...PETS, servers: undefined };
    const err2 = await appErrorOf(openApiAdapter()(definition({ schema: none, base_url: undefined }), context));
    expect(err2.message).toMatch(/^base_url: /);
    await expect(openApiAdapter()(definition({ schema: relative }), context)).resolves.toHaveLength(7);
  });

  it('refuses an external $ref with a schema: 400', async () => {
    const external = structuredClone(PETS);
    (external.paths['/big'].get as Record<string, unknown>).parameters = [
      { $ref: 'https://elsewhere.example/params.json#/limit' },
    ];
    const err = await appErrorOf(openApiAdapter()(definition({ schema: external }), context));
    expect(err.status).toBe(400);
    expect(err.message).toMatch(/^schema: external \$ref/);
  });

  it('refuses a document that is not OpenAPI with a schema: 400', async () => {
    const err = await appErrorOf(openApiAdapter()(definition({ schema: 'just: [text' }), context));
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
    const text = JSON.stringify(STRIPE_DOCUMENT);
    await Promise.all([adapter(definition({ schema: text }), context), adapter(definition({ schema: text }), context)]);
    expect(adapter.stats).toEqual({ parses: 2, hits: 2 });
  });

  it('evicts the least recently used document past cacheSize', async () => {
    const adapter = openApiAdapter({ cacheSize: 1 });
    await adapter(definition(), context);
    await adapter(definition({ schema: STRIPE_DOCUMENT }), context);
    await adapter(definition({ schema: STRIPE_DOCUMENT }), context);
    await adapter(definition(), context);
    expect(adapter.stats).toEqual({ parses: 3, hits: 1 });
  });

  it('does not keep a failed parse', async () => {
    const adapter = openApiAdapter();
    const broken = { openapi: '3.0.0', info: { title: 'x', version: '1' }, paths: { nope: {} } };
    await appErrorOf(adapter(definition({ schema: broken }), context));
    await appErrorOf(adapter(definition({ schema: broken }), context));
    expect(adapter.stats.parses).toBe(2);
  });
});
