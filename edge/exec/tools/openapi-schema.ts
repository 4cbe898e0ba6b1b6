import type { OperationShape, ParameterLocation, RequestValues } from './openapi-request.ts';

type Json = Record<string, unknown>;

const LOCATIONS: readonly ParameterLocation[] = ['path', 'query', 'header', 'cookie'];

function jsonCopy(value: unknown): unknown {
  try {
    return JSON.parse(JSON.stringify(value)) as unknown;
  } catch {
    return undefined;
  }
}

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const MAX_SCHEMA_DEPTH = 12;
const MAX_SCHEMA_NODES = 4000;
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
