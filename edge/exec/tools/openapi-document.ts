import { dereference, normalize, upgrade, validate } from '@scalar/openapi-parser';
import { AppError } from '../../../shared/errors.ts';

type Json = Record<string, unknown>;

/** A document as the adapter reads it: OpenAPI 3.1, every local `$ref` resolved (recursive schemas are cycles). */
export interface OpenApiDocument {
  /** The version the document was written in. */
  version: '2.0' | '3.0' | '3.1';
  document: Json;
}

const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;
/** Values that are data, never references (`example: {"$ref": …}` is an example). */
const LITERAL_KEYS = new Set(['example', 'examples', 'default', 'enum', 'const', 'value']);
const MAX_ERRORS_SHOWN = 3;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function invalid(message: string): AppError {
  return new AppError(400, `schema: ${message}`, { code: 'invalid_value', param: 'schema' });
}

/**
 * Parses, checks and dereferences an OpenAPI 3.0/3.1 or Swagger 2.0 document (an object or its JSON/YAML text),
 * upgrading it to 3.1. Only local `#/…` references are resolved: the parser is given no fetch or file plugin,
 * and any other `$ref` is refused with a 400. Documents the seed's own examples write (no `responses`, no
 * parameter `schema`, no `info.version`) are accepted. Errors are `AppError(400, 'schema: …')`.
 */
export async function parseOpenApiDocument(schema: string | Json): Promise<OpenApiDocument> {
  const value = readDocument(schema);
  const version = versionOf(value);
  const external = externalReferences(value);
  if (external.length) {
    const [first] = external;
    throw invalid(
      `external $ref "${first!.ref}" at ${first!.at} is not allowed: only local references ("#/…") are resolved` +
        (external.length > 1 ? ` (${external.length - 1} more)` : ''),
    );
  }
  fillLenientDefaults(value, version);
  checkStructure(value);
  await checkAgainstSpecification(value, version);
  const upgraded = version === '3.1' ? value : (upgrade(value).specification as Json | null);
  if (!isObject(upgraded)) throw invalid(`the OpenAPI ${version} document could not be upgraded to 3.1`);
  const { schema: document, errors } = dereference(upgraded);
  if (errors?.length) throw invalid(listErrors(errors));
  if (!isObject(document)) throw invalid('not an OpenAPI document');
  return { version, document };
}

function readDocument(schema: string | Json): Json {
  let value: unknown;
  if (typeof schema === 'string') {
    try {
      value = normalize(schema);
    } catch (err) {
      throw invalid(`not valid JSON or YAML (${(err as Error).message.split('\n')[0]})`);
    }
  } else {
    value = structuredClone(schema);
  }
  if (!isObject(value)) throw invalid('must be an OpenAPI document (a JSON or YAML object)');
  return value;
}

function versionOf(value: Json): OpenApiDocument['version'] {
  if (value.swagger === '2.0') return '2.0';
  if (typeof value.openapi === 'string') {
    if (/^3\.0(\.|$)/.test(value.openapi)) return '3.0';
    if (/^3\.1(\.|$)/.test(value.openapi)) return '3.1';
    throw invalid(`OpenAPI version "${value.openapi}" is not supported: use 3.0, 3.1 or Swagger 2.0`);
  }
  throw invalid('not an OpenAPI 3.0/3.1 or Swagger 2.0 document (no "openapi" or "swagger": "2.0" field)');
}

/** Every `$ref` that does not point inside the document itself, with its JSON pointer. */
export function externalReferences(value: unknown): { ref: string; at: string }[] {
  const found: { ref: string; at: string }[] = [];
  const walk = (node: unknown, at: string, seen: Set<unknown>) => {
    if (typeof node !== 'object' || node === null || seen.has(node)) return;
    seen.add(node);
    if (Array.isArray(node)) {
      node.forEach((item, i) => walk(item, `${at}/${i}`, seen));
      return;
    }
    for (const [key, child] of Object.entries(node)) {
      if (key === '$ref' && typeof child === 'string') {
        if (!child.startsWith('#')) found.push({ ref: child, at: at || '/' });
      } else if (!LITERAL_KEYS.has(key) || isSchemaMap(key, child)) {
        walk(child, `${at}/${key.replace(/~/g, '~0').replace(/\//g, '~1')}`, seen);
      }
    }
  };
  walk(value, '', new Set());
  return found;
}

/** `examples` is a map of Example Objects (which may be references) in OpenAPI 3, a literal array in JSON Schema. */
function isSchemaMap(key: string, value: unknown): boolean {
  return key === 'examples' && isObject(value);
}

/** What the seed's examples leave out but the specification requires: filled so they validate. */
function fillLenientDefaults(value: Json, version: OpenApiDocument['version']): void {
  if (!isObject(value.info)) value.info = { title: 'API', version: '0.1.0' };
  const info = value.info as Json;
  if (typeof info.title !== 'string') info.title = 'API';
  if (typeof info.version !== 'string') info.version = '0.1.0';
  if (value.paths === undefined) value.paths = {};
  if (!isObject(value.paths)) return;
  for (const pathItem of Object.values(value.paths)) {
    if (!isObject(pathItem)) continue;
    fillParameters(pathItem.parameters, version);
    for (const method of HTTP_METHODS) {
      const operation = pathItem[method];
      if (!isObject(operation)) continue;
      if (operation.responses === undefined) operation.responses = { default: { description: '' } };
      fillParameters(operation.parameters, version);
    }
  }
}

function fillParameters(parameters: unknown, version: OpenApiDocument['version']): void {
  if (!Array.isArray(parameters)) return;
  for (const parameter of parameters) {
    if (!isObject(parameter) || parameter.$ref !== undefined) continue;
    if (version === '2.0') {
      if (parameter.in !== 'body' && parameter.type === undefined) parameter.type = 'string';
    } else if (parameter.schema === undefined && parameter.content === undefined) {
      parameter.schema = { type: 'string' };
    }
  }
}

/** The checks the adapter relies on, made everywhere (the full validation below needs code generation). */
function checkStructure(value: Json): void {
  if (!isObject(value.paths)) throw invalid('"paths" must be an object');
  for (const [path, pathItem] of Object.entries(value.paths)) {
    if (!path.startsWith('/')) throw invalid(`path "${path}" must start with "/"`);
    if (!isObject(pathItem)) throw invalid(`paths["${path}"] must be an object`);
    for (const method of HTTP_METHODS) {
      if (pathItem[method] !== undefined && !isObject(pathItem[method])) {
        throw invalid(`paths["${path}"].${method} must be an object`);
      }
    }
  }
}

const CODE_GENERATION_REFUSED = /code generation from strings disallowed/i;

/**
 * Validates against the OpenAPI JSON Schema (@scalar/openapi-parser's validator). That validator compiles with
 * ajv, which workerd refuses (no code generation from strings): there only `checkStructure` applies.
 */
async function checkAgainstSpecification(value: Json, version: OpenApiDocument['version']): Promise<void> {
  let result: Awaited<ReturnType<typeof validate>>;
  try {
    result = await validate(structuredClone(value));
  } catch (err) {
    if (CODE_GENERATION_REFUSED.test(String((err as Error)?.message))) return;
    throw invalid(String((err as Error)?.message ?? err));
  }
  if (result.valid) return;
  const errors = result.errors ?? [];
  if (errors.some((e) => CODE_GENERATION_REFUSED.test(e.message))) return;
  throw invalid(`invalid OpenAPI ${version} document: ${listErrors(errors)}`);
}

function listErrors(errors: readonly { message: string; path?: string | string[] }[]): string {
  const at = (path: string | string[] | undefined) => (Array.isArray(path) ? path.join('/') : path);
  const shown = errors
    .slice(0, MAX_ERRORS_SHOWN)
    .map((e) => (at(e.path) ? `${e.message} at ${at(e.path)}` : e.message));
  const more = errors.length > MAX_ERRORS_SHOWN ? ` (${errors.length - MAX_ERRORS_SHOWN} more)` : '';
  return `${shown.join('; ')}${more}`;
}
