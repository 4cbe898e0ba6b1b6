import { z, type ZodType } from 'zod';
import { ChatCompletionRequest } from '../../shared/schemas/chat.ts';
import { TextCompletionRequest } from '../../shared/schemas/completions.ts';
import { EmbeddingRequest } from '../../shared/schemas/embeddings.ts';
import { AnalyzeRequest, GenerateRequest, OcrRequest, RefineRequest } from '../../shared/schemas/images.ts';
import { OpenAIAudioSpeech } from '../openai/audio-speech.ts';
import { OpenAIEdit, OpenAIGeneration } from '../openai/images.ts';
import { AgentRequest, RoundRequest, ToolDefinitionSchema } from '../../shared/schemas/exec.ts';
import { ModelList } from '../../shared/schemas/models.ts';
import { RunnerHeartbeat } from '../../shared/schemas/runner.ts';
import { SessionInfo } from '../../shared/schemas/session.ts';
import { SystemMetricsMessage } from '../../shared/schemas/system-metrics.ts';

type Method = 'get' | 'post' | 'put' | 'delete';

/** One operation: the zod schemas that validate it (the same objects the routes use), and what it answers. */
interface Operation {
  method: Method;
  /** Hono's pattern (`/v1/models/:name`). */
  path: string;
  summary: string;
  tag: string;
  body?: ZodType;
  /** A JSON answer's schema, when one exists. */
  answer?: ZodType;
  /** SSE events (type or shape → meaning), for streaming answers. */
  events?: Record<string, string>;
  /** The tag of a route that needs no credentials. */
  open?: boolean;
}

const ROUND_EVENTS = {
  start: '{"type":"start","message":{"role":"assistant","model","thread_id"?}}',
  chunk: '{"type":"chunk","content"}: model text as it is generated',
  tool_call: '{"type":"tool_call","id","tool_name","args"}',
  tool_result: '{"type":"tool_result","id","tool_name","result","is_error"?}',
  mcp_approval_request: '{"type":"mcp_approval_request","id","server_label","name","arguments"}',
  error: '{"type":"error","error":{"message","code"},"statusCode","tool_call_id"?}',
  end: '{"type":"end","usage","finish_reason","message","messages","thread_id"?,"approval_requests"?}',
};
const IMAGE_EVENTS = {
  progress: '{"progress"}: the fraction of the steps done (0 to 1)',
  completed: '{"status":"completed","image","model","seed","width","height"}: the PNG in base64',
  error: '{"error"}',
};
const CHUNK_EVENTS = { 'chat.completion.chunk': "OpenAI's chunk objects", '[DONE]': 'the end of the stream' };

const OPERATIONS: Operation[] = [
  { method: 'get', path: '/health', summary: 'Liveness', tag: 'service', open: true },
  {
    method: 'get',
    path: '/ready',
    summary: 'Readiness: database reachable, runners known',
    tag: 'service',
    open: true,
  },
  { method: 'get', path: '/openapi.json', summary: 'This document', tag: 'service', open: true },
  {
    method: 'get',
    path: '/docs',
    summary: 'Interactive docs of this document (Swagger UI)',
    tag: 'service',
    open: true,
  },
  { method: 'get', path: '/docs/init.js', summary: "The docs page's script", tag: 'service', open: true },
  {
    method: 'get',
    path: '/docs/swagger-ui-bundle.js',
    summary: 'Swagger UI, served by us',
    tag: 'service',
    open: true,
  },
  { method: 'get', path: '/docs/swagger-ui.css', summary: "Swagger UI's styles", tag: 'service', open: true },
  { method: 'get', path: '/v1/models', summary: 'The model catalog', tag: 'models', answer: ModelList },
  { method: 'get', path: '/v1/models/:id{.+}', summary: 'One model (OpenAI shape)', tag: 'models' },
  {
    method: 'post',
    path: '/v1/models/:name/load',
    summary: 'Download (when missing) and load a model',
    tag: 'models',
    events: { progress: '{"progress":0.45}', status: '{"status":"completed"|"exists"|"loaded"}', error: '{"error"}' },
  },
  { method: 'post', path: '/v1/models/:name/unload', summary: 'Unload a model (admin)', tag: 'models' },
  { method: 'delete', path: '/v1/models/:name', summary: 'Unload a model (admin)', tag: 'models' },
  { method: 'get', path: '/v1/session', summary: "The caller's session", tag: 'sessions', answer: SessionInfo },
  { method: 'get', path: '/v1/session/history', summary: "The session's conversation", tag: 'sessions' },
  { method: 'delete', path: '/v1/session/history', summary: "Clear the session's conversation", tag: 'sessions' },
  {
    method: 'post',
    path: '/v1/chat/completions',
    summary: 'Chat completion (OpenAI-compatible; the session continues its conversation)',
    tag: 'chat',
    body: ChatCompletionRequest,
    events: CHUNK_EVENTS,
  },
  {
    method: 'post',
    path: '/v1/completions',
    summary: 'Text completion and fill-in-the-middle',
    tag: 'chat',
    body: TextCompletionRequest,
    events: CHUNK_EVENTS,
  },
  { method: 'post', path: '/v1/stop', summary: "Stop the session's running generation", tag: 'chat' },
  { method: 'post', path: '/v1/embeddings', summary: 'Embeddings (OpenAI shape)', tag: 'chat', body: EmbeddingRequest },
  {
    method: 'get',
    path: '/v1/images/models',
    summary: 'The catalog\'s image generation models: {"models": [...]}',
    tag: 'images',
  },
  {
    method: 'post',
    path: '/v1/images/analyze',
    summary: 'CLIP labelling: each label with its probability (softmax over the labels), and the best label',
    tag: 'images',
    body: AnalyzeRequest,
  },
  {
    method: 'post',
    path: '/v1/images/ocr',
    summary: 'OCR: the text of an image in reading order, and its lines with boxes and confidences',
    tag: 'images',
    body: OcrRequest,
  },
  {
    method: 'post',
    path: '/v1/images/generate',
    summary: 'Text to image (Stable Diffusion / SDXL-turbo on ONNX): progress per step, then the PNG',
    tag: 'images',
    body: GenerateRequest,
    events: IMAGE_EVENTS,
  },
  {
    method: 'post',
    path: '/v1/images/refine',
    summary: 'Refinement (img2img): the image redrawn from `strength` of the schedule',
    tag: 'images',
    body: RefineRequest,
    events: IMAGE_EVENTS,
  },
  {
    method: 'post',
    path: '/v1/images/generations',
    summary: "OpenAI's image generation: {created, data: [{b64_json}]}",
    tag: 'images',
    body: OpenAIGeneration,
  },
  {
    method: 'post',
    path: '/v1/images/edits',
    summary: "OpenAI's image edits (img2img; multipart with an image file, or JSON with base64): {created, data}",
    tag: 'images',
    body: OpenAIEdit,
  },
  {
    method: 'post',
    path: '/v1/audio/speech',
    summary: "OpenAI's text-to-speech (espeak-ng): the WAV itself; voice is a language code or an OpenAI voice name",
    tag: 'audio',
    body: OpenAIAudioSpeech,
  },
  {
    method: 'post',
    path: '/v1/ai/process',
    summary: 'The unified endpoint: {tool, config}; each tool answers as its own endpoint',
    tag: 'unified',
    body: z.object({ tool: z.string(), config: z.record(z.string(), z.unknown()) }),
    events: {
      llm: 'as /v1/chat/completions',
      url_extract: '{"selector","content"} or {"content"}; {"error"}',
      url_stream: '{"progress","chunk","content_type","received","total"} … {"status":"completed"}; {"error"}',
      youtube_stream: '{"title","author","length"}, then as url_stream; {"error"}',
      image_generation: 'as /v1/images/generate',
      image_refinement: 'as /v1/images/refine',
      text_to_speech: '{"progress"} (0–100) per sentence, then {"status":"completed","audio","sample_rate"}; {"error"}',
    },
  },
  {
    method: 'get',
    path: '/metrics',
    summary:
      'Prometheus metrics: requests, latency, tokens, time to first token, models, sequences, runners (admin; Node)',
    tag: 'monitoring',
  },
  {
    method: 'get',
    path: '/monitor',
    summary: 'The live system monitor (HTML, Plotly charts)',
    tag: 'monitoring',
    open: true,
  },
  { method: 'get', path: '/monitor/', summary: 'Redirects to /monitor', tag: 'monitoring', open: true },
  { method: 'get', path: '/monitor/monitor.js', summary: "The monitor's script", tag: 'monitoring', open: true },
  {
    method: 'get',
    path: '/monitor/plotly.min.js',
    summary: 'Plotly.js, served by us (no CDN)',
    tag: 'monitoring',
    open: true,
  },
  {
    method: 'get',
    path: '/ws/system-metrics',
    summary: 'WebSocket: a system metrics message every second (send Upgrade: websocket)',
    tag: 'monitoring',
    answer: SystemMetricsMessage,
  },
  {
    method: 'post',
    path: '/llm-exec/round',
    summary: 'Run a round of tool orchestration; one JSON answer',
    tag: 'agents',
    body: RoundRequest,
  },
  {
    method: 'post',
    path: '/llm-exec/round/stream',
    summary: 'Run a round of tool orchestration as SSE events',
    tag: 'agents',
    body: RoundRequest,
    events: ROUND_EVENTS,
  },
  {
    method: 'post',
    path: '/llm-exec/threads',
    summary: 'Start an empty thread',
    tag: 'agents',
    body: z.object({ metadata: z.record(z.string(), z.unknown()).optional() }),
  },
  { method: 'get', path: '/llm-exec/threads', summary: "The caller's threads, newest first", tag: 'agents' },
  { method: 'get', path: '/llm-exec/threads/:id', summary: 'A thread and its messages', tag: 'agents' },
  { method: 'delete', path: '/llm-exec/threads/:id', summary: 'Delete a thread', tag: 'agents' },
  { method: 'post', path: '/llm-exec/agents', summary: 'Store an agent', tag: 'agents', body: AgentRequest },
  { method: 'get', path: '/llm-exec/agents', summary: "The project's agents", tag: 'agents' },
  { method: 'get', path: '/llm-exec/agents/:id', summary: 'An agent (id or slug)', tag: 'agents' },
  { method: 'put', path: '/llm-exec/agents/:id', summary: 'Replace an agent', tag: 'agents', body: AgentRequest },
  { method: 'delete', path: '/llm-exec/agents/:id', summary: 'Delete an agent', tag: 'agents' },
  {
    method: 'post',
    path: '/_edge/runners/heartbeat',
    summary: 'A runner registering itself (RUNNER_TOKEN)',
    tag: 'runners',
    body: RunnerHeartbeat,
    open: true,
  },
];

/** Every route the document describes, as `METHOD pattern` (Hono's patterns). */
export const DOCUMENTED_ROUTES = new Set(OPERATIONS.map((o) => `${o.method.toUpperCase()} ${o.path}`));

/** Hono's pattern → OpenAPI's path (`/v1/models/:id{.+}` → `/v1/models/{id}`) and its parameter names. */
function openApiPath(pattern: string): { path: string; params: string[] } {
  const params: string[] = [];
  const path = pattern.replace(/:([A-Za-z_]\w*)(\{[^}]*\})?/g, (_, name: string) => {
    params.push(name);
    return `{${name}}`;
  });
  return { path, params };
}

const ERROR = {
  description:
    'Errors: `{"error":{"message","type","code","param"}}` under /v1, `{"error","statusCode"}` under /llm-exec',
};

/**
 * The OpenAPI 3.1 document of the API, built from the zod schemas the routes validate with (one source: a
 * field added to a request schema appears here). Request schemas become `components.schemas`; recursive
 * ones (tool definitions inside kits) are references.
 */
export function openApiDocument(): Record<string, unknown> {
  const registry = z.registry<{ id: string }>();
  registry.add(ToolDefinitionSchema, { id: 'ToolDefinition' });
  const ids = new Map<ZodType, string>();
  for (const operation of OPERATIONS) {
    for (const schema of [operation.body, operation.answer]) {
      if (!schema || ids.has(schema)) continue;
      const id = schemaName(operation, schema === operation.answer);
      ids.set(schema, id);
      registry.add(schema, { id });
    }
  }
  const { schemas } = z.toJSONSchema(registry, {
    io: 'input',
    unrepresentable: 'any',
    uri: (id) => `#/components/schemas/${id}`,
  });
  for (const schema of Object.values(schemas)) delete (schema as { $schema?: string }).$schema;

  const paths: Record<string, Record<string, unknown>> = {};
  for (const operation of OPERATIONS) {
    const { path, params } = openApiPath(operation.path);
    const ref = (schema: ZodType) => ({ $ref: `#/components/schemas/${ids.get(schema)}` });
    const content: Record<string, unknown> = {};
    if (operation.answer) content['application/json'] = { schema: ref(operation.answer) };
    if (operation.events) {
      content['text/event-stream'] = {
        schema: { type: 'string', description: 'Server-sent events, `data: <json>` each' },
        'x-events': operation.events,
      };
    }
    paths[path] ??= {};
    paths[path][operation.method] = {
      summary: operation.summary,
      tags: [operation.tag],
      ...(operation.open ? { security: [] } : {}),
      ...(params.length
        ? { parameters: params.map((name) => ({ name, in: 'path', required: true, schema: { type: 'string' } })) }
        : {}),
      ...(operation.body
        ? { requestBody: { required: true, content: { 'application/json': { schema: ref(operation.body) } } } }
        : {}),
      responses: {
        '200': { description: 'OK', ...(Object.keys(content).length ? { content } : {}) },
        '4XX': ERROR,
      },
    };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'edgerunner',
      version: '0.1.0',
      description: 'OpenAI-compatible local AI and agent execution (see the README for every field).',
    },
    security: [{ apiKey: [] }, { bearer: [] }],
    components: {
      securitySchemes: {
        apiKey: { type: 'apiKey', in: 'header', name: 'x-api-key', description: '`apiKey.{id}.{secret}`' },
        bearer: {
          type: 'http',
          scheme: 'bearer',
          description: 'A JWT (with `x-project-id`), or an API key as the bearer value',
        },
      },
      schemas,
    },
    paths,
  };
}

function schemaName(operation: Operation, answer: boolean): string {
  const words = operation.path
    .replace(/:[^/]+/g, '')
    .split(/[^A-Za-z0-9]+/)
    .filter(Boolean)
    .map((w) => w[0]!.toUpperCase() + w.slice(1));
  return `${operation.method[0]!.toUpperCase()}${operation.method.slice(1)}${words.join('')}${answer ? 'Answer' : 'Body'}`;
}
