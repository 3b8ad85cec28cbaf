/**
 * Issue 15 point 15: every library default shown in `--help` is the library's exported `DEFAULT_*`
 * value, not a literal restated in the CLI.
 */
import { DEFAULT_POLICY } from '@plora/gate'
import { DEFAULT_DEV_CERTIFICATES_OPTIONS, DEFAULT_FETCH_OPTIONS, DEFAULT_OFFER_SERVER_INIT } from '@plora/grpc'
import { DEFAULT_NET_IT_OPTIONS } from '@plora/it-estimators'
import { DEFAULT_MERGE_PLAN_OPTIONS } from '@plora/loader'
import { DEFAULT_SWARM_V2_OPTIONS, DEFAULT_SWEEP_OPTIONS } from '@plora/swarm'
import type { Command } from 'commander'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { resolveLibraryDefaults } from '../../src/flags.js'
import { createProgram, main } from '../../src/index.js'

/** The help description of each option of `plora <path>` after its library defaults loaded. */
async function helpOf(...path: string[]): Promise<(flag: string) => string> {
  let cmd: Command = createProgram()
  for (const name of path) cmd = cmd.commands.find((c) => c.name() === name)!
  await resolveLibraryDefaults(cmd)
  const help = cmd.createHelp()
  return (flag) => {
    const o = cmd.options.find((x) => x.long === flag)
    if (!o) throw new Error(`no ${flag} on ${path.join(' ')}`)
    return help.optionDescription(o)
  }
}

const MIB = 1024 * 1024

describe('--help defaults come from the libraries', () => {
  afterEach(() => vi.restoreAllMocks())

  it('offer, fetch, certs: @plora/grpc', async () => {
    const offer = await helpOf('offer')
    expect(offer('--port')).toMatch(new RegExp(`\\(default: ${DEFAULT_OFFER_SERVER_INIT.port}\\)$`))
    expect(offer('--host')).toContain(`(default: "${DEFAULT_OFFER_SERVER_INIT.host}")`)
    expect(offer('--max-msg-mb')).toContain(`(default: ${DEFAULT_OFFER_SERVER_INIT.maxMsgMb})`)
    expect(offer('--max-concurrent')).toContain(`(default: ${DEFAULT_OFFER_SERVER_INIT.maxConcurrent})`)
    const fetch = await helpOf('fetch')
    expect(fetch('--timeout')).toContain(`(default: ${DEFAULT_FETCH_OPTIONS.timeoutMs / 1000})`)
    expect(fetch('--max-payload-mb')).toContain(`(default: ${DEFAULT_FETCH_OPTIONS.maxPayloadBytes / MIB})`)
    expect(fetch('--retries')).toContain(`(default: ${DEFAULT_FETCH_OPTIONS.retries})`)
    expect(fetch('--protocol')).toContain(`default: "${DEFAULT_FETCH_OPTIONS.protocol}"`)
    const certs = await helpOf('certs')
    expect(certs('--days')).toContain(`(default: ${DEFAULT_DEV_CERTIFICATES_OPTIONS.days})`)
    expect(certs('--host')).toContain(`(default: ${DEFAULT_DEV_CERTIFICATES_OPTIONS.hosts.join(',')})`)
  })

  it('merge: @plora/loader (method parameters)', async () => {
    const h = await helpOf('merge')
    expect(h('--density')).toContain(`(default: ${DEFAULT_MERGE_PLAN_OPTIONS.density})`)
    expect(h('--drop-rate')).toContain(`(default: ${DEFAULT_MERGE_PLAN_OPTIONS.dropRate})`)
    expect(h('--seed')).toContain(`(default: ${DEFAULT_MERGE_PLAN_OPTIONS.seed})`)
    expect(h('--strategy')).toContain(`default: "${DEFAULT_MERGE_PLAN_OPTIONS.strategy}"`)
  })

  it('net-it: @plora/it-estimators', async () => {
    const h = await helpOf('net-it')
    expect(h('--boot')).toContain(`(default: ${DEFAULT_NET_IT_OPTIONS.nBoot})`)
    expect(h('--perm')).toContain(`(default: ${DEFAULT_NET_IT_OPTIONS.nPerm})`)
    expect(h('--alpha')).toContain(`(default: ${DEFAULT_NET_IT_OPTIONS.alpha})`)
    expect(h('--seed')).toContain(`(default: ${DEFAULT_NET_IT_OPTIONS.seed})`)
  })

  it('swarm v2 and sweep: @plora/swarm', async () => {
    const v2 = await helpOf('swarm', 'v2')
    expect(v2('--agents')).toContain(`(default: ${DEFAULT_SWARM_V2_OPTIONS.agents})`)
    expect(v2('--rounds')).toContain(`(default: ${DEFAULT_SWARM_V2_OPTIONS.rounds})`)
    expect(v2('--synthetic-variants')).toContain(`(default: ${DEFAULT_SWARM_V2_OPTIONS.syntheticVariants})`)
    expect(v2('--domains')).toContain(`(default: ${DEFAULT_SWARM_V2_OPTIONS.domains.join(',')})`)
    expect(v2('--estimate-size')).toContain(`(default: ${DEFAULT_SWARM_V2_OPTIONS.estimateSize ? 'on' : 'off'})`)
    const sweep = await helpOf('sweep')
    expect(sweep('--ns')).toContain(`(default: ${DEFAULT_SWEEP_OPTIONS.ns.join(',')})`)
    expect(sweep('--trojan-rates')).toContain(`(default: ${DEFAULT_SWEEP_OPTIONS.trojanRates.join(',')})`)
    expect(sweep('--rounds')).toContain(`(default: ${DEFAULT_SWEEP_OPTIONS.rounds})`)
  })

  it('policy flags: DEFAULT_POLICY thresholds', async () => {
    const h = await helpOf('dump-policy')
    expect(h('--tau-trigger')).toContain(`else ${DEFAULT_POLICY.tau_trigger})`)
    expect(h('--tau-norm-z')).toContain(`(default: ${DEFAULT_POLICY.tau_norm_z})`)
    expect(h('--tau-clean-delta')).toContain(`else ${DEFAULT_POLICY.tau_clean_delta})`)
  })

  it('the values parsed without the flag are the same defaults, and `--help` through main shows them', async () => {
    const out = vi.spyOn(process.stdout, 'write').mockImplementation(() => true)
    expect(await main(['node', 'plora', 'offer', '--help'])).toBe(0)
    expect(out.mock.calls.join('').replace(/\s+/g, ' ')).toContain(`(default: ${DEFAULT_OFFER_SERVER_INIT.port})`)
    out.mockClear()
    expect(await main(['node', 'plora', 'swarm', 'v2', '--print-config'])).toBe(0)
    const shown = JSON.parse(out.mock.calls.join(''))
    expect(shown).toMatchObject({
      agents: DEFAULT_SWARM_V2_OPTIONS.agents,
      rounds: DEFAULT_SWARM_V2_OPTIONS.rounds,
      seed: DEFAULT_SWARM_V2_OPTIONS.seed,
      earlyStop: DEFAULT_SWARM_V2_OPTIONS.earlyStop,
      syntheticVariants: DEFAULT_SWARM_V2_OPTIONS.syntheticVariants,
      domains: [...DEFAULT_SWARM_V2_OPTIONS.domains],
    })
  })
})
