import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { createNetnsLab, netnsUnavailableReason, type NetnsLab } from '@peernet/compliance';

const unavailable = netnsUnavailableReason();
const describeLab = unavailable ? describe.skip : describe;
if (unavailable) console.warn(`skipping network-namespace tests: ${unavailable}`);

describeLab('netns lab', () => {
  let lab: NetnsLab;
  beforeAll(() => {
    lab = createNetnsLab({ hosts: 2 });
  });
  afterAll(() => lab?.destroy());

  const server = `
    const net = require('node:net');
    const s = net.createServer((c) => c.end('hello from ' + process.argv[1]));
    s.listen(7000, '0.0.0.0', () => console.log('ready'));
  `;

  async function fetchGreeting(address: string): Promise<string> {
    const [, client] = lab.hosts;
    const child = lab.spawn(client!, [process.execPath, '-e', `
      const c = require('node:net').connect(7000, '${address}');
      c.setTimeout(1500, () => { console.log('error TIMEOUT'); c.destroy(); });
      c.on('data', (d) => process.stdout.write(d)); c.on('error', (e) => { console.log('error ' + e.code); });
    `]);
    let out = '';
    child.stdout?.on('data', (d: Buffer) => (out += d));
    await once(child, 'exit');
    return out;
  }

  it('connects hosts over the bridge, follows an address change, and isolates a downed link', async () => {
    const [a] = lab.hosts;
    expect(lab.exec(a!, ['ip', '-4', 'addr', 'show', 'eth0'])).toContain(a!.address);
    const child = lab.spawn(a!, [process.execPath, '-e', server, 'a']);
    await once(createInterface({ input: child.stdout! }), 'line');
    expect(await fetchGreeting(a!.address)).toBe('hello from a');

    const old = a!.address;
    const moved = old.replace(/\.\d+$/, '.77');
    lab.setAddress(a!, moved);
    expect(await fetchGreeting(moved)).toBe('hello from a');

    lab.linkDown(a!);
    expect(await fetchGreeting(moved)).toMatch(/error (EHOSTUNREACH|TIMEOUT)/);
    lab.linkUp(a!);
    child.kill();
  }, 30_000);

  it('destroy() removes every namespace', () => {
    const other = createNetnsLab({ hosts: 1 });
    const name = other.hosts[0]!.namespace;
    other.destroy();
    other.destroy();
    const { execFileSync } = require('node:child_process') as typeof import('node:child_process');
    expect(execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })).not.toContain(name);
  });
});
