/**
 * Per-field limits on requests. Each keeps one request from holding the
 * server (tokenising, template rendering, grammar building) for seconds, and
 * each is a 400 naming the field and the limit when exceeded. They sit well
 * above what an ordinary client sends; the body limit (`MAX_BODY_BYTES`) still
 * applies on top.
 */
export const LIMITS = {
  /** Characters in one message's content (or in `system`): 512 KiB. */
  messageChars: 512 * 1024,
  /** Characters over all messages of a chat request: 2 MiB. */
  messagesChars: 2 * 1024 * 1024,
  /** Messages in a chat request. */
  messages: 4096,
  /** Tools offered in one request (OpenAI's own limit). */
  tools: 128,
  /** Tokens biased in one request's `logit_bias`. */
  logitBias: 1024,
  /** Nesting depth of a tool's parameters or a response_format schema, in JSON levels. */
  schemaDepth: 64,
  /** Values (objects, arrays, scalars) in one tool's parameters or a response_format schema. */
  schemaNodes: 20_000,
  /** Inputs in one embeddings request (OpenAI's own limit). */
  embeddingInputs: 2048,
  /** Characters in one embedding input: 64 KiB (beyond any embedding model's context). */
  embeddingInputChars: 64 * 1024,
  /** Tokens in one token-array embedding input. */
  embeddingInputTokens: 16_384,
  /** Characters over all inputs of one embeddings request: 4 MiB. */
  embeddingChars: 4 * 1024 * 1024,
} as const;
