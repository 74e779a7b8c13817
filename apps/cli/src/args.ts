// The command line: which options exist, which command takes which, and a
// parser whose every refusal names the option or argument and what to do,
// instead of node's parser text.
import { EXIT, usageError } from './exit.js';

/** Every option the CLI knows. */
export type OptionName =
  | 'data-dir'
  | 'host'
  | 'port'
  | 'interfaces'
  | 'udp-port'
  | 'no-discovery'
  | 'dht'
  | 'bootstrap'
  | 'relay'
  | 'allow'
  | 'connect'
  | 'timeout'
  | 'label'
  | 'ttl'
  | 'attempts'
  | 'expose'
  | 'accept-files'
  | 'max-file-bytes'
  | 'overwrite'
  | 'name'
  | 'no-qr'
  | 'json'
  | 'verbose'
  | 'help'
  | 'version';

/** The options that may be given more than once; their values are collected in a list. */
export type ListOptionName = 'expose' | 'bootstrap' | 'relay' | 'allow';

interface OptionSpec {
  /** Placeholder of the value; none for a flag. */
  readonly value?: string;
  readonly multiple?: boolean;
  readonly help: string;
}

/** The options, with their help lines (the default data dir is filled in by the help text). */
export const OPTIONS: Readonly<Record<OptionName, OptionSpec>> = {
  'data-dir': { value: 'DIR', help: 'identity and trust list (default: %DATA_DIR%)' },
  host: { value: 'ADDR', help: 'address to listen on (default 0.0.0.0)' },
  port: { value: 'N', help: 'port to listen on (default: any free port)' },
  interfaces: { value: 'LIST', help: 'comma-separated IPv4 addresses or interface names for discovery' },
  'udp-port': { value: 'N', help: 'UDP port of broadcast discovery (default 4040)' },
  'no-discovery': { help: 'no mDNS or UDP discovery (use --connect, or let the peer dial)' },
  dht: { help: 'also reach paired peers by id over HyperDHT, across networks (alone: the PUBLIC network)' },
  bootstrap: {
    value: 'HOST:PORT',
    multiple: true,
    help: 'a bootstrap node of a private DHT network (repeatable or comma-separated; implies --dht)',
  },
  relay: { value: 'ID', multiple: true, help: 'a DHT relay (peernet dht-relay) for peers that cannot holepunch (repeatable; implies --dht)' },
  allow: { value: 'ID', multiple: true, help: 'only this node may relay through it (repeatable; default: anyone who knows its id)' },
  connect: { value: 'HOST:PORT', help: 'dial the peer at this address instead of waiting for discovery' },
  timeout: { value: 'MS', help: 'how long to wait for the peer and the reply together (default 10000)' },
  label: { value: 'TEXT', help: 'a name for the peer, shown by peers' },
  ttl: { value: 'DURATION', help: 'how long the invite stays open: ms, or a number with s, m or h (default 10m, at most 24h)' },
  attempts: { value: 'N', help: 'how many joins may try a code: the Nth wrong code burns the invite (default 1, at most 100)' },
  expose: { value: 'NAME', multiple: true, help: "answer 'echo' calls or print 'chat' messages (repeatable)" },
  'accept-files': { value: 'DIR', help: 'receive files that paired peers send with send-file into DIR (an existing directory)' },
  'max-file-bytes': { value: 'N', help: 'with --accept-files: refuse files larger than N bytes (default 4294967296, 4 GiB)' },
  overwrite: { help: 'with --accept-files: replace a file of the same name (default: refuse it, file_exists)' },
  name: { value: 'NAME', help: 'the file name the peer stores it under (default: the base name of <path>)' },
  'no-qr': { help: 'do not print the QR code' },
  json: { help: 'machine-readable output (errors too, on stderr)' },
  verbose: { help: "the node's diagnostics on stderr" },
  help: { help: 'this text' },
  version: { help: "print the CLI's version" },
};

const COMMON: readonly OptionName[] = ['data-dir', 'json', 'verbose', 'help'];
const NETWORK: readonly OptionName[] = ['host', 'port', 'interfaces', 'udp-port', 'no-discovery', 'dht', 'bootstrap', 'relay'];
const DIALLING: readonly OptionName[] = [...NETWORK, 'connect', 'timeout'];

/** One command: its arguments, the options it takes, and what its help shows. */
export interface CommandSpec {
  readonly name: string;
  /** Positional arguments: `<required>` or `[optional]`. */
  readonly args: readonly string[];
  readonly options: readonly OptionName[];
  readonly summary: string;
  readonly description: string;
  readonly example: string;
  readonly exits: readonly number[];
  /** A second example, across networks over the DHT (commands that start a node). */
  readonly dhtExample?: string;
  /** Help lines of options that mean something else for this command than elsewhere. */
  readonly optionHelp?: Partial<Record<OptionName, string>>;
}

const spec = (s: CommandSpec): CommandSpec => s;

/** The commands, in the order the overview lists them. */
export const COMMANDS: readonly CommandSpec[] = [
  spec({
    name: 'id',
    args: [],
    options: ['no-qr', ...COMMON],
    summary: "print this node's id (creates the identity if missing)",
    description:
      "Prints this node's id, creating identity.key in the data dir if there is none. On a terminal it also\n" +
      'prints the id as a QR code. Give the id to the other side, which runs `peernet pair <id>`.',
    example: 'peernet id --data-dir ./alice --no-qr',
    exits: [EXIT.ok, EXIT.usage, EXIT.dataDir],
  }),
  spec({
    name: 'pair',
    args: ['<id>'],
    options: ['label', ...COMMON],
    summary: 'trust a peer',
    description:
      'Adds a peer to trust.json (no network). Both sides must pair each other before they can talk.\n' +
      "The id may be in any case and have spaces around it; this node's own id is refused. A running\n" +
      '`peernet serve` on the same data dir picks the change up at once.',
    example: 'peernet pair bf5tir7dg725tlifzwfrww2fw2hj4onqstodb64pqxitbol7w3hq --label laptop',
    exits: [EXIT.ok, EXIT.usage, EXIT.dataDir],
  }),
  spec({
    name: 'invite',
    args: [],
    options: ['label', 'ttl', 'attempts', 'no-qr', ...NETWORK, ...COMMON],
    summary: 'print a one-time code, pair with the device that joins with it',
    description:
      'Starts a node and opens an invite: prints its one-time code (`invite code: 473-violet-anchor-orbit`)\n' +
      'and how long it is valid; on a terminal, unless --no-qr, also a QR code of its peernet://pair/… URI\n' +
      'and the URI (scanning it pairs without typing). On the other device, on the same LAN, run\n' +
      '`peernet join <code>`: it finds this node by discovery. Once it has joined, each side has paired the\n' +
      'other: this side prints `paired <id>` (with the --label it stored) and `confirmation: 123 456`, the\n' +
      'digits the other side shows too, and exits 0. With --json the first line is {"code","uri","expiresAt"}\n' +
      '(ms since the epoch), the last {"paired","label","sas"}. A wrong code uses up (burns) the invite, after\n' +
      '--attempts of them. An invite that expires or is burned ends with exit 8 and says which; so does\n' +
      'SIGINT or SIGTERM, which cancels it. The code and the URI are secrets: give them to the other side only.',
    example: 'peernet invite --label phone --ttl 5m --host 127.0.0.1 --interfaces 127.0.0.1',
    exits: [EXIT.ok, EXIT.usage, EXIT.connect, EXIT.dataDir, EXIT.pairing],
    optionHelp: {
      label: 'a name for the peer that joins, shown by peers',
      'no-discovery': 'no mDNS or UDP discovery: only a joiner with the URI and --dht can find this node',
    },
  }),
  spec({
    name: 'join',
    args: ['<code-or-uri>'],
    options: ['label', 'timeout', ...NETWORK, ...COMMON],
    summary: 'pair with a device running `peernet invite`, by its code',
    description:
      'Starts a node, finds the node whose invite has this code (by discovery on the LAN: the number of the\n' +
      'code points at it) and pairs with it, each side the other: prints `paired <id>` and\n' +
      '`confirmation: 123 456`, the digits the inviting side shows too ({"paired","label","sas"} with\n' +
      '--json), and exits 0. Case, spaces and separators in a code do not matter; its spelling does. The\n' +
      'argument may also be the peernet://pair/… URI of the invite\'s QR code, which with --dht (or\n' +
      '--bootstrap) also reaches an inviter in another network. Exit 8, with the reason, for a wrong code\n' +
      '(pairing_failed: ask for a new code), an invite that expired or is used up (invite_closed), or no\n' +
      'inviter found within --timeout (inviter_not_found); exit 2 for text that is not a code.',
    example: 'peernet join 473-violet-anchor-orbit --label laptop --host 127.0.0.1 --interfaces 127.0.0.1',
    exits: [EXIT.ok, EXIT.usage, EXIT.connect, EXIT.dataDir, EXIT.pairing],
    optionHelp: {
      label: 'a name for the inviting peer, shown by peers',
      timeout: 'how long to look for the inviter and pair with it (default 60000)',
      'no-discovery': 'no mDNS or UDP discovery: only a URI, with --dht, can find the inviter',
    },
  }),
  spec({
    name: 'unpair',
    args: ['<id>'],
    options: COMMON,
    summary: 'forget a peer',
    description: 'Removes a peer from trust.json (no network). A running `peernet serve` drops its session.',
    example: 'peernet unpair bf5tir7dg725tlifzwfrww2fw2hj4onqstodb64pqxitbol7w3hq',
    exits: [EXIT.ok, EXIT.usage, EXIT.notPaired, EXIT.dataDir],
  }),
  spec({
    name: 'peers',
    args: [],
    options: COMMON,
    summary: 'list paired peers',
    description:
      'Lists paired peers: id, label, live status, the transport of the live session (tcp, or dht across\n' +
      "networks) and address (from a `peernet serve` running on the same data dir; '-' when none runs),\n" +
      'and when each was added. With --json, one object per peer: {"id","label","status","transport","address","added"}.',
    example: 'peernet peers --json',
    exits: [EXIT.ok, EXIT.usage, EXIT.dataDir],
  }),
  spec({
    name: 'serve',
    args: [],
    options: ['expose', 'accept-files', 'max-file-bytes', 'overwrite', ...NETWORK, ...COMMON],
    summary: 'run a node until SIGINT/SIGTERM',
    description:
      'Runs a node until SIGINT or SIGTERM. Prints `listening <id> <host>:<port>`, then one line per event:\n' +
      '`online <id>`, `offline <id> (reason)`, `paired <id>`, `unpaired <id>`, and\n' +
      '`refused <id> (not paired; to let it in run: peernet pair <id>)` when a stranger is turned away.\n' +
      '\n' +
      'With --dht (or --bootstrap, --relay) the node is also reachable by its id over HyperDHT, across networks\n' +
      'and NATs, by paired peers only; the second line is then `dht listening <id> (…network…)`. Without\n' +
      '--bootstrap that is the PUBLIC network (a note on stderr says so); `peernet dht-bootstrap` runs a\n' +
      'private one. A peer found on the LAN too is reached there (its session moves off the DHT).\n' +
      '\n' +
      'With --accept-files DIR, paired peers can send files with `peernet send-file` (stream `peernet.file`).\n' +
      'A file name must be a plain base name (no `/`, `\\`, NUL, control characters, `.` or `..`, at most\n' +
      '255 bytes), else it is refused with bad_request; a file above --max-file-bytes is refused with\n' +
      'file_too_large before any byte is written; an existing name with file_exists unless --overwrite.\n' +
      'Bytes go to `DIR/.<name>.partial-<random>` (mode 0600), which is fsynced and renamed into place (then\n' +
      'DIR is fsynced): a transfer that fails or is cut off leaves nothing behind. Per file it prints\n' +
      '`received <name> from <id>: <bytes> bytes, sha256 <hex>`, or `not received <name> from <id> (<code>: <reason>)`.\n' +
      'Protocol of the stream: the sender writes a 4-byte big-endian length, that many bytes (at most 4096)\n' +
      'of UTF-8 JSON {"name","size","sha256"?}, then exactly size bytes, then ends its side; the receiver\n' +
      'answers one JSON line, {"ok":true,"name","bytes","sha256"} or {"ok":false,"code","message"}, and ends.',
    example: 'peernet serve --expose echo --accept-files ./inbox --host 127.0.0.1 --interfaces 127.0.0.1',
    dhtExample: 'peernet serve --expose echo --bootstrap 203.0.113.7:49737,198.51.100.4:49737',
    exits: [EXIT.ok, EXIT.usage, EXIT.dataDir],
  }),
  spec({
    name: 'call',
    args: ['<id>', '<handle>', '[json]'],
    options: [...DIALLING, ...COMMON],
    summary: 'call a handle of a peer and print the result as JSON',
    description:
      'Starts a node, waits for the peer (or dials --connect), calls <handle> with the JSON arguments\n' +
      '(default null) and prints the result as one line of JSON. Stops at once if the peer refuses us.\n' +
      'With --dht (or --bootstrap, --relay) it also finds the peer by its id alone over HyperDHT, in any\n' +
      'network; the peer must run with the same --bootstrap (or, without it, on the PUBLIC network too).',
    example: "peernet call <bob-id> echo '{\"x\":1}' --connect 127.0.0.1:7000 --no-discovery",
    dhtExample: "peernet call <bob-id> echo '{\"x\":1}' --bootstrap 203.0.113.7:49737 --timeout 30000",
    exits: [EXIT.ok, EXIT.usage, EXIT.notPaired, EXIT.timeout, EXIT.remote, EXIT.connect, EXIT.dataDir],
  }),
  spec({
    name: 'send',
    args: ['<id>', '<handle>', '[json]'],
    options: [...DIALLING, ...COMMON],
    summary: 'send to a handle of a peer (no reply)',
    description: 'Like call, without a reply: prints nothing ({"sent":true} with --json).',
    example: "peernet send <bob-id> chat '\"hello\"' --connect 127.0.0.1:7000 --no-discovery",
    dhtExample: "peernet send <bob-id> chat '\"hello\"' --dht --relay <relay-id>",
    exits: [EXIT.ok, EXIT.usage, EXIT.notPaired, EXIT.timeout, EXIT.remote, EXIT.connect, EXIT.dataDir],
  }),
  spec({
    name: 'send-file',
    args: ['<id>', '<path>'],
    options: ['name', ...DIALLING, ...COMMON],
    summary: 'send a file to a peer running `peernet serve --accept-files DIR`',
    description:
      'Starts a node, waits for the peer (or dials --connect), opens its file stream and sends <path> with\n' +
      'flow control, then waits until the peer has the file in place: prints\n' +
      '`sent <name>: <bytes> bytes, sha256 <hex>` ({"sent","peer","bytes","sha256"} with --json).\n' +
      '--timeout bounds reaching the peer and opening the stream; the transfer itself has no time limit.\n' +
      'The peer decides what it accepts: it refuses a name that is not a plain base name (bad_request), an\n' +
      'existing name (file_exists), a file above its limit (file_too_large); a peer that does not accept\n' +
      'files answers no_such_handle. On any failure the peer keeps nothing of the file.',
    example: 'peernet send-file <bob-id> ./notes.txt --connect 127.0.0.1:7000 --no-discovery',
    dhtExample: 'peernet send-file <bob-id> ./notes.txt --bootstrap 203.0.113.7:49737',
    exits: [EXIT.ok, EXIT.usage, EXIT.notPaired, EXIT.timeout, EXIT.remote, EXIT.connect, EXIT.dataDir],
  }),
  spec({
    name: 'chat',
    args: ['<id>'],
    options: [...DIALLING, ...COMMON],
    summary: "send stdin lines to the peer's 'chat' handle, print incoming chat",
    description:
      "Interactive: each stdin line goes to the peer's 'chat' handle; its chat messages print as\n" +
      '`<id-prefix> text`. Without --connect it first prints `waiting for <id> (listening on <host>:<port>)`.\n' +
      'When the peer goes away it prints `offline <id> (reason)` and waits; `online <id>` when it is back.\n' +
      'Lines typed meanwhile are not sent (each says so on stderr). Ends on EOF (Ctrl-D) or SIGINT.',
    example: 'peernet chat <bob-id> --connect 127.0.0.1:7000 --no-discovery',
    dhtExample: 'peernet chat <bob-id> --bootstrap 203.0.113.7:49737',
    exits: [EXIT.ok, EXIT.usage, EXIT.notPaired, EXIT.timeout, EXIT.connect, EXIT.dataDir],
  }),
  spec({
    name: 'dht-bootstrap',
    args: [],
    options: ['host', 'port', 'bootstrap', 'json', 'help'],
    summary: 'run a bootstrap node of a private DHT network until SIGINT/SIGTERM',
    description:
      'Runs a bootstrap node of a private HyperDHT network until SIGINT or SIGTERM, for a fleet that does\n' +
      'not want the public network: nodes give its address to --bootstrap. Prints its address,\n' +
      '`<host>:<port>`, as the first line ({"event":"listening","address"} with --json); on a signal it\n' +
      'closes and exits 0. The process runs four DHT nodes: the bootstrap node on --port and three more on\n' +
      'free UDP ports (the first free of 49737-49741, else any): a node has to hear from three DHT nodes\n' +
      'what kind of NAT it is behind before it can holepunch, so a network of fewer connects nobody across\n' +
      'machines. Another dht-bootstrap started with --bootstrap naming this one joins the same network.\n' +
      'It sees who joins (addresses) and which ids are looked up, never the sessions.',
    example: 'peernet dht-bootstrap --host 203.0.113.7 --port 49737 --bootstrap 203.0.113.8:49737',
    exits: [EXIT.ok, EXIT.usage, EXIT.connect],
    optionHelp: {
      host: 'the IPv4 address other nodes reach it at, an address of this machine (required)',
      port: 'UDP port (default 49737)',
      bootstrap: 'another bootstrap node of the same network (repeatable or comma-separated)',
    },
  }),
  spec({
    name: 'dht-relay',
    args: [],
    options: ['bootstrap', 'allow', 'host', 'port', 'data-dir', 'json', 'help'],
    summary: "relay sessions over the DHT for nodes that cannot holepunch, until SIGINT/SIGTERM",
    description:
      "Runs a blind relay on the DHT under the data dir's identity until SIGINT or SIGTERM: when two nodes\n" +
      'cannot holepunch (both behind NATs that change ports), both connect to it and it forwards their\n' +
      'encrypted packets. It sees ciphertext and who talks to whom, nothing else. Prints its id as the\n' +
      'first line ({"event":"listening","id"} with --json): nodes name it with --relay <id>. The id is the\n' +
      "data dir's, so it stays the same across restarts; give the relay a data dir of its own (a node\n" +
      'with the same identity would announce the same key). Without --bootstrap it joins the public network.',
    example: 'peernet dht-relay --data-dir ./relay --bootstrap 203.0.113.7:49737 --allow <alice-id> --allow <bob-id>',
    exits: [EXIT.ok, EXIT.usage, EXIT.connect, EXIT.dataDir],
    optionHelp: {
      host: 'address to bind (default: every interface)',
      port: 'UDP port (default: any free port)',
      bootstrap: 'a bootstrap node of the network (repeatable or comma-separated; default: the PUBLIC network)',
    },
  }),
];

/** The spec of `name`, if it is a command. */
export function commandSpec(name: string): CommandSpec | undefined {
  return COMMANDS.find((c) => c.name === name);
}

/** Option values as parsed: strings, flags, and the lists of repeatable options. */
export type Flags = Partial<Record<Exclude<OptionName, ListOptionName>, string | boolean>> & Partial<Record<ListOptionName, string[]>>;

/** What the command line asks for. */
export type Parsed =
  | { kind: 'help'; command: CommandSpec | undefined }
  | { kind: 'version' }
  | { kind: 'run'; command: CommandSpec; args: string[]; flags: Flags };

/** Damerau–Levenshtein distance (adjacent swaps count once): how far a typo is from a name. */
export function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  const at = (i: number, j: number): number => (d[i] as number[])[j] as number;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, at(i - 2, j - 2) + 1);
      (d[i] as number[])[j] = best;
    }
  }
  return at(a.length, b.length);
}

/** The candidate nearest to `typed`, if it is near enough to be what was meant. */
export function suggest(typed: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    const distance = editDistance(typed.toLowerCase(), candidate);
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  // A third of the name, at least 1 and at most 3 edits: close enough to be a slip, far enough not to guess wildly.
  const allowed = Math.min(3, Math.max(1, Math.floor(typed.length / 3)));
  return bestDistance <= allowed ? best : undefined;
}

const isOption = (name: string): name is OptionName => Object.hasOwn(OPTIONS, name);
const isListOption = (name: OptionName): name is ListOptionName => OPTIONS[name].multiple === true;

/**
 * Parses `argv` (without node and script). Throws a usage error naming the
 * unknown option (with the nearest known one), the option that does not
 * apply to the command, the missing value, or the missing or extra argument.
 */
export function parseCommandLine(argv: readonly string[]): Parsed {
  const positionals: string[] = [];
  const seen: { name: OptionName; value: string | true }[] = [];
  for (let i = 0; i < argv.length; i++) {
    const token = argv[i] as string;
    if (token === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (token === '-h') {
      seen.push({ name: 'help', value: true });
      continue;
    }
    // A negative number is a value (JSON arguments such as -1), not an option.
    if (!token.startsWith('-') || token === '-' || /^-\d/.test(token)) {
      positionals.push(token);
      continue;
    }
    const eq = token.indexOf('=');
    const name = token.startsWith('--') ? token.slice(2, eq < 0 ? undefined : eq) : token.slice(1);
    if (!token.startsWith('--') || !isOption(name)) {
      const guess = suggest(name.replace(/^-+/, ''), Object.keys(OPTIONS));
      throw usageError(`unknown option ${token.slice(0, eq < 0 ? undefined : eq)}${guess ? `; did you mean --${guess}?` : ' (see peernet --help)'}`);
    }
    const option = OPTIONS[name];
    if (option.value === undefined) {
      if (eq >= 0) throw usageError(`--${name} takes no value`);
      seen.push({ name, value: true });
      continue;
    }
    let value: string | undefined = eq >= 0 ? token.slice(eq + 1) : argv[i + 1];
    if (eq < 0) {
      // A following option is taken for a forgotten value, not as the value: `--label --json`.
      if (value === undefined || (value.startsWith('-') && value !== '-' && !/^-\d/.test(value))) value = undefined;
      else i++;
    }
    if (value === undefined) throw usageError(`--${name} needs a value: --${name} ${option.value}`);
    seen.push({ name, value });
  }

  const [commandName, ...args] = positionals;
  const has = (name: OptionName): boolean => seen.some((s) => s.name === name);
  if (commandName === 'version' || (has('version') && commandName === undefined)) return { kind: 'version' };
  if (commandName === 'help') {
    const topic = args[0];
    if (topic === undefined) return { kind: 'help', command: undefined };
    return { kind: 'help', command: knownCommand(topic) };
  }
  if (commandName === undefined) {
    if (has('help')) return { kind: 'help', command: undefined };
    throw usageError('missing command (see peernet --help)');
  }
  const command = knownCommand(commandName);
  if (has('help')) return { kind: 'help', command };
  if (has('version')) return { kind: 'version' };

  const flags: Flags = {};
  for (const { name, value } of seen) {
    if (!command.options.includes(name)) {
      throw usageError(`--${name} does not apply to ${command.name} (see peernet ${command.name} --help)`);
    }
    if (isListOption(name)) {
      (flags[name] ??= []).push(value as string);
    } else {
      if (flags[name] !== undefined) throw usageError(`--${name} is given more than once`);
      flags[name] = value;
    }
  }
  const required = command.args.filter((a) => a.startsWith('<'));
  if (args.length < required.length) {
    const missing = required[args.length] as string;
    throw usageError(`${command.name} needs ${missing}: peernet ${synopsis(command)}`);
  }
  if (args.length > command.args.length) {
    const takes = command.args.length === 0 ? 'takes no arguments' : `takes at most ${command.args.length} argument${command.args.length === 1 ? '' : 's'}`;
    throw usageError(`unexpected argument ${JSON.stringify(args[command.args.length])}: ${command.name} ${takes} (peernet ${synopsis(command)})`);
  }
  return { kind: 'run', command, args, flags };
}

function knownCommand(name: string): CommandSpec {
  const command = commandSpec(name);
  if (command) return command;
  const guess = suggest(name, [...COMMANDS.map((c) => c.name), 'help', 'version']);
  throw usageError(`unknown command ${JSON.stringify(name)}${guess ? `; did you mean ${guess}?` : ''} (see peernet --help)`);
}

/** `call <id> <handle> [json]`: the command with its arguments. */
export function synopsis(command: CommandSpec): string {
  return [command.name, ...command.args].join(' ');
}
