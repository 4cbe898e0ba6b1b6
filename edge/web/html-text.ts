import { Readability } from '@mozilla/readability';
import { parseHTML } from 'linkedom';

/** Elements whose text is not page text (unless one of them is what a selector picked). */
const HIDDEN = new Set(['script', 'style', 'noscript', 'template', 'head', 'title', 'svg', 'iframe', 'object']);
/** Elements that end a line of text: their text is never glued to the next element's. */
const BLOCKS = new Set([
  'address', 'article', 'aside', 'blockquote', 'br', 'caption', 'dd', 'details', 'div', 'dl', 'dt',
  'fieldset', 'figcaption', 'figure', 'footer', 'form', 'h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'header',
  'hr', 'li', 'main', 'nav', 'ol', 'p', 'pre', 'section', 'summary', 'table', 'td', 'th', 'tr', 'ul',
]); // prettier-ignore

/**
 * linkedom builds a proper tree only from a whole document (`<html>` … `<body>`); a fragment or a page
 * without those tags ends up outside `<body>`. This adds the missing ones.
 */
function wellFormed(html: string): string {
  const hasBody = /<body[\s>]/i.test(html);
  if (hasBody && /<html[\s>]/i.test(html)) return html;
  if (hasBody) return `<html>${html}</html>`;
  const rest = html.replace(/<!doctype[^>]*>/gi, '').replace(/<\/?html[^>]*>/gi, '');
  const head = /<head[\s>][\s\S]*?<\/head\s*>/i.exec(rest);
  if (!head) return `<!DOCTYPE html><html><head></head><body>${rest}</body></html>`;
  const body = rest.slice(head.index + head[0].length);
  return `<!DOCTYPE html><html>${head[0]}<body>${body}</body></html>`;
}

/**
 * The little of the DOM used here, declared locally: the edge compiles against the Workers types, whose
 * `Document` and `Element` are HTMLRewriter's, not the DOM's.
 */
export interface HtmlNode {
  readonly nodeType: number;
  readonly firstChild: HtmlNode | null;
  readonly nextSibling: HtmlNode | null;
  /** Elements only. */
  readonly localName?: string;
  /** Text and CDATA nodes only. */
  readonly data?: string;
}

export interface HtmlDocument extends HtmlNode {
  readonly body: HtmlNode | null;
  querySelectorAll(selector: string): ArrayLike<HtmlNode>;
}

/** An HTML page as a DOM document (linkedom: runs in workerd and Node). */
export function parseHtmlDocument(html: string): HtmlDocument {
  return parseHTML(wellFormed(html)).document as unknown as HtmlDocument;
}

/**
 * Collects the text under `root`, skipping hidden elements below it, with '\n' at block boundaries.
 * Iterative: a page nested thousands deep must not overflow the stack.
 */
function collect(root: HtmlNode, out: string[]): void {
  const stack: (HtmlNode | '\n')[] = [root];
  while (stack.length > 0) {
    const node = stack.pop()!;
    if (node === '\n') {
      out.push(node);
      continue;
    }
    if (node.nodeType === 3 || node.nodeType === 4) {
      out.push(node.data ?? '');
      continue;
    }
    if (node.nodeType !== 1 && node.nodeType !== 9 && node.nodeType !== 11) continue;
    const name = node.localName?.toLowerCase() ?? '';
    if (node !== root && HIDDEN.has(name)) continue;
    const children: HtmlNode[] = [];
    for (let child = node.firstChild; child; child = child.nextSibling) children.push(child);
    if (BLOCKS.has(name)) {
      out.push('\n');
      stack.push('\n');
    }
    for (let i = children.length - 1; i >= 0; i--) stack.push(children[i]!);
  }
}

/** Text of a node as lines: whitespace collapsed within each line, no empty lines. */
export function blockText(node: HtmlNode): string {
  const out: string[] = [];
  collect(node, out);
  return out
    .join('')
    .split('\n')
    .map((line) => line.replace(/\s+/g, ' ').trim())
    .filter(Boolean)
    .join('\n');
}

/** Text of an element on one line: all whitespace (block boundaries included) collapsed to single spaces. */
export function inlineText(node: HtmlNode): string {
  return blockText(node).replace(/\n/g, ' ');
}

/**
 * The readable text of a page: the article `@mozilla/readability` finds (navigation, footers, ads left
 * out), one line per paragraph; the whole `<body>`'s text when it finds none. Mutates the document.
 */
export function readableText(document: HtmlDocument): string {
  const whole = blockText(document.body ?? document); // before Readability, which strips the page
  let article: HtmlNode | null | undefined;
  try {
    const reader = new Readability<HtmlNode>(document as never, { serializer: (node) => node as never });
    article = reader.parse()?.content;
  } catch {
    article = undefined; // a page Readability cannot handle: the whole text
  }
  return (article && blockText(article)) || whole;
}
