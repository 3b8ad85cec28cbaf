/** The public API of the figures (re-exported by the package index). */
export { type AblationRow, ablationData, ablationFigure } from './ablation.js'
export {
  type ConvergenceDeltaRow,
  type ConvergenceLike,
  type ConvergenceNllRow,
  convergenceDeltaData,
  convergenceFigure,
  convergenceNllData,
} from './convergence.js'
export {
  gatePerformanceData,
  gatePerformanceFigure,
  gateRocFigure,
  type RocSeries,
  rocData,
  rocFigure,
  rocSeriesOf,
} from './gate.js'
export {
  allFigures,
  FIGURE_INPUTS,
  type FigureInputs,
  loadFigureInputs,
  type WrittenFigure,
  writeFigures,
} from './index.js'
export { markdownToHtml } from './markdown.js'
export { COLORS, colorScale, DOMAIN_COLORS, TOPOLOGY_COLORS, TOPOLOGY_NAMES } from './palette.js'
export { BASE_CONFIG, type Figure, placeholderFigure, renderFigure, renderSvg, svgToPng } from './render.js'
export { type ReportOptions, type ReportResult, sweepSummaryMarkdown, writeReport } from './report.js'
export {
  acceptanceFigure,
  miDecayData,
  miDecayFigure,
  rq2Figure,
  scalabilityFigure,
  spectralData,
  spectralFigure,
  swarmDynamicsFigure,
  swarmGateData,
  swarmGateFigure,
  swarmRunFigure,
  topologyComparisonData,
  topologyComparisonFigure,
} from './swarm.js'
export {
  robustnessData,
  robustnessFigure,
  trainedVsPlaceboData,
  trainedVsPlaceboFigure,
  transferData,
  transferFigure,
  valueAddSummaryData,
  valueAddSummaryFigure,
} from './value-add.js'
