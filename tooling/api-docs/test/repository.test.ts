import { join } from 'node:path';
import { generateApiDocs } from '../src/generate.js';
import { OUTPUT_DIR, readOutput, readPackages, staleFiles } from '../src/workspace.js';

const root = join(__dirname, '..', '..', '..');

// `pnpm test` builds every package before any test runs, so dist/ matches the sources here.
const docs = generateApiDocs(readPackages(root));

describe('the API reference of this repository', () => {
  it('follows every export of every package', () => {
    expect(docs.problems).toEqual([]);
  });

  it(`is up to date in ${OUTPUT_DIR}`, () => {
    const stale = staleFiles(readOutput(root), docs.files);
    if (stale.length > 0) {
      throw new Error(
        `${OUTPUT_DIR} does not match the packages' declarations (${stale.join(', ')}). ` +
          'An export, a doc comment or a package description changed: run `pnpm docs:api` and commit docs/api with the change.',
      );
    }
  });

  it('has a doc comment for every exported name', () => {
    if (docs.undocumented.length > 0) {
      throw new Error(
        `Exported without a doc comment (add a /** */ line in the source, then run \`pnpm docs:api\`):\n  ${docs.undocumented.join('\n  ')}`,
      );
    }
  });
});
