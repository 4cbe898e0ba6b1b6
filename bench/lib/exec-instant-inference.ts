import type { CallOptions, Inference } from '../../shared/inference.ts';
import type { ChatEvent, ChatRequest } from '../../shared/schemas/chat.ts';

/** One answer of the instant model: text pieces (each one `text` event), then tool calls. */
export interface InstantReply {
  text?: readonly string[];
  calls?: readonly { id: string; name: string; arguments: Record<string, unknown> }[];
}

/** What the instant model answers a request (a function of the request, so concurrent rounds need no shared state). */
export type InstantScript = (request: ChatRequest) => InstantReply;

const USAGE = { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15 };

/**
 * The "instant scripted model" of `npm run bench -- exec`: an `Inference` whose `chat()` answers from memory
 * (no network, no engine, no timers), so a round through it measures the round loop itself. Only `chat` works;
 * everything else throws.
 */
export class InstantInference implements Inference {
  /** Model calls answered so far. */
  calls = 0;
  /** Milliseconds spent inside `chat()` and producing its events (not waiting for the consumer); resettable. */
  busyMs = 0;

  constructor(readonly script: InstantScript) {}

  async chat(request: ChatRequest, _options: CallOptions & { sessionId: string }): Promise<AsyncIterable<ChatEvent>> {
    const t0 = performance.now();
    this.calls++;
    const reply = this.script(request);
    this.busyMs += performance.now() - t0;
    return this.#events(reply);
  }

  async *#events({ text = [], calls = [] }: InstantReply): AsyncGenerator<ChatEvent> {
    let t = performance.now();
    const step = (event: ChatEvent) => {
      this.busyMs += performance.now() - t;
      return event;
    };
    for (const piece of text) {
      yield step({ type: 'text', text: piece });
      t = performance.now();
    }
    for (const call of calls) {
      const fn = { name: call.name, arguments: JSON.stringify(call.arguments) };
      yield step({ type: 'tool_call', call: { id: call.id, type: 'function', function: fn } });
      t = performance.now();
    }
    yield step({ type: 'done', finishReason: calls.length ? 'tool_calls' : 'stop', usage: USAGE });
  }

  listModels(): never {
    return unsupported('listModels');
  }
  status(): never {
    return unsupported('status');
  }
  loadModel(): never {
    return unsupported('loadModel');
  }
  unloadModel(): never {
    return unsupported('unloadModel');
  }
  complete(): never {
    return unsupported('complete');
  }
  embed(): never {
    return unsupported('embed');
  }
  stop(): never {
    return unsupported('stop');
  }
  ocr(): never {
    return unsupported('ocr');
  }

  analyzeImage(): never {
    return unsupported('analyzeImage');
  }

  generateImage(): never {
    return unsupported('generateImage');
  }

  refineImage(): never {
    return unsupported('refineImage');
  }

  speak(): never {
    return unsupported('speak');
  }

  listSpeechModels(): never {
    return unsupported('listSpeechModels');
  }

  systemMetrics(): never {
    return unsupported('systemMetrics');
  }
}

function unsupported(method: string): never {
  throw new Error(`InstantInference.${method}: the bench's instant model only chats`);
}
