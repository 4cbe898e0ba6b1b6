/** Shortest per-runner secret accepted in `RUNNER_CREDENTIALS`. */
export const MIN_RUNNER_CREDENTIAL_LENGTH = 16;

/**
 * Reads `RUNNER_CREDENTIALS`: comma-separated `id:secret` pairs giving each
 * listed runner id its own registration secret (the id ends at the first
 * `:`). `problems` names each bad entry by position or id, never its secret.
 */
export function parseRunnerCredentials(value: string | undefined): {
  credentials: Map<string, string>;
  problems: string[];
} {
  const credentials = new Map<string, string>();
  const problems: string[] = [];
  const entries = (value ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  entries.forEach((entry, i) => {
    const colon = entry.indexOf(':');
    const id = entry.slice(0, colon).trim();
    const secret = entry.slice(colon + 1).trim();
    if (colon < 1 || !id || !secret) {
      problems.push(`RUNNER_CREDENTIALS: entry ${i + 1} is not id:secret`);
    } else if (id.length > 128) {
      problems.push(`RUNNER_CREDENTIALS: entry ${i + 1} has an id longer than 128 characters`);
    } else if (credentials.has(id)) {
      problems.push(`RUNNER_CREDENTIALS: runner "${id}" is listed twice`);
    } else if (secret.length < MIN_RUNNER_CREDENTIAL_LENGTH) {
      problems.push(
        `RUNNER_CREDENTIALS: the secret of runner "${id}" must be at least ${MIN_RUNNER_CREDENTIAL_LENGTH} characters`,
      );
    } else credentials.set(id, secret);
  });
  return { credentials, problems };
}
