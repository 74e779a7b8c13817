import fc from 'fast-check';
import { targets } from './fuzz-targets.js';

// FUZZ_SEED and FUZZ_PATH replay a finding of `pnpm fuzz`; FUZZ_RUNS runs longer.
const replay = process.env.FUZZ_SEED === undefined ? {} : { seed: Number(process.env.FUZZ_SEED), path: process.env.FUZZ_PATH };

describe('fuzz targets (bounded runs; pnpm fuzz runs them long)', () => {
  it.each(targets.map((t) => [t.name, t] as const))('%s', async (_name, target) => {
    await fc.assert(target.property, { numRuns: Number(process.env.FUZZ_RUNS ?? target.ciRuns), ...replay });
  });
});
