import path from 'node:path';
import { runJestFixtures, type ChildTestResult } from '@peernet/compliance';

type AssertionResult = ChildTestResult;

// The suite is only worth something if it fails transports that break the contract.
describe('transportSuite catches broken transports', () => {
  let results: AssertionResult[] = [];

  beforeAll(() => {
    results = runJestFixtures({ packageDir: path.resolve(__dirname, '..'), testNames: ['carries bytes both ways', 'removes its abort listener', 'invalid dial address', 'applies backpressure', 'distinct address on each transport'], timeoutMs: 60_000 });
  }, 70_000);

  const outcome = (suite: string, test: string): AssertionResult => {
    const found = results.find((r) => r.fullName.startsWith(`${suite}: Transport compliance`) && r.fullName.includes(test));
    if (found === undefined) throw new Error(`no result for ${suite} / ${test}`);
    return found;
  };

  it('passes the correct transport', () => {
    const correct = results.filter((r) => r.fullName.startsWith('correct:'));
    expect(correct).toHaveLength(4);
    expect(correct.map((r) => r.status)).toEqual(['passed', 'passed', 'passed', 'passed']);
  });

  it('passes a correct transport tested with addressing: key, listeners on transports of their own', () => {
    const correct = results.filter((r) => r.fullName.startsWith('correct by key:'));
    expect(correct).toHaveLength(5);
    expect(correct.map((r) => r.status)).toEqual(['passed', 'passed', 'passed', 'passed', 'passed']);
  });

  it('fails a key-addressed transport whose listeners all report one address', () => {
    const result = outcome('one address for all', 'distinct address on each transport');
    expect(result.status).toBe('failed');
    expect(result.failureMessages.join('\n')).toContain('not.toBe');
  });

  it('fails a key-addressed transport whose dials reach another listener than the one named', () => {
    const result = outcome('misrouted dials', 'distinct address on each transport');
    expect(result.status).toBe('failed');
    expect(result.failureMessages.join('\n')).toContain('waiting for the listener to accept');
  });

  it('fails a transport that leaves a timer behind', () => {
    const result = outcome('leaky timer', 'carries bytes both ways');
    expect(result.status).toBe('failed');
    expect(result.failureMessages.join('\n')).toContain('left open after the test: Timeout');
  });

  it('fails a transport that leaves its abort listener on the signal', () => {
    expect(outcome('stale abort listener', 'removes its abort listener').status).toBe('failed');
  });

  it('fails a transport whose dial throws instead of rejecting', () => {
    const result = outcome('synchronous throw', 'invalid dial address');
    expect(result.status).toBe('failed');
    expect(result.failureMessages.join('\n')).toContain('threw synchronously');
  });

  it('fails a transport whose writes never push back', () => {
    const result = outcome('unbounded buffer', 'applies backpressure');
    expect(result.status).toBe('failed');
    expect(result.failureMessages.join('\n')).toContain('never held back');
  });
});
