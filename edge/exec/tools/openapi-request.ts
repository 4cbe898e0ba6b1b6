import { AppError } from '../../../shared/errors.ts';
import type { OpenApiSecurity } from '../../../shared/schemas/exec.ts';
import type { ToolOutput, ToolRunContext } from '../tool.ts';

type Json = Record<string, unknown>;

export type ParameterLocation = 'path' | 'query' | 'header' | 'cookie';

/** One parameter of an operation, as the adapter read it from the document. */
export interface OperationParameter {
  name: string;
  in: ParameterLocation;
  required: boolean;
  /** The parameter's JSON schema, cleaned for providers. */
  schema: Json;
  /** OpenAPI serialization (`form`, `simple`, `deepObject`, …) and explode; defaults per location. */
  style?: string;
  explode?: boolean;
  /** Described by `content` rather than `schema`: the value is sent as JSON text. */
  asJson?: boolean;
}

/** The request body of an operation: the media type it is sent as, and its schema. */
export interface OperationBody {
  mediaType: string;
  schema: Json;
  required: boolean;
  description?: string;
}

/** What sending one operation needs to know about it. */
export interface OperationShape {
  method: string;
  /** The path template, `/pets/{petId}`. */
  path: string;
  parameters: OperationParameter[];
  body?: OperationBody;
}

/** The values of one call, sorted by where they go. */
export interface RequestValues {
  path: Json;
  query: Json;
  header: Json;
  cookie: Json;
  /** Absent: no body sent. */
  body?: unknown;
}

/** Credentials as they go on the wire. */
export interface WireAuth {
  headers: [string, string][];
  query: [string, string][];
  cookies: [string, string][];
}

/** An `apiKey` security scheme of the document (`components.securitySchemes`). */
export interface ApiKeyScheme {
  name: string;
  in: 'header' | 'query' | 'cookie';
}

/** Where an operation's requests go and what they carry besides the arguments. */
export interface RequestTarget {
  /** Absolute base URL (`https://api.example.com/v2`), the operation's path appended to it. */
  baseUrl: string;
  auth: WireAuth;
  /** The definition's `headers`. */
  headers?: Record<string, string>;
}

/** Response bytes read from the API. */
export const MAX_RESPONSE_BYTES = 1_000_000;
/** Characters of a response's JSON text the model reads. */
export const MAX_RESULT_CHARS = 16 * 1024;

const DEFAULT_API_KEY_NAME = 'X-API-Key';
const NO_BODY_METHODS = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE']);

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function badSecurity(index: number, field: string, message: string): AppError {
  return new AppError(400, `security.${index}.${field}: ${message}`, {
    code: 'invalid_value',
    param: `security.${index}.${field}`,
  });
}

/** Base64 of a string's UTF-8 bytes (`btoa` takes Latin-1 only). */
function base64Utf8(text: string): string {
  let binary = '';
  for (const byte of new TextEncoder().encode(text)) binary += String.fromCharCode(byte);
  return btoa(binary);
}

/**
 * The definition's `security` entries as headers, query parameters and cookies. An `apiKey` without `name`
 * takes the document's apiKey scheme's (the one in the same place when `in` is given), else `X-API-Key`; its
 * place defaults to the scheme's, else a header. `http` bearer, `oauth2` and `openIdConnect` send
 * `Authorization: Bearer …`; `http` basic sends `Authorization: Basic base64(user:password)`.
 * Throws AppError 400 naming the entry when one lacks its value.
 */
export function resolveSecurity(entries: readonly OpenApiSecurity[], apiKeySchemes: readonly ApiKeyScheme[]): WireAuth {
  const auth: WireAuth = { headers: [], query: [], cookies: [] };
  entries.forEach((entry, index) => {
    switch (entry.type) {
      case 'apiKey': {
        const scheme = entry.name
          ? apiKeySchemes.find((s) => s.name.toLowerCase() === entry.name!.toLowerCase())
          : apiKeySchemes.find((s) => !entry.in || s.in === entry.in);
        const name = entry.name ?? scheme?.name ?? DEFAULT_API_KEY_NAME;
        const place = entry.in ?? scheme?.in ?? 'header';
        const list = place === 'header' ? auth.headers : place === 'query' ? auth.query : auth.cookies;
        list.push([name, entry.value]);
        return;
      }
      case 'http': {
        if (entry.scheme === 'bearer') {
          if (!entry.value) throw badSecurity(index, 'value', 'the bearer token is required');
          auth.headers.push(['Authorization', `Bearer ${entry.value}`]);
          return;
        }
        const pair =
          entry.value ??
          (entry.username !== undefined || entry.password !== undefined
            ? `${entry.username ?? ''}:${entry.password ?? ''}`
            : undefined);
        if (pair === undefined)
          throw badSecurity(index, 'value', 'basic auth needs "user:password" or username/password');
        auth.headers.push(['Authorization', `Basic ${base64Utf8(pair)}`]);
        return;
      }
      case 'oauth2':
      case 'openIdConnect':
        auth.headers.push(['Authorization', `Bearer ${entry.value}`]);
        return;
    }
  });
  return auth;
}

/** A primitive as text; objects and arrays inside values as JSON. */
function text(value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  return JSON.stringify(value) ?? '';
}

/** `simple` style (path and header values): arrays comma-joined, objects `k,v,k,v` (`k=v,k=v` exploded). */
function simple(value: unknown, explode = false): string {
  if (Array.isArray(value)) return value.map(text).join(',');
  if (isObject(value)) {
    return Object.entries(value)
      .map(([k, v]) => (explode ? `${k}=${text(v)}` : `${k},${text(v)}`))
      .join(',');
  }
  return text(value);
}

function present(value: unknown): boolean {
  return value !== undefined && value !== null;
}

/** Appends one query parameter by its style (`form` exploded by default: arrays as repeated keys). */
function appendQuery(search: URLSearchParams, parameter: OperationParameter, value: unknown): void {
  const { name } = parameter;
  if (parameter.asJson) {
    search.append(name, JSON.stringify(value));
    return;
  }
  const style = parameter.style ?? 'form';
  const explode = parameter.explode ?? style === 'form';
  if (Array.isArray(value)) {
    if (explode) for (const item of value) search.append(name, text(item));
    else
      search.append(
        name,
        value.map(text).join(style === 'pipeDelimited' ? '|' : style === 'spaceDelimited' ? ' ' : ','),
      );
    return;
  }
  if (isObject(value)) {
    if (style === 'deepObject') {
      appendBracketed(search, name, value);
    } else if (explode) {
      for (const [k, v] of Object.entries(value)) if (present(v)) search.append(k, text(v));
    } else {
      search.append(name, simple(value));
    }
    return;
  }
  search.append(name, text(value));
}

/** `key[sub]=v`, `key[0][sub]=v`: what form-encoded APIs such as Stripe read for nested values. */
function appendBracketed(target: { append(name: string, value: string): void }, key: string, value: unknown): void {
  if (!present(value)) return;
  if (Array.isArray(value)) {
    value.forEach((item, i) => appendBracketed(target, `${key}[${i}]`, item));
  } else if (isObject(value)) {
    for (const [k, v] of Object.entries(value)) appendBracketed(target, `${key}[${k}]`, v);
  } else {
    target.append(key, text(value));
  }
}

/** A form body's fields: top-level arrays of primitives as repeated keys, nested values bracketed. */
function appendFormFields(target: { append(name: string, value: string): void }, body: unknown): void {
  if (!isObject(body)) throw new TypeError('a form-encoded body must be an object');
  for (const [key, value] of Object.entries(body)) {
    if (!present(value)) continue;
    if (Array.isArray(value) && value.every((item) => !isObject(item) && !Array.isArray(item))) {
      for (const item of value) target.append(key, text(item));
    } else {
      appendBracketed(target, key, value);
    }
  }
}

function isJsonMediaType(mediaType: string): boolean {
  const type = mediaType.split(';')[0]!.trim().toLowerCase();
  return type === 'application/json' || type.endsWith('+json') || type === '*/*' || type === 'application/*';
}

/** The body as sent, and its content type (none for multipart: fetch writes the boundary). */
function encodeBody(body: OperationBody, value: unknown): { body: BodyInit; contentType?: string } {
  const type = body.mediaType.split(';')[0]!.trim().toLowerCase();
  if (type === 'application/x-www-form-urlencoded') {
    const form = new URLSearchParams();
    appendFormFields(form, value);
    return { body: form.toString(), contentType: 'application/x-www-form-urlencoded' };
  }
  if (type === 'multipart/form-data') {
    const form = new FormData();
    appendFormFields(form, value);
    return { body: form };
  }
  if (isJsonMediaType(type)) {
    return { body: JSON.stringify(value), contentType: type.includes('*') ? 'application/json' : body.mediaType };
  }
  return { body: text(value), contentType: body.mediaType };
}

/** Joins the base URL and the operation's path with its parameters filled (percent-encoded). */
function buildUrl(baseUrl: string, operation: OperationShape, values: RequestValues): URL {
  const missing: string[] = [];
  const path = operation.path.replace(/\{([^}]+)\}/g, (_, name: string) => {
    const value = values.path[name];
    if (!present(value)) {
      missing.push(name);
      return '';
    }
    const parameter = operation.parameters.find((p) => p.in === 'path' && p.name === name);
    const raw = parameter?.asJson ? JSON.stringify(value) : simple(value, parameter?.explode);
    return encodeURIComponent(raw);
  });
  if (missing.length)
    throw new TypeError(`missing path parameter${missing.length > 1 ? 's' : ''}: ${missing.join(', ')}`);
  const url = new URL(baseUrl);
  url.pathname = `${url.pathname.replace(/\/+$/, '')}${path}`;
  for (const parameter of operation.parameters) {
    if (parameter.in !== 'query') continue;
    const value = values.query[parameter.name];
    if (present(value)) appendQuery(url.searchParams, parameter, value);
  }
  return url;
}

/** The request for one call: URL, method, headers and body, credentials applied. */
export function buildRequest(
  operation: OperationShape,
  values: RequestValues,
  target: RequestTarget,
): { url: URL; method: string; headers: Headers; body?: BodyInit } {
  const method = operation.method.toUpperCase();
  const url = buildUrl(target.baseUrl, operation, values);
  const headers = new Headers({ accept: 'application/json, */*;q=0.8' });
  const cookies: string[] = [];

  for (const parameter of operation.parameters) {
    if (parameter.in === 'header') {
      const value = values.header[parameter.name];
      if (present(value))
        headers.set(parameter.name, parameter.asJson ? JSON.stringify(value) : simple(value, parameter.explode));
    } else if (parameter.in === 'cookie') {
      const value = values.cookie[parameter.name];
      if (present(value))
        cookies.push(
          `${parameter.name}=${encodeURIComponent(parameter.asJson ? JSON.stringify(value) : simple(value))}`,
        );
    }
  }
  for (const [name, value] of Object.entries(target.headers ?? {})) {
    if (name.toLowerCase() === 'cookie') cookies.push(value);
    else headers.set(name, value);
  }
  for (const [name, value] of target.auth.headers) headers.set(name, value);
  for (const [name, value] of target.auth.query) url.searchParams.set(name, value);
  for (const [name, value] of target.auth.cookies) cookies.push(`${name}=${encodeURIComponent(value)}`);
  if (cookies.length) headers.set('cookie', cookies.join('; '));

  let body: BodyInit | undefined;
  if (operation.body && present(values.body) && !NO_BODY_METHODS.has(method)) {
    const encoded = encodeBody(operation.body, values.body);
    body = encoded.body;
    if (encoded.contentType) headers.set('content-type', encoded.contentType);
  }
  return { url, method, headers, body };
}

/** The response as the model reads it: parsed JSON when it is JSON, else text; null when empty. */
async function readBody(response: Response): Promise<unknown> {
  const raw = await response.text();
  if (!raw) return null;
  const type = response.headers.get('content-type') ?? '';
  if (/json/i.test(type) || /^\s*[[{]/.test(raw)) {
    try {
      return JSON.parse(raw) as unknown;
    } catch {
      // Not JSON after all: the text.
    }
  }
  return raw;
}

/**
 * Sends one call through the guarded fetch and returns `{ status, body }` for the model (body summarised to
 * `MAX_RESULT_CHARS`); a status ≥ 400 is an error result. Arguments that cannot be sent (a missing path
 * parameter, a header value with a line break) are an error result too; a network failure throws.
 */
export async function sendOperation(
  operation: OperationShape,
  values: RequestValues,
  target: RequestTarget,
  context: ToolRunContext,
): Promise<ToolOutput> {
  let request: ReturnType<typeof buildRequest>;
  try {
    request = buildRequest(operation, values, target);
  } catch (err) {
    return { result: { error: `invalid arguments: ${(err as Error).message}` }, isError: true };
  }
  const response = await context.fetch(request.url, {
    method: request.method,
    headers: request.headers,
    body: request.body,
    signal: context.signal,
    maxBytes: MAX_RESPONSE_BYTES,
  });
  const body = summarizeJson(await readBody(response), MAX_RESULT_CHARS);
  const result: Json = { status: response.status, body: body.value };
  if (body.truncated) result.note = body.truncated;
  return response.status >= 400 ? { result, isError: true } : { result };
}

const ARRAY_KEEPS = [50, 20, 10, 5, 2, 1];
const STRING_KEEPS = [4000, 1000, 200];

function shrink(value: unknown, keepItems: number, keepChars: number): unknown {
  if (typeof value === 'string') {
    return value.length > keepChars
      ? `${value.slice(0, keepChars)}… (${value.length - keepChars} more characters)`
      : value;
  }
  if (Array.isArray(value)) {
    const kept = value.slice(0, keepItems).map((item) => shrink(item, keepItems, keepChars));
    if (value.length > keepItems) kept.push(`… ${value.length - keepItems} more items not shown`);
    return kept;
  }
  if (isObject(value)) {
    const out: Json = {};
    for (const [k, v] of Object.entries(value)) out[k] = shrink(v, keepItems, keepChars);
    return out;
  }
  return value;
}

function jsonLength(value: unknown): number {
  return (JSON.stringify(value) ?? '').length;
}

/**
 * A value whose JSON text fits in `maxChars`: as is when it does; else with arrays cut (a last item says how
 * many were dropped) and long strings cut, fewer kept each try; else its JSON text cut. `truncated` says
 * what was done, absent when nothing was.
 */
export function summarizeJson(value: unknown, maxChars = MAX_RESULT_CHARS): { value: unknown; truncated?: string } {
  const length = jsonLength(value);
  if (length <= maxChars) return { value };
  const note = `response shortened from ${length} characters of JSON`;
  if (typeof value !== 'string') {
    for (const keepChars of STRING_KEEPS) {
      for (const keepItems of ARRAY_KEEPS) {
        const shrunk = shrink(value, keepItems, keepChars);
        if (jsonLength(shrunk) <= maxChars) return { value: shrunk, truncated: note };
      }
    }
  }
  const textValue = typeof value === 'string' ? value : (JSON.stringify(value) ?? '');
  const suffix = `… (${textValue.length} characters, cut)`;
  // Cut by JSON length: escapes (quotes, newlines) make the JSON text of a string longer than the string.
  let keep = Math.max(0, maxChars - suffix.length - 2);
  let cut = `${textValue.slice(0, keep)}${suffix}`;
  while (keep > 0 && jsonLength(cut) > maxChars) {
    keep = Math.max(0, keep - Math.max(16, jsonLength(cut) - maxChars));
    cut = `${textValue.slice(0, keep)}${suffix}`;
  }
  return { value: cut, truncated: note };
}
