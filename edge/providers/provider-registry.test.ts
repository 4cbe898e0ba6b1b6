import { describe, expect, it } from 'vitest';
import { AppError } from '../../shared/errors.ts';
import { AnthropicProvider } from './anthropic.ts';
import { OpenAICompatibleProvider } from './openai-compatible.ts';
import { createProviderRegistry, parseProvidersFile } from './provider-registry.ts';

const together = {
  providers: {
    together: {
      name: 'Together',
      baseUrl: 'https://api.together.xyz/v1',
      apiKeyEnv: 'TOGETHER_API_KEY',
      models: { 'llama-3.1-70b': 'meta-llama/Meta-Llama-3.1-70B-Instruct-Turbo' },
    },
    local: { name: 'llama-server', baseUrl: 'http://127.0.0.1:8081/v1', models: { 'local-qwen': 'qwen' } },
  },
};

function thrown(f: () => unknown): AppError {
  try {
    f();
  } catch (err) {
    expect(err).toBeInstanceOf(AppError);
    return err as AppError;
  }
  throw new Error('did not throw');
}

describe('provider registry', () => {
  it('resolves built-in slugs to their provider and upstream model id', () => {
    const registry = createProviderRegistry({ OPENAI_API_KEY: 'sk-o', ANTHROPIC_API_KEY: 'sk-a', GROQ_API_KEY: 'gsk' });
    const gpt = registry.resolve('gpt-4o-mini')!;
    expect(gpt.provider).toBeInstanceOf(OpenAICompatibleProvider);
    expect(gpt).toMatchObject({ providerId: 'openai', upstreamModel: 'gpt-4o-mini', provider: { name: 'OpenAI' } });
    const claude = registry.resolve('claude-3-haiku')!;
    expect(claude.provider).toBeInstanceOf(AnthropicProvider);
    expect(claude.upstreamModel).toBe('claude-3-haiku-20240307');
    expect(registry.resolve('claude-3-5-sonnet')!.upstreamModel).toBe('claude-3-5-sonnet-latest');
    expect(registry.resolve('groq-llama-3-8b')).toMatchObject({
      upstreamModel: 'llama3-8b-8192',
      provider: { name: 'Groq' },
    });
    expect(registry.resolve('groq-llama-3.1-8b')!.upstreamModel).toBe('llama-3.1-8b-instant');
  });

  it('accepts explicit provider/model slugs, mapping a known slug after the prefix', () => {
    const registry = createProviderRegistry(
      { OPENAI_API_KEY: 'sk-o', ANTHROPIC_API_KEY: 'sk-a', GROQ_API_KEY: 'gsk', TOGETHER_API_KEY: 'tg' },
      { providersFile: together },
    );
    expect(registry.resolve('openai/gpt-4.1')).toMatchObject({ providerId: 'openai', upstreamModel: 'gpt-4.1' });
    expect(registry.resolve('anthropic/claude-3-haiku')!.upstreamModel).toBe('claude-3-haiku-20240307');
    expect(registry.resolve('anthropic/claude-opus-4-1')!.upstreamModel).toBe('claude-opus-4-1');
    expect(registry.resolve('groq/mixtral-8x7b-32768')!.upstreamModel).toBe('mixtral-8x7b-32768');
    expect(registry.resolve('together/Qwen/Qwen2.5-72B-Instruct-Turbo')).toMatchObject({
      providerId: 'together',
      upstreamModel: 'Qwen/Qwen2.5-72B-Instruct-Turbo',
      provider: { name: 'Together' },
    });
    expect(registry.resolve('llama-3.1-70b')!.upstreamModel).toBe('meta-llama/Meta-Llama-3.1-70B-Instruct-Turbo');
    expect(registry.resolve('tiny-chat')).toBeUndefined();
    expect(registry.resolve('unknown/model')).toBeUndefined();
    expect(registry.resolve('openai/')).toBeUndefined();
  });

  it('tells listed slugs from free provider/model ones, and which providers allow the latter', () => {
    const file = { providers: { ...together.providers, local: { ...together.providers.local, passthrough: true } } };
    const env = { OPENAI_API_KEY: 'sk-o', GROQ_API_KEY: 'gsk', TOGETHER_API_KEY: 'tg' };
    const registry = createProviderRegistry(env, { providersFile: file });
    expect(registry.resolve('gpt-4o-mini')).toMatchObject({ alias: true, passthrough: false });
    expect(registry.resolve('openai/gpt-4o-mini')).toMatchObject({ alias: true, upstreamModel: 'gpt-4o-mini' });
    expect(registry.resolve('openai/gpt-4.1')).toMatchObject({ alias: false, passthrough: false });
    expect(registry.resolve('local/qwen-big')).toMatchObject({ alias: false, passthrough: true });
    expect(registry.resolve('openai/constructor')).toMatchObject({ alias: false, upstreamModel: 'constructor' });
    const open = createProviderRegistry({ ...env, PROVIDER_PASSTHROUGH: 'openai, together' }, { providersFile: file });
    expect(open.resolve('openai/gpt-4.1')!.passthrough).toBe(true);
    expect(open.resolve('together/x')!.passthrough).toBe(true);
    expect(open.resolve('groq/x')!.passthrough).toBe(false);
    expect(createProviderRegistry({ ...env, PROVIDER_PASSTHROUGH: '*' }).resolve('groq/x')!.passthrough).toBe(true);
    // A project's own key opens its provider for that project.
    expect(registry.withKeys({ groq: 'own' }).resolve('groq/x')!.passthrough).toBe(true);
  });

  it('answers 400 "API key not found for provider <name>" for a provider without a key', () => {
    const registry = createProviderRegistry({ OPENAI_API_KEY: '  ' }, { providersFile: together });
    const openai = thrown(() => registry.resolve('gpt-4o-mini'));
    expect(openai.status).toBe(400);
    expect(openai.message).toBe('API key not found for provider OpenAI');
    expect(thrown(() => registry.resolve('openai/gpt-4.1')).message).toBe('API key not found for provider OpenAI');
    expect(thrown(() => registry.resolve('claude-3-haiku')).message).toBe('API key not found for provider Anthropic');
    expect(thrown(() => registry.resolve('groq-llama-3-8b')).message).toBe('API key not found for provider Groq');
    expect(thrown(() => registry.resolve('llama-3.1-70b')).message).toBe('API key not found for provider Together');
    expect(registry.resolve('local-qwen')!.provider.name).toBe('llama-server');
  });

  it('lists the models of configured providers only', () => {
    const registry = createProviderRegistry({ GROQ_API_KEY: 'gsk' }, { providersFile: JSON.stringify(together) });
    expect(registry.listModels()).toEqual([
      { id: 'groq-llama-3-8b', provider: 'Groq', providerId: 'groq', upstreamModel: 'llama3-8b-8192' },
      { id: 'groq-llama-3.1-8b', provider: 'Groq', providerId: 'groq', upstreamModel: 'llama-3.1-8b-instant' },
      { id: 'local-qwen', provider: 'llama-server', providerId: 'local', upstreamModel: 'qwen' },
    ]);
    expect(createProviderRegistry({}).listModels()).toEqual([]);
  });

  it('uses OPENAI_BASE_URL / ANTHROPIC_BASE_URL and the given fetch', async () => {
    const urls: string[] = [];
    const fetch = async (url: string) => {
      urls.push(url);
      return new Response('{"error":{"message":"stop here"}}', { status: 400 });
    };
    const registry = createProviderRegistry(
      {
        OPENAI_API_KEY: 'k',
        OPENAI_BASE_URL: 'http://127.0.0.1:9/openai/v1/',
        ANTHROPIC_API_KEY: 'k',
        ANTHROPIC_BASE_URL: 'http://127.0.0.1:9/anthropic',
        GROQ_API_KEY: 'k',
      },
      { fetch },
    );
    for (const slug of ['gpt-4o', 'claude-3-haiku', 'groq-llama-3-8b']) {
      const { provider, upstreamModel } = registry.resolve(slug)!;
      await expect(provider.chat({ model: upstreamModel, messages: [] })).rejects.toMatchObject({ status: 400 });
    }
    expect(urls).toEqual([
      'http://127.0.0.1:9/openai/v1/chat/completions',
      'http://127.0.0.1:9/anthropic/v1/messages',
      'https://api.groq.com/openai/v1/chat/completions',
    ]);
  });
});

describe('providers.json validation', () => {
  const problem = (file: unknown) => thrown(() => parseProvidersFile(file));

  it('accepts a valid file and defaults models', () => {
    const parsed = parseProvidersFile({ providers: { vllm: { name: 'vLLM', baseUrl: 'http://10.0.0.5:8000/v1' } } });
    expect(parsed.providers.vllm!.models).toEqual({});
  });

  it('names the field at fault', () => {
    const badUrl = problem({ providers: { together: { name: 'Together', baseUrl: 'not a url' } } });
    expect(badUrl).toMatchObject({ status: 500, code: 'misconfigured', param: 'providers.together.baseUrl' });
    expect(badUrl.message).toMatch(/^providers\.json: providers\.together\.baseUrl: /);
    expect(problem({ providers: { x: { baseUrl: 'https://x.test/v1' } } }).message).toContain('providers.x.name');
    expect(problem({ providers: { x: { name: 'X', baseUrl: 'https://x.test', baseURL: 'y' } } }).message).toMatch(
      /providers\.x: .*baseURL/,
    );
    expect(problem({ providers: { x: { name: 'X', baseUrl: 'https://x.test', models: { a: 1 } } } }).message).toContain(
      'providers.x.models.a',
    );
    expect(
      problem({ providers: { x: { name: 'X', baseUrl: 'https://x.test', apiKey: 'k', apiKeyEnv: 'K' } } }).message,
    ).toContain('providers.x.apiKey: set apiKey or apiKeyEnv, not both');
    expect(problem({ providers: { x: { name: 'X', baseUrl: 'https://x.test', apiKeyEnv: 'not-a-var' } } }).param).toBe(
      'providers.x.apiKeyEnv',
    );
    expect(problem({ providers: { openai: { name: 'O', baseUrl: 'https://o.test' } } }).message).toContain(
      'providers.openai: is a built-in provider',
    );
    const dup = problem({
      providers: {
        a: { name: 'A', baseUrl: 'https://a.test', models: { same: 'x' } },
        b: { name: 'B', baseUrl: 'https://b.test', models: { same: 'y' } },
      },
    });
    expect(dup.message).toContain('providers.b.models.same: already served by a');
    expect(problem({}).param).toBe('providers');
    expect(problem('{"providers":').message).toBe('providers.json: not valid JSON');
  });
});
