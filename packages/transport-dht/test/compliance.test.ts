import { transportSuite } from '@peernet/compliance';
import { dht, type DhtTransport } from '@peernet/transport-dht';
import { contextOf, describeInNetns, generateIdentity, localDht } from './helpers.js';

describeInNetns('dht transport compliance', () => {
  // One local DHT network for the whole file; every transport bootstraps from it and nowhere else.
  let network: Awaited<ReturnType<typeof localDht>> | undefined;
  beforeAll(async () => {
    network = await localDht();
  });
  afterAll(async () => {
    await network?.destroy();
  });

  // Every id the suite's transports have: each pairs all of them, so the firewall lets any of them dial any other.
  const paired = new Set<string>();

  transportSuite('dht', {
    // A DHT transport listens once, under its own key: the suite listens on fresh transports and dials from the first.
    addressing: 'key',
    // largeTransferBytes: the default 8 MiB, which crosses the local DHT in about a second.
    setup: async () => {
      if (network === undefined) throw new Error('the local DHT network did not start');
      const identity = generateIdentity();
      paired.add(identity.id.toString());
      const transport = dht({ bootstrap: network.bootstrap })(contextOf(identity, paired)) as DhtTransport;
      return {
        transport,
        // Ignored by listen(): the transport listens at its own id.
        listenAddress: transport.peerAddress!(identity.id),
        // An id that never listened (and is not paired: nobody could have let it in anyway).
        unusedAddress: transport.peerAddress!(generateIdentity().id),
      };
    },
    teardown: async ({ transport }) => {
      await (transport as DhtTransport).close();
    },
  });
});
