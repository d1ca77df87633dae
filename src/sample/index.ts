/** The sample-library generator's public surface. */
export { generateSampleLibrary, type SampleCounts, type SampleOptions, type SampleReport } from './generate.js';
export { sampleSidecar, type SampleSidecarOptions, type SidecarForm, type OperationKey } from './shapes.js';
export { createRng, Rng } from './prng.js';
