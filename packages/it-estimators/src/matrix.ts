/**
 * Sample matrices: N rows (samples) × d columns, stored row-major in a Float64Array. Public
 * functions accept a 1-D array (one column), an array of rows, or a {@link SampleMatrix}.
 */
import { ItError, ItErrorCode } from './errors.js'

/** N samples of a d-dimensional variable, row-major. */
export interface SampleMatrix {
  readonly data: Float64Array
  readonly rows: number
  readonly cols: number
}

/** Anything the estimators accept as samples. */
export type SampleInput = ArrayLike<number> | ReadonlyArray<ArrayLike<number>> | SampleMatrix

function isMatrix(x: SampleInput): x is SampleMatrix {
  return typeof x === 'object' && x !== null && 'data' in x && 'rows' in x && 'cols' in x
}

/** Converts any {@link SampleInput} to a {@link SampleMatrix}, checking for non-finite values. */
export function toMatrix(x: SampleInput, name = 'X'): SampleMatrix {
  let m: SampleMatrix
  if (isMatrix(x)) {
    if (x.data.length !== x.rows * x.cols) {
      throw new ItError(
        ItErrorCode.ArgumentInvalid,
        `${name}: data has ${x.data.length} values, expected rows·cols = ${x.rows * x.cols}`,
      )
    }
    m = x
  } else if (x.length > 0 && typeof x[0] === 'object') {
    const rowsIn = x as ReadonlyArray<ArrayLike<number>>
    const cols = (rowsIn[0] as ArrayLike<number>).length
    const data = new Float64Array(rowsIn.length * cols)
    for (let i = 0; i < rowsIn.length; i++) {
      const r = rowsIn[i] as ArrayLike<number>
      if (r.length !== cols) {
        throw new ItError(ItErrorCode.ArgumentInvalid, `${name}: row ${i} has ${r.length} columns, expected ${cols}`)
      }
      for (let j = 0; j < cols; j++) data[i * cols + j] = r[j] as number
    }
    m = { data, rows: rowsIn.length, cols }
  } else {
    m = { data: Float64Array.from(x as ArrayLike<number>), rows: x.length, cols: 1 }
  }
  for (let i = 0; i < m.data.length; i++) {
    if (!Number.isFinite(m.data[i])) {
      throw new ItError(
        ItErrorCode.ArgumentInvalid,
        `${name}: value at row ${Math.floor(i / m.cols)}, column ${i % m.cols} is ${m.data[i]}; expected a finite number`,
      )
    }
  }
  return m
}

/** Column j of a matrix. */
export function column(m: SampleMatrix, j: number): Float64Array {
  const out = new Float64Array(m.rows)
  for (let i = 0; i < m.rows; i++) out[i] = m.data[i * m.cols + j] as number
  return out
}

/** [X | Y], row by row. */
export function hstack(x: SampleMatrix, y: SampleMatrix): SampleMatrix {
  const cols = x.cols + y.cols
  const data = new Float64Array(x.rows * cols)
  for (let i = 0; i < x.rows; i++) {
    for (let j = 0; j < x.cols; j++) data[i * cols + j] = x.data[i * x.cols + j] as number
    for (let j = 0; j < y.cols; j++) data[i * cols + x.cols + j] = y.data[i * y.cols + j] as number
  }
  return { data, rows: x.rows, cols }
}

/** Requires equal sample counts. */
export function checkSameRows(x: SampleMatrix, y: SampleMatrix, where: string): void {
  if (x.rows !== y.rows) {
    throw new ItError(
      ItErrorCode.LengthMismatch,
      `${where}: X has ${x.rows} samples but Y has ${y.rows}; expected the same number`,
      {
        x: x.rows,
        y: y.rows,
      },
    )
  }
}
