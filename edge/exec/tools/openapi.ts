import { AppError } from '../../../shared/errors.ts';
import type { OpenApiTool } from '../../../shared/schemas/exec.ts';
import type { ExecTool, ToolResolveContext } from '../tool.ts';
import { parseOpenApiDocument, type OpenApiDocument } from './openapi-document.ts';
import {
  resolveSecurity,
  sendOperation,
  type ApiKeyScheme,
  type OperationBody,
  type OperationParameter,
  type OperationShape,
  type ParameterLocation,
  type RequestTarget,
  type RequestValues,
} from './openapi-request.ts';

type Json = Record<string, unknown>;

/** One operation of a document, ready to become a tool. */
export interface OpenApiOperation extends OperationShape {
  /** The operationId, else `generatedName`. */
  name: string;
  operationId?: string;
  /** From method and path: `get_pets_petId`. */
  generatedName: string;
  description: string;
  /** The server URL the document gives for it (variables filled), possibly relative; absent when none. */
  server?: string;
}

/** What the adapter keeps of a parsed document (and caches). */
export interface OpenApiOperations {
  version: OpenApiDocument['version'];
  operations: OpenApiOperation[];
  apiKeySchemes: ApiKeyScheme[];
}

export interface OpenApiAdapterOptions {
  /** Parsed documents kept (LRU, keyed by the SHA-256 of the document's text); default 32, 0: none. */
  cacheSize?: number;
}

export type OpenApiAdapter = ((definition: OpenApiTool, context: ToolResolveContext) => Promise<ExecTool[]>) & {
  /** Documents parsed and cache hits since the adapter was made. */
  readonly stats: { parses: number; hits: number };
};

const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;
const LOCATIONS: readonly ParameterLocation[] = ['path', 'query', 'header', 'cookie'];
/** Header parameters OpenAPI says to ignore: the request's own negotiation and the security settings set them. */
const IGNORED_HEADERS = new Set(['accept', 'content-type', 'authorization']);
const MAX_DESCRIPTION_CHARS = 1024;
const MAX_SCHEMA_DEPTH = 12;
const MAX_SCHEMA_NODES = 4000;
const MAX_NAMES_LISTED = 10;

/** JSON Schema keywords kept as they are (the ones providers read); every other keyword is dropped. */
const LITERAL_KEYWORDS = new Set([
  'type',
  'format',
  'title',
  'description',
  'enum',
  'const',
  'default',
  'deprecated',
  'minimum',
  'maximum',
  'multipleOf',
  'minLength',
  'maxLength',
  'pattern',
  'minItems',
  'maxItems',
  'uniqueItems',
  'minProperties',
  'maxProperties',
]);
const NUMBER_KEYWORDS = new Set(['exclusiveMinimum', 'exclusiveMaximum']);
const SCHEMA_ARRAY_KEYWORDS = ['allOf', 'anyOf', 'oneOf', 'prefixItems'] as const;
const SCHEMA_MAP_KEYWORDS = ['properties', 'patternProperties'] as const;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function invalidSchema(message: string): AppError {
  return new AppError(400, `schema: ${message}`, { code: 'invalid_value', param: 'schema' });
}

function jsonCopy(value: unknown): unknown {
  try {
    return JSON.parse(JSON.stringify(value)) as unknown;
  } catch {
    return undefined;
  }
}

function cap(text: string, max = MAX_DESCRIPTION_CHARS): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/**
 * A schema of the document as providers accept it: JSON Schema keywords only (no `xml`, `example`,
 * `discriminator`, `x-…`), read-only properties dropped (this is the request side), and finite: a schema that
 * contains itself (a cycle after dereferencing) or nests deeper than MAX_SCHEMA_DEPTH is cut there.
 */
export function cleanSchema(schema: unknown): Json {
  const state = { nodes: 0, ancestors: new Set<object>() };
  const cleaned = cleanNode(schema, 0, state);
  return isObject(cleaned) ? cleaned : {};
}

function cutSchema(node: Json, why: string): Json {
  const out: Json = { description: why };
  if (typeof node.type === 'string' || Array.isArray(node.type)) out.type = jsonCopy(node.type);
  return out;
}

function cleanNode(node: unknown, depth: number, state: { nodes: number; ancestors: Set<object> }): Json {
  if (node === true || node === undefined) return {};
  if (node === false) return { not: {} };
  if (!isObject(node)) return {};
  if (state.ancestors.has(node)) return cutSchema(node, 'Recursive: the same structure as an enclosing value.');
  if (depth > MAX_SCHEMA_DEPTH || ++state.nodes > MAX_SCHEMA_NODES)
    return cutSchema(node, 'Nested too deep to describe.');
  state.ancestors.add(node);
  try {
    const out: Json = {};
    for (const [key, value] of Object.entries(node)) {
      if (LITERAL_KEYWORDS.has(key)) {
        const copy = jsonCopy(value);
        if (copy !== undefined) out[key] = copy;
      } else if (NUMBER_KEYWORDS.has(key) && typeof value === 'number') {
        out[key] = value;
      }
    }
    for (const key of SCHEMA_MAP_KEYWORDS) {
      const map = node[key];
      if (!isObject(map)) continue;
      const cleaned: Json = {};
      for (const [name, child] of Object.entries(map)) {
        if (isObject(child) && child.readOnly === true) continue;
        cleaned[name] = cleanNode(child, depth + 1, state);
      }
      out[key] = cleaned;
    }
    for (const key of SCHEMA_ARRAY_KEYWORDS) {
      const list = node[key];
      if (Array.isArray(list) && list.length) out[key] = list.map((child) => cleanNode(child, depth + 1, state));
    }
    if (Array.isArray(node.items)) {
      if (node.items.length) out.prefixItems = node.items.map((child) => cleanNode(child, depth + 1, state));
    } else if (node.items !== undefined) {
      out.items = cleanNode(node.items, depth + 1, state);
    }
    if (typeof node.additionalProperties === 'boolean') out.additionalProperties = node.additionalProperties;
    else if (isObject(node.additionalProperties))
      out.additionalProperties = cleanNode(node.additionalProperties, depth + 1, state);
    if (isObject(node.not)) out.not = cleanNode(node.not, depth + 1, state);
    if (Array.isArray(node.required)) {
      const required = node.required.filter(
        (name): name is string => typeof name === 'string' && !isReadOnly(node, name),
      );
      if (required.length) out.required = [...new Set(required)];
    }
    return out;
  } finally {
    state.ancestors.delete(node);
  }
}

function isReadOnly(schema: Json, property: string): boolean {
  const properties = schema.properties;
  return isObject(properties) && isObject(properties[property]) && properties[property].readOnly === true;
}

/** A tool name from method and path: `GET /pets/{petId}` → `get_pets_petId`. */
export function operationName(method: string, path: string): string {
  const tail = path
    .replace(/[{}]/g, '')
    .replace(/[^A-Za-z0-9]+/g, '_')
    .replace(/^_+|_+$/g, '');
  return tail ? `${method.toLowerCase()}_${tail}` : method.toLowerCase();
}

/** The first server's URL with its variables filled from their defaults; undefined when there is none. */
function serverUrl(servers: unknown): string | undefined {
  if (!Array.isArray(servers) || !isObject(servers[0]) || typeof servers[0].url !== 'string') return undefined;
  const { url, variables } = servers[0];
  return url.replace(/\{([^}]+)\}/g, (whole, name: string) => {
    const variable = isObject(variables) ? variables[name] : undefined;
    if (!isObject(variable)) return whole;
    if (typeof variable.default === 'string' || typeof variable.default === 'number') return String(variable.default);
    return Array.isArray(variable.enum) && variable.enum.length ? String(variable.enum[0]) : whole;
  });
}

function readParameter(raw: unknown): OperationParameter | undefined {
  if (!isObject(raw) || typeof raw.name !== 'string' || !raw.name) return undefined;
  const where = raw.in;
  if (where !== 'path' && where !== 'query' && where !== 'header' && where !== 'cookie') return undefined;
  if (where === 'header' && IGNORED_HEADERS.has(raw.name.toLowerCase())) return undefined;
  let schemaSource: unknown = raw.schema;
  let asJson = false;
  if (schemaSource === undefined && isObject(raw.content)) {
    const [first] = Object.values(raw.content);
    schemaSource = isObject(first) ? first.schema : undefined;
    asJson = true;
  }
  const schema = cleanSchema(schemaSource ?? { type: 'string' });
  if (typeof raw.description === 'string' && raw.description.trim() && schema.description === undefined) {
    schema.description = cap(raw.description.trim());
  }
  return {
    name: raw.name,
    in: where,
    required: where === 'path' || raw.required === true,
    schema,
    ...(typeof raw.style === 'string' ? { style: raw.style } : {}),
    ...(typeof raw.explode === 'boolean' ? { explode: raw.explode } : {}),
    ...(asJson ? { asJson } : {}),
  };
}

/** Path-level then operation-level parameters, the operation's winning; path template names never declared added. */
function readParameters(path: string, pathItem: Json, operation: Json): OperationParameter[] {
  const byKey = new Map<string, OperationParameter>();
  const keyOf = (p: OperationParameter) => `${p.in}:${p.in === 'header' ? p.name.toLowerCase() : p.name}`;
  for (const list of [pathItem.parameters, operation.parameters]) {
    if (!Array.isArray(list)) continue;
    for (const raw of list) {
      const parameter = readParameter(raw);
      if (parameter) byKey.set(keyOf(parameter), parameter);
    }
  }
  for (const [, name] of path.matchAll(/\{([^}]+)\}/g)) {
    if (!byKey.has(`path:${name}`))
      byKey.set(`path:${name}`, { name: name!, in: 'path', required: true, schema: { type: 'string' } });
  }
  return [...byKey.values()];
}

const MEDIA_PREFERENCE: ((type: string) => boolean)[] = [
  (t) => t === 'application/json',
  (t) => t.endsWith('+json') || t.endsWith('/json'),
  (t) => t === 'application/x-www-form-urlencoded',
  (t) => t === 'multipart/form-data',
  (t) => t.startsWith('text/'),
  (t) => t === '*/*' || t === 'application/*',
];

function readBody(raw: unknown): OperationBody | undefined {
  if (!isObject(raw) || !isObject(raw.content)) return undefined;
  const types = Object.keys(raw.content);
  if (!types.length) return undefined;
  const normalized = (type: string) => type.split(';')[0]!.trim().toLowerCase();
  const mediaType =
    MEDIA_PREFERENCE.map((prefers) => types.find((t) => prefers(normalized(t)))).find((t) => t !== undefined) ??
    types[0]!;
  const media = raw.content[mediaType];
  const source = isObject(media) ? media.schema : undefined;
  const kind = normalized(mediaType);
  const structured = kind.includes('json') || kind.includes('form') || kind.includes('*');
  const schema = cleanSchema(source ?? (structured ? {} : { type: 'string' }));
  const description =
    typeof raw.description === 'string' && raw.description.trim() ? cap(raw.description.trim()) : undefined;
  if (description && schema.description === undefined) schema.description = description;
  return { mediaType, schema, required: raw.required === true, ...(description ? { description } : {}) };
}

function describeOperation(operation: Json, method: string, path: string): string {
  const parts = [operation.summary, operation.description]
    .filter((s): s is string => typeof s === 'string')
    .map((s) => s.trim())
    .filter(Boolean);
  const unique = parts.filter((s, i) => parts.indexOf(s) === i);
  const text = unique.length ? unique.join('\n\n') : `${method.toUpperCase()} ${path}`;
  return cap(operation.deprecated === true ? `(deprecated) ${text}` : text);
}

/** The operations of a parsed (3.1, dereferenced) document, and its apiKey security schemes. */
export function readOperations({ version, document }: OpenApiDocument): OpenApiOperations {
  const operations: OpenApiOperation[] = [];
  const rootServer = serverUrl(document.servers);
  const paths = isObject(document.paths) ? document.paths : {};
  for (const [path, pathItem] of Object.entries(paths)) {
    if (!isObject(pathItem)) continue;
    const pathServer = serverUrl(pathItem.servers) ?? rootServer;
    for (const method of HTTP_METHODS) {
      const operation = pathItem[method];
      if (!isObject(operation)) continue;
      const generatedName = operationName(method, path);
      const operationId =
        typeof operation.operationId === 'string' && operation.operationId.trim()
          ? operation.operationId.trim()
          : undefined;
      const body = readBody(operation.requestBody);
      const server = serverUrl(operation.servers) ?? pathServer;
      operations.push({
        name: operationId ?? generatedName,
        ...(operationId ? { operationId } : {}),
        generatedName,
        description: describeOperation(operation, method, path),
        method,
        path,
        parameters: readParameters(path, pathItem, operation),
        ...(body ? { body } : {}),
        ...(server !== undefined ? { server } : {}),
      });
    }
  }
  const schemes = isObject(document.components) ? document.components.securitySchemes : undefined;
  const apiKeySchemes: ApiKeyScheme[] = [];
  for (const scheme of isObject(schemes) ? Object.values(schemes) : []) {
    if (!isObject(scheme) || scheme.type !== 'apiKey' || typeof scheme.name !== 'string') continue;
    if (scheme.in === 'header' || scheme.in === 'query' || scheme.in === 'cookie') {
      apiKeySchemes.push({ name: scheme.name, in: scheme.in });
    }
  }
  return { version, operations, apiKeySchemes };
}

/** How a call's arguments map onto the request: the arguments' JSON schema and the sorting of values. */
export interface OperationArguments {
  schema: Json;
  toValues: (args: Record<string, unknown>) => RequestValues;
}

function objectOf(value: unknown): Json {
  return isObject(value) ? value : {};
}

/** The body schema's top-level properties (its own and its `allOf` members'), and their required names. */
function bodyProperties(schema: Json): { properties: Json; required: string[] } | undefined {
  const parts = [schema, ...(Array.isArray(schema.allOf) ? schema.allOf.filter(isObject) : [])];
  if (parts.some((p) => p.type !== undefined && p.type !== 'object')) return undefined;
  if (schema.anyOf !== undefined || schema.oneOf !== undefined) return undefined;
  const properties: Json = {};
  const required: string[] = [];
  for (const part of parts) {
    if (isObject(part.properties)) Object.assign(properties, part.properties);
    if (Array.isArray(part.required)) required.push(...part.required.filter((r): r is string => typeof r === 'string'));
  }
  return Object.keys(properties).length ? { properties, required: [...new Set(required)] } : undefined;
}

/**
 * The arguments of one operation. Grouped (default): `{ path, query, header, cookie, body }`, only the groups
 * the operation has, a group required when one of its members is. Flat: every parameter by its name (a name
 * taken by an earlier one gets its location as prefix, `query_id`) and the body's top-level properties (a
 * taken name gets `body_`); a body that is not an object with properties is the one argument `body`.
 */
export function operationArguments(operation: OperationShape, flatten: boolean): OperationArguments {
  const { parameters, body } = structuredClone({ parameters: operation.parameters, body: operation.body });
  const bodyRequired =
    !!body && (body.required || (Array.isArray(body.schema.required) && body.schema.required.length > 0));

  if (!flatten) {
    const properties: Json = {};
    const required: string[] = [];
    for (const location of LOCATIONS) {
      const members = parameters.filter((p) => p.in === location);
      if (!members.length) continue;
      const names = members.filter((p) => p.required).map((p) => p.name);
      properties[location] = {
        type: 'object',
        properties: Object.fromEntries(members.map((p) => [p.name, p.schema])),
        ...(names.length ? { required: names } : {}),
      };
      if (names.length) required.push(location);
    }
    if (body) {
      properties.body = body.schema;
      if (bodyRequired) required.push('body');
    }
    return {
      schema: { type: 'object', properties, ...(required.length ? { required } : {}) },
      toValues: (args) => ({
        path: objectOf(args.path),
        query: objectOf(args.query),
        header: objectOf(args.header),
        cookie: objectOf(args.cookie),
        ...(args.body !== undefined ? { body: args.body } : {}),
      }),
    };
  }

  const properties: Json = {};
  const required: string[] = [];
  const slots: { arg: string; in: ParameterLocation | 'body'; name?: string }[] = [];
  const take = (preferred: string, prefix: string): string => {
    let name = preferred in properties ? `${prefix}_${preferred}` : preferred;
    for (let n = 2; name in properties; n++) name = `${prefix}_${preferred}_${n}`;
    return name;
  };
  for (const parameter of parameters) {
    const arg = take(parameter.name, parameter.in);
    properties[arg] = parameter.schema;
    if (parameter.required) required.push(arg);
    slots.push({ arg, in: parameter.in, name: parameter.name });
  }
  const flatBody = body ? bodyProperties(body.schema) : undefined;
  if (body && flatBody) {
    for (const [name, schema] of Object.entries(flatBody.properties)) {
      const arg = take(name, 'body');
      properties[arg] = schema;
      if (flatBody.required.includes(name)) required.push(arg);
      slots.push({ arg, in: 'body', name });
    }
  } else if (body) {
    const arg = take('body', 'body');
    properties[arg] = body.schema;
    if (bodyRequired) required.push(arg);
    slots.push({ arg, in: 'body' });
  }
  return {
    schema: { type: 'object', properties, ...(required.length ? { required } : {}) },
    toValues: (args) => {
      const values: RequestValues = { path: {}, query: {}, header: {}, cookie: {} };
      let fields: Json | undefined;
      for (const slot of slots) {
        const value = args[slot.arg];
        if (value === undefined) continue;
        if (slot.in !== 'body') values[slot.in][slot.name!] = value;
        else if (slot.name === undefined) values.body = value;
        else (fields ??= {})[slot.name] = value;
      }
      if (fields) values.body = fields;
      else if (flatBody && body?.required) values.body = {};
      return values;
    },
  };
}

async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

/** Picks the allowed operations; a name matching none is a 400 listing some that exist. */
function selectOperations(operations: OpenApiOperation[], allowed: readonly string[] | undefined): OpenApiOperation[] {
  if (!allowed) return operations;
  const loose = (name: string) => name.toLowerCase().replace(/[^a-z0-9]/g, '');
  const chosen = new Set<OpenApiOperation>();
  for (const wanted of allowed) {
    let found = operations.filter((op) => op.operationId === wanted || op.generatedName === wanted);
    // `getUsers` for an operation without operationId (`get_users`), as the seed's example writes it.
    if (!found.length)
      found = operations.filter((op) => loose(op.name) === loose(wanted) || loose(op.generatedName) === loose(wanted));
    if (!found.length) {
      const names = operations.slice(0, MAX_NAMES_LISTED).map((op) => op.name);
      const more = operations.length > MAX_NAMES_LISTED ? `, … (${operations.length} in all)` : '';
      const known = names.length
        ? `; the document has: ${names.join(', ')}${more}`
        : '; the document has no operations';
      throw new AppError(400, `allowed_operations: no operation "${wanted}" in the document${known}`, {
        code: 'invalid_value',
        param: 'allowed_operations',
      });
    }
    for (const op of found) chosen.add(op);
  }
  return operations.filter((op) => chosen.has(op));
}

/** The absolute base URL of an operation: `base_url`, else the document's server for it. */
function baseUrlOf(operation: OpenApiOperation, baseUrl: string | undefined): string {
  if (baseUrl) return baseUrl;
  const server = operation.server;
  if (server === undefined) {
    throw new AppError(400, 'base_url: the document lists no servers; give base_url', {
      code: 'invalid_value',
      param: 'base_url',
    });
  }
  let url: URL | undefined;
  try {
    url = new URL(server);
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
    throw new AppError(
      400,
      `base_url: the document's server URL "${server.slice(0, 200)}" is not an absolute http(s) URL; give base_url`,
      {
        code: 'invalid_value',
        param: 'base_url',
      },
    );
  }
  return server;
}

/**
 * The `openapi` adapter: one tool per operation of the document (only `allowed_operations` when given), named
 * by operationId (else `get_pets_petId`), its arguments grouped or flat (`flatten`), its calls sent through the
 * guarded fetch to `base_url` (else the document's server) with the definition's `security` and `headers`.
 * Parsed documents are cached by the SHA-256 of their text, so a document sent on every round is parsed once.
 * Errors in the definition are AppError 400 (`schema: …`, `allowed_operations: …`, `base_url: …`).
 */
export function openApiAdapter(options: OpenApiAdapterOptions = {}): OpenApiAdapter {
  const cacheSize = Math.max(0, options.cacheSize ?? 32);
  const cache = new Map<string, Promise<OpenApiOperations>>();
  const stats = { parses: 0, hits: 0 };

  const load = async (schema: OpenApiTool['schema']): Promise<OpenApiOperations> => {
    const text = typeof schema === 'string' ? schema : JSON.stringify(schema);
    if (typeof text !== 'string') throw invalidSchema('must be an OpenAPI document (a JSON or YAML object)');
    const key = await sha256Hex(text);
    const cached = cache.get(key);
    if (cached) {
      stats.hits++;
      cache.delete(key);
      cache.set(key, cached);
      return cached;
    }
    stats.parses++;
    const parsing = parseOpenApiDocument(schema).then(readOperations);
    if (cacheSize > 0) {
      cache.set(key, parsing);
      while (cache.size > cacheSize) cache.delete(cache.keys().next().value!);
      // A document that fails is parsed again next time (its error is the request's; nothing to keep).
      parsing.catch(() => cache.get(key) === parsing && cache.delete(key));
    }
    return parsing;
  };

  const adapter = async (definition: OpenApiTool, _context: ToolResolveContext): Promise<ExecTool[]> => {
    const { operations, apiKeySchemes } = await load(definition.schema);
    const selected = selectOperations(operations, definition.allowed_operations);
    const auth = resolveSecurity(definition.security ?? [], apiKeySchemes);
    const prefix = definition.description?.trim() ? `${cap(definition.description.trim(), 200)}: ` : '';
    return selected.map((operation) => {
      const target: RequestTarget = {
        baseUrl: baseUrlOf(operation, definition.base_url),
        auth,
        ...(definition.headers ? { headers: definition.headers } : {}),
      };
      const args = operationArguments(operation, definition.flatten ?? false);
      return {
        name: operation.name,
        description: cap(`${prefix}${operation.description}`),
        parameters: args.schema,
        run: (values, context) => sendOperation(operation, args.toValues(values), target, context),
      };
    });
  };
  return Object.assign(adapter, { stats });
}
