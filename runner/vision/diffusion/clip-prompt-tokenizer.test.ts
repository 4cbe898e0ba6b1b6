import { describe, expect, it } from 'vitest';
import { buildClipBpe, clipEncode, mergesText } from '../../../test/fixtures/tiny-clip-bpe.ts';
import { ClipPromptTokenizer, PROMPT_TOKENS } from './clip-prompt-tokenizer.ts';

const bpe = buildClipBpe();
const config = (pad = '<|endoftext|>') => ({
  bos_token: '<|startoftext|>',
  eos_token: '<|endoftext|>',
  unk_token: '<|endoftext|>',
  pad_token: pad,
});

describe('ClipPromptTokenizer (CLIP byte-level BPE from vocab.json + merges.txt)', () => {
  const tokenizer = ClipPromptTokenizer.fromFiles(bpe.vocab, mergesText(bpe.merges), config());

  it('tokenises as CLIP does: lower-cased words, punctuation runs, digits one by one, accents by bytes', () => {
    for (const prompt of [
      'a photo of a cat',
      'A Painting of an ASTRONAUT riding a horse!!',
      "the cat's 42 trees, in   the sky",
      'café sky',
    ]) {
      const expected = clipEncode(prompt, bpe);
      expect([...tokenizer.encode(prompt).slice(0, expected.length)], prompt).toEqual(expected);
    }
  });

  it('pads to 77 with the pad token and cuts long prompts to 75 tokens between start and end', () => {
    const short = tokenizer.encode('a cat');
    expect(short.length).toBe(PROMPT_TOKENS);
    expect([...short.slice(0, 4)]).toEqual(clipEncode('a cat', bpe));
    expect(new Set(short.slice(4))).toEqual(new Set([bpe.vocab['<|endoftext|>']]));

    const long = tokenizer.encode(Array.from({ length: 100 }, () => 'cat').join(' '));
    expect(long.length).toBe(PROMPT_TOKENS);
    expect(long[0]).toBe(bpe.vocab['<|startoftext|>']);
    expect(long[76]).toBe(bpe.vocab['<|endoftext|>']);
    expect(new Set(long.slice(1, 76))).toEqual(new Set([bpe.vocab['cat</w>']]));
  });

  it("pads with SDXL's second tokenizer's own pad token", () => {
    const second = ClipPromptTokenizer.fromFiles(bpe.vocab, mergesText(bpe.merges), config('!'));
    const ids = second.encode('a cat');
    expect(ids[3]).toBe(bpe.vocab['<|endoftext|>']);
    expect(ids[4]).toBe(bpe.vocab['!']);
  });

  it('refuses a config whose special token is not in the vocabulary', () => {
    expect(() =>
      ClipPromptTokenizer.fromFiles(bpe.vocab, mergesText(bpe.merges), { ...config(), pad_token: '<pad>' }),
    ).toThrow(/pad_token "<pad>"/);
  });
});
