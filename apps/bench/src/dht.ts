// The DHT figures (kind `dht`): PeerNet over HyperDHT against PeerNet over
// TCP, between the same two network namespaces, in the same run.
//
// A lab of three namespaces on one bridge (createNetnsLab): host 1 runs a
// local HyperDHT bootstrap network, host 2 the responding PeerNet node (dht
// transport and TCP), host 3 one fresh dialling process per measurement.
// No HyperDHT node runs anywhere else, and each is given the lab's bootstrap
// list (the default would be the public network). The nodes have no LAN
// discovery, so the DHT run's session really goes through the DHT; each
// dialler checks the transport of its session before it reports.
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { createNetnsLab, netnsUnavailableReason, type NetnsHost, type NetnsLab } from '@peernet/compliance';
import { identityFromSeed } from '@peernet/identity';
import type { DiallerConfig, FirstCall, ResponderConfig, TestnetConfig } from './dht-node.js';
import { summarizeDht, type DhtPath, type DhtPhaseSamples, type DhtReport, type DhtSamples } from './report.js';

const nodePath = join(fileURLToPath(new URL('.', import.meta.url)), 'dht-node.js');

/** Options of `runDhtFigures`. */
export interface DhtRunOptions {
  reps: number;
  /** Bytes through one stream per run for dht_stream_mb_per_s; 0 skips that figure. */
  streamBytes: number;
  /** Whether dht_first_call_ms is recorded (the first call is made either way: the stream needs the session). */
  firstCall: boolean;
  streamWindow: number | undefined;
  /** A private directory for the nodes' data directories. */
  dir: string;
  log(text: string): void;
  /** Gets the lab's teardown as soon as the lab exists, so a signal can run it. */
  onLab(destroy: () => void): void;
}

/** Measures the DHT figures, or says why they cannot be measured here (no root, no namespaces). */
export async function runDhtFigures(options: DhtRunOptions): Promise<DhtReport> {
  const reason = netnsUnavailableReason();
  if (reason !== undefined) return { skipped: `${reason} (the DHT figures run only inside network namespaces the bench makes)` };
  let lab: NetnsLab;
  try {
    lab = createNetnsLab({ hosts: 3 });
  } catch (error) {
    return { skipped: `could not make the network namespaces: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}` };
  }
  options.onLab(() => lab.destroy());
  const processes: LabProcess[] = [];
  try {
    const [dhtHost, responderHost, diallerHost] = lab.hosts as [NetnsHost, NetnsHost, NetnsHost];
    options.log(`dht: lab ${lab.hosts.map((h) => h.address).join(', ')}; bootstrap network on ${dhtHost.address}`);
    const testnet = start(lab, dhtHost, 'testnet', { host: dhtHost.address } satisfies TestnetConfig, processes);
    const { bootstrap } = await testnet.next<{ bootstrap: string[] }>('bootstrap', 60_000);
    const responder = start(
      lab,
      responderHost,
      'responder',
      {
        host: responderHost.address,
        seed: randomBytes(32).toString('hex'),
        dataDir: mkdtempSync(join(options.dir, 'dht-responder-')),
        bootstrap,
        streamWindow: options.streamWindow,
      } satisfies ResponderConfig,
      processes,
    );
    const { id: responderId, port: responderPort } = await responder.next<{ id: string; port: number }>('ready', 60_000);
    const command = async (cmd: string, id: string): Promise<void> => {
      responder.send({ cmd, id });
      await responder.next('done', 30_000);
    };

    const samples: DhtSamples = {};
    const phases: DhtPhaseSamples = {};
    const record = (figure: keyof DhtSamples, path: DhtPath, value: number): void => {
      ((samples[figure] ??= {})[path] ??= []).push(value);
    };
    for (let rep = 0; rep < options.reps; rep++) {
      // Alternate which goes first, so drift in the machine's load falls on both alike.
      const order: DhtPath[] = rep % 2 === 0 ? ['dht', 'tcp'] : ['tcp', 'dht'];
      for (const mode of order) {
        options.log(`rep ${rep + 1}/${options.reps}: dht figures over ${mode}`);
        // A fresh identity per run: no record of an earlier dialler in the DHT, nothing the responder retries.
        const seed = randomBytes(32);
        const id = identityFromSeed(seed).id.toString();
        await command('pair', id);
        const dialler = start(
          lab,
          diallerHost,
          'dialler',
          {
            mode,
            host: diallerHost.address,
            seed: seed.toString('hex'),
            dataDir: mkdtempSync(join(options.dir, `dht-dialler-${mode}-`)),
            peer: responderId,
            peerHost: responderHost.address,
            peerPort: responderPort,
            bootstrap,
            streamBytes: options.streamBytes,
            streamWindow: options.streamWindow,
            timeoutMs: 60_000,
          } satisfies DiallerConfig,
          processes,
        );
        const { first } = await dialler.next<{ first: FirstCall }>('first', 90_000);
        if (options.firstCall) record('dht_first_call_ms', mode, first.first_call_ms);
        const p = (phases[mode] ??= { start_ms: [], session_ms: [], call_ms: [] });
        p.start_ms.push(first.start_ms);
        p.session_ms.push(first.session_ms);
        p.call_ms.push(first.call_ms);
        if (options.streamBytes > 0) {
          // Generous: a hang guard, at least 2 MB/s.
          const { stream_mb_per_s } = await dialler.next<{ stream_mb_per_s: number }>('stream_mb_per_s', 120_000 + options.streamBytes / 2000);
          record('dht_stream_mb_per_s', mode, stream_mb_per_s);
        }
        await dialler.next('done', 30_000);
        await dialler.exited();
        // Unpaired once gone: the responder does not keep looking for it on the DHT.
        await command('unpair', id);
      }
    }
    for (const p of [responder, testnet]) {
      p.send({ cmd: 'stop' });
      await p.next('done', 30_000).catch(() => undefined);
      await p.exited();
    }
    return summarizeDht(samples, phases);
  } finally {
    for (const p of processes) p.kill();
    lab.destroy();
  }
}

/** A process in a namespace of the lab, talking JSON lines. */
interface LabProcess {
  /** The next message that has `key` (earlier ones are dropped); rejects on `{ error }`, exit or timeout. */
  next<T = Record<string, unknown>>(key: string, timeoutMs: number): Promise<T>;
  send(message: Record<string, unknown>): void;
  exited(): Promise<void>;
  kill(): void;
}

function start(lab: NetnsLab, host: NetnsHost, role: string, config: object, all: LabProcess[]): LabProcess {
  const name = `dht ${role} (${host.address})`;
  const child = lab.spawn(host, [process.execPath, nodePath, role, JSON.stringify(config)], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  child.stdin?.on('error', () => undefined);
  const messages: Record<string, unknown>[] = [];
  let wake: (() => void) | undefined;
  let failure: Error | undefined;
  const fail = (error: Error): void => {
    failure ??= error;
    wake?.();
  };
  createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
    let message: Record<string, unknown>;
    try {
      message = JSON.parse(line) as Record<string, unknown>;
    } catch {
      stderr = (stderr + line + '\n').slice(-4000);
      return;
    }
    if (typeof message.error === 'string') fail(new Error(`${name}: ${message.error}`));
    else messages.push(message);
    wake?.();
  });
  const exit = new Promise<void>((resolve) => {
    // 'close', not 'exit': every line it wrote has been read by then.
    child.once('close', (code, signal) => {
      fail(new Error(`${name} exited (${String(code ?? signal)})${stderr ? `: ${stderr.trim()}` : ''}`));
      resolve();
    });
  });
  const process_: LabProcess = {
    async next<T>(key: string, timeoutMs: number): Promise<T> {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const i = messages.findIndex((m) => key in m);
        if (i >= 0) {
          const [message] = messages.splice(0, i + 1).slice(-1);
          return message as T;
        }
        if (failure) throw failure;
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`${name}: no '${key}' within ${timeoutMs} ms${stderr ? `: ${stderr.trim()}` : ''}`);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, left);
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        wake = undefined;
      }
    },
    send(message) {
      child.stdin?.write(`${JSON.stringify(message)}\n`);
    },
    exited: () => exit,
    kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    },
  };
  all.push(process_);
  return process_;
}
