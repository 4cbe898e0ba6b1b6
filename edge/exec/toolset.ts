import { AppError } from '../../shared/errors.ts';
import type { FunctionTool } from '../../shared/schemas/chat.ts';
import type { ToolDefinition } from '../../shared/schemas/exec.ts';
import type { ExecTool, ToolResolveContext } from './tool.ts';
import { ToolNames } from './tool-names.ts';

type DefinitionOf<T extends ToolDefinition['type']> = Extract<ToolDefinition, { type: T }>;

/** Turns one tool definition of a type into the functions it offers (absent: not available on this deployment). */
export type ToolAdapters = {
  [T in Exclude<ToolDefinition['type'], 'kit' | 'custom'>]?: (
    definition: DefinitionOf<T>,
    context: ToolResolveContext,
  ) => ExecTool[] | Promise<ExecTool[]>;
};

/** Why a tool type is missing, when an adapter is absent. */
const UNAVAILABLE: Record<string, string> = {
  knowledge: 'knowledge bases are not available on this deployment yet',
  code_interpreter: 'the code interpreter is not available on this deployment yet',
  websearch: 'no web search provider is configured (WEBSEARCH_PROVIDER)',
  callable: 'stored agents are not available on this deployment',
  mcp: 'MCP tools are not available on this deployment',
  openapi: 'OpenAPI tools are not available on this deployment',
};

/** A function offered to the model: the adapter's tool under the unique name the model sees. */
export interface OfferedTool extends ExecTool {
  /** The name the model calls it by. */
  offeredName: string;
  kind: ToolDefinition['type'];
  /** Where it came from in the request, e.g. `tools.2.tools.0`. */
  field: string;
}

/** The round's tools: what the model is offered, and each offered name back to its tool. */
export interface ToolSet {
  offered: FunctionTool[];
  byName: Map<string, OfferedTool>;
  /** Definitions that could not be resolved for reasons outside the request (an unreachable MCP server). */
  failures: { field: string; error: AppError }[];
}

const EMPTY_OBJECT = { type: 'object', properties: {} };

/** The namespace an adapter's tools live under: kits nest; an MCP server's tools sit under its label. */
function namespaceOf(definition: ToolDefinition): string | undefined {
  if (definition.type === 'mcp') return definition.server_label ?? new URL(definition.server_url).hostname;
  return undefined;
}

/**
 * Resolves every definition (in parallel: MCP listings, OpenAPI parsing) into the functions offered to the
 * model. A 4xx from an adapter is the request's fault: it fails the round, prefixed with the field
 * (`tools.1.schema: …`). Anything else (an unreachable server) is recorded in `failures` and the round goes
 * on without those tools.
 */
export async function resolveToolSet(
  definitions: readonly ToolDefinition[],
  adapters: ToolAdapters,
  context: ToolResolveContext,
): Promise<ToolSet> {
  const names = new ToolNames();
  const set: ToolSet = { offered: [], byName: new Map(), failures: [] };
  const resolved: { field: string; namespace: string[]; kind: ToolDefinition['type']; tools: ExecTool[] }[] = [];

  const visit = async (definition: ToolDefinition, field: string, namespace: string[]): Promise<void> => {
    if (definition.type === 'kit') {
      const inner = [...namespace, definition.name];
      await Promise.all(definition.tools.map((d, i) => visit(d, `${field}.tools.${i}`, inner)));
      return;
    }
    if (definition.type === 'custom') {
      const { name, description, parameters } = definition;
      resolved.push({
        field,
        namespace,
        kind: 'custom',
        tools: [{ name, description, parameters: parameters ?? EMPTY_OBJECT }],
      });
      return;
    }
    const adapter = adapters[definition.type] as
      ((d: ToolDefinition, c: ToolResolveContext) => ExecTool[] | Promise<ExecTool[]>) | undefined;
    if (!adapter) {
      throw new AppError(400, `${field}: ${UNAVAILABLE[definition.type]}`, {
        code: 'tool_unavailable',
        param: field,
      });
    }
    try {
      const tools = await adapter(definition, context);
      const label = namespaceOf(definition);
      resolved.push({ field, namespace: label ? [...namespace, label] : namespace, kind: definition.type, tools });
    } catch (err) {
      if (context.signal.aborted) throw err;
      if (err instanceof AppError && err.status < 500) {
        throw new AppError(err.status, err.message.startsWith(field) ? err.message : `${field}: ${err.message}`, {
          code: err.code,
          param: field,
        });
      }
      const error = err instanceof AppError ? err : new AppError(502, String((err as Error)?.message ?? err));
      set.failures.push({ field, error });
    }
  };
  await Promise.all(definitions.map((d, i) => visit(d, `tools.${i}`, [])));

  // Names are handed out in request order, whatever order the adapters finished in.
  resolved.sort((a, b) => compareFields(a.field, b.field));
  for (const { field, namespace, kind, tools } of resolved) {
    for (const tool of tools) {
      const offeredName = names.take(tool.name, namespace);
      set.byName.set(offeredName, { ...tool, offeredName, kind, field });
      set.offered.push({
        type: 'function',
        function: { name: offeredName, description: tool.description, parameters: tool.parameters },
      });
    }
  }
  return set;
}

function compareFields(a: string, b: string): number {
  const pa = a.split('.');
  const pb = b.split('.');
  for (let i = 0; i < Math.min(pa.length, pb.length); i++) {
    if (pa[i] === pb[i]) continue;
    const na = Number(pa[i]);
    const nb = Number(pb[i]);
    return Number.isNaN(na) || Number.isNaN(nb) ? pa[i]!.localeCompare(pb[i]!) : na - nb;
  }
  return pa.length - pb.length;
}
