// The DHT figures (kind `dht`): PeerNet over HyperDHT against PeerNet over
// TCP, between the same two network namespaces, in the same run; and, as the
// baseline that splits the DHT stream's cost, a plain HyperDHT stream (no
// PeerNet) between the same two namespaces.
//
// A lab of three namespaces on one bridge (createNetnsLab): host 1 runs a
// local HyperDHT bootstrap network, host 2 the responding PeerNet node (dht
// transport and TCP) and a plain HyperDHT server, host 3 one fresh dialling
// process per measurement (a PeerNet node, or a plain HyperDHT node).
// No HyperDHT node runs anywhere else, and each is given the lab's bootstrap
// list (the default would be the public network). The nodes have no LAN
// discovery, so the DHT run's session really goes through the DHT; each
// dialler checks the transport of its session before it reports.
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { createNetnsLab, netnsUnavailableReason, type NetnsHost, type NetnsLab } from '@peernet/compliance';
import { identityFromSeed } from '@peernet/identity';
import type { DiallerConfig, FirstCall, RawClientConfig, RawServerConfig, ResponderConfig, TestnetConfig } from './dht-node.js';
import type { StreamCpu } from './dht-node.js';
import { summarizeDht, type DhtCpuSamples, type DhtPath, type DhtPhaseSamples, type DhtReport, type DhtSamples, type DhtStreamRun } from './report.js';

const nodePath = join(fileURLToPath(new URL('.', import.meta.url)), 'dht-node.js');

/** Options of `runDhtFigures`. */
export interface DhtRunOptions {
  reps: number;
  /** Bytes through one stream per run for dht_stream_mb_per_s; 0 skips that figure. */
  streamBytes: number;
  /** Bytes through one plain HyperDHT socket per run for dht_raw_stream_mb_per_s; 0 skips that figure. */
  rawStreamBytes: number;
  /** Whether dht_first_call_ms is recorded (the first call is made either way: the stream needs the session). */
  firstCall: boolean;
  streamWindow: number | undefined;
  /** A private directory for the nodes' data directories. */
  dir: string;
  /**
   * Where to write a CPU profile of each measured stream, both sides (the
   * stream's time only): dht-<run>-<side>-rep<N>.cpuprofile. Undefined: none.
   */
  profileDir: string | undefined;
  log(text: string): void;
  /** Gets the lab's teardown as soon as the lab exists, so a signal can run it. */
  onLab(destroy: () => void): void;
}

/** One measurement of a repetition: PeerNet over the DHT or over TCP, or the plain HyperDHT stream. */
type Run = DhtStreamRun;

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
  const profileDir = options.profileDir === undefined ? undefined : resolve(options.profileDir);
  if (profileDir !== undefined) mkdirSync(profileDir, { recursive: true });
  const profileFile = (run: Run, side: string, rep: number): string | undefined =>
    profileDir === undefined ? undefined : join(profileDir, `dht-${run === 'raw' ? 'raw-hyperdht' : `peernet-${run}`}-${side}-rep${rep + 1}.cpuprofile`);
  try {
    const [dhtHost, responderHost, diallerHost] = lab.hosts as [NetnsHost, NetnsHost, NetnsHost];
    options.log(`dht: lab ${lab.hosts.map((h) => h.address).join(', ')}; bootstrap network on ${dhtHost.address}`);
    const testnet = start(lab, dhtHost, 'testnet', { host: dhtHost.address } satisfies TestnetConfig, processes);
    const { bootstrap } = await testnet.next<{ bootstrap: string[] }>('bootstrap', 60_000);
    // PeerNet's runs (both paths) when a figure of theirs is asked for; the plain HyperDHT one when its figure is.
    const runs: Run[] = [...(options.firstCall || options.streamBytes > 0 ? (['dht', 'tcp'] as const) : []), ...(options.rawStreamBytes > 0 ? (['raw'] as const) : [])];
    const responder = runs.includes('dht')
      ? start(
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
        )
      : undefined;
    const rawServer = runs.includes('raw')
      ? start(
          lab,
          responderHost,
          'raw-server',
          { host: responderHost.address, seed: randomBytes(32).toString('hex'), bootstrap, streamBytes: options.rawStreamBytes } satisfies RawServerConfig,
          processes,
        )
      : undefined;
    const { id: responderId, port: responderPort } = responder ? await responder.next<{ id: string; port: number }>('ready', 60_000) : { id: '', port: 0 };
    const { publicKey: rawServerKey } = rawServer ? await rawServer.next<{ publicKey: string }>('ready', 60_000) : { publicKey: '' };
    const command = async (p: LabProcess, message: Record<string, unknown>): Promise<void> => {
      p.send(message);
      await p.next('done', 30_000);
    };

    const samples: DhtSamples = {};
    const phases: DhtPhaseSamples = {};
    const cpu: DhtCpuSamples = {};
    const recordCpu = (run: Run, sender: StreamCpu, receiver: StreamCpu, bytes: number): void => {
      const c = (cpu[run] ??= { sender: [], receiver: [] });
      c.sender.push({ ...sender, bytes });
      c.receiver.push({ ...receiver, bytes });
    };
    const record = (figure: keyof DhtSamples, path: DhtPath, value: number): void => {
      ((samples[figure] ??= {})[path] ??= []).push(value);
    };
    // A hang guard for a stream, generous: at least 2 MB/s.
    const streamTimeout = (bytes: number): number => 120_000 + bytes / 2000;
    for (let rep = 0; rep < options.reps; rep++) {
      // Rotate which goes first, so drift in the machine's load falls on every run alike.
      const order = runs.map((_, i) => runs[(i + rep) % runs.length] as Run);
      for (const run of order) {
        if (run === 'raw') {
          options.log(`rep ${rep + 1}/${options.reps}: dht figures, plain HyperDHT stream (no PeerNet)`);
          const serverProfile = profileFile(run, 'server', rep);
          if (serverProfile !== undefined) await command(rawServer as LabProcess, { cmd: 'profile', profile: serverProfile });
          // A fresh HyperDHT node per run, as each PeerNet dialler has.
          const client = start(
            lab,
            diallerHost,
            'raw-client',
            {
              host: diallerHost.address,
              peer: rawServerKey,
              bootstrap,
              streamBytes: options.rawStreamBytes,
              timeoutMs: 60_000,
              profile: profileFile(run, 'client', rep),
            } satisfies RawClientConfig,
            processes,
          );
          await client.next('connected_ms', 90_000);
          const { raw_stream_mb_per_s, cpu: senderCpu } = await client.next<{ raw_stream_mb_per_s: number; cpu: StreamCpu }>(
            'raw_stream_mb_per_s',
            streamTimeout(options.rawStreamBytes),
          );
          record('dht_raw_stream_mb_per_s', 'dht', raw_stream_mb_per_s);
          await client.next('done', 30_000);
          await client.exited();
          // Written once the socket closed (and its profile is on disk).
          const { sink_cpu } = await (rawServer as LabProcess).next<{ sink_cpu: StreamCpu }>('sink_cpu', 30_000);
          recordCpu(run, senderCpu, sink_cpu, options.rawStreamBytes);
          continue;
        }
        const mode: DhtPath = run;
        options.log(`rep ${rep + 1}/${options.reps}: dht figures over ${mode}`);
        // A fresh identity per run: no record of an earlier dialler in the DHT, nothing the responder retries.
        const seed = randomBytes(32);
        const id = identityFromSeed(seed).id.toString();
        const streams = options.streamBytes > 0;
        await command(responder as LabProcess, { cmd: 'pair', id, profile: streams ? profileFile(run, 'responder', rep) : undefined });
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
            profile: streams ? profileFile(run, 'dialler', rep) : undefined,
          } satisfies DiallerConfig,
          processes,
        );
        const { first } = await dialler.next<{ first: FirstCall }>('first', 90_000);
        if (options.firstCall) record('dht_first_call_ms', mode, first.first_call_ms);
        const p = (phases[mode] ??= { start_ms: [], session_ms: [], call_ms: [] });
        p.start_ms.push(first.start_ms);
        p.session_ms.push(first.session_ms);
        p.call_ms.push(first.call_ms);
        let senderCpu: StreamCpu | undefined;
        if (streams) {
          const reply = await dialler.next<{ stream_mb_per_s: number; cpu: StreamCpu }>('stream_mb_per_s', streamTimeout(options.streamBytes));
          record('dht_stream_mb_per_s', mode, reply.stream_mb_per_s);
          senderCpu = reply.cpu;
        }
        await dialler.next('done', 30_000);
        await dialler.exited();
        if (senderCpu !== undefined) {
          // Written once the sink stream closed (and its profile is on disk).
          const { sink_cpu } = await (responder as LabProcess).next<{ sink_cpu: StreamCpu }>('sink_cpu', 30_000);
          recordCpu(run, senderCpu, sink_cpu, options.streamBytes);
        }
        // Unpaired once gone: the responder does not keep looking for it on the DHT.
        await command(responder as LabProcess, { cmd: 'unpair', id });
      }
    }
    for (const p of [responder, rawServer, testnet]) {
      if (p === undefined) continue;
      p.send({ cmd: 'stop' });
      await p.next('done', 30_000).catch(() => undefined);
      await p.exited();
    }
    if (profileDir !== undefined) options.log(`dht: CPU profiles of the streams in ${profileDir} (node apps/bench/dist/profile.js ${profileDir} --categories)`);
    return summarizeDht(samples, phases, cpu);
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
