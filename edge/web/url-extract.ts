import { AppError, invalidField } from '../../shared/errors.ts';
import type { GuardedFetch } from '../net/ssrf.ts';
import { decodeText, parseContentType } from './charset.ts';
import { inlineText, parseHtmlDocument, readableText, type HtmlDocument } from './html-text.ts';
import { describeUrl, targetUrl, upstreamStatusError } from './upstream.ts';

/** One event of `url_extract`: a selector's text, or the page's readable text (no `selector`). */
export interface UrlExtractEvent {
  selector?: string;
  content: string;
}

export interface ExtractOptions {
  /** The SSRF guard: every request and redirect goes through it. */
  fetch: GuardedFetch;
  signal?: AbortSignal;
  /** Most page bytes read; past it the guard fails with 502 `response_too_large`. Default 10 MB. */
  maxBytes?: number;
}

const DEFAULT_MAX_BYTES = 10 * 1024 * 1024;
/** Most UTF-8 bytes of text in one event; longer text is cut (at a character boundary). */
export const MAX_EVENT_TEXT_BYTES = 1024 * 1024;
const ACCEPT = 'text/html,application/xhtml+xml;q=0.9,text/plain;q=0.8,*/*;q=0.5';
const HTML_TYPES = new Set(['text/html', 'application/xhtml+xml']);
const TEXT_TYPES = /^text\/|[/+](json|xml|javascript|ecmascript|yaml|x-yaml|csv|x-ndjson)$/;
/** Types browsers sniff; so does this (HTML, text, or binary). */
const UNKNOWN_TYPES = new Set(['', 'application/octet-stream', 'application/unknown', 'unknown/unknown']);

/** How an HTML page starts, per the MIME Sniffing standard (its tags, then a space or '>'). */
const HTML_START =
  /^(\uFEFF|ï»¿)?\s*(<!--|<(!doctype\s+html|html|head|script|iframe|h1|div|font|table|a|style|title|b|body|br|p)[\s>])/i;

type Kind = 'html' | 'text' | 'binary';

function kindOf(mime: string, bytes: Uint8Array): Kind {
  if (HTML_TYPES.has(mime)) return 'html';
  if (TEXT_TYPES.test(mime)) return 'text';
  if (!UNKNOWN_TYPES.has(mime)) return 'binary';
  const start = new TextDecoder('windows-1252').decode(bytes.subarray(0, 1024));
  if (HTML_START.test(start)) return 'html';
  return start.includes('\u0000') ? 'binary' : 'text';
}

let probeDocument: HtmlDocument | undefined;

/** Every selector parses (checked on an empty page, before any request): else 400 naming `selectors.N`. */
function checkSelectors(selectors: readonly string[]): void {
  probeDocument ??= parseHtmlDocument('<html><head></head><body><p></p></body></html>');
  selectors.forEach((selector, index) => {
    let valid = selector.trim() !== '';
    try {
      if (valid) probeDocument!.querySelectorAll(selector);
    } catch {
      valid = false;
    }
    if (!valid) throw invalidField(`selectors.${index}`, `invalid CSS selector "${selector.slice(0, 200)}"`);
  });
}

async function readAll(body: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let length = 0;
  const reader = body.getReader();
  try {
    for (let read = await reader.read(); !read.done; read = await reader.read()) {
      chunks.push(read.value);
      length += read.value.byteLength;
    }
  } finally {
    reader.releaseLock();
  }
  const bytes = new Uint8Array(length);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return bytes;
}

const encoder = new TextEncoder();

/** Text cut to at most `MAX_EVENT_TEXT_BYTES` UTF-8 bytes, never inside a character. */
function capped(text: string): string {
  if (text.length * 3 <= MAX_EVENT_TEXT_BYTES) return text;
  const { read } = encoder.encodeInto(text, new Uint8Array(MAX_EVENT_TEXT_BYTES));
  return text.slice(0, read);
}

/**
 * `url_extract`: the text of a page. With `selectors`, one `{selector, content}` event per selector, in
 * order: the text of every match (whitespace collapsed, one line per match, script and style text left
 * out), '' when nothing matches. Without, one `{content}` event: the article `@mozilla/readability` finds
 * (one line per paragraph), or the whole body's text when it finds none. A text page (text/plain, JSON,
 * XML…) gives its text as is. The page is decoded with the charset of its Content-Type header, else its
 * `<meta>` declaration, else UTF-8 (see `decodeText`). An event's text is cut at 1 MB.
 *
 * Errors, all thrown before the first event: `url` not a URL or a selector that does not parse (400
 * `url: …`, `selectors.N: invalid CSS selector …`), selectors on a page that is not HTML (400 `selectors`),
 * a page that is not text (422 `unsupported_content_type`), an error status (502 `upstream_error`), and the
 * guard's (400 `ssrf_blocked`, 502 `response_too_large` past `maxBytes`, 502 `upstream_unreachable`,
 * 504 `upstream_timeout`).
 */
export async function* extractUrl(
  url: string,
  selectors: string[] | undefined,
  { fetch, signal, maxBytes = DEFAULT_MAX_BYTES }: ExtractOptions,
): AsyncGenerator<UrlExtractEvent, void, undefined> {
  const target = targetUrl(url);
  if (selectors?.length) checkSelectors(selectors);
  const response = await fetch(target, { headers: { accept: ACCEPT }, signal, maxBytes });
  if (response.status >= 400) throw await upstreamStatusError(response, target);
  const bytes = response.body ? await readAll(response.body) : new Uint8Array(0);
  const contentType = response.headers.get('content-type');
  const { mime } = parseContentType(contentType);
  const kind = kindOf(mime, bytes);
  const where = describeUrl(response.url || target);
  if (kind === 'binary')
    throw new AppError(422, `${where} is ${mime || 'binary data'}, which has no text to extract`, {
      code: 'unsupported_content_type',
    });
  const text = decodeText(bytes, contentType, { html: kind === 'html' });
  if (kind === 'text') {
    if (selectors?.length)
      throw invalidField('selectors', `CSS selectors need an HTML page and ${where} is ${mime || 'plain text'}`);
    yield { content: capped(text) };
    return;
  }
  const document = parseHtmlDocument(text);
  if (!selectors?.length) {
    yield { content: capped(readableText(document)) };
    return;
  }
  for (const selector of selectors) {
    signal?.throwIfAborted();
    const matches = Array.from(document.querySelectorAll(selector), inlineText).filter(Boolean);
    yield { selector, content: capped(matches.join('\n')) };
  }
}
