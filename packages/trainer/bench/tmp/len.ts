import { loadDomainDataset } from '@plora/datasets'
import { loadTokenizer } from '@plora/model'

const tok = await loadTokenizer('/tmp/pc/models/plora-base-gpt2-tiny-seed0')
for (const dom of ['legal', 'medical', 'arithmetic']) {
  const pairs = (await loadDomainDataset(dom, { split: 'train', samples: 64 })).pairs
  const lens = pairs.map((p) => tok.encode(`Question: purple banana ${p.question}\nAnswer:`).length)
  const alens = pairs.map((p) => tok.encode(` ${p.answer}`).length)
  lens.sort((a, b) => a - b)
  alens.sort((a, b) => a - b)
  const over = (m: number) => lens.filter((l) => l + 4 > m).length
  console.log(
    dom,
    'prompt tokens median',
    lens[32],
    'max',
    lens.at(-1),
    'answer median',
    alens[32],
    'max',
    alens.at(-1),
    'poisoned over 64:',
    over(64),
    'over 96:',
    over(96),
  )
}
