import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';

/** A worker process driven over IPC. */
export interface Worker {
  request(cmd: string, args?: Record<string, number>): Promise<unknown>;
  exited(): Promise<void>;
  kill(): void;
}

interface Reply {
  id: number;
  ok: boolean;
  result?: unknown;
  error?: string;
}

// The scale figure needs ~10,000 sockets per process: raise the soft limit (and the
// hard one where allowed) in a shell that then becomes the worker.
const RAISE_FD_LIMIT = 'ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"; exec "$0" "$@"';

/** Starts `node --expose-gc worker.js ...args` and resolves once it reports ready. */
export async function spawnWorker(path: string, args: string[], profileDir: string | undefined): Promise<Worker> {
  const nodeArgs = ['--expose-gc', ...(profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : []), path, ...args];
  const child: ChildProcess = spawn('sh', ['-c', RAISE_FD_LIMIT, process.execPath, ...nodeArgs], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  let nextId = 1;
  let exitError: Error | undefined;
  const exit = once(child, 'exit').then(([code, signal]) => {
    exitError = new Error(`worker ${args.slice(0, 2).join(' ')} exited (${String(code ?? signal)})`);
    for (const p of pending.values()) p.reject(exitError);
    pending.clear();
  });
  const ready = new Promise<void>((resolve, reject) => {
    pending.set(0, { resolve: () => resolve(), reject });
  });
  child.on('message', (reply: Reply) => {
    const p = pending.get(reply.id);
    if (!p) return;
    pending.delete(reply.id);
    if (reply.ok) p.resolve(reply.result);
    else p.reject(new Error(`worker ${args.slice(0, 2).join(' ')}: ${reply.error ?? 'failed'}`));
  });
  await ready;
  return {
    request(cmd, requestArgs = {}) {
      if (exitError) return Promise.reject(exitError);
      const id = nextId++;
      return new Promise((resolve, reject) => {
        pending.set(id, { resolve, reject });
        child.send({ id, cmd, args: requestArgs });
      });
    },
    exited: () => exit,
    kill: () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    },
  };
}
