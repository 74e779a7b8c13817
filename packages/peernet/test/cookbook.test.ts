// Runs the cookbook's custom discovery exactly as printed in docs/cookbook.md.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Discovery } from 'peernet';
import { cleanup, nextEvent, startNode, tempDir } from './helpers.js';

afterEach(cleanup);

/** Extracts the code block that starts with `// file: <name>` and writes it next to the tests. */
function extract(name: string): string {
  const doc = readFileSync(join(__dirname, '..', '..', '..', 'docs', 'cookbook.md'), 'utf8');
  const block = doc.split('```ts\n').map((b) => b.split('```')[0] as string).find((b) => b.startsWith(`// file: ${name}`));
  if (!block) throw new Error(`docs/cookbook.md has no block '// file: ${name}'`);
  const dir = join(__dirname, '.generated');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, name);
  writeFileSync(file, block);
  return file;
}

describe('cookbook: static peer list discovery', () => {
  it('connects two nodes from a peers.json file, with nothing else', async () => {
    const { staticFileDiscovery } = (await import(extract('static-discovery.ts'))) as {
      staticFileDiscovery: (path: string) => Discovery;
    };
    const b = await startNode();
    b.expose('hello', () => 'from b');
    const dir = await tempDir();
    const list = join(dir, 'peers.json');
    await writeFile(list, JSON.stringify([{ id: b.id.toString(), host: '127.0.0.1', port: b.port }]));
    const a = await startNode({ discovery: [staticFileDiscovery(list)] });
    const online = nextEvent(a, 'peer:online');
    await b.pair(a.id);
    await a.pair(b.id); // pairing makes the listed peer dialable
    await online;
    await expect(a.call(b.id, 'hello')).resolves.toBe('from b');
  });
});
