import { z } from 'zod';
import { AppError } from '../../shared/errors.ts';
import { AnthropicProvider } from './anthropic.ts';
import { OpenAICompatibleProvider } from './openai-compatible.ts';
import type { ChatProvider, ProviderHttpOptions } from './provider.ts';

interface BuiltIn {
  name: string;
  api: 'openai' | 'anthropic';
  keyEnv: string;
  baseUrlEnv: string;
  baseUrl: string;
  /** Our slug → the upstream's model id. */
  models: Record<string, string>;
}

/** The hosted providers configured from the environment, with the slugs they serve. */
export const BUILT_IN_PROVIDERS: Readonly<Record<string, BuiltIn>> = {
  openai: {
    name: 'OpenAI',
    api: 'openai',
    keyEnv: 'OPENAI_API_KEY',
    baseUrlEnv: 'OPENAI_BASE_URL',
    baseUrl: 'https://api.openai.com/v1',
    models: { 'gpt-4o-mini': 'gpt-4o-mini', 'gpt-4o': 'gpt-4o', 'gpt-4.1-mini': 'gpt-4.1-mini' },
  },
  anthropic: {
    name: 'Anthropic',
    api: 'anthropic',
    keyEnv: 'ANTHROPIC_API_KEY',
    baseUrlEnv: 'ANTHROPIC_BASE_URL',
    baseUrl: 'https://api.anthropic.com',
    models: { 'claude-3-haiku': 'claude-3-haiku-20240307', 'claude-3-5-sonnet': 'claude-3-5-sonnet-latest' },
  },
  groq: {
    name: 'Groq',
    api: 'openai',
    keyEnv: 'GROQ_API_KEY',
    baseUrlEnv: 'GROQ_BASE_URL',
    baseUrl: 'https://api.groq.com/openai/v1',
    models: { 'groq-llama-3-8b': 'llama3-8b-8192', 'groq-llama-3.1-8b': 'llama-3.1-8b-instant' },
  },
};

const ProviderEntry = z
  .strictObject({
    name: z.string().min(1),
    baseUrl: z.url({ protocol: /^https?$/ }),
    apiKeyEnv: z
      .string()
      .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be an environment variable name')
      .optional(),
    apiKey: z.string().min(1).optional(),
    models: z.record(z.string().min(1), z.string().min(1)).default({}),
    /** Whether callers may name any model as `id/<model>` on this entry's key (default false: `models` only). */
    passthrough: z.boolean().default(false),
  })
  .refine((p) => !(p.apiKey && p.apiKeyEnv), { message: 'set apiKey or apiKeyEnv, not both', path: ['apiKey'] });

/**
 * `providers.json`: other OpenAI-compatible hosts, by id (the prefix of
 * `id/model` slugs). A provider without `apiKey` or `apiKeyEnv` is called
 * without a key (local servers); `models` maps our slugs to upstream ids.
 */
export const ProvidersFile = z.object({
  providers: z.record(z.string(), ProviderEntry).superRefine((providers, ctx) => {
    const seen = new Map<string, string>();
    for (const [id, entry] of Object.entries(providers)) {
      if (!/^[a-z0-9][a-z0-9_.-]*$/.test(id)) {
        ctx.addIssue({ code: 'custom', path: [id], message: 'provider ids use lowercase letters, digits, _, . and -' });
      } else if (Object.hasOwn(BUILT_IN_PROVIDERS, id)) {
        ctx.addIssue({
          code: 'custom',
          path: [id],
          message: 'is a built-in provider: configure it through its environment variables',
        });
      }
      for (const slug of Object.keys(entry.models)) {
        const other = seen.get(slug);
        if (other) ctx.addIssue({ code: 'custom', path: [id, 'models', slug], message: `already served by ${other}` });
        seen.set(slug, id);
      }
    }
  }),
});
export type ProvidersFile = z.infer<typeof ProvidersFile>;

/** Validates `providers.json` content (parsed, or its text); a 500 `misconfigured` error names each bad field. */
export function parseProvidersFile(value: unknown): ProvidersFile {
  let json = value;
  if (typeof value === 'string') {
    try {
      json = JSON.parse(value);
    } catch (err) {
      throw new AppError(500, 'providers.json: not valid JSON', { code: 'misconfigured', cause: err });
    }
  }
  const parsed = ProvidersFile.safeParse(json);
  if (parsed.success) return parsed.data;
  const issues = parsed.error.issues.map((i) => `${i.path.map(String).join('.') || '(root)'}: ${i.message}`);
  throw new AppError(500, `providers.json: ${issues.join('; ')}`, {
    code: 'misconfigured',
    param: parsed.error.issues[0]?.path.map(String).join('.'),
  });
}

/** One provider as the registry holds it. */
export interface ProviderSlot {
  id: string;
  /** Display name, e.g. `OpenAI`. */
  name: string;
  /** Absent when the provider's key is not configured. */
  provider: ChatProvider | undefined;
  models: Record<string, string>;
  /** Whether `id/<any model>` may be used on the server's key; default false (only `models`). */
  passthrough?: boolean;
  /** Builds this provider with another key (a project's own). */
  withKey?: (apiKey: string) => ChatProvider;
}

/** What a model slug resolves to. */
export interface ResolvedProvider {
  provider: ChatProvider;
  /** The provider id (`openai`, a `providers.json` id). */
  providerId: string;
  /** The model id to send upstream. */
  upstreamModel: string;
  /** Whether the slug is one the operator listed (`models` of the provider), not a free `provider/model`. */
  alias: boolean;
  /** Whether the provider lets any `provider/model` be used on the server's key. */
  passthrough: boolean;
}

/** The external providers and the model slugs they serve. */
export class ProviderRegistry {
  readonly #slots = new Map<string, ProviderSlot>();
  readonly #models = new Map<string, { slot: ProviderSlot; upstream: string }>();

  /** Later slots win a slug that several serve. */
  constructor(slots: ProviderSlot[]) {
    for (const slot of slots) {
      this.#slots.set(slot.id, slot);
      for (const [slug, upstream] of Object.entries(slot.models)) this.#models.set(slug, { slot, upstream });
    }
  }

  /**
   * A known slug (`gpt-4o-mini`) or an explicit `provider/model` slug
   * (`openai/gpt-4.1`, `together/meta-llama/…`) → its provider and upstream
   * model id; undefined for anything else (a local model). Throws
   * `AppError(400, 'API key not found for provider <name>')` when the
   * provider's key is not configured.
   */
  resolve(slug: string): ResolvedProvider | undefined {
    let found: { slot: ProviderSlot; upstream: string; alias: boolean } | undefined;
    const known = this.#models.get(slug);
    if (known) found = { ...known, alias: true };
    else {
      const cut = slug.indexOf('/');
      const slot = cut > 0 ? this.#slots.get(slug.slice(0, cut)) : undefined;
      const rest = slug.slice(cut + 1);
      if (!slot || !rest) return undefined;
      const listed = Object.hasOwn(slot.models, rest);
      found = { slot, upstream: listed ? slot.models[rest]! : rest, alias: listed };
    }
    const { slot, upstream, alias } = found;
    if (!slot.provider) {
      throw new AppError(400, `API key not found for provider ${slot.name}`, {
        code: 'api_key_not_found',
        param: 'model',
      });
    }
    return {
      provider: slot.provider,
      providerId: slot.id,
      upstreamModel: upstream,
      alias,
      passthrough: slot.passthrough ?? false,
    };
  }

  /**
   * This registry with some providers keyed by a project's own keys (by
   * provider id; unknown ids are ignored). On its own key a project may name
   * any model of that provider (`openai/<model>`): it pays for it.
   */
  withKeys(keys: Record<string, string>): ProviderRegistry {
    return new ProviderRegistry(
      [...this.#slots.values()].map((slot) => {
        const key = keys[slot.id];
        return key && slot.withKey ? { ...slot, provider: slot.withKey(key), passthrough: true } : slot;
      }),
    );
  }

  /** Whether `id` names a provider (built-in or from providers.json). */
  has(id: string): boolean {
    return this.#slots.has(id);
  }

  /** The slugs of every provider whose key is configured, with the provider's display name and id. */
  listModels(): Array<{ id: string; provider: string; providerId: string; upstreamModel: string }> {
    return [...this.#models]
      .filter(([, m]) => m.slot.provider)
      .map(([id, m]) => ({ id, provider: m.slot.name, providerId: m.slot.id, upstreamModel: m.upstream }));
  }
}

export interface ProviderRegistryOptions extends ProviderHttpOptions {
  /** `providers.json` content, parsed or as text; default none. */
  providersFile?: unknown;
  /** Anthropic's `max_tokens` when a request sets none; default 1024. */
  anthropicMaxTokens?: number;
}

/**
 * Builds the providers from an env-like object (`process.env`, a Worker's
 * `env`): `OPENAI_API_KEY`/`OPENAI_BASE_URL` (default
 * `https://api.openai.com/v1`), `ANTHROPIC_API_KEY`/`ANTHROPIC_BASE_URL`
 * (default `https://api.anthropic.com`), `GROQ_API_KEY`/`GROQ_BASE_URL`
 * (default `https://api.groq.com/openai/v1`), plus the hosts of
 * `providers.json` (whose slugs win over built-in ones). Empty values count
 * as unset. `PROVIDER_PASSTHROUGH` (comma list of provider ids, or `*`) lets
 * callers name any model of those providers (`openai/<model>`) on the
 * server's key; by default only the listed slugs are served.
 */
export function createProviderRegistry(
  env: object,
  { providersFile, anthropicMaxTokens, ...http }: ProviderRegistryOptions = {},
): ProviderRegistry {
  const read = (name: string) => {
    const value = (env as Record<string, unknown>)[name];
    return typeof value === 'string' && value.trim() ? value.trim() : undefined;
  };
  const open = new Set((read('PROVIDER_PASSTHROUGH') ?? '').split(',').map((s) => s.trim()));
  const passthrough = (id: string) => open.has('*') || open.has(id);
  const slots: ProviderSlot[] = Object.entries(BUILT_IN_PROVIDERS).map(([id, b]) => {
    const apiKey = read(b.keyEnv);
    const baseUrl = read(b.baseUrlEnv) ?? b.baseUrl;
    const withKey = (key: string) =>
      b.api === 'anthropic'
        ? new AnthropicProvider({ name: b.name, apiKey: key, baseUrl, defaultMaxTokens: anthropicMaxTokens, ...http })
        : new OpenAICompatibleProvider({ name: b.name, apiKey: key, baseUrl, ...http });
    return {
      id,
      name: b.name,
      provider: apiKey ? withKey(apiKey) : undefined,
      models: b.models,
      passthrough: passthrough(id),
      withKey,
    };
  });
  const file = providersFile === undefined ? { providers: {} } : parseProvidersFile(providersFile);
  for (const [id, entry] of Object.entries(file.providers)) {
    const apiKey = entry.apiKeyEnv ? read(entry.apiKeyEnv) : entry.apiKey;
    const missing = entry.apiKeyEnv !== undefined && apiKey === undefined;
    const withKey = (key: string | undefined) =>
      new OpenAICompatibleProvider({ name: entry.name, baseUrl: entry.baseUrl, apiKey: key, ...http });
    slots.push({
      id,
      name: entry.name,
      provider: missing ? undefined : withKey(apiKey),
      models: entry.models,
      passthrough: entry.passthrough || passthrough(id),
      withKey,
    });
  }
  return new ProviderRegistry(slots);
}
