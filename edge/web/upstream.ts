import { AppError, invalidField } from '../../shared/errors.ts';

/**
 * The `url` of a web tool's configuration as a URL; `invalidField('url', …)` (400) when it does not parse.
 * Whether it may be fetched is the SSRF guard's decision, not this one's.
 */
export function targetUrl(url: string): URL {
  try {
    return new URL(url);
  } catch {
    throw invalidField('url', `"${url.slice(0, 200)}" is not a valid absolute URL`);
  }
}

/** A URL for messages: no credentials, query or fragment (they may hold keys). */
export function describeUrl(url: string | URL): string {
  const parsed = new URL(url);
  return `${parsed.protocol}//${parsed.host}${parsed.pathname}`;
}

/** The page answered an error status: 502 naming it (`upstream_error`), the body cancelled. */
export async function upstreamStatusError(response: Response, requested: URL): Promise<AppError> {
  await response.body?.cancel().catch(() => {});
  const text = response.statusText ? ` ${response.statusText}` : '';
  return new AppError(502, `${describeUrl(response.url || requested)} answered ${response.status}${text}`, {
    code: 'upstream_error',
  });
}
