// `pnpm soak [--duration 3m] [--nodes 5]`: the long soak run, with its figures.
import { formatSoakReport, runSoak } from './soak.js';

function parseDuration(text: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (!match) throw new Error(`--duration takes a number with ms, s, m or h (got '${text}')`);
  const unit = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 }[(match[2] ?? 's') as 'ms' | 's' | 'm' | 'h'];
  return Number(match[1]) * unit;
}

const args = process.argv.slice(2);
const value = (flag: string): string | undefined => {
  const i = args.indexOf(flag);
  return i >= 0 ? args[i + 1] : args.find((a) => a.startsWith(`${flag}=`))?.slice(flag.length + 1);
};
if (args.includes('--help')) {
  console.log('usage: pnpm soak [--duration 3m] [--nodes 5]');
  process.exit(0);
}
const durationMs = parseDuration(value('--duration') ?? '3m');
const nodes = Number(value('--nodes') ?? 5);
const report = await runSoak({ durationMs, nodes, log: (line) => console.log(`[${new Date().toISOString().slice(11, 19)}] ${line}`) });
console.log(formatSoakReport(report));
process.exitCode = report.violations.length === 0 ? 0 : 1;
