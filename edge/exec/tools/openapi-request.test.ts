import { describe, expect, it } from 'vitest';
import { summarizeJson } from './openapi-request.ts';

describe('summarizeJson', () => {
  it('keeps a value that fits', () => {
    expect(summarizeJson({ a: [1, 2, 3] }, 100)).toEqual({ value: { a: [1, 2, 3] } });
  });

  it('cuts arrays, noting how many items were dropped', () => {
    const value = { items: Array.from({ length: 100 }, (_, i) => i) };
    const { value: out, truncated } = summarizeJson(value, 200);
    const items = (out as { items: unknown[] }).items;
    expect(JSON.stringify(out).length).toBeLessThanOrEqual(200);
    expect(items[0]).toBe(0);
    expect(items.at(-1)).toBe(`… ${100 - (items.length - 1)} more items not shown`);
    expect(truncated).toMatch(/shortened/);
  });

  it('cuts long strings inside values', () => {
    const { value } = summarizeJson({ text: 'y'.repeat(10_000) }, 1500);
    expect(JSON.stringify(value).length).toBeLessThanOrEqual(1500);
    expect((value as { text: string }).text).toMatch(/more characters\)$/);
  });

  it('cuts the JSON text when nothing else fits', () => {
    const value = Object.fromEntries(Array.from({ length: 500 }, (_, i) => [`key${i}`, i]));
    const { value: out } = summarizeJson(value, 300);
    expect(typeof out).toBe('string');
    expect(JSON.stringify(out).length).toBeLessThanOrEqual(300);
    expect(out).toMatch(/^\{"key0":0,/);
  });

  it('cuts long text with characters that JSON escapes', () => {
    const { value } = summarizeJson('"\n'.repeat(5000), 1000);
    expect(JSON.stringify(value).length).toBeLessThanOrEqual(1000);
  });
});
