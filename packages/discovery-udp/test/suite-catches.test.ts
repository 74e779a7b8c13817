import path from 'node:path';
import { runJestFixtures, type ChildTestResult } from '@peernet/compliance';

type AssertionResult = ChildTestResult;

const TESTS = [
  'two instances find each other',
  'never report themselves',
  'says goodbye',
  'new port',
  'invalid port',
];

// The discovery suite is only worth something if it fails discoveries that break the contract.
describe('discoverySuite catches broken discoveries', () => {
  let results: AssertionResult[] = [];

  beforeAll(() => {
    results = runJestFixtures({ packageDir: path.resolve(__dirname, '..'), testNames: TESTS, timeout: 90_000 });
  }, 100_000);

  const outcome = (suite: string, test: string): AssertionResult => {
    const found = results.find((r) => r.fullName.startsWith(`${suite}: Discovery compliance`) && r.fullName.includes(test));
    if (found === undefined) throw new Error(`no result for ${suite} / ${test}`);
    return found;
  };

  it('passes the correct discovery', () => {
    const correct = results.filter((r) => r.fullName.startsWith('correct:'));
    expect(correct).toHaveLength(TESTS.length);
    expect(correct.map((r) => [r.fullName, r.status])).toEqual(correct.map((r) => [r.fullName, 'passed']));
  });

  it('fails a discovery that reports itself', () => {
    const result = outcome('reports itself', 'never report themselves');
    expect(result.status).toBe('failed');
  });

  it("fails a discovery that never reports 'peer:lost'", () => {
    const result = outcome('never reports a loss', 'says goodbye');
    expect(result.status).toBe('failed');
    expect(result.failureMessages.join('\n')).toContain("'peer:lost' for the stopped instance");
  });

  it('fails a discovery that leaves a timer behind', () => {
    const result = outcome('leaky timer', 'two instances find each other');
    expect(result.status).toBe('failed');
    expect(result.failureMessages.join('\n')).toContain('left open after stop(): Timeout');
  });

  it('fails a discovery that keeps announcing its first port', () => {
    const result = outcome('keeps the first port', 'new port');
    expect(result.status).toBe('failed');
    expect(result.failureMessages.join('\n')).toContain('with its new port');
  });

  it('fails a discovery whose announce() throws instead of rejecting', () => {
    expect(outcome('throws on a bad port', 'invalid port').status).toBe('failed');
  });
});
