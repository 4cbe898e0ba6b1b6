import { readFile } from 'node:fs/promises';
import { Tokenizer } from '@huggingface/tokenizers';

/** The token length of every Stable Diffusion text encoder's input (CLIP's context). */
export const PROMPT_TOKENS = 77;

/** The files of one CLIP tokenizer in the diffusers layout: the slow tokenizer's vocab and merges, and its config. */
export interface ClipTokenizerFiles {
  vocab: string;
  merges: string;
  config: string;
}

/**
 * A prompt tokenizer of Stable Diffusion: CLIP's byte-level BPE, run by `@huggingface/tokenizers`. Diffusers' ONNX
 * exports ship the slow tokenizer's `vocab.json` and `merges.txt`, not a `tokenizer.json`, so the fast tokenizer's
 * definition is built from them exactly as transformers' own converter (`CLIPConverter`) builds it.
 */
export class ClipPromptTokenizer {
  private constructor(
    private readonly tokenizer: Tokenizer,
    private readonly bos: number,
    private readonly eos: number,
    private readonly pad: number,
  ) {}

  static async load(files: ClipTokenizerFiles): Promise<ClipPromptTokenizer> {
    const [vocabText, merges, configText] = await Promise.all([
      readFile(files.vocab, 'utf8'),
      readFile(files.merges, 'utf8'),
      readFile(files.config, 'utf8'),
    ]);
    return ClipPromptTokenizer.fromFiles(
      JSON.parse(vocabText) as Record<string, number>,
      merges,
      JSON.parse(configText) as Record<string, unknown>,
    );
  }

  static fromFiles(vocab: Record<string, number>, mergesText: string, config: Record<string, unknown>) {
    const token = (key: string, fallback: string) => {
      const value = config[key];
      const text =
        typeof value === 'string' ? value : ((value as { content?: string } | undefined)?.content ?? fallback);
      const id = vocab[text];
      if (id === undefined) throw new Error(`tokenizer: ${key} ${JSON.stringify(text)} is not in the vocabulary`);
      return { text, id };
    };
    const bos = token('bos_token', '<|startoftext|>');
    const eos = token('eos_token', '<|endoftext|>');
    const unk = token('unk_token', '<|endoftext|>');
    const pad = token('pad_token', '<|endoftext|>');
    const merges = mergesText.split('\n').filter((line, i) => line.trim() && !(i === 0 && line.startsWith('#version')));
    const special = (t: { text: string; id: number }) => ({
      id: t.id,
      content: t.text,
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: true,
      special: true,
    });
    const definition = {
      version: '1.0',
      truncation: null,
      padding: null,
      added_tokens: [special(bos), ...(eos.id === bos.id ? [] : [special(eos)])],
      normalizer: {
        type: 'Sequence',
        normalizers: [
          { type: 'NFC' },
          { type: 'Replace', pattern: { Regex: '\\s+' }, content: ' ' },
          { type: 'Lowercase' },
        ],
      },
      pre_tokenizer: {
        type: 'Sequence',
        pretokenizers: [
          {
            type: 'Split',
            pattern: { Regex: "'s|'t|'re|'ve|'m|'ll|'d|[\\p{L}]+|[\\p{N}]|[^\\s\\p{L}\\p{N}]+" },
            behavior: 'Removed',
            invert: true,
          },
          { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false },
        ],
      },
      post_processor: null,
      decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
      model: {
        type: 'BPE',
        dropout: null,
        unk_token: unk.text,
        continuing_subword_prefix: '',
        end_of_word_suffix: '</w>',
        fuse_unk: false,
        byte_fallback: false,
        vocab,
        merges,
      },
    };
    return new ClipPromptTokenizer(new Tokenizer(definition, {}), bos.id, eos.id, pad.id);
  }

  /**
   * The text encoder's input for a prompt, as diffusers tokenises it: start token, at most 75 prompt tokens
   * (longer prompts are cut, as diffusers does), end token, then padding to 77.
   */
  encode(prompt: string): Int32Array {
    const ids = this.tokenizer.encode(prompt, { add_special_tokens: false }).ids.slice(0, PROMPT_TOKENS - 2);
    const out = new Int32Array(PROMPT_TOKENS).fill(this.pad);
    out[0] = this.bos;
    out.set(ids, 1);
    out[ids.length + 1] = this.eos;
    return out;
  }

  /** The prompt's tokens as text (tests and logs). */
  tokens(prompt: string): string[] {
    return this.tokenizer.tokenize(prompt);
  }
}
