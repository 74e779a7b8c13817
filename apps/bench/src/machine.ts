import { readFileSync } from 'node:fs';
import { arch, cpus, loadavg, release, totalmem } from 'node:os';

/** Where the figures came from. */
export function machine(): Record<string, unknown> {
  let os = `${process.platform} ${release()}`;
  try {
    const pretty = /^PRETTY_NAME="?([^"\n]*)"?$/m.exec(readFileSync('/etc/os-release', 'utf8'));
    if (pretty) os = `${pretty[1]} (${os})`;
  } catch {
    // not Linux: the platform and release are enough
  }
  const cpu = cpus();
  return {
    cpu: cpu[0]?.model ?? 'unknown',
    cpus: cpu.length,
    memory_gib: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    os,
    arch: arch(),
    node: process.version,
    openssl: process.versions.openssl,
    load_average_at_start: loadavg().map((l) => Math.round(l * 100) / 100),
  };
}
