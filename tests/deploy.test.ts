/**
 * Issue 23 item 3: the cluster manifests and scripts under deploy/, checked without a cluster.
 * Every Kubernetes object is validated against the Kubernetes OpenAPI schema (kubernetes-models),
 * then the references between them are checked (labels, ports, volumes, Secret keys, the
 * Service's DNS name); the Job's and the Slurm scripts' shell runs with a stub `plora` that records
 * its argv, and every recorded command line is parsed by the real `plora` program (actions
 * replaced by no-ops), so an unknown flag or a bad value fails here, not on the cluster.
 */
import { spawnSync } from 'node:child_process'
import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { basename, dirname, join, relative, resolve } from 'node:path'
import { createProgram } from '@plora/cli'
import { StatefulSet } from 'kubernetes-models/apps/v1'
import { Job } from 'kubernetes-models/batch/v1'
import { PersistentVolumeClaim, Service } from 'kubernetes-models/v1'
import { afterAll, describe, expect, it } from 'vitest'
import { parseAllDocuments } from 'yaml'

const REPO = resolve(import.meta.dirname, '..')
const DEPLOY = join(REPO, 'deploy')
const K8S = join(DEPLOY, 'k8s')
const IMAGE = 'ghcr.io/OWNER/plora:VERSION'

// biome-ignore lint/suspicious/noExplicitAny: manifests are untyped YAML; the schema check types them
type Obj = any
type Command = ReturnType<typeof createProgram>

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name)
    return statSync(path).isDirectory() ? walk(path) : [path]
  })
}

// ---- the manifests -----------------------------------------------------------------------------

/** Every YAML document under deploy/k8s, read as kubectl does (YAML 1.1: `0440` is octal, `on` a boolean). */
const DOCS = walk(K8S)
  .filter((f) => f.endsWith('.yaml'))
  .flatMap((file) =>
    parseAllDocuments(readFileSync(file, 'utf8'), { version: '1.1' }).map((doc, i) => {
      if (doc.errors.length > 0) throw new Error(`${relative(REPO, file)} document ${i}: ${doc.errors[0]?.message}`)
      return { file: relative(REPO, file), obj: doc.toJS() as Obj }
    }),
  )
const KUSTOMIZATIONS = DOCS.filter((d) => d.obj.kind === 'Kustomization')
const OBJECTS = DOCS.filter((d) => d.obj.kind !== 'Kustomization')

const MODELS: Record<string, new (data: never) => { validate(): void }> = {
  'batch/v1 Job': Job,
  'apps/v1 StatefulSet': StatefulSet,
  'v1 Service': Service,
  'v1 PersistentVolumeClaim': PersistentVolumeClaim,
}

function validate(obj: Obj): void {
  const Model = MODELS[`${obj.apiVersion} ${obj.kind}`]
  if (!Model) throw new Error(`no schema for ${obj.apiVersion} ${obj.kind}`)
  new Model(obj as never).validate()
}

function one(kind: string, name: string): Obj {
  const found = OBJECTS.filter((d) => d.obj.kind === kind && d.obj.metadata?.name === name)
  expect(
    found.map((d) => d.file),
    `${kind} ${name}`,
  ).toHaveLength(1)
  return found[0]?.obj
}

const SHARDS = one('Job', 'plora-shards')
const MERGE = one('Job', 'plora-merge')
const PVC = one('PersistentVolumeClaim', 'plora-results')
const SVC = one('Service', 'plora-node')
const STS = one('StatefulSet', 'plora-node')
const README = readFileSync(join(DEPLOY, 'README.md'), 'utf8')

/** The pod specs of the workloads, with the volume names their mounts may use. */
const PODS = OBJECTS.filter((d) => d.obj.spec?.template?.spec).map((d) => ({
  name: `${d.obj.kind} ${d.obj.metadata.name}`,
  spec: d.obj.spec.template.spec as Obj,
  claimTemplates: ((d.obj.spec.volumeClaimTemplates ?? []) as Obj[]).map((t) => t.metadata.name as string),
}))

function container(obj: Obj): Obj {
  expect(obj.spec.template.spec.containers).toHaveLength(1)
  return obj.spec.template.spec.containers[0]
}

function envValue(c: Obj, name: string): Obj {
  return (c.env as Obj[]).find((e) => e.name === name)
}

/** The value of `--name` in an argv (`--name=v` or `--name v`); undefined when absent. */
function flag(argv: readonly string[], name: string): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string
    if (a === name) return argv[i + 1]
    if (a.startsWith(`${name}=`)) return a.slice(name.length + 1)
  }
  return undefined
}

/** The container port a probe or Service target names (by name or number). */
function containerPort(c: Obj, ref: string | number): number | undefined {
  const p = (c.ports as Obj[]).find((x) => x.name === ref || x.containerPort === ref)
  return p?.containerPort
}

describe('deploy/k8s manifests', () => {
  it('every object is valid against the Kubernetes OpenAPI schema', () => {
    expect(OBJECTS.length).toBeGreaterThanOrEqual(5)
    for (const { file, obj } of OBJECTS) expect(() => validate(obj), file).not.toThrow()
  })

  it('the schema check does reject a broken object (so the test above means something)', () => {
    const broken = structuredClone(SHARDS)
    broken.spec.completions = 'four'
    expect(() => validate(broken)).toThrow(/completions/)
    const noTemplate = structuredClone(STS)
    delete noTemplate.spec.template
    expect(() => validate(noTemplate)).toThrow(/template/)
    // YAML 1.1 reads an unquoted `on` as a boolean, which is no valid argument
    const [doc] = parseAllDocuments('args: [--resume, on]', { version: '1.1' })
    const args = structuredClone(SHARDS)
    container(args).args = doc?.toJS().args
    expect(() => validate(args)).toThrow(/args/)
  })

  it('each folder is a kustomization listing exactly its manifests', () => {
    const dirs = new Set(OBJECTS.map((d) => dirname(d.file)))
    expect(KUSTOMIZATIONS.map((k) => dirname(k.file)).sort()).toEqual([...dirs].sort())
    for (const k of KUSTOMIZATIONS) {
      const here = DOCS.filter((d) => dirname(d.file) === dirname(k.file) && d.obj.kind !== 'Kustomization')
      expect([...k.obj.resources].sort(), k.file).toEqual([...new Set(here.map((d) => basename(d.file)))].sort())
    }
  })

  it('every workload runs the documented placeholder image, and mounts only volumes it declares (and uses all it declares)', () => {
    expect(README).toContain(IMAGE)
    expect(PODS.length).toBe(3)
    for (const pod of PODS) {
      const declared = [...((pod.spec.volumes ?? []) as Obj[]).map((v) => v.name as string), ...pod.claimTemplates]
      expect(new Set(declared).size, pod.name).toBe(declared.length)
      const mounted = (pod.spec.containers as Obj[]).flatMap((c) => (c.volumeMounts as Obj[]).map((m) => m.name))
      for (const m of mounted) expect(declared, `${pod.name} mounts ${m}`).toContain(m)
      for (const v of declared) expect(mounted, `${pod.name} declares ${v}`).toContain(v)
      for (const c of pod.spec.containers as Obj[]) expect(c.image, pod.name).toBe(IMAGE)
    }
  })

  it('every Secret and ConfigMap a pod reads is created in the README with the keys the pod expects', () => {
    const volumes = PODS.flatMap((p) => (p.spec.volumes ?? []) as Obj[])
    const refs = volumes.flatMap((v) =>
      v.secret
        ? [{ cmd: `secret generic ${v.secret.secretName}`, items: v.secret.items as Obj[] | undefined }]
        : v.configMap
          ? [{ cmd: `configmap ${v.configMap.name}`, items: v.configMap.items as Obj[] | undefined }]
          : [],
    )
    expect(refs.length).toBe(3)
    for (const { cmd, items } of refs) {
      const line = README.split('\n').find((l) => l.trim().startsWith(`kubectl create ${cmd} `))
      expect(line, `README: kubectl create ${cmd}`).toBeDefined()
      const keys = [...(line as string).matchAll(/--from-file=([^=\s]+)=/g)].map((m) => m[1])
      for (const item of items ?? []) expect(keys, `${cmd} key ${item.key}`).toContain(item.key)
    }
  })

  it('the shard Job is Indexed, N = completions = SHARDS, and PLORA_WORKERS follows its whole-CPU request', () => {
    expect(SHARDS.spec.completionMode).toBe('Indexed')
    const c = container(SHARDS)
    expect(SHARDS.spec.completions).toBe(Number(envValue(c, 'SHARDS').value))
    expect(SHARDS.spec.parallelism).toBeGreaterThanOrEqual(1)
    expect(SHARDS.spec.parallelism).toBeLessThanOrEqual(SHARDS.spec.completions)
    expect(SHARDS.spec.template.spec.restartPolicy).toBe('Never')
    expect(envValue(c, 'PLORA_WORKERS').valueFrom.resourceFieldRef).toEqual({
      containerName: c.name,
      resource: 'requests.cpu',
      divisor: '1',
    })
    // a fractional request would be rounded up: keep it whole
    expect(String(c.resources.requests.cpu)).toMatch(/^[1-9]\d*$/)
  })

  it('the merge Job runs once, with the shard Job’s GRID, SHARDS, args and results volume', () => {
    expect(MERGE.spec.completionMode ?? 'NonIndexed').toBe('NonIndexed')
    expect(MERGE.spec.completions ?? 1).toBe(1)
    const [s, m] = [container(SHARDS), container(MERGE)]
    for (const name of ['GRID', 'SHARDS', 'RESULTS']) expect(envValue(m, name), name).toEqual(envValue(s, name))
    expect(m.args).toEqual(s.args)
    for (const job of [SHARDS, MERGE]) {
      const vol = (job.spec.template.spec.volumes as Obj[]).find((v) => v.persistentVolumeClaim)
      expect(vol.persistentVolumeClaim.claimName).toBe(PVC.metadata.name)
      const mount = (container(job).volumeMounts as Obj[]).find((x) => x.name === vol.name)
      expect(mount.mountPath).toBe(envValue(container(job), 'RESULTS').value)
    }
    // the shards write at the same time from several nodes
    expect(PVC.spec.accessModes).toContain('ReadWriteMany')
  })

  describe('plora node StatefulSet and its headless Service', () => {
    const c = container(STS)
    const argv: string[] = [...c.command.slice(1), ...c.args]

    it('the Service is headless, publishes not-ready pods and selects the StatefulSet’s pods', () => {
      expect(SVC.spec.clusterIP).toBe('None')
      expect(SVC.spec.publishNotReadyAddresses).toBe(true)
      expect(STS.spec.serviceName).toBe(SVC.metadata.name)
      expect(STS.spec.podManagementPolicy).toBe('Parallel')
      const labels = STS.spec.template.metadata.labels
      expect(labels).toMatchObject(STS.spec.selector.matchLabels)
      expect(labels).toMatchObject(SVC.spec.selector)
      expect(Object.keys(SVC.spec.selector).length).toBeGreaterThan(0)
    })

    it('the node listens on the port the Service exposes, the probe checks and the peers dial', () => {
      expect(c.command.slice(0, 2)).toEqual(['plora', 'node'])
      const listen = flag(argv, '--listen') as string
      const port = Number(listen.split(':').at(-1))
      expect(SVC.spec.ports).toHaveLength(1)
      const [svcPort] = SVC.spec.ports
      expect(containerPort(c, svcPort.targetPort)).toBe(port)
      expect(svcPort.port).toBe(port)
      expect(containerPort(c, c.readinessProbe.tcpSocket.port)).toBe(port)
      // the headless Service's DNS name resolves to every pod; its port is the pods' own
      const peers = flag(argv, '--peers-dns') as string
      expect(peers).toBe(`${SVC.metadata.name}.$(POD_NAMESPACE).svc.cluster.local:${port}`)
      expect(envValue(c, 'POD_NAMESPACE').valueFrom.fieldRef.fieldPath).toBe('metadata.namespace')
      // the agent id comes from the pod's ordinal ($HOSTNAME), so no --id
      expect(flag(argv, '--id')).toBeUndefined()
    })

    it('every path the node is given lies in the volume that holds it (TLS files are the Secret’s keys)', () => {
      const mounts = c.volumeMounts as Obj[]
      const volumes = [
        ...(STS.spec.template.spec.volumes as Obj[]),
        ...(STS.spec.volumeClaimTemplates as Obj[]).map((t) => ({ name: t.metadata.name, claim: true })),
      ]
      /** The volume and the file within it that a path names. */
      const locate = (path: string) => {
        const m = mounts.find((x) => path === x.mountPath || path.startsWith(`${x.mountPath}/`))
        expect(m, path).toBeDefined()
        return { volume: volumes.find((v) => v.name === m.name), file: path.slice(m.mountPath.length + 1) }
      }
      const tls = ['--tls-cert', '--tls-key', '--tls-ca'].map((f) => locate(flag(argv, f) as string))
      for (const { volume, file } of tls) {
        expect(volume.secret?.secretName).toBe('plora-node-tls')
        const item = (volume.secret.items as Obj[]).find((i) => i.path === file)
        expect(item, file).toBeDefined()
      }
      expect(tls.map((t) => t.file)).toEqual(['tls.crt', 'tls.key', 'ca.crt'])
      // mode 0440 (read by fsGroup), which YAML 1.1 reads as octal
      expect(tls[0]?.volume.secret.defaultMode).toBe(0o440)
      const policy = locate(flag(argv, '--policy') as string)
      expect((policy.volume.configMap.items as Obj[]).map((i) => i.path)).toContain(policy.file)
      const keys = locate(flag(argv, '--trusted-keys') as string)
      expect(keys.volume.configMap?.name).toBe('plora-trusted-keys')
      expect(keys.file).toBe('')
      for (const f of ['--root', '--report']) expect(locate(flag(argv, f) as string).volume.claim, f).toBe(true)
    })
  })
})

// ---- the shell: the Job's wrapper and the Slurm scripts with a stub plora ----------------------

const SANDBOX = mkdtempSync(join(tmpdir(), 'plora-deploy-'))
const BIN = join(SANDBOX, 'bin')
const LOG = join(SANDBOX, 'argv')
mkdirSync(BIN)
writeFileSync(join(BIN, 'plora'), '#!/bin/sh\nprintf \'%s\\0\' "$@" > "$STUB_LOG"\n', { mode: 0o755 })
// sbatch: records each call's argv (calls separated by an empty line) and prints a job id
writeFileSync(
  join(BIN, 'sbatch'),
  '#!/bin/sh\nprintf \'%s\\n\' "$@" "" >> "$STUB_LOG"\nn=$(grep -c \'^$\' "$STUB_LOG")\necho "$((1000 + n));cluster"\n',
  { mode: 0o755 },
)
symlinkSync(join(DEPLOY, 'plora-grid.sh'), join(BIN, 'plora-grid'))
afterAll(() => rmSync(SANDBOX, { recursive: true, force: true }))

interface Run {
  status: number | null
  stderr: string
  /** The argv `plora` was called with; undefined when it was not called. */
  plora: string[] | undefined
}

function run(file: string, args: readonly string[], env: Record<string, string>, cwd = SANDBOX): Run {
  rmSync(LOG, { force: true })
  const r = spawnSync(file, args, {
    cwd,
    env: { PATH: `${BIN}:/usr/bin:/bin`, STUB_LOG: LOG, ...env },
    encoding: 'utf8',
  })
  let plora: string[] | undefined
  try {
    plora = readFileSync(LOG, 'utf8').split('\0').slice(0, -1)
  } catch {
    plora = undefined
  }
  return { status: r.status, stderr: r.stderr, plora }
}

const GRIDS = ['sweep', 'value-add', 'ablation', 'gate-population'] as const
type Grid = (typeof GRIDS)[number]
/** Grid flags each grid accepts today (the Job's own args are the sweep's). */
const GRID_FLAGS: Record<Grid, string[]> = {
  sweep: ['--ns', '20,40', '--seeds', '1,2,3'],
  'value-add': ['--seeds', '1,2'],
  ablation: ['--ranks', '4,8'],
  'gate-population': [],
}

/** Every distinct `plora` command line the scripts produce, per grid; checked against the CLI at the end. */
const INVOCATIONS = new Map<Grid, Map<string, string[]>>(GRIDS.map((g) => [g, new Map()]))
function record(grid: Grid, r: Run): string[] {
  expect(r.stderr).toBe('')
  expect(r.status).toBe(0)
  expect(r.plora).toBeDefined()
  const argv = r.plora as string[]
  INVOCATIONS.get(grid)?.set(argv.join(' '), argv)
  return argv
}

/** What shard i of n of a grid must run (the shapes of issue 23), results under `r`. */
function expectedShard(grid: Grid, i: number, n: number, r: string, workers: string, flags: string[]): string[] {
  switch (grid) {
    case 'sweep':
      return ['sweep', '--shard', `${i}/${n}`, '--out', `${r}/sweep_shard_${i}.jsonl`, '--workers', workers, ...flags]
    case 'value-add':
      return ['value-add', 'run', '--shard', `${i}/${n}`, '--output', `${r}/value_add_shard_${i}`, ...flags]
    case 'ablation':
      return ['ablation', '--shard', `${i}/${n}`, '--out', `${r}/ablation_shard_${i}`, ...flags]
    case 'gate-population':
      return [
        ...['probes', 'population', '--shard', `${i}/${n}`],
        ...['--population-dir', `${r}/gate_study/population_shard_${i}`, ...flags],
      ]
  }
}

function expectedMerge(grid: Grid, n: number, r: string, flags: string[]): string[] {
  const all = (f: (i: number) => string) => Array.from({ length: n }, (_, k) => f(k + 1))
  switch (grid) {
    case 'sweep':
      return ['sweep', 'merge', ...all((i) => `${r}/sweep_shard_${i}.jsonl`), '--out', `${r}/sweep.jsonl`, ...flags]
    case 'value-add':
      return ['value-add', 'merge', ...all((i) => `${r}/value_add_shard_${i}`), '--output', `${r}/value_add`]
    case 'ablation':
      return ['ablation', 'merge', ...all((i) => `${r}/ablation_shard_${i}`), '--out', `${r}/ablation`]
    case 'gate-population':
      return [
        ...['probes', 'population', 'merge', ...all((i) => `${r}/gate_study/population_shard_${i}`)],
        ...['--population-dir', `${r}/gate_study/gate_population`],
      ]
  }
}

/** Runs a Job's container command as the kubelet would (env values; the CPU request resolved). */
function runJob(job: Obj, env: Record<string, string>, args?: string[]): Run {
  const c = container(job)
  const fixed = Object.fromEntries((c.env as Obj[]).filter((e) => 'value' in e).map((e) => [e.name, String(e.value)]))
  const cpu = envValue(c, 'PLORA_WORKERS') ? { PLORA_WORKERS: String(c.resources.requests.cpu) } : {}
  const [file, ...rest] = [...c.command, ...(args ?? c.args ?? [])]
  return run(file, rest, { ...fixed, ...cpu, ...env })
}

describe('deploy shell', () => {
  const scripts = walk(DEPLOY).filter((f) => /\.(sh|sbatch)$/.test(f))

  it('every script parses (bash -n) and stops on errors (set -euo pipefail)', () => {
    expect(scripts.map((f) => relative(DEPLOY, f)).sort()).toEqual([
      'plora-grid.sh',
      'slurm/merge.sbatch',
      'slurm/shards.sbatch',
      'slurm/submit.sh',
    ])
    for (const f of scripts) {
      const r = spawnSync('bash', ['-n', f], { encoding: 'utf8' })
      expect(r.stderr, f).toBe('')
      expect(r.status, f).toBe(0)
      expect(readFileSync(f, 'utf8'), f).toMatch(/^set -euo pipefail$/m)
      expect(statSync(f).mode & 0o111, `${f} is executable`).not.toBe(0)
    }
  })

  describe('Kubernetes: JOB_COMPLETION_INDEX k runs shard k + 1', () => {
    const c = container(SHARDS)
    const n = SHARDS.spec.completions as number
    const workers = String(c.resources.requests.cpu)

    it('the Jobs as shipped run a sweep with its args', () => {
      expect(envValue(c, 'GRID').value).toBe('sweep')
      expect(c.args).toEqual(GRID_FLAGS.sweep)
    })

    for (const grid of GRIDS) {
      it(`${grid}: indices 0 and N-1 → shards 1/N and N/N; the merge Job joins 1…N`, () => {
        const flags = GRID_FLAGS[grid]
        for (const [k, i] of [
          [0, 1],
          [n - 1, n],
        ] as const) {
          const r = runJob(SHARDS, { GRID: grid, JOB_COMPLETION_INDEX: String(k) }, flags)
          expect(record(grid, r)).toEqual(expectedShard(grid, i, n, '/results', workers, flags))
        }
        const m = runJob(MERGE, { GRID: grid }, flags)
        expect(record(grid, m)).toEqual(expectedMerge(grid, n, '/results', grid === 'sweep' ? flags : []))
      })
    }

    it('refuses to run without an index, past N, or for an unknown grid', () => {
      for (const env of [{}, { JOB_COMPLETION_INDEX: String(n) }, { JOB_COMPLETION_INDEX: '0', GRID: 'swep' }]) {
        const r = runJob(SHARDS, env)
        expect(r.status, JSON.stringify(env)).not.toBe(0)
        expect(r.plora).toBeUndefined()
      }
    })
  })

  describe('Slurm: SLURM_ARRAY_TASK_ID i of --array=1-N runs shard i', () => {
    const submitDir = join(SANDBOX, 'repo')
    const slurm = (i: number, n: number, min = 1, max = n) => ({
      SLURM_ARRAY_TASK_ID: String(i),
      SLURM_ARRAY_TASK_COUNT: String(n),
      SLURM_ARRAY_TASK_MIN: String(min),
      SLURM_ARRAY_TASK_MAX: String(max),
      SLURM_CPUS_PER_TASK: '4',
      SLURM_SUBMIT_DIR: submitDir,
      PLORA_GRID: join(DEPLOY, 'plora-grid.sh'),
    })
    const shards = join(DEPLOY, 'slurm/shards.sbatch')
    const merge = join(DEPLOY, 'slurm/merge.sbatch')
    const r = `${submitDir}/results`

    it('the script’s own #SBATCH --array is of the form 1-N', () => {
      expect(readFileSync(shards, 'utf8')).toMatch(/^#SBATCH --array=1-[1-9]\d*$/m)
    })

    for (const grid of GRIDS) {
      it(`${grid}: tasks 1 and 5 of 5 → shards 1/5 and 5/5; merge.sbatch joins 1…5`, () => {
        const flags = GRID_FLAGS[grid]
        for (const i of [1, 5]) {
          expect(record(grid, run(shards, [grid, ...flags], slurm(i, 5)))).toEqual(
            expectedShard(grid, i, 5, r, '4', flags),
          )
        }
        const m = run(merge, [grid, '5', ...flags], { SLURM_SUBMIT_DIR: submitDir, PLORA_GRID: slurm(1, 1).PLORA_GRID })
        expect(record(grid, m)).toEqual(expectedMerge(grid, 5, r, grid === 'sweep' ? flags : []))
      })
    }

    it('refuses an array that is not 1-N (0-based, stepped) and a missing grid', () => {
      for (const [env, args] of [
        [slurm(0, 4, 0, 3), ['sweep']],
        [slurm(3, 2, 1, 3), ['sweep']],
        [slurm(1, 4), []],
      ] as const) {
        const x = run(shards, args, env)
        expect(x.status, JSON.stringify(env)).not.toBe(0)
        expect(x.plora).toBeUndefined()
      }
    })

    it('submit.sh queues the array 1-N and the merge afterok on it', () => {
      const cwd = mkdtempSync(join(SANDBOX, 'cwd-'))
      const x = run(join(DEPLOY, 'slurm/submit.sh'), ['ablation', '3', '--ranks', '4,8'], {}, cwd)
      expect(x.stderr).toBe('')
      expect(x.status).toBe(0)
      const calls = readFileSync(LOG, 'utf8')
        .split('\n\n')
        .filter((s) => s.trim() !== '')
        .map((s) => s.split('\n').filter((a) => a !== ''))
      expect(calls).toEqual([
        ['--parsable', '--array=1-3', join(DEPLOY, 'slurm/shards.sbatch'), 'ablation', '--ranks', '4,8'],
        [
          '--parsable',
          '--dependency=afterok:1001',
          join(DEPLOY, 'slurm/merge.sbatch'),
          'ablation',
          '3',
          '--ranks',
          '4,8',
        ],
      ])
      expect(statSync(join(cwd, 'results')).isDirectory()).toBe(true)
    })
  })
})

// ---- every plora command line against the real CLI ---------------------------------------------

/**
 * Parses an argv with the real program, every action a no-op: commander rejects unknown commands
 * and options, missing arguments and values the flag parsers refuse. Returns the error, if any.
 */
async function parseWithCli(argv: readonly string[]): Promise<string | undefined> {
  const program = createProgram()
  const visit = (cmd: Command) => {
    // only commands that run something: a group without an action must still demand a subcommand
    if ((cmd as unknown as { _actionHandler: unknown })._actionHandler) cmd.action(() => undefined)
    cmd.configureOutput({ writeOut: () => undefined, writeErr: () => undefined, outputError: () => undefined })
    for (const sub of cmd.commands) visit(sub)
  }
  visit(program)
  try {
    await program.parseAsync([...argv], { from: 'user' })
    return undefined
  } catch (e) {
    return (e as Error).message
  }
}

describe('every plora invocation in deploy/ is accepted by the CLI', () => {
  // The StatefulSet's command, with $(POD_NAMESPACE) expanded as the kubelet does.
  const node = container(STS)
  const nodeArgv = [...node.command.slice(1), ...node.args].map((a: string) => a.replace('$(POD_NAMESPACE)', 'default'))
  // The `plora …` lines of the README's bash blocks, split into words by bash.
  const readme = [...README.matchAll(/^ *```bash\n([\s\S]*?)^ *```/gm)]
    .flatMap((m) => (m[1] as string).split('\n').map((l) => l.trim()))
    .filter((l) => l.startsWith('plora '))
    .map((l) => spawnSync('bash', ['-c', `printf '%s\\0' ${l.slice('plora '.length)}`], { encoding: 'utf8' }).stdout)
    .map((s) => s.split('\0').slice(0, -1))

  it('the check rejects what commander would: an unknown flag, a bad shard, a missing argument', async () => {
    expect(readme.map((a) => a[0])).toEqual(['certs'])
    expect(await parseWithCli(['sweep', '--shard', '1/4', '--no-such-flag'])).toMatch(/unknown option/)
    expect(await parseWithCli(['sweep', '--shard', '5/4'])).toMatch(/--shard/)
    expect(await parseWithCli(['sweep', 'merge'])).toMatch(/missing required argument/)
    expect(await parseWithCli(['sweep', '--shard', '2/4', '--ns', '20,40'])).toBeUndefined()
  })

  it.each([['node', nodeArgv], ...readme.map((a) => [a.join(' '), a])])('plora %s', async (_name, argv) => {
    expect(await parseWithCli(argv as string[])).toBeUndefined()
  })

  // (after the shell tests above, which record the command lines)
  it.each(GRIDS)('%s: every shard and merge command line the Job and the Slurm scripts produce', async (grid) => {
    const lines = INVOCATIONS.get(grid) as Map<string, string[]>
    // both engines' shards 1 and N (one line each: their paths differ) and the merges
    expect(lines.size).toBe(6)
    const failures: string[] = []
    for (const [line, argv] of lines) {
      const err = await parseWithCli(argv)
      if (err !== undefined) failures.push(`plora ${line}\n    → ${err}`)
    }
    expect(failures, failures.join('\n')).toEqual([])
  })
})
