import { describe, expect, it } from 'vitest';
import { checkArguments } from './tool-arguments.ts';

const schema = { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] };

describe('checkArguments', () => {
  it('parses JSON text, checks the schema and names the problem', () => {
    expect(checkArguments('{"city":"Brest"}', schema)).toEqual({ ok: true, args: { city: 'Brest' } });
    expect(checkArguments('', { type: 'object' })).toEqual({ ok: true, args: {} });
    expect(checkArguments('{oops', schema)).toEqual({ ok: false, problem: 'the arguments are not valid JSON' });
    expect(checkArguments('[1]', schema)).toEqual({ ok: false, problem: 'the arguments must be a JSON object' });
    const missing = checkArguments({}, schema);
    expect(missing.ok).toBe(false);
    expect(!missing.ok && missing.problem).toMatch(/city/);
  });

  it('lets the call through when the schema itself cannot be applied (a pattern invalid under the u flag)', () => {
    const odd = { type: 'object', properties: { phone: { type: 'string', pattern: '^\\d{3}\\-\\d{4}$' } } };
    expect(checkArguments({ phone: '555-1234' }, odd)).toEqual({ ok: true, args: { phone: '555-1234' } });
  });
});
