import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { OptionsReader } from '@peernet/interface';

/** One test's outcome in a jest JSON report. */
export interface ChildTestResult {
  fullName: string;
  status: string;
  failureMessages: string[];
}

/** Options of `runJestFixtures`. */
export interface RunJestFixturesOptions {
  /** The package whose `test/fixtures/*.fixture.ts` to run (its jest config applies). */
  packageDir: string;
  /** Only tests whose names match one of these. */
  testNames: readonly string[];
  /** Limit for the whole child run, in ms. */
  timeoutMs?: number;
  /** @deprecated The old name of `timeoutMs`. */
  timeout?: number;
}

/**
 * Runs a package's fixture files in a separate jest process and returns each
 * test's outcome. Suites test themselves this way: a fixture runs the suite
 * against a deliberately broken implementation, and the caller asserts that
 * the suite failed it (a failing test inside the parent run would fail CI).
 */
export function runJestFixtures(options: RunJestFixturesOptions): ChildTestResult[] {
  const reader = new OptionsReader('runJestFixtures', options);
  const timeoutMs = reader.integer('timeoutMs', { default: undefined, min: 1, alias: 'timeout' });
  if (timeoutMs === undefined) throw reader.error('timeoutMs', 'is required');
  const jestBin = createRequire(`${options.packageDir}/package.json`).resolve('jest/bin/jest');
  const child = spawnSync(
    process.execPath,
    [
      jestBin,
      '--ci',
      '--forceExit',
      '--json',
      '--testMatch',
      '<rootDir>/test/fixtures/*.fixture.ts',
      '--testNamePattern',
      options.testNames.join('|'),
    ],
    { cwd: options.packageDir, encoding: 'utf8', timeout: timeoutMs },
  );
  if (!child.stdout.trimStart().startsWith('{')) {
    throw new Error(`the child jest run produced no report: ${String(child.error ?? '')}\n${child.stderr.slice(-2000)}`);
  }
  const report = JSON.parse(child.stdout) as { testResults: Array<{ assertionResults: ChildTestResult[] }> };
  return report.testResults.flatMap((file) => file.assertionResults).filter((r) => r.status !== 'pending');
}
