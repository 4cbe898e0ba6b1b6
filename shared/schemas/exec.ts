import { z } from 'zod';
import { ClientSchema } from './chat.ts';
import { LIMITS } from './limits.ts';

/** Limits of the agent-execution API (`/llm-exec`). */
export const EXEC_LIMITS = {
  /** Tool definitions in one request (kits count their members). */
  tools: 128,
  /** Nesting of kits inside kits. */
  kitDepth: 4,
  /** `config.max_loops` upper bound. */
  maxLoops: 50,
  /** `config.timeout_ms` upper bound: 10 minutes. */
  timeoutMs: 600_000,
  /** Characters of an OpenAPI document (JSON) in `schema`: 2 MiB. */
  openapiChars: 2 * 1024 * 1024,
} as const;

const Name = z.string().min(1).max(64);
/** A header value or credential sent on the wire: no CR, LF or NUL (which fetch would refuse, echoing the value). */
const WireValue = z
  .string()
  .max(8192)
  .regex(/^[^\r\n\0]*$/, 'must not contain line breaks or NUL characters');
const Headers = z.record(z.string().min(1).max(256), WireValue);
const HttpUrl = z
  .url({ protocol: /^https?$/, error: 'must be an http(s) URL' })
  .refine((url) => !/^[a-z]+:\/\/[^/?#]*@/i.test(url), 'must not carry credentials (user:password@): use headers');

/** `custom`: a client-side function (no executor here: the round ends with `tool_calls`). */
export const CustomTool = z.object({
  type: z.literal('custom'),
  name: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'tool names use letters, digits, _ and -, at most 64'),
  description: z.string().max(8192).optional(),
  parameters: ClientSchema.optional(),
});

/** `callable`: a stored agent (id or slug) run as a sub-round. */
export const CallableTool = z.object({
  type: z.literal('callable'),
  callable_id: z.string().min(1).max(128),
  name: Name.optional(),
  description: z.string().max(8192).optional(),
});

export const KnowledgeTool = z.object({
  type: z.literal('knowledge'),
  knowledge_id: z.string().min(1).max(128),
  name: Name.optional(),
  description: z.string().max(8192).optional(),
  allowed_actions: z.array(z.literal('search')).optional(),
});

export const McpApproval = z.enum(['always', 'never', 'auto']);

export const McpTool = z.object({
  type: z.literal('mcp'),
  server_label: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,64}$/, 'letters, digits, _ and -, at most 64')
    .optional(),
  server_url: HttpUrl,
  allowed_tools: z.array(z.string().min(1).max(128)).max(LIMITS.tools).optional(),
  headers: Headers.optional(),
  /** Default `never` (the document's list order puts no default; running is what a user of `never` expects). */
  require_approval: McpApproval.optional(),
  description: z.string().max(8192).optional(),
});

/** One security value applied on the wire (`type` as in OpenAPI's security schemes). */
export const OpenApiSecurity = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('apiKey'),
    /** Default `header`. */
    in: z.enum(['header', 'query', 'cookie']).optional(),
    /** Header/query/cookie name; default: the document's apiKey scheme's, else `X-API-Key`. */
    name: z.string().min(1).max(256).optional(),
    value: WireValue,
  }),
  z.object({
    type: z.literal('http'),
    scheme: z.enum(['basic', 'bearer']),
    /** bearer: the token; basic: `user:password` (or give username/password). */
    value: WireValue.optional(),
    username: WireValue.optional(),
    password: WireValue.optional(),
  }),
  z.object({ type: z.literal('oauth2'), value: WireValue }),
  z.object({ type: z.literal('openIdConnect'), value: WireValue }),
]);
export type OpenApiSecurity = z.infer<typeof OpenApiSecurity>;

export const OpenApiTool = z.object({
  type: z.literal('openapi'),
  /** The OpenAPI 3.0/3.1 or Swagger 2.0 document (an object, or its JSON/YAML text). */
  schema: z.union([z.record(z.string(), z.unknown()), z.string().max(EXEC_LIMITS.openapiChars)]),
  base_url: HttpUrl.optional(),
  name: Name.optional(),
  description: z.string().max(8192).optional(),
  allowed_operations: z.array(z.string().min(1).max(256)).optional(),
  /** true: one flat argument object; false (default): grouped `path`/`query`/`header`/`cookie`/`body`. */
  flatten: z.boolean().optional(),
  security: z.array(OpenApiSecurity).max(8).optional(),
  headers: Headers.optional(),
});

export const CodeInterpreterTool = z.object({ type: z.literal('code_interpreter') });
/** Image generation for the model (Stable Diffusion on the runners); `model_type` picks the catalog model. */
export const ImageGenerationTool = z.object({
  type: z.literal('image_generation'),
  name: Name.optional(),
  description: z.string().max(8192).optional(),
  model_type: z.string().min(1).max(128).optional(),
});
export type ImageGenerationTool = z.infer<typeof ImageGenerationTool>;
export const WebSearchTool = z.object({
  type: z.literal('websearch'),
  name: Name.optional(),
  description: z.string().max(8192).optional(),
  /** Results per search; default 5. */
  max_results: z.number().int().min(1).max(20).optional(),
});

export type CustomTool = z.infer<typeof CustomTool>;
export type CallableTool = z.infer<typeof CallableTool>;
export type KnowledgeTool = z.infer<typeof KnowledgeTool>;
export type McpTool = z.infer<typeof McpTool>;
export type OpenApiTool = z.infer<typeof OpenApiTool>;
export type WebSearchTool = z.infer<typeof WebSearchTool>;

/** A kit: tools under one namespace; kits nest. */
export interface KitTool {
  type: 'kit';
  name: string;
  description?: string;
  tools: ToolDefinition[];
}

export type ToolDefinition =
  | CustomTool
  | CallableTool
  | KnowledgeTool
  | McpTool
  | OpenApiTool
  | z.infer<typeof CodeInterpreterTool>
  | z.infer<typeof ImageGenerationTool>
  | z.infer<typeof WebSearchTool>
  | KitTool;

export const TOOL_TYPES = [
  'custom',
  'callable',
  'knowledge',
  'mcp',
  'openapi',
  'kit',
  'code_interpreter',
  'image_generation',
  'websearch',
] as const;

export const KitToolSchema = z.object({
  type: z.literal('kit'),
  name: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'kit names use letters, digits, _ and -, at most 64'),
  description: z.string().max(8192).optional(),
  get tools(): z.ZodArray<z.ZodType<ToolDefinition>> {
    return z.array(ToolDefinitionSchema).min(1).max(EXEC_LIMITS.tools);
  },
});

export const ToolDefinitionSchema: z.ZodType<ToolDefinition> = z.discriminatedUnion(
  'type',
  [
    CustomTool,
    CallableTool,
    KnowledgeTool,
    McpTool,
    OpenApiTool,
    CodeInterpreterTool,
    ImageGenerationTool,
    WebSearchTool,
    KitToolSchema,
  ],
  { error: `unknown tool type: use one of ${TOOL_TYPES.join(', ')}` },
);

/** A tool call as the document writes it: arguments as an object. */
export const ExecToolCall = z.object({
  id: z.string().min(1).max(256),
  name: z.string().min(1).max(256),
  arguments: z.union([z.record(z.string(), z.unknown()), z.string()]).default({}),
});
export type ExecToolCall = z.infer<typeof ExecToolCall>;

const Content = z.union([z.string().max(LIMITS.messageChars), z.null()]);

/** An approval answer for a pending MCP call (OpenAI Responses' `mcp_approval_response`). */
export const McpApprovalResponse = z.object({
  type: z.literal('mcp_approval_response'),
  approval_request_id: z.string().min(1).max(256),
  approve: z.boolean(),
  reason: z.string().max(8192).optional(),
});
export type McpApprovalResponse = z.infer<typeof McpApprovalResponse>;

/** A message of the document: roles `user|assistant|system|tool_request|tool_response` (plus OpenAI's `tool`). */
export const ExecMessage = z.object({
  role: z.enum(['user', 'assistant', 'system', 'developer', 'tool_request', 'tool_response', 'tool']),
  content: Content.optional(),
  name: z.string().max(256).optional(),
  reasoning: z.string().max(LIMITS.messageChars).optional(),
  tool_calls: z.array(ExecToolCall).max(LIMITS.tools).optional(),
  /** `tool_response`: the call it answers. */
  tool_call_id: z.string().min(1).max(256).optional(),
  /** Approval answers for pending MCP calls (on any message; usually a `user` one). */
  approvals: z.array(McpApprovalResponse).max(LIMITS.tools).optional(),
});
export type ExecMessage = z.infer<typeof ExecMessage>;

export const LlmConfig = z.object({
  temperature: z.number().min(0).max(2).optional(),
  top_p: z.number().min(0).max(1).optional(),
  max_completion_tokens: z.number().int().positive().optional(),
  presence_penalty: z.number().min(-2).max(2).optional(),
  frequency_penalty: z.number().min(-2).max(2).optional(),
  seed: z.number().int().optional(),
  verbosity: z.enum(['low', 'medium', 'high']).optional(),
});
export type LlmConfig = z.infer<typeof LlmConfig>;

export const ExecConfig = z.object({
  /** Model calls in one round; default 10. */
  max_loops: z.number().int().min(1).max(EXEC_LIMITS.maxLoops).optional(),
  /** Wall time of the round; default none beyond the server's. */
  timeout_ms: z.number().int().min(1).max(EXEC_LIMITS.timeoutMs).optional(),
  /** Per tool call; default 30 s. */
  tool_timeout_ms: z.number().int().min(1).max(EXEC_LIMITS.timeoutMs).optional(),
});
export type ExecConfig = z.infer<typeof ExecConfig>;

/** `POST /llm-exec/round` and `/round/stream`. */
export const RoundRequest = z.object({
  model: z.string().min(1).max(256),
  messages: z.array(ExecMessage).max(LIMITS.messages),
  llmConfig: LlmConfig.optional(),
  config: ExecConfig.optional(),
  tools: z.array(ToolDefinitionSchema).max(EXEC_LIMITS.tools).optional(),
  instructions: z.string().max(LIMITS.messageChars).optional(),
  thread_id: z.string().min(1).max(128).optional(),
  /** true: store this round in a new thread and return its `thread_id`. */
  new_thread: z.boolean().optional(),
});
export type RoundRequest = z.infer<typeof RoundRequest>;

export type ExecFinishReason =
  | 'stop'
  | 'length'
  | 'tool_calls'
  | 'max_loops'
  | 'timeout'
  | 'approval_required'
  /** The model called a tool with invalid arguments in two turns in a row (the first was fed back to it). */
  | 'invalid_tool_call';

export interface ExecUsage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}

/** A pending MCP call waiting for the client's approval (OpenAI Responses' `mcp_approval_request`). */
export interface McpApprovalRequest {
  type: 'mcp_approval_request';
  id: string;
  server_label: string;
  name: string;
  arguments: string;
}

/** `POST /llm-exec/agents` (and `PUT /llm-exec/agents/{id}`): an agent a `callable` tool runs. */
export const AgentRequest = z.object({
  /** Unique in the project; callable_id accepts it as well as the id. */
  slug: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, 'slugs use lowercase letters, digits, _ and -, at most 64'),
  name: z.string().min(1).max(256).optional(),
  description: z.string().max(8192).optional(),
  model: z.string().min(1).max(256),
  instructions: z.string().max(LIMITS.messageChars).optional(),
  tools: z.array(ToolDefinitionSchema).max(EXEC_LIMITS.tools).optional(),
  llmConfig: LlmConfig.optional(),
  config: ExecConfig.optional(),
});
export type AgentRequest = z.infer<typeof AgentRequest>;
