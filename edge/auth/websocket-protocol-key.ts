/** The subprotocol a browser offers (first) with its key, and the one the server answers with. */
export const WEBSOCKET_PROTOCOL = 'edgerunner';
/** The prefix of the offered subprotocol that carries an API key, base64url-encoded. */
export const WEBSOCKET_KEY_PREFIX = 'edgerunner.key.';

/**
 * The API key a browser sent in a WebSocket upgrade's `Sec-WebSocket-Protocol` (browsers cannot set headers on a
 * WebSocket): the offered subprotocol `edgerunner.key.<base64url of the key>`, next to `edgerunner` which the
 * server selects (so the key is never echoed back). Undefined for anything that is not such an upgrade.
 */
export function websocketProtocolKey(upgrade: string | undefined, protocols: string | undefined): string | undefined {
  if (upgrade?.toLowerCase() !== 'websocket' || !protocols) return undefined;
  const offered = protocols.split(',').map((p) => p.trim());
  const carrier = offered.find((p) => p.startsWith(WEBSOCKET_KEY_PREFIX));
  const encoded = carrier?.slice(WEBSOCKET_KEY_PREFIX.length);
  if (!encoded || !/^[A-Za-z0-9_-]+$/.test(encoded)) return undefined;
  try {
    // Keys are ASCII: the decoded bytes are the key's characters.
    return atob(encoded.replace(/-/g, '+').replace(/_/g, '/'));
  } catch {
    return undefined;
  }
}
