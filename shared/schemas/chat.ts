import { z } from 'zod';
import { LIMITS } from './limits.ts';
import { PublicSampling, Sampling } from './sampling.ts';
import { schemaProblem } from './schema-checks.ts';

const tooLong = `is longer than ${LIMITS.messageChars} characters (the limit per message)`;
const TextPart = z.object({ type: z.literal('text'), text: z.string().max(LIMITS.messageChars, tooLong) });
/** Message content: a string, or OpenAI's array of parts (text parts are joined). */
const Content = z.union([z.string().max(LIMITS.messageChars, tooLong), z.array(TextPart), z.null()]).check((ctx) => {
  if (Array.isArray(ctx.value) && ctx.value.reduce((n, p) => n + p.text.length, 0) > LIMITS.messageChars) {
    ctx.issues.push({ code: 'custom', message: tooLong, input: ctx.value });
  }
});

/** A JSON schema a client sends (tool parameters, response_format): bounded and free of `$ref` loops. */
export const ClientSchema = z.record(z.string(), z.unknown()).check((ctx) => {
  const problem = schemaProblem(ctx.value);
  if (problem) ctx.issues.push({ code: 'custom', message: problem, input: ctx.value });
});

export const ToolCall = z.object({
  id: z.string().min(1),
  type: z.literal('function').default('function'),
  function: z.object({ name: z.string().min(1), arguments: z.string() }),
});
export type ToolCall = z.infer<typeof ToolCall>;

export const ChatMessage = z.object({
  /** "ai" is the document's name for "assistant"; "developer" is OpenAI's newer "system". */
  role: z.enum(['system', 'developer', 'user', 'assistant', 'ai', 'tool']),
  content: Content.optional(),
  name: z.string().optional(),
  tool_calls: z.array(ToolCall).optional(),
  tool_call_id: z.string().optional(),
});
export type ChatMessage = z.infer<typeof ChatMessage>;

export const FunctionTool = z.object({
  type: z.literal('function'),
  function: z.object({
    name: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'tool names use letters, digits, _ and -, at most 64'),
    description: z.string().optional(),
    parameters: ClientSchema.optional(),
  }),
});
export type FunctionTool = z.infer<typeof FunctionTool>;

export const ToolChoice = z.union([
  z.enum(['none', 'auto', 'required']),
  z.object({ type: z.literal('function'), function: z.object({ name: z.string() }) }),
]);

export const ResponseFormat = z.discriminatedUnion('type', [
  z.object({ type: z.literal('text') }),
  z.object({ type: z.literal('json_object') }),
  z.object({
    type: z.literal('json_schema'),
    json_schema: z.object({
      name: z.string(),
      schema: ClientSchema,
      strict: z.boolean().nullish(),
    }),
  }),
]);

/** Messages: at most `LIMITS.messages`, `LIMITS.messagesChars` characters over all of them. */
const Messages = z
  .array(ChatMessage)
  .max(LIMITS.messages, `more than ${LIMITS.messages} messages (the limit)`)
  .check((ctx) => {
    let chars = 0;
    for (const m of ctx.value)
      chars += typeof m.content === 'string' ? m.content.length : contentText(m.content).length;
    if (chars > LIMITS.messagesChars) {
      ctx.issues.push({
        code: 'custom',
        message: `${chars} characters over all messages, more than ${LIMITS.messagesChars} (the limit)`,
        input: ctx.value,
      });
    }
  });

const Tools = z.array(FunctionTool).max(LIMITS.tools, `more than ${LIMITS.tools} tools (the limit)`);

/** `POST /v1/chat/completions`: the document's fields plus what OpenAI clients send. Unknown fields are ignored. */
export const ChatCompletionRequest = z
  .object({
    model: z.string().min(1).optional(),
    messages: Messages,
    /** The document's per-request system message: replaces any earlier system message. */
    system: z.string().max(LIMITS.messageChars, tooLong).optional(),
    ...PublicSampling,
    max_completion_tokens: z.number().int().positive().nullish(),
    /** `false`: at most one tool call per answer. */
    parallel_tool_calls: z.boolean().nullish(),
    /** The answer tokens' log-probabilities (plain answers, not with tools or a response_format). */
    logprobs: z.boolean().nullish(),
    top_logprobs: z.number().int().min(0).max(20).nullish(),
    tools: Tools.nullish(),
    tool_choice: ToolChoice.nullish(),
    response_format: ResponseFormat.nullish(),
  })
  .check((ctx) => {
    if (ctx.value.top_logprobs && !ctx.value.logprobs) {
      ctx.issues.push({
        code: 'custom',
        message: 'needs logprobs: true',
        input: ctx.value.top_logprobs,
        path: ['top_logprobs'],
      });
    }
  });
export type ChatCompletionRequest = z.infer<typeof ChatCompletionRequest>;

export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  /** OpenAI's: how many prompt tokens came from the cache (the session's KV cache here) instead of being evaluated. */
  prompt_tokens_details?: { cached_tokens: number };
}

export type FinishReason = 'stop' | 'length' | 'tool_calls';

/** One generated token's log-probability, in OpenAI's `logprobs.content` shape. */
export interface TokenLogprob {
  token: string;
  logprob: number;
  bytes: number[];
  top_logprobs: { token: string; logprob: number; bytes: number[] }[];
}

/** What an engine yields while it answers a chat request (`logprobs`: the tokens of `text`, when asked for). */
export type ChatEvent =
  | { type: 'text'; text: string; logprobs?: TokenLogprob[] }
  | { type: 'tool_call'; call: ToolCall }
  | { type: 'done'; finishReason: FinishReason; usage: Usage };

/** The chat request as engines see it (and as the edge sends it to a runner): model resolved, system applied. */
export const ChatRequest = z.object({
  model: z.string().min(1),
  messages: Messages,
  ...Sampling,
  /** `false`: at most one tool call. */
  parallelToolCalls: z.boolean().optional(),
  tools: Tools.optional(),
  toolChoice: ToolChoice.optional(),
  responseFormat: ResponseFormat.optional(),
});
export type ChatRequest = z.infer<typeof ChatRequest>;

/** Body of the runner rpc `POST /_runner/v1/chat`. */
export const RunnerChatBody = z.object({
  sessionId: z.string().min(1),
  request: ChatRequest,
  /** False: the caller may not download a missing model file (see CallOptions.download). */
  download: z.boolean().optional(),
});

/** Joins text parts; null/absent content is "". */
export function contentText(content: ChatMessage['content']): string {
  if (content == null) return '';
  if (typeof content === 'string') return content;
  return content.map((p) => p.text).join('');
}
