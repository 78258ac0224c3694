/**
 * Benchmark entry point.
 *
 *   npm run bench               # every registered benchmark, one after the other
 *   npm run bench -- codec      # one benchmark by name (several names may be given)
 *   npm run bench -- --list     # the registered names
 *
 * A benchmark is a module under bench/ that exports `run(): Promise<void> | void`. To add one,
 * add a line to BENCHES; modules are loaded only when selected, so one benchmark's imports do not
 * slow down or disturb another.
 */
import 'reflect-metadata';

export interface BenchModule {
  run(): Promise<void> | void;
}

interface BenchEntry {
  readonly description: string;
  readonly load: () => BenchModule;
}

/* eslint-disable @typescript-eslint/no-require-imports */
const BENCHES: Record<string, BenchEntry> = {
  codec: {
    description: 'protobuf encode+decode of a nested order vs JSON.stringify+JSON.parse (ops/s and bytes)',
    load: () => require('./codec') as BenchModule,
  },
  'streams-io': {
    description: 'client CPU per task entry over Redis Streams: plain XADD/XREADGROUP vs the transport\'s scripts',
    load: () => require('./streams-io') as BenchModule,
  },
  flows: {
    description: 'workflows: children/s of a fan-out and its fan-in, and small flows/s, on memory and over Redis',
    load: () => require('./flows') as BenchModule,
  },
  'record-cost': {
    description: 'what the durable dispatch record costs: the real Redis ledger vs cheaper record layouts vs no record (tasks/s, CPU µs/task)',
    load: () => require('./record-cost') as BenchModule,
  },
  throughput: {
    description: 'end-to-end no-op tasks over Redis: Weft vs BullMQ vs raw Streams (tasks/s, p50/p99, Redis cmds/task)',
    load: () => require('./throughput') as BenchModule,
  },
};
/* eslint-enable @typescript-eslint/no-require-imports */

function listing(): string {
  return Object.entries(BENCHES).map(([name, b]) => `  ${name.padEnd(12)} ${b.description}`).join('\n');
}

async function main(argv: string[]): Promise<number> {
  if (argv.includes('--list') || argv.includes('-l') || argv.includes('--help') || argv.includes('-h')) {
    console.log(`Benchmarks (npm run bench -- <name>...):\n${listing()}`);
    return 0;
  }
  const names = argv.length ? argv : Object.keys(BENCHES);
  const unknown = names.filter((n) => !Object.prototype.hasOwnProperty.call(BENCHES, n));
  if (unknown.length) {
    console.error(`Unknown benchmark${unknown.length > 1 ? 's' : ''}: ${unknown.join(', ')}.\n` +
      `Available benchmarks:\n${listing()}\nRun \`npm run bench -- <name>\`, or \`npm run bench\` for all of them.`);
    return 2;
  }
  for (const name of names) {
    if (names.length > 1) console.log(`\n=== ${name} ===`);
    await BENCHES[name].load().run();
  }
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (err: unknown) => { console.error(err); process.exitCode = 1; },
);
