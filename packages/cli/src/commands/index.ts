import type { Command } from 'commander'
import { register as registerAblation } from './ablation.js'
import { register as registerAltTrainMerge } from './alt-train-merge.js'
import { register as registerConfig } from './config.js'
import { register as registerData } from './data.js'
import { register as registerFigures } from './figures.js'
import { register as registerGate } from './gate.js'
import { registerProbes } from './gate-study.js'
import { register as registerGrpc } from './grpc.js'
import { register as registerIt } from './it.js'
import { register as registerKeys } from './keys.js'
import { register as registerMerge } from './merge.js'
import { register as registerModel } from './model.js'
import { registerNode } from './node.js'
import { register as registerPipeline } from './pipeline.js'
import { register as registerSwarm } from './swarm.js'
import { register as registerTrain } from './train.js'
import { register as registerTrust } from './trust.js'
import { register as registerValueAdd } from './value-add.js'

/**
 * Every subcommand group of `plora`. A module here only declares commands and flags (commander is
 * cheap); its actions `await import()` the heavy packages, so `plora --help` stays fast.
 * To add a group: write `./<group>.ts` exporting `register(program)`, then add it to this list.
 */
export const COMMAND_GROUPS: ReadonlyArray<(program: Command) => void> = [
  registerConfig,
  registerKeys,
  registerTrust,
  registerGate,
  registerProbes,
  registerData,
  registerMerge,
  registerModel,
  registerGrpc,
  registerIt,
  registerSwarm,
  registerNode,
  registerTrain,
  registerValueAdd,
  registerAltTrainMerge,
  registerAblation,
  registerFigures,
  registerPipeline,
]
