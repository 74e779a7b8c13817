import type { IAsyncPropertyWithHooks, IPropertyWithHooks } from 'fast-check';

/**
 * One fuzz target: a fast-check property over hostile input. A package's
 * test/fuzz-targets.ts exports `targets: FuzzTarget[]`; its
 * test/properties.test.ts runs each `ciRuns` times, `pnpm fuzz` for as many
 * inputs as asked.
 */
export interface FuzzTarget {
  /** `<package>.<parser>`; `pnpm fuzz --target <package>` selects all of a package's targets. */
  readonly name: string;
  /** One line: what is fed to what. */
  readonly summary: string;
  /** Runs in the jest suite; keep a package's total to a few seconds. */
  readonly ciRuns: number;
  readonly property: IPropertyWithHooks<any> | IAsyncPropertyWithHooks<any>;
}
