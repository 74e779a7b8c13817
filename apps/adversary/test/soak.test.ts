import { MAX_HEAP_GROWTH, formatSoakReport, runSoak } from '../src/index.js';

// The CI-sized run; `pnpm soak --duration 10m` is the long one.
const DURATION_MS = 25_000;

describe('soak', () => {
  it(`5 nodes, random calls and sends, sessions cut and nodes killed or restarted for ${DURATION_MS / 1000} s: every promise holds`, async () => {
    const report = await runSoak({ durationMs: DURATION_MS, nodes: 5 });
    console.log(formatSoakReport(report));
    expect(report.violations).toEqual([]);
    // The run must really have exercised what it checks.
    expect(report.disruptions.cuts + report.disruptions.kills + report.disruptions.restarts).toBeGreaterThan(5);
    expect(report.disruptions.kills).toBeGreaterThan(0);
    expect(report.disruptions.restarts).toBeGreaterThan(0);
    expect(report.calls.resolved).toBeGreaterThan(500);
    expect(Object.keys(report.calls.rejected)).toEqual(expect.arrayContaining(['timeout', 'no_such_handle', 'aborted']));
    expect(report.calls.hung).toBe(0);
    expect(report.streams.checked).toBeGreaterThan(20);
    expect(report.streams.confirmedChecked).toBeGreaterThan(20);
    expect(report.handles).toHaveLength(5);
    for (const h of report.handles) expect(h.afterStop).toEqual({ PipeWrap: expect.any(Number) });
    expect(report.memory).toHaveLength(2);
    for (const m of report.memory) expect(m.finalHeap - m.earlyHeap).toBeLessThan(MAX_HEAP_GROWTH);
  }, 180_000);
});
