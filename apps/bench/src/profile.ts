// Summarises V8 CPU profiles (from `pnpm bench -- --profile DIR`): the
// functions with the most self time, per profile file.
//   node apps/bench/dist/profile.js DIR [--top N]
import { readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}

interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** Self time per function (ms) of one profile, largest first, as [label, ms, share]. */
export function selfTimes(profile: Profile): [string, number, number][] {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const totals = new Map<string, number>();
  let all = 0;
  profile.samples.forEach((id, i) => {
    const node = byId.get(id);
    const ms = (profile.timeDeltas[i] ?? 0) / 1000;
    all += ms;
    if (!node) return;
    const { functionName, url, lineNumber } = node.callFrame;
    const file = url ? `${url.replace(/^.*\/(packages|apps|node_modules)\//, '$1/')}:${lineNumber + 1}` : '';
    const label = `${functionName || '(anonymous)'} ${file}`.trim();
    totals.set(label, (totals.get(label) ?? 0) + ms);
  });
  return [...totals.entries()].sort((a, b) => b[1] - a[1]).map(([label, ms]) => [label, ms, ms / all]);
}

if (process.argv[1] && basename(process.argv[1]) === 'profile.js') {
  const [dir, flag, n] = process.argv.slice(2);
  if (!dir) {
    console.error('usage: node profile.js DIR [--top N]');
    process.exit(2);
  }
  const top = flag === '--top' ? Number(n) : 25;
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.cpuprofile')).sort()) {
    const rows = selfTimes(JSON.parse(readFileSync(join(dir, file), 'utf8')) as Profile);
    console.log(`\n${file}`);
    for (const [label, ms, share] of rows.slice(0, top)) {
      console.log(`${(share * 100).toFixed(1).padStart(5)}%  ${ms.toFixed(0).padStart(7)} ms  ${label}`);
    }
  }
}
