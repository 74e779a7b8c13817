import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import {
  DIAGNOSTICS_CHANNELS,
  MAX_TIMER_MS,
  OptionsReader,
  TypedEmitter,
  formatIpv4,
  hasDiagnosticsSubscribers,
  inSubnet,
  ipv4Addresses,
  networkAddresses,
  parseIpv4,
  publishDiagnostic,
  systemClock,
  type InterfaceTable,
} from '../src/index.js';

describe('systemClock', () => {
  it('is monotonic and fires its timers', async () => {
    const before = systemClock.now();
    const fired = await new Promise<number>((resolve) => systemClock.setTimeout(() => resolve(systemClock.now()), 5));
    expect(fired).toBeGreaterThanOrEqual(before);
    // The wall clock is not what it reads: performance.now() starts near 0 in each process.
    expect(Math.abs(systemClock.now() - Date.now())).toBeGreaterThan(1e9);
  });

  it('cancels a timer', async () => {
    let ran = false;
    const handle = systemClock.setTimeout(() => (ran = true), 1);
    systemClock.clearTimeout(handle);
    // A later timer fires after the cancelled one would have.
    await new Promise<void>((resolve) => systemClock.setTimeout(resolve, 10));
    expect(ran).toBe(false);
    expect(MAX_TIMER_MS).toBe(2 ** 31 - 1);
  });
});

describe('TypedEmitter', () => {
  type Events = { ping: (n: number) => void };

  it('runs every listener and the emitter goes on when one throws; the error surfaces as uncaught', async () => {
    // In a real process: the test runner would otherwise catch the rethrown error itself.
    const script = `
      import { TypedEmitter } from ${JSON.stringify(pathToFileURL(join(__dirname, '../dist/index.js')).href)};
      const emitter = new TypedEmitter();
      emitter.on('ping', () => { throw new Error('listener bug'); });
      emitter.on('ping', (n) => console.log('second listener ran with', n));
      emitter.emit('ping', 7);
      console.log('emit returned');
    `;
    const result = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      execFile(process.execPath, ['--input-type=module', '-e', script], (error, stdout, stderr) =>
        resolve({ code: error === null ? 0 : (error.code as number), stdout, stderr }),
      );
    });
    expect(result.stdout).toBe('second listener ran with 7\nemit returned\n');
    expect(result.stderr).toContain('Error: listener bug');
    expect(result.code).toBe(1);
  });

  it('once fires one time and can be removed before it fires', () => {
    const emitter = new TypedEmitter<Events>();
    const seen: number[] = [];
    const listener = (n: number): void => void seen.push(n);
    emitter.once('ping', listener);
    emitter.emit('ping', 1);
    emitter.emit('ping', 2);
    expect(seen).toEqual([1]);
    emitter.once('ping', listener);
    expect(emitter.listenerCount('ping')).toBe(1);
    emitter.off('ping', listener);
    expect(emitter.listenerCount('ping')).toBe(0);
    emitter.emit('ping', 3);
    expect(seen).toEqual([1]);
  });

  it('refuses a listener that is not a function', () => {
    const emitter = new TypedEmitter<Events>();
    expect(() => emitter.on('ping', 1 as never)).toThrow(expect.objectContaining({ code: 'invalid_argument' }));
  });
});

describe('OptionsReader', () => {
  it('returns defaults, values in range and aliases', () => {
    const reader = new OptionsReader('tcp', { backlog: 5, connectTimeout: 100, keepAlive: true });
    expect(reader.integer('backlog', { default: 511, min: 1, max: 65535 })).toBe(5);
    expect(reader.integer('maxConnections', { default: undefined, min: 1 })).toBeUndefined();
    expect(reader.integer('connectTimeoutMs', { default: 5000, alias: 'connectTimeout' })).toBe(100);
    expect(reader.boolean('keepAlive', false)).toBe(true);
    expect(new OptionsReader('tcp', undefined).boolean('keepAlive', false)).toBe(false);
  });

  it('names the component, the option, the rule and the value it got', () => {
    const reader = new OptionsReader('tcp', { backlog: -1, rate: Number.NaN, host: '', clock: {}, mode: 'x', cb: 3 });
    expect(() => reader.integer('backlog', { default: 511, min: 1, max: 65535 })).toThrow(
      'tcp option backlog must be an integer from 1 to 65535, got -1',
    );
    expect(() => reader.number('rate', { default: 1 })).toThrow('tcp option rate must be a number of at least 0, got NaN');
    expect(() => reader.number('backlog', { default: 1, above: 0 })).toThrow('tcp option backlog must be a number above 0, got -1');
    expect(() => reader.integer('backlog', { default: 1, above: 0, max: 9 })).toThrow(
      'tcp option backlog must be an integer above 0 and at most 9, got -1',
    );
    expect(() => reader.string('host', 'h')).toThrow('tcp option host must be a non-empty string, got ""');
    expect(() => reader.object('clock', ['now'], undefined)).toThrow('tcp option clock must have a now() method');
    expect(() => reader.oneOf('mode', ['a', 'b'], 'a')).toThrow('tcp option mode must be one of "a", "b", got "x"');
    expect(() => reader.function('cb', undefined)).toThrow('tcp option cb must be a function, got 3');
    expect(() => new OptionsReader('tcp', 'nope')).toThrow(expect.objectContaining({ code: 'invalid_argument' }));
  });
});

describe('network interfaces', () => {
  const table: InterfaceTable = {
    lo: [{ address: '127.0.0.1', netmask: '255.0.0.0', family: 'IPv4', mac: '00:00:00:00:00:00', internal: true, cidr: '127.0.0.1/8' }],
    eth0: [
      { address: '10.1.2.3', netmask: '255.255.255.0', family: 'IPv4', mac: '02:00:00:00:00:01', internal: false, cidr: '10.1.2.3/24' },
      { address: 'fe80::1', netmask: 'ffff:ffff:ffff:ffff::', family: 'IPv6', mac: '02:00:00:00:00:01', internal: false, cidr: 'fe80::1/64', scopeid: 2 },
    ],
    p2p: [{ address: '10.9.9.9', netmask: '255.255.255.255', family: 'IPv4', mac: '02:00:00:00:00:02', internal: false, cidr: '10.9.9.9/32' }],
  };

  it('lists IPv4 addresses with their subnet and broadcast', () => {
    const found = ipv4Addresses(table);
    expect(found.map((a) => [a.name, a.address, a.broadcast])).toEqual([
      ['lo', '127.0.0.1', '127.255.255.255'],
      ['eth0', '10.1.2.3', '10.1.2.255'],
      ['p2p', '10.9.9.9', undefined],
    ]);
    expect(inSubnet('10.1.2.200', found[1]!)).toBe(true);
    expect(inSubnet('10.1.3.1', found[1]!)).toBe(false);
    expect(inSubnet('not-an-ip', found[1]!)).toBe(false);
  });

  it('parses only dotted quads', () => {
    expect(parseIpv4('255.255.255.255')).toBe(0xffffffff);
    expect(formatIpv4(0x0a010203)).toBe('10.1.2.3');
    for (const bad of ['256.1.1.1', '1.2.3', '1.2.3.4.5', '01.2.3.x', '']) expect(parseIpv4(bad)).toBeUndefined();
  });

  it('summarises the dialable addresses in a stable order', () => {
    expect(networkAddresses(table)).toEqual([
      'eth0/IPv4/10.1.2.3/255.255.255.0',
      'eth0/IPv6/fe80::1/ffff:ffff:ffff:ffff::',
      'p2p/IPv4/10.9.9.9/255.255.255.255',
    ]);
  });
});

describe('diagnostics channels', () => {
  it('publishes to subscribers only', () => {
    const name = DIAGNOSTICS_CHANNELS.sessionReplaced;
    expect(hasDiagnosticsSubscribers(name)).toBe(false);
    const seen: unknown[] = [];
    const listener = (message: unknown): void => void seen.push(message);
    subscribe(name, listener);
    try {
      expect(hasDiagnosticsSubscribers(name)).toBe(true);
      publishDiagnostic(name, { peer: 'p', reason: 'newer' });
    } finally {
      unsubscribe(name, listener);
    }
    publishDiagnostic(name, { peer: 'q', reason: 'unseen' });
    expect(seen).toEqual([{ peer: 'p', reason: 'newer' }]);
    expect(new Set(Object.values(DIAGNOSTICS_CHANNELS)).size).toBe(Object.keys(DIAGNOSTICS_CHANNELS).length);
    for (const channelName of Object.values(DIAGNOSTICS_CHANNELS)) expect(channelName).toMatch(/^peernet:[a-z:-]+$/);
  });
});
