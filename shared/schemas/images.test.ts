import { describe, expect, it } from 'vitest';
import { ImageField, imageBase64, imageFieldIssue, MAX_IMAGE_BYTES, OcrRequest } from './images.ts';

/** A few real bytes (a PNG signature and some more) as base64. */
const BODY = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0xfb, 0xff]).toString('base64');

describe('imageFieldIssue', () => {
  it.each([
    ['raw base64', BODY],
    ['a PNG data URL', `data:image/png;base64,${BODY}`],
    ['a JPEG data URL', `data:image/jpeg;base64,${BODY}`],
    ['an image/jpg data URL', `data:image/jpg;base64,${BODY}`],
    ['a WebP data URL', `data:image/webp;base64,${BODY}`],
    ['a data URL in capitals', `data:IMAGE/PNG;BASE64,${BODY}`],
    ['a data URL with a parameter before base64', `data:image/png;name=a.png;base64,${BODY}`],
    ['base64 with line breaks and spaces', 'QUJD\nREVG\r\nR0hJ SktM\n'],
    ['base64 with padding', 'QUJDRA=='],
    ['base64 without padding', 'QUJDRA'],
    ['the URL-safe alphabet', 'ab-_cd-_'],
  ])('accepts %s', (_name, value) => {
    expect(imageFieldIssue(value)).toBeUndefined();
  });

  it('refuses a data URL of another type, naming the types it takes', () => {
    const issue = imageFieldIssue(`data:image/gif;base64,${BODY}`);
    expect(issue).toBeDefined();
    expect(issue).toContain('image/gif');
    for (const type of ['png', 'jpeg', 'webp']) expect(issue).toContain(type);
    expect(imageFieldIssue(`data:;base64,${BODY}`)).toContain('no type');
    expect(imageFieldIssue(`data:text/plain;base64,${BODY}`)).toContain('text/plain');
  });

  it('refuses a data URL that is not base64', () => {
    expect(imageFieldIssue(`data:image/png,${BODY}`)).toMatch(/not base64/);
    expect(imageFieldIssue(`data:image/png;charset=utf-8,${BODY}`)).toMatch(/not base64/);
  });

  it('refuses a malformed data URL', () => {
    expect(imageFieldIssue('data:garbage')).toMatch(/malformed/);
    expect(imageFieldIssue('data:')).toMatch(/malformed/);
  });

  it('refuses an empty body', () => {
    expect(imageFieldIssue('')).toBe('empty');
    expect(imageFieldIssue(' \n\t ')).toBe('empty');
    expect(imageFieldIssue('data:image/png;base64,')).toBe('empty');
    expect(imageFieldIssue('data:image/png;base64,\n')).toBe('empty');
  });

  it.each([
    ['a character outside base64', 'QUJD*REVG'],
    ['a dot', 'QUJD.REVG'],
    ['non-ASCII', 'QUJDé'],
    ['padding in the middle', 'QU==QUJD'],
    ['three padding characters', 'QUJDR==='],
    ['a body of length 1 mod 4', 'QUJDR'],
    ['a single character', 'Q'],
  ])('refuses %s', (_name, value) => {
    expect(imageFieldIssue(value)).toBe('not valid base64');
    expect(imageFieldIssue(`data:image/png;base64,${value}`)).toBe('not valid base64');
  });

  it('refuses more than MAX_IMAGE_BYTES once decoded, and accepts exactly that', () => {
    expect(MAX_IMAGE_BYTES).toBe(10 * 1024 * 1024);
    // floor(L × 3 / 4) bytes: 13,981,014 characters are 10,485,760 bytes; one more is 10,485,761.
    const over = 'A'.repeat(13_981_015);
    const issue = imageFieldIssue(over);
    expect(issue).toContain('10485761 bytes');
    expect(issue).toContain(String(MAX_IMAGE_BYTES));
    expect(imageFieldIssue(over.slice(1))).toBeUndefined();
    expect(imageFieldIssue(`data:image/png;base64,${over}`)).toContain('more than');
  });
});

describe('imageBase64', () => {
  it('strips the data URL prefix and whitespace', () => {
    expect(imageBase64(`data:image/png;base64,${BODY}`)).toBe(BODY);
    expect(imageBase64('data:image/webp;base64, QUJD\nREVG\r\n')).toBe('QUJDREVG');
    expect(imageBase64(' QUJD\tRA==\n')).toBe('QUJDRA==');
  });

  it('maps the URL-safe alphabet to the standard one', () => {
    expect(imageBase64('ab-_cd-_')).toBe('ab+/cd+/');
    const bytes = Buffer.from([0xfb, 0xff, 0xbf, 0xfe, 0x3e]);
    expect(Buffer.from(imageBase64(bytes.toString('base64url')), 'base64')).toEqual(bytes);
  });

  it('leaves standard base64 as it is', () => {
    expect(imageBase64(BODY)).toBe(BODY);
  });
});

describe('OcrRequest', () => {
  it('accepts an image, with or without a model', () => {
    expect(OcrRequest.safeParse({ image: BODY }).success).toBe(true);
    const parsed = OcrRequest.safeParse({ image: `data:image/png;base64,${BODY}`, model: 'ppocr' });
    expect(parsed.success).toBe(true);
    expect(parsed.data).toEqual({ image: `data:image/png;base64,${BODY}`, model: 'ppocr' });
  });

  it('reports an image issue on the image path', () => {
    const parsed = OcrRequest.safeParse({ image: `data:image/gif;base64,${BODY}` });
    expect(parsed.success).toBe(false);
    expect(parsed.error!.issues).toHaveLength(1);
    const [issue] = parsed.error!.issues;
    expect(issue!.path).toEqual(['image']);
    expect(issue!.message).toBe(imageFieldIssue(`data:image/gif;base64,${BODY}`));
  });

  it('refuses a missing image, a bad one, and an empty model', () => {
    expect(OcrRequest.safeParse({}).error!.issues[0]!.path).toEqual(['image']);
    expect(OcrRequest.safeParse({ image: 'QUJDR' }).error!.issues[0]!.message).toBe('not valid base64');
    expect(OcrRequest.safeParse({ image: BODY, model: '' }).error!.issues[0]!.path).toEqual(['model']);
    expect(ImageField.safeParse(BODY).success).toBe(true);
  });
});
