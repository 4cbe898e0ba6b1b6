/** How many bytes of an HTML page are searched for a `<meta>` charset declaration (as browsers do). */
const PRESCAN_BYTES = 1024;

/** The MIME type (lower case, no parameters) and `charset` parameter of a Content-Type header. */
export function parseContentType(header: string | null): { mime: string; charset: string | undefined } {
  if (!header) return { mime: '', charset: undefined };
  const [type = '', ...params] = header.split(';');
  let charset: string | undefined;
  for (const param of params) {
    const match = /^\s*charset\s*=\s*"?([^";\s]+)"?/i.exec(param);
    if (match) charset = match[1];
  }
  return { mime: type.trim().toLowerCase(), charset };
}

/** The encoding a byte order mark announces, if the bytes start with one. */
function bomEncoding(bytes: Uint8Array): string | undefined {
  if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) return 'utf-8';
  if (bytes[0] === 0xfe && bytes[1] === 0xff) return 'utf-16be';
  if (bytes[0] === 0xff && bytes[1] === 0xfe) return 'utf-16le';
  return undefined;
}

/**
 * The charset an HTML page declares in its first 1024 bytes: `<meta charset="…">` or
 * `<meta http-equiv="content-type" content="text/html; charset=…">`. A declared UTF-16 means UTF-8 (the
 * bytes of the declaration itself were ASCII), as the HTML standard says.
 */
export function sniffMetaCharset(bytes: Uint8Array): string | undefined {
  const head = new TextDecoder('windows-1252').decode(bytes.subarray(0, PRESCAN_BYTES));
  for (const tag of head.match(/<meta\s[^>]*>/gi) ?? []) {
    const label = /charset\s*=\s*["']?\s*([\w:.-]+)/i.exec(tag)?.[1];
    if (label) return /^utf-16/i.test(label) ? 'utf-8' : label;
  }
  return undefined;
}

/** A decoder for the label, or UTF-8 when the runtime does not know it. */
function decoderFor(label: string | undefined): TextDecoder {
  if (label) {
    try {
      return new TextDecoder(label.trim());
    } catch {
      // RangeError: an unknown label (or one the runtime does not support); UTF-8 as browsers default.
    }
  }
  return new TextDecoder('utf-8');
}

/**
 * A page's bytes as text. The encoding is the byte order mark's, else the Content-Type header's `charset`,
 * else (HTML only) a `<meta>` declaration in the first 1024 bytes, else UTF-8. Labels are the WHATWG
 * Encoding standard's (`iso-8859-1` decodes as windows-1252, `shift_jis`, `gbk`…); a label the runtime does
 * not know decodes as UTF-8. Invalid sequences become U+FFFD.
 */
export function decodeText(bytes: Uint8Array, contentType: string | null, { html }: { html: boolean }): string {
  const bom = bomEncoding(bytes);
  const label = bom ?? parseContentType(contentType).charset ?? (html ? sniffMetaCharset(bytes) : undefined);
  return decoderFor(label).decode(bytes);
}
