import { Validator, type Schema } from '@cfworker/json-schema';

/** What checking a model's call against the tool's schema found. */
export type ArgumentCheck = { ok: true; args: Record<string, unknown> } | { ok: false; problem: string };

const validators = new WeakMap<object, Validator>();

/**
 * Parses a call's arguments (a JSON text from the model, or an object) and checks them against the
 * tool's JSON schema (drafts 4–2020-12, @cfworker/json-schema: no code generation, so it runs in workerd).
 */
export function checkArguments(raw: unknown, schema: Record<string, unknown>): ArgumentCheck {
  let args: unknown = raw;
  if (typeof raw === 'string') {
    try {
      args = raw.trim() === '' ? {} : JSON.parse(raw);
    } catch {
      return { ok: false, problem: 'the arguments are not valid JSON' };
    }
  }
  if (args === null || typeof args !== 'object' || Array.isArray(args)) {
    return { ok: false, problem: 'the arguments must be a JSON object' };
  }
  let result: ReturnType<Validator['validate']>;
  try {
    let validator = validators.get(schema);
    if (!validator) {
      validator = new Validator(schema as Schema, '2020-12', false);
      validators.set(schema, validator);
    }
    result = validator.validate(args);
  } catch {
    // A schema the validator cannot apply (a pattern invalid under the u flag, an unresolvable $ref) checks
    // nothing: the tool gets the parsed object, as it would without a schema.
    return { ok: true, args: args as Record<string, unknown> };
  }
  if (result.valid) return { ok: true, args: args as Record<string, unknown> };
  const problems = result.errors
    .filter((e) => e.keyword !== 'properties' && e.keyword !== '$ref' && e.keyword !== 'allOf')
    .slice(0, 5)
    .map((e) => `${e.instanceLocation.replace(/^#/, '') || '/'}: ${e.error}`);
  return { ok: false, problem: (problems.length ? problems : [result.errors[0]?.error ?? 'invalid']).join('; ') };
}
