import type { Discovery } from '@peernet/interface';
import type { Identity } from '@peernet/identity';
import type { TrustStore } from '@peernet/trust';
import { udpDiscovery } from '@peernet/discovery-udp';
import { mdnsDiscovery } from '@peernet/discovery-mdns';
import type { NodeSettings } from './options.js';

/** Turns the `discovery` option into `Discovery` instances. */
export function builtInDiscoveries(options: NodeSettings, identity: Identity, trust: TrustStore): Discovery[] {
  return options.discovery.map((d) => {
    const interfaces = options.interfaces ? { interfaces: options.interfaces } : {};
    if (d === 'mdns') return mdnsDiscovery({ identity, ...interfaces });
    if (d === 'udp') {
      return udpDiscovery({
        identity,
        ...interfaces,
        ...(options.udpPort === undefined ? {} : { port: options.udpPort }),
        isWanted: (id) => trust.has(id),
      });
    }
    return d; // checked by readOptions: anything else is a Discovery
  });
}
