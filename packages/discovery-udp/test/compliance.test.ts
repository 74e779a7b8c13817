import { discoverySuite } from '@peernet/compliance';
import { generateIdentity } from '@peernet/identity';
import { udpDiscovery } from '../src/index.js';
import { loopbackName, loopbackOnly, randomPort, useLoopbackGuard } from './helpers.js';

// Loopback only: the guard refuses any datagram to a destination outside 127.0.0.0/8.
useLoopbackGuard();

for (const restriction of ['127.0.0.1', loopbackName()]) {
  discoverySuite(`udp restricted to ${restriction}`, {
    setup: async () => {
      // A fresh port per test: a late datagram of one test cannot reach the next.
      const port = randomPort();
      return {
        newIdentity: generateIdentity,
        create: ({ identity }) =>
          udpDiscovery({
            identity,
            port,
            interfaces: [restriction],
            networkInterfaces: loopbackOnly,
            // Short, so an instance started after another sees it within the suite's timeout.
            intervalMs: 100,
          }),
        expectedHosts: ['127.0.0.1'],
      };
    },
    timeout: 3000,
  });
}
