import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { cleanup, tempDir } from './helpers.js';

afterEach(cleanup);

const script = join(__dirname, 'fixtures', 'throwing-listener.mjs');

beforeAll(() => {
  if (!existsSync(join(__dirname, '..', 'dist', 'index.js'))) {
    throw new Error('packages/peernet/dist is missing: build first (pnpm build)');
  }
});

describe('event listeners', () => {
  // In a child process: jest's own handlers would take the uncaught error before the test could see it.
  it('a throwing peer:online listener stops neither the next listener nor the session; its error is uncaught', async () => {
    const [dirA, dirB] = [await tempDir(), await tempDir()];
    const { code, stdout, stderr } = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      execFile(process.execPath, [script, dirA, dirB], { timeout: 15_000 }, (error, out, err) =>
        resolve({ code: error === null ? 0 : ((error as { code?: number }).code ?? null), stdout: out, stderr: err }),
      );
    });
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    const report = JSON.parse(stdout) as Record<string, unknown>;
    expect(report).toEqual({
      uncaught: ['listener bug'],
      order: ['throwing listener', 'second listener'],
      offline: 0,
      secondSaw: report.expected,
      connected: true,
      reply: 'still up',
      expected: expect.stringMatching(/^[a-z2-7]{52}$/),
    });
  });
});
