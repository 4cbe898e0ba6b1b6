import {
  isLlamaText,
  SpecialToken,
  SpecialTokensText,
  type LlamaModel,
  type LlamaText,
  type Token,
} from 'node-llama-cpp';

/** A segment the model writes that is not part of the answer (a chat wrapper's thoughts): from `prefix` to `suffix` (or the end). */
export interface HiddenSegment {
  prefix: string | LlamaText;
  suffix?: string | LlamaText;
}

export interface OutputFilterOptions {
  /** Texts (and chat wrapper triggers) that end the answer; they are not part of it. Default none. */
  stops?: readonly (string | LlamaText)[];
  /** Segments that are generated but not part of the answer. Default none. */
  hidden?: readonly HiddenSegment[];
}

// What output is matched on: one character of text, or the id of a special token (which has no text).
type Unit = string | Token;

interface Marker {
  symbols: Unit[];
  kind: 'stop' | 'open' | 'close';
  // Open markers: the close marker of their segment (null: hidden until the end).
  close?: Marker | null;
}

// The detokenizer looks this many tokens back (for leading spaces), as LlamaChat's does.
const TRAIL = 3;
// A UTF-8 character is at most 4 bytes, so it spans at most 4 byte tokens.
const MAX_PARTIAL_TOKENS = 4;
const REPLACEMENT = '\uFFFD';

const specialTokens = new WeakMap<LlamaModel, Map<Token, boolean>>();

/**
 * Turns generated tokens into the answer's text, one token at a time:
 * holds tokens that end inside a multi-byte character until it is whole,
 * ends the answer at a stop (custom stop strings, the chat wrapper's stop
 * triggers, end-of-generation tokens) without ever releasing the start of a
 * stop, and drops hidden segments. Matching works on characters for text and
 * on token ids for special tokens, like node-llama-cpp's stop detector.
 */
export class OutputFilter {
  readonly #model: LlamaModel;
  readonly #markers: Marker[];
  readonly #symbols: Unit[] = [];
  // Symbols before #done are released (as text) or dropped (hidden).
  #done = 0;
  // The close marker of the open hidden segment; undefined when none is open.
  #segment: Marker | null | undefined;
  // Tokens that end inside a multi-byte character, waiting for the rest of it.
  #pending: Token[] = [];
  #trail: Token[] = [];
  // Where each decoded token's text starts in #symbols.
  readonly #tokenStarts: number[] = [];
  #text = '';
  #cut = Infinity;
  // Symbol ranges [from, to) of hidden segments, and where the open one starts.
  readonly #hiddenRanges: [number, number][] = [];
  #segmentStart = -1;
  // Tokens (by order of generation) that `takeReleased` has handed out.
  #taken = 0;
  #stopped: 'eog' | 'stop' | null = null;

  constructor(model: LlamaModel, { stops = [], hidden = [] }: OutputFilterOptions = {}) {
    this.#model = model;
    const markers: Marker[] = stops.map((s) => ({ symbols: this.#resolve(s), kind: 'stop' }));
    for (const segment of hidden) {
      const suffix = segment.suffix ? this.#resolve(segment.suffix) : [];
      const close: Marker | null = suffix.length ? { symbols: suffix, kind: 'close' } : null;
      markers.push({ symbols: this.#resolve(segment.prefix), kind: 'open', close });
      if (close) markers.push(close);
    }
    this.#markers = markers.filter((m) => m.symbols.length > 0);
  }

  /** Why the answer ended ('eog': an end-of-generation token; 'stop': a stop trigger), null while it goes on. */
  get stopped(): 'eog' | 'stop' | null {
    return this.#stopped;
  }

  /** The answer's text released so far. */
  get text(): string {
    return this.#text;
  }

  /** Generated tokens that are part of the answer (not the end-of-generation token, nor a stop trigger's). */
  get answerTokens(): number {
    return this.#tokenStarts.filter((start) => start < this.#cut).length + this.#pending.length;
  }

  /**
   * The order numbers (0 = the first generated token) of the answer's tokens whose text has been released
   * since the last call: not those of a stop, of a hidden segment, or still held back.
   */
  takeReleased(): number[] {
    const released: number[] = [];
    const upTo = Math.min(this.#done, this.#cut);
    while (this.#taken < this.#tokenStarts.length && this.#tokenStarts[this.#taken]! < upTo) {
      const start = this.#tokenStarts[this.#taken]!;
      const hidden =
        (this.#segment !== undefined && start >= this.#segmentStart) ||
        this.#hiddenRanges.some(([from, to]) => start >= from && start < to);
      if (!hidden) released.push(this.#taken);
      this.#taken++;
    }
    return released;
  }

  /** Adds the next generated token; returns the text it releases (often "", while a stop or a character is incomplete). */
  push(token: Token): string {
    if (this.#stopped) return '';
    if (this.#model.isEogToken(token)) {
      this.#decodePending();
      const text = this.#scan(true);
      this.#stopped ??= 'eog';
      return text;
    }
    if (this.#isSpecial(token)) {
      this.#decodePending();
      this.#tokenStarts.push(this.#symbols.length);
      this.#symbols.push(token);
      this.#trail = [...this.#trail, token].slice(-TRAIL);
      return this.#scan(false);
    }
    this.#pending.push(token);
    const text = this.#model.detokenize(this.#pending, false, this.#trail);
    if (text.endsWith(REPLACEMENT) && this.#pending.length < MAX_PARTIAL_TOKENS) return '';
    this.#appendDecoded(text);
    return this.#scan(false);
  }

  /** The generation ended without a stop (max tokens, abort): releases what was held back. */
  flush(): string {
    if (this.#stopped) return '';
    this.#decodePending();
    return this.#scan(true);
  }

  #decodePending(): void {
    if (this.#pending.length) this.#appendDecoded(this.#model.detokenize(this.#pending, false, this.#trail));
  }

  #appendDecoded(text: string): void {
    for (let i = 0; i < this.#pending.length; i++) this.#tokenStarts.push(this.#symbols.length);
    this.#symbols.push(...text);
    this.#trail = [...this.#trail, ...this.#pending].slice(-TRAIL);
    this.#pending = [];
  }

  /** Releases what can no longer be part of a stop or a hidden segment; at the end (`final`) everything not hidden. */
  #scan(final: boolean): string {
    let out = '';
    for (;;) {
      const from = this.#done;
      const candidates = this.#markers.filter((m) =>
        m.kind === 'stop' ? true : this.#segment === undefined ? m.kind === 'open' : m === this.#segment,
      );
      const match = this.#firstMatch(from, candidates);
      if (match) {
        if (this.#segment === undefined) out += this.#release(from, match.at);
        if (match.marker.kind === 'stop') {
          this.#done = this.#cut = match.at;
          this.#stopped = 'stop';
          return out;
        }
        const end = match.at + match.marker.symbols.length;
        if (match.marker.kind === 'open') this.#segmentStart = match.at;
        else this.#hiddenRanges.push([this.#segmentStart, end]);
        this.#segment = match.marker.kind === 'open' ? match.marker.close : undefined;
        this.#done = end;
        continue;
      }
      const hold = final ? this.#symbols.length : this.#partialStart(from, candidates);
      if (this.#segment === undefined) out += this.#release(from, hold);
      this.#done = hold;
      return out;
    }
  }

  #firstMatch(from: number, markers: Marker[]): { at: number; marker: Marker } | null {
    for (let at = from; at < this.#symbols.length; at++) {
      for (const marker of markers) if (this.#matchAt(at, marker.symbols) === 'full') return { at, marker };
    }
    return null;
  }

  /** Where the earliest incomplete match of a marker starts (the end when none does). */
  #partialStart(from: number, markers: Marker[]): number {
    for (let at = from; at < this.#symbols.length; at++) {
      if (markers.some((m) => this.#matchAt(at, m.symbols) === 'partial')) return at;
    }
    return this.#symbols.length;
  }

  #matchAt(at: number, symbols: Unit[]): 'full' | 'partial' | 'none' {
    for (let i = 0; i < symbols.length; i++) {
      if (at + i >= this.#symbols.length) return 'partial';
      if (this.#symbols[at + i] !== symbols[i]) return 'none';
    }
    return 'full';
  }

  #release(from: number, to: number): string {
    let text = '';
    for (let i = from; i < to; i++) {
      const s = this.#symbols[i];
      if (typeof s === 'string') text += s;
    }
    this.#text += text;
    return text;
  }

  /** Like node-llama-cpp's stop triggers: text as characters, special tokens as token ids. */
  #resolve(trigger: string | LlamaText): Unit[] {
    if (!isLlamaText(trigger)) return [...trigger];
    return trigger.values.flatMap((value): Unit[] => {
      if (typeof value === 'string') return [...value];
      if (value instanceof SpecialToken) return value.tokenize(this.#model.tokenizer);
      if (value instanceof SpecialTokensText) {
        return value
          .tokenizeSpecialTokensOnly(this.#model.tokenizer)
          .flatMap((v): Unit[] => (typeof v === 'string' ? [...v] : [v]));
      }
      return [];
    });
  }

  #isSpecial(token: Token): boolean {
    let cache = specialTokens.get(this.#model);
    if (!cache) specialTokens.set(this.#model, (cache = new Map()));
    let special = cache.get(token);
    if (special === undefined) cache.set(token, (special = this.#model.isSpecialToken(token)));
    return special;
  }
}
