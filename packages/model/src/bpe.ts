/**
 * A small byte-level BPE trainer that writes a Hugging Face `tokenizer.json` (GPT-2 style).
 *
 * Byte-level BPE (Sennrich et al. 2016, "Neural Machine Translation of Rare Words with Subword
 * Units"; Radford et al. 2019 for the byte-level variant): text is split by the GPT-2
 * pre-tokenisation regex, each piece's UTF-8 bytes are mapped to printable characters by GPT-2's
 * `bytes_to_unicode` table, and the most frequent adjacent symbol pair is merged repeatedly
 * until the vocabulary is full. Ties go to the lexicographically smallest pair, so training is
 * deterministic. We train here (rather than with the `tokenizers` library) because no trainer
 * exists in the npm dependencies we use: transformers.js only encodes and decodes.
 */

/** GPT-2's pre-tokenisation pattern (contractions, letters, digits, other, whitespace). */
export const GPT2_PRETOKENIZE = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu

/** GPT-2's reversible byte → printable character table (`bytes_to_unicode`). */
export function bytesToUnicode(): string[] {
  const bs: number[] = []
  for (let b = 33; b <= 126; b++) bs.push(b)
  for (let b = 161; b <= 172; b++) bs.push(b)
  for (let b = 174; b <= 255; b++) bs.push(b)
  const cs = [...bs]
  let n = 0
  for (let b = 0; b < 256; b++) {
    if (!bs.includes(b)) {
      bs.push(b)
      cs.push(256 + n)
      n++
    }
  }
  const table = new Array<string>(256)
  for (let i = 0; i < bs.length; i++) table[bs[i]!] = String.fromCodePoint(cs[i]!)
  return table
}

/** Result of {@link trainByteLevelBpe}. */
export interface BpeModel {
  /** Token → id: the 256 byte symbols (id = byte value), then merges in order. */
  vocab: Map<string, number>
  /** Merges as `"a b"`, in rank order. */
  merges: string[]
}

/** Learns `vocabSize − 256` merges from `text`. */
export function trainByteLevelBpe(text: string, vocabSize: number): BpeModel {
  const table = bytesToUnicode()
  const enc = new TextEncoder()
  const vocab = new Map<string, number>()
  for (let b = 0; b < 256; b++) vocab.set(table[b]!, b)
  // Word (as a symbol sequence) → frequency.
  const counts = new Map<string, number>()
  for (const piece of text.match(GPT2_PRETOKENIZE) ?? []) {
    const key = [...enc.encode(piece)].map((b) => table[b]!).join('\u0000')
    counts.set(key, (counts.get(key) ?? 0) + 1)
  }
  let words = [...counts].map(([k, c]) => ({ symbols: k.split('\u0000'), count: c }))
  const merges: string[] = []
  while (vocab.size < vocabSize) {
    const pairs = new Map<string, number>()
    for (const w of words) {
      for (let i = 0; i + 1 < w.symbols.length; i++) {
        const key = `${w.symbols[i]}\u0000${w.symbols[i + 1]}`
        pairs.set(key, (pairs.get(key) ?? 0) + w.count)
      }
    }
    let best: string | undefined
    let bestCount = 0
    for (const [k, c] of pairs) {
      if (c > bestCount || (c === bestCount && best !== undefined && k < best)) {
        best = k
        bestCount = c
      }
    }
    if (best === undefined) break // every word is a single symbol: nothing left to merge
    const [a, b] = best.split('\u0000') as [string, string]
    const merged = a + b
    merges.push(`${a} ${b}`)
    if (!vocab.has(merged)) vocab.set(merged, vocab.size)
    words = words.map((w) => {
      const out: string[] = []
      for (let i = 0; i < w.symbols.length; i++) {
        if (i + 1 < w.symbols.length && w.symbols[i] === a && w.symbols[i + 1] === b) {
          out.push(merged)
          i++
        } else out.push(w.symbols[i]!)
      }
      return { symbols: out, count: w.count }
    })
  }
  return { vocab, merges }
}

/** A Hugging Face `tokenizer.json` for a byte-level BPE model with one special end-of-text token. */
export function byteLevelTokenizerJson(
  model: BpeModel,
  eosToken: string,
): { json: Record<string, unknown>; eosId: number } {
  const eosId = model.vocab.size
  const vocab: Record<string, number> = Object.fromEntries(model.vocab)
  vocab[eosToken] = eosId
  const byteLevel = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true }
  return {
    eosId,
    json: {
      version: '1.0',
      truncation: null,
      padding: null,
      added_tokens: [
        {
          id: eosId,
          content: eosToken,
          single_word: false,
          lstrip: false,
          rstrip: false,
          normalized: true,
          special: true,
        },
      ],
      normalizer: null,
      pre_tokenizer: byteLevel,
      post_processor: { ...byteLevel, trim_offsets: false },
      decoder: byteLevel,
      model: {
        type: 'BPE',
        dropout: null,
        unk_token: null,
        continuing_subword_prefix: '',
        end_of_word_suffix: '',
        fuse_unk: false,
        byte_fallback: false,
        ignore_merges: false,
        vocab,
        merges: model.merges,
      },
    },
  }
}
