import { discoverySuite } from '@peernet/compliance';
import { generateIdentity } from '@peernet/identity';
import { mdnsDiscovery } from '@peernet/discovery-mdns';

// Real multicast on loopback only: nothing leaves the machine.
discoverySuite('mdns on 127.0.0.1', {
  setup: async () => ({
    newIdentity: () => generateIdentity(),
    create: ({ identity }) => mdnsDiscovery({ identity, interfaces: ['127.0.0.1'] }),
    expectedHosts: ['127.0.0.1'],
  }),
});
