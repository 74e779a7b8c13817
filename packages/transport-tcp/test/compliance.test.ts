import { networkInterfaces } from 'node:os';
import { transportSuite } from '@peernet/compliance';
import { tcp } from '@peernet/transport-tcp';

transportSuite('tcp on 127.0.0.1', {
  setup: async () => ({ transport: tcp(), listenAddress: { host: '127.0.0.1', port: 0 } }),
});

const hasIpv6Loopback = Object.values(networkInterfaces()).some((addresses) =>
  (addresses ?? []).some((a) => a.internal && a.family === 'IPv6' && a.address === '::1'),
);

if (hasIpv6Loopback) {
  transportSuite('tcp on ::1', {
    setup: async () => ({ transport: tcp(), listenAddress: { host: '::1', port: 0 } }),
  });
} else {
  describe('tcp on ::1', () => {
    it.skip('skipped: this machine has no IPv6 loopback address (::1)', () => {});
  });
}
