const LOOPBACK_NAME = String.raw`(?:localhost|(?:[a-z0-9-]+\.)+localhost|127(?:\.\d{1,3}){3}|\[::1\])`;
const LOOPBACK_HOST = new RegExp(`^${LOOPBACK_NAME}(?::\\d{1,5})?$`, 'i');
const LOOPBACK_ORIGIN = new RegExp(`^https?://${LOOPBACK_NAME}(?::\\d{1,5})?$`, 'i');
const ORIGIN_SHAPE = /^[a-z][a-z0-9+.-]*:\/\/[^/\s?#]+$/i;

/**
 * Whether a `Host` header value (or a URL's `host`) names this machine:
 * `localhost`, `*.localhost`, `127.0.0.0/8` or `[::1]`, with any port.
 */
export function isLoopbackHost(host: string): boolean {
  return LOOPBACK_HOST.test(host);
}

/** Whether an `Origin` is a page served from this machine (`http(s)://` + a loopback host, any port). */
export function isLoopbackOrigin(origin: string): boolean {
  return LOOPBACK_ORIGIN.test(origin);
}

/**
 * The origins listed in `CORS_ORIGINS` (comma list, like Ollama's
 * `OLLAMA_ORIGINS`): exact origins (`https://app.example.com`), `*` wildcards
 * inside one (`https://*.example.com`, `chrome-extension://*`), `null` (pages
 * opened from files) or a lone `*` (every origin).
 */
export class CorsOrigins {
  readonly #exact = new Set<string>();
  readonly #patterns: RegExp[] = [];
  readonly #any: boolean;

  constructor(readonly entries: readonly string[] = []) {
    this.#any = entries.includes('*');
    for (const entry of entries) {
      const normal = normalise(entry);
      if (!normal.includes('*')) this.#exact.add(normal);
      else if (normal !== '*') {
        const body = normal.split('*').map(escapeRegExp).join('[^/]*');
        this.#patterns.push(new RegExp(`^${body}$`));
      }
    }
  }

  /** Whether `origin` is listed (loopback origins are not implied: see `isLoopbackOrigin`). */
  has(origin: string): boolean {
    if (this.#any) return true;
    const normal = normalise(origin);
    return this.#exact.has(normal) || this.#patterns.some((p) => p.test(normal));
  }
}

/** Splits and checks a `CORS_ORIGINS` value; `problems` names each entry that is no origin. */
export function parseCorsOrigins(value: string | undefined): { origins: string[]; problems: string[] } {
  const origins = (value ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const problems = origins
    .filter((o) => o !== '*' && o !== 'null' && !ORIGIN_SHAPE.test(o.replace(/\/$/, '')))
    .map((o) => `CORS_ORIGINS: "${o}" is not an origin (scheme://host[:port], * wildcards allowed, or null)`);
  return { origins, problems };
}

function normalise(origin: string): string {
  return origin.trim().replace(/\/$/, '').toLowerCase();
}

function escapeRegExp(s: string): string {
  return s.replace(/[.+?^${}()|[\]\\]/g, '\\$&');
}
