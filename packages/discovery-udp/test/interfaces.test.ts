import type { NetworkInterfaceInfo } from 'node:os';
import { formatIpv4, parseIpv4 } from '@peernet/interface';
import { broadcastAddressesOf, checkRestriction, inSubnetOf, resolveInterfaces } from '../src/interfaces.js';

const v4 = (address: string, netmask: string, internal = false): NetworkInterfaceInfo => ({
  address,
  netmask,
  family: 'IPv4',
  mac: '00:00:00:00:00:00',
  internal,
  cidr: null,
});
const v6 = (address: string, internal = false): NetworkInterfaceInfo => ({
  address,
  netmask: 'ffff:ffff:ffff:ffff::',
  family: 'IPv6',
  mac: '00:00:00:00:00:00',
  internal,
  cidr: null,
  scopeid: 0,
});

// A made-up machine: nothing here is ever used to send.
const table = {
  lo: [v4('127.0.0.1', '255.0.0.0', true), v6('::1', true)],
  eth0: [v4('192.168.1.20', '255.255.255.0'), v4('10.1.2.3', '255.255.0.0'), v6('fe80::1')],
  wg0: [v4('10.99.0.7', '255.255.255.255')],
  p2p: [v4('172.16.0.0', '255.255.255.254')],
  weird: [v4('10.200.0.1', '0.0.0.0')],
};

describe('interface restriction', () => {
  it('127.0.0.1 selects loopback only, and its broadcast address is 127.255.255.255', () => {
    const found = resolveInterfaces(['127.0.0.1'], table);
    expect(found.map((i) => [i.name, i.address, i.broadcast])).toEqual([['lo', '127.0.0.1', '127.255.255.255']]);
    expect(broadcastAddressesOf(found)).toEqual(['127.255.255.255']);
  });

  it('an interface name selects every IPv4 address of that interface, internal ones included', () => {
    expect(broadcastAddressesOf(resolveInterfaces(['lo'], table))).toEqual(['127.255.255.255']);
    expect(broadcastAddressesOf(resolveInterfaces(['eth0'], table))).toEqual(['192.168.1.255', '10.1.255.255']);
  });

  it('an address selects only that address of its interface', () => {
    expect(broadcastAddressesOf(resolveInterfaces(['10.1.2.3'], table))).toEqual(['10.1.255.255']);
  });

  it('without a restriction: every non-internal IPv4 address', () => {
    const found = resolveInterfaces(undefined, table);
    expect(found.map((i) => i.address).sort()).toEqual(['10.1.2.3', '10.200.0.1', '10.99.0.7', '172.16.0.0', '192.168.1.20']);
    expect(found.some((i) => i.name === 'lo')).toBe(false);
  });

  it('never produces 255.255.255.255, and no broadcast address for /31 and /32 networks', () => {
    const all = resolveInterfaces(['wg0', 'p2p', 'weird'], table);
    expect(all).toHaveLength(3);
    for (const i of all) expect(i.broadcast).toBeUndefined();
    expect(broadcastAddressesOf(resolveInterfaces(undefined, table))).not.toContain('255.255.255.255');
  });

  it('unknown names and addresses select nothing', () => {
    expect(resolveInterfaces(['eth9', '10.9.9.9'], table)).toEqual([]);
  });

  it('accepts the numeric family of Node 18.0-18.3', () => {
    const old = { eth0: [{ ...v4('10.0.0.5', '255.255.255.0'), family: 4 as unknown as 'IPv4' }] };
    expect(broadcastAddressesOf(resolveInterfaces(['eth0'], old))).toEqual(['10.0.0.255']);
  });

  it('lists each broadcast address once', () => {
    const two = { eth0: [v4('10.0.0.5', '255.255.255.0'), v4('10.0.0.6', '255.255.255.0')] };
    expect(broadcastAddressesOf(resolveInterfaces(undefined, two))).toEqual(['10.0.0.255']);
  });

  it('filters sources by the subnets in use', () => {
    const lo = resolveInterfaces(['lo'], table);
    expect(inSubnetOf('127.0.0.1', lo)).toBe(true);
    expect(inSubnetOf('127.200.3.4', lo)).toBe(true);
    expect(inSubnetOf('192.168.1.21', lo)).toBe(false);
    expect(inSubnetOf('::1', lo)).toBe(false);
    const eth = resolveInterfaces(['192.168.1.20'], table);
    expect(inSubnetOf('192.168.1.254', eth)).toBe(true);
    expect(inSubnetOf('192.168.2.1', eth)).toBe(false);
    expect(inSubnetOf('10.1.2.4', eth)).toBe(false);
    expect(inSubnetOf('anything', [])).toBe(false);
  });

  it('checks the option itself', () => {
    expect(checkRestriction(undefined)).toBeUndefined();
    expect(checkRestriction(['lo', '127.0.0.1'])).toEqual(['lo', '127.0.0.1']);
    for (const bad of [[], [''], ['::1'], ['fe80::1%eth0'], ['0.0.0.0'], ['255.255.255.255'], [5], ['e th0'], 'lo']) {
      expect(() => checkRestriction(bad)).toThrow(expect.objectContaining({ code: 'invalid_argument' }));
    }
  });

  it('parses and formats dotted quads strictly', () => {
    expect(parseIpv4('127.255.255.255')).toBe(0x7fffffff);
    expect(formatIpv4(0xc0a80114)).toBe('192.168.1.20');
    for (const bad of ['256.0.0.1', '1.2.3', '1.2.3.4.5', 'a.b.c.d', '1.2.3.-4', '', ' 1.2.3.4']) {
      expect(parseIpv4(bad)).toBeUndefined();
    }
  });
});
