import type { IncomingMessage, ServerResponse } from 'node:http';
import { localSite } from '../../test/helpers/local-site.ts';
import { appErrorOf } from '../../test/helpers/rejection.ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createGuardedFetch } from '../net/ssrf.ts';
import { extractUrl, MAX_EVENT_TEXT_BYTES, type UrlExtractEvent } from './url-extract.ts';

const ascii = (text: string) => Buffer.from(text, 'latin1');

const LIST_PAGE = `<!DOCTYPE html><html><head><title>Shop</title><script>var price = 1</script></head><body>
  <h1>  Products
     of the day </h1>
  <ul><li class="item">Apple <b>red</b></li><li class="item">Pear<br>green</li></ul>
  <script>document.write('not text')</script>
</body></html>`;

const sentence = 'The quick brown fox jumps over the lazy dog, again and again, in the article body. ';
const ARTICLE_PAGE = `<html><head><title>News</title></head><body>
<nav><a href="/">Home</a> | <a href="/sports">Sports navigation link</a></nav>
<div class="sidebar"><a href="/ad">Buy things now</a></div>
<article><h2>Headline</h2><p>${sentence.repeat(6)}</p><p>Second paragraph, with its own words, ${sentence.repeat(4)}</p></article>
<footer>Copyright noise 2024</footer></body></html>`;

// "Café “quoted” 5€" in windows-1252.
const CP1252 = Buffer.concat([ascii('<html><body><p>Caf'), Buffer.from([0xe9, 0x20, 0x93]), ascii('quoted'),
  Buffer.from([0x94, 0x20, 0x35, 0x80]), ascii('</p></body></html>')]); // prettier-ignore
// "Müller é" in ISO-8859-1, declared only in the page.
const LATIN1 = Buffer.concat([ascii('<html><head><meta charset="ISO-8859-1"><title>t</title></head><body><p>M'),
  Buffer.from([0xfc]), ascii('ller '), Buffer.from([0xe9]), ascii('</p></body></html>')]); // prettier-ignore
// "日本" in Shift_JIS, declared with http-equiv.
const SJIS = Buffer.concat([
  ascii('<html><head><meta http-equiv="Content-Type" content="text/html; charset=Shift_JIS"></head><body><p>'),
  Buffer.from([0x93, 0xfa, 0x96, 0x7b]),
  ascii('</p></body></html>'),
]);

let origin: string;
const hits: string[] = [];

function route(req: IncomingMessage, res: ServerResponse): void {
  const path = new URL(req.url!, 'http://x').pathname;
  hits.push(path);
  const send = (type: string | undefined, body: string | Buffer, status = 200) => {
    res.writeHead(status, type ? { 'content-type': type } : {});
    res.end(body);
  };
  if (path === '/list') return send('text/html; charset=utf-8', LIST_PAGE);
  if (path === '/article') return send('text/html', ARTICLE_PAGE);
  if (path === '/fragment') return send(undefined, '<p>just a <i>fragment</i></p>');
  if (path === '/cp1252') return send('text/html; charset=windows-1252', CP1252);
  if (path === '/latin1') return send('text/html', LATIN1);
  if (path === '/sjis') return send('text/html', SJIS);
  if (path === '/json') return send('application/json', '{"name": "Zoë",\n  "n": 1}');
  if (path === '/image') return send('image/png', Buffer.from([0x89, 0x50, 0x4e, 0x47, 0, 0, 0]));
  if (path === '/long') return send('text/plain; charset=utf-8', 'é'.repeat(MAX_EVENT_TEXT_BYTES));
  if (path === '/huge') return send('text/html', `<html><body>${'<p>filler</p>'.repeat(1000)}</body></html>`);
  if (path === '/to-private') return void res.writeHead(302, { location: 'http://10.0.0.1/' }).end();
  send('text/plain', 'no such page', 404);
}

let site: Awaited<ReturnType<typeof localSite>>;
beforeAll(async () => {
  site = await localSite(route);
  origin = site.origin;
});

afterAll(() => site.close());

const fetch = createGuardedFetch({ allowlist: ['127.0.0.1'] });

async function collect(path: string, selectors?: string[], maxBytes?: number): Promise<UrlExtractEvent[]> {
  const events: UrlExtractEvent[] = [];
  for await (const event of extractUrl(`${origin}${path}`, selectors, { fetch, maxBytes })) events.push(event);
  return events;
}

const failure = appErrorOf;

describe('extractUrl with selectors', () => {
  it('gives one event per selector, in order, with the text of every match', async () => {
    const events = await collect('/list', ['h1', 'li.item', '.absent']);
    expect(events).toEqual([
      { selector: 'h1', content: 'Products of the day' },
      { selector: 'li.item', content: 'Apple red\nPear green' },
      { selector: '.absent', content: '' },
    ]);
  });

  it('leaves script text out of a match, but gives a selected script', async () => {
    const [body, script] = await collect('/list', ['body', 'head script']);
    expect(body!.content).toBe('Products of the day Apple red Pear green');
    expect(script!.content).toBe('var price = 1');
  });

  it('refuses a selector that does not parse, naming it, before any request', async () => {
    hits.length = 0;
    const err = await failure(collect('/list', ['p[', 'h1']));
    expect(err).toMatchObject({ status: 400, param: 'selectors.0' });
    expect(err.message).toMatch(/^selectors\.0: invalid CSS selector/);
    expect(hits).toEqual([]);
  });

  it('refuses selectors on a page that is not HTML', async () => {
    const err = await failure(collect('/json', ['p']));
    expect(err).toMatchObject({ status: 400, param: 'selectors' });
  });
});

describe('extractUrl without selectors', () => {
  it('gives the article, not the navigation around it', async () => {
    const [event, ...rest] = await collect('/article');
    expect(rest).toEqual([]);
    expect(event!.selector).toBeUndefined();
    expect(event!.content).toContain('Headline');
    expect(event!.content).toContain('Second paragraph, with its own words');
    expect(event!.content).not.toContain('Copyright noise');
    expect(event!.content).not.toContain('Sports navigation link');
    expect(event!.content).not.toMatch(/ {2}|\t/);
  });

  it('falls back to the text of the page when there is no article', async () => {
    expect(await collect('/fragment')).toEqual([{ content: 'just a fragment' }]);
  });

  it('gives a text page as is', async () => {
    expect(await collect('/json')).toEqual([{ content: '{"name": "Zoë",\n  "n": 1}' }]);
  });

  it('cuts an event at 1 MB without splitting a character', async () => {
    const [event] = await collect('/long');
    expect(new TextEncoder().encode(event!.content).byteLength).toBe(MAX_EVENT_TEXT_BYTES);
    expect(event!.content).toBe('é'.repeat(MAX_EVENT_TEXT_BYTES / 2));
  });
});

describe('extractUrl charsets', () => {
  it('decodes with the charset of the Content-Type header', async () => {
    expect(await collect('/cp1252', ['p'])).toEqual([{ selector: 'p', content: 'Café “quoted” 5€' }]);
  });

  it('decodes with the charset of <meta charset>', async () => {
    expect(await collect('/latin1', ['p'])).toEqual([{ selector: 'p', content: 'Müller é' }]);
  });

  it('decodes Shift_JIS declared with <meta http-equiv>', async () => {
    expect(await collect('/sjis', ['p'])).toEqual([{ selector: 'p', content: '日本' }]);
  });
});

describe('extractUrl errors', () => {
  it('answers 502 naming the status of an upstream error', async () => {
    const err = await failure(collect('/gone'));
    expect(err).toMatchObject({ status: 502, code: 'upstream_error' });
    expect(err.message).toContain('404');
  });

  it('fails with the guard’s response_too_large past maxBytes', async () => {
    const err = await failure(collect('/huge', undefined, 4096));
    expect(err).toMatchObject({ status: 502, code: 'response_too_large' });
  });

  it('refuses content that is not text', async () => {
    const err = await failure(collect('/image'));
    expect(err).toMatchObject({ status: 422, code: 'unsupported_content_type' });
  });

  it('refuses a redirect to a private address', async () => {
    const err = await failure(collect('/to-private'));
    expect(err).toMatchObject({ status: 400, code: 'ssrf_blocked' });
  });

  it('names the url field when the URL does not parse', async () => {
    const err = await failure(extractUrl('::', undefined, { fetch }).next());
    expect(err).toMatchObject({ status: 400, param: 'url' });
  });
});
