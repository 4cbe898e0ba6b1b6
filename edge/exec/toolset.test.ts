import { describe, expect, it } from 'vitest';
import { AppError } from '../../shared/errors.ts';
import type { ToolDefinition } from '../../shared/schemas/exec.ts';
import { createGuardedFetch } from '../net/ssrf.ts';
import type { ExecTool } from './tool.ts';
import { validToolName } from './tool-names.ts';
import { resolveToolSet, type ToolAdapters } from './toolset.ts';

const context = { signal: new AbortController().signal, fetch: createGuardedFetch() };
const custom = (name: string): ToolDefinition => ({
  type: 'custom',
  name,
  parameters: { type: 'object', properties: {} },
});
const VALID = /^[a-zA-Z0-9_-]{1,64}$/;

describe('resolveToolSet', () => {
  it('namespaces kit members (kits nest) and MCP tools, keeps names unique and valid, and maps each back', async () => {
    const server = (names: string[]) =>
      names.map((name): ExecTool => ({ name, parameters: {}, run: async () => ({ result: name }) }));
    const adapters: ToolAdapters = {
      mcp: (d) =>
        server(
          d.server_label === 'long'
            ? ['a.tool with spaces/and:symbols', 'x'.repeat(90), 'x'.repeat(91)]
            : ['search', 'search'],
        ),
    };
    const set = await resolveToolSet(
      [
        custom('search'),
        {
          type: 'kit',
          name: 'dev',
          tools: [
            custom('search'),
            { type: 'kit', name: 'inner', tools: [custom('search')] },
            { type: 'mcp', server_label: 'gh', server_url: 'https://mcp.example.com/' },
          ],
        },
        { type: 'mcp', server_label: 'long', server_url: 'https://other.example.com/' },
      ],
      adapters,
      context,
    );
    const names = set.offered.map((t) => t.function.name);
    expect(names.slice(0, 5)).toEqual([
      'search',
      'dev__search',
      'dev__inner__search',
      'dev__gh__search',
      'dev__gh__search_2',
    ]);
    expect(new Set(names).size).toBe(names.length);
    for (const name of names) expect(name).toMatch(VALID);
    expect(set.byName.get('dev__inner__search')).toMatchObject({
      kind: 'custom',
      field: 'tools.1.tools.1.tools.0',
      name: 'search',
    });
    expect(set.byName.get('dev__gh__search_2')).toMatchObject({ kind: 'mcp', field: 'tools.1.tools.2' });
    const longOnes = names.filter((n) => n.startsWith('long__'));
    expect(longOnes[0]).toBe('long__a_tool_with_spaces_and_symbols');
    expect(longOnes[1]).not.toBe(longOnes[2]);
    expect(set.byName.get(longOnes[2]!)!.name).toBe('x'.repeat(91));
  });

  it('fails the request on an adapter 4xx (prefixed with the field) and records other failures', async () => {
    const adapters: ToolAdapters = {
      openapi: () => {
        throw new AppError(400, 'schema: bad');
      },
      mcp: () => {
        throw new AppError(502, 'down');
      },
    };
    await expect(
      resolveToolSet([custom('a'), { type: 'openapi', schema: {} }], adapters, context),
    ).rejects.toMatchObject({
      status: 400,
      message: 'tools.1: schema: bad',
    });
    const set = await resolveToolSet(
      [{ type: 'kit', name: 'k', tools: [{ type: 'mcp', server_url: 'https://x.example/' }] }],
      adapters,
      context,
    );
    expect(set.failures).toEqual([{ field: 'tools.0.tools.0', error: expect.objectContaining({ status: 502 }) }]);
    await expect(resolveToolSet([{ type: 'code_interpreter' }], {}, context)).rejects.toMatchObject({
      status: 400,
      message: expect.stringMatching(/^tools\.0: the code interpreter is not available/),
    });
  });

  it('validToolName keeps valid names and repairs others', () => {
    expect(validToolName('get_weather-2')).toBe('get_weather-2');
    expect(validToolName('héllo wörld')).toMatch(VALID);
    expect(validToolName('***')).toBe('tool');
  });
});
