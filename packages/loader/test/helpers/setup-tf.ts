// The loader's tests run on TensorFlow.js' pure-JS cpu backend (deterministic, no wasm start-up).
import '@tensorflow/tfjs-backend-cpu'
import * as tf from '@tensorflow/tfjs-core'

// IS_TEST silences tfjs' "install the node backend" banner.
tf.env().set('IS_TEST', true)
await tf.setBackend('cpu')
await tf.ready()
