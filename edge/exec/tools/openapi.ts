import { AppError } from '../../../shared/errors.ts';
import type { OpenApiTool } from '../../../shared/schemas/exec.ts';
import type { ExecTool, ToolResolveContext } from '../tool.ts';
import { parseOpenApiDocument, type OpenApiDocument } from './openapi-document.ts';
import { cleanSchema, operationArguments } from './openapi-schema.ts';
import {
  resolveSecurity,
  sendOperation,
  type ApiKeyScheme,
  type OperationBody,
  type OperationParameter,
  type OperationShape,
  type RequestTarget,
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
/** Header parameters OpenAPI says to ignore: the request's own negotiation and the security settings set them. */
const IGNORED_HEADERS = new Set(['accept', 'content-type', 'authorization']);
const MAX_DESCRIPTION_CHARS = 1024;
const MAX_NAMES_LISTED = 10;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function invalidSchema(message: string): AppError {
  return new AppError(400, `schema: ${message}`, { code: 'invalid_value', param: 'schema' });
}

function cap(text: string, max = MAX_DESCRIPTION_CHARS): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

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
