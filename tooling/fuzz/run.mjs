// Fuzz campaign runner: runs the fast-check properties that the packages
// define in test/fuzz-targets.ts (the same ones their jest suites run a few
// hundred times) for as many inputs as asked, one worker thread per target,
// and reports inputs, throughput and findings with the seed and path that
// reproduce each finding.
//
//   pnpm fuzz [--runs N] [--target NAME[,NAME]] [--seed S] [--path P]
//             [--batch N] [--hang-seconds N] [--json FILE] [--list]
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { register } from 'node:module';
import { cpus } from 'node:os';
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';

register('./loader.mjs', import.meta.url);

const root = new URL('../../', import.meta.url);
const rootPath = fileURLToPath(root);

/** Every target of every package, in package order, each with the file it comes from. */
async function loadTargets() {
  const found = [];
  for (const dir of readdirSync(new URL('packages/', root)).sort()) {
    const file = new URL(`packages/${dir}/test/fuzz-targets.ts`, root);
    if (!existsSync(file)) continue;
    const module = await import(file.href);
    for (const target of module.targets ?? []) {
      if (typeof target?.name !== 'string' || typeof target.property?.run !== 'function') {
        throw new Error(`${relative(rootPath, fileURLToPath(file))}: every target needs a name and a fast-check property`);
      }
      found.push({ target, file: relative(rootPath, fileURLToPath(file)) });
    }
  }
  return found;
}

// ---------------------------------------------------------------- worker side

/** Message of the first line of an error, with numbers blurred so one bug found twice counts once. */
function signature(error) {
  const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return (text.split('\n')[0] ?? '').replace(/\d+/g, 'N').slice(0, 200);
}

async function runWorker({ name, runs, seed, path, batch }) {
  const fc = (await import('fast-check')).default;
  const { target } = (await loadTargets()).find(({ target }) => target.name === name);
  let inputs = 0;
  for (let index = 0; inputs < runs; index++) {
    // One seed per batch: a finding ends its batch only, and each batch is reproducible on its own.
    const batchSeed = (seed + index) | 0;
    const numRuns = Math.min(batch, runs - inputs);
    parentPort.postMessage({ kind: 'start', seed: batchSeed });
    const details = await fc.check(target.property, {
      numRuns,
      seed: batchSeed,
      ...(path === undefined ? {} : { path }),
    });
    inputs += details.numRuns + details.numSkips;
    const finding = details.failed
      ? {
          seed: batchSeed,
          path: details.counterexamplePath,
          error: signature(details.errorInstance),
          detail: String(details.errorInstance?.stack ?? details.errorInstance).slice(0, 2000),
          counterexample: fc.stringify(details.counterexample).slice(0, 2000),
        }
      : undefined;
    parentPort.postMessage({ kind: 'batch', inputs, finding });
    if (path !== undefined) break; // a replay runs the one counterexample
    if (details.failed && details.numRuns === 0) break; // a property that fails at once would loop
  }
  parentPort.postMessage({ kind: 'done', inputs });
}

// ------------------------------------------------------------------ main side

function parseArgs(argv) {
  const options = { runs: 1_000_000, targets: [], seed: undefined, path: undefined, batch: 2000, hangSeconds: 120, json: undefined, list: false };
  const number = (flag, text) => {
    const value = Number(text);
    if (!Number.isSafeInteger(value)) throw new Error(`${flag} needs an integer, got ${text}`);
    return value;
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) throw new Error(`${flag} needs a value`);
      return argv[++i];
    };
    if (flag === '--runs') options.runs = number(flag, value());
    else if (flag === '--target') options.targets.push(...value().split(',').filter(Boolean));
    else if (flag === '--seed') options.seed = number(flag, value());
    else if (flag === '--path') options.path = value();
    else if (flag === '--batch') options.batch = number(flag, value());
    else if (flag === '--hang-seconds') options.hangSeconds = number(flag, value());
    else if (flag === '--json') options.json = value();
    else if (flag === '--list') options.list = true;
    else if (flag === '--help' || flag === '-h') {
      console.log('usage: pnpm fuzz [--runs N] [--target NAME[,NAME]] [--seed S] [--path P] [--batch N] [--hang-seconds N] [--json FILE] [--list]');
      process.exit(0);
    } else throw new Error(`unknown flag ${flag} (try --help)`);
  }
  if (options.runs < 1 || options.batch < 1) throw new Error('--runs and --batch must be positive');
  return options;
}

/** A target name selects itself; a prefix such as `frame` selects `frame.*`. */
function selected(name, wanted) {
  return wanted.length === 0 || wanted.some((w) => name === w || name.startsWith(`${w}.`));
}

/** Runs one target in a worker; a worker silent for `hangSeconds` is stopped and its batch reported as a hang. */
function campaign(entry, options, seed) {
  return new Promise((resolve) => {
    const started = process.hrtime.bigint();
    const findings = new Map();
    let inputs = 0;
    let batchSeed = seed;
    let lastNews = Date.now();
    let lastPrint = Date.now();
    const elapsed = () => Number(process.hrtime.bigint() - started) / 1e9;
    const worker = new Worker(new URL(import.meta.url), {
      workerData: { name: entry.target.name, runs: options.runs, seed, path: options.path, batch: options.batch },
    });
    const record = (finding) => {
      const seen = findings.get(finding.error);
      if (seen) seen.count++;
      else findings.set(finding.error, { ...finding, count: 1 });
    };
    const watchdog = setInterval(() => {
      if (Date.now() - lastNews < options.hangSeconds * 1000) return;
      record({ seed: batchSeed, path: undefined, error: `no progress for ${options.hangSeconds} s (a hang, or one very slow input)`, count: 1 });
      void worker.terminate();
    }, 1000);
    worker.on('message', (message) => {
      lastNews = Date.now();
      if (message.kind === 'start') batchSeed = message.seed;
      if (message.kind === 'batch' || message.kind === 'done') inputs = message.inputs;
      if (message.finding) {
        record(message.finding);
        console.log(`  ${entry.target.name}: finding (seed ${message.finding.seed}, path ${message.finding.path}): ${message.finding.error}`);
      }
      if (Date.now() - lastPrint > 30_000) {
        lastPrint = Date.now();
        console.log(`  ${entry.target.name}: ${inputs} inputs, ${Math.round(inputs / elapsed())}/s`);
      }
    });
    worker.on('error', (error) => record({ seed: batchSeed, path: undefined, error: `worker crashed: ${signature(error)}`, detail: String(error?.stack ?? error) }));
    worker.on('exit', () => {
      clearInterval(watchdog);
      const seconds = elapsed();
      resolve({ name: entry.target.name, file: entry.file, seed, inputs, seconds, perSecond: inputs / seconds, findings: [...findings.values()] });
    });
  });
}

function pad(text, width) {
  return String(text).padEnd(width);
}

async function main() {
  const options = parseArgs(process.argv.slice(2));
  const all = await loadTargets();
  const chosen = all.filter(({ target }) => selected(target.name, options.targets));
  if (options.list) {
    for (const { target, file } of all) console.log(`${pad(target.name, 32)} ${file}  ${target.summary ?? ''}`);
    return 0;
  }
  if (chosen.length === 0) {
    console.error(`no target matches ${options.targets.join(', ')} (pnpm fuzz --list shows them)`);
    return 2;
  }
  const seed = options.seed ?? (Date.now() ^ (Math.random() * 0x100000000)) | 0;
  console.log(`fuzz: ${chosen.length} target(s), ${options.runs} inputs each, seed ${seed}, node ${process.version}, ${cpus().length} CPUs`);
  const results = [];
  for (const entry of chosen) {
    console.log(`- ${entry.target.name} (${entry.file})`);
    const result = await campaign(entry, options, seed);
    results.push(result);
    console.log(
      `  ${entry.target.name}: ${result.inputs} inputs in ${result.seconds.toFixed(1)} s, ${Math.round(result.perSecond)} inputs/s, ${result.findings.length} finding(s)`,
    );
  }

  console.log('');
  console.log(`${pad('target', 30)} ${pad('inputs', 10)} ${pad('seconds', 9)} ${pad('inputs/s', 9)} findings`);
  for (const r of results) {
    console.log(`${pad(r.name, 30)} ${pad(r.inputs, 10)} ${pad(r.seconds.toFixed(1), 9)} ${pad(Math.round(r.perSecond), 9)} ${r.findings.length}`);
  }
  const findings = results.flatMap((r) => r.findings.map((f) => ({ ...f, target: r.name })));
  for (const f of findings) {
    console.log('');
    console.log(`finding in ${f.target} (${f.count}x): ${f.error}`);
    if (f.counterexample) console.log(`  counterexample: ${f.counterexample.slice(0, 500)}`);
    const path = f.path === undefined ? '' : ` --path ${f.path}`;
    console.log(`  reproduce: pnpm fuzz --target ${f.target} --seed ${f.seed}${path}${path ? '' : ` --runs ${options.batch}`}`);
    if (f.path !== undefined) console.log(`  or in jest: FUZZ_SEED=${f.seed} FUZZ_PATH=${f.path} npx jest test/properties.test.ts -t '${f.target}'`);
  }
  if (options.json !== undefined) {
    writeFileSync(options.json, `${JSON.stringify({ seed, runs: options.runs, node: process.version, results }, null, 2)}\n`);
  }
  return findings.length === 0 ? 0 : 1;
}

if (isMainThread) {
  main().then(
    (code) => process.exit(code),
    (error) => {
      console.error(error instanceof Error ? error.message : error);
      process.exit(2);
    },
  );
} else {
  await runWorker(workerData);
}
