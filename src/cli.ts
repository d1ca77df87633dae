#!/usr/bin/env node
/**
 * image-sidecar command line: builds the commands from the table in cli/commands.ts, loads a
 * command's implementation only when it runs, and maps every failure to an exit code in one
 * place (cli/fail.ts). Exit codes: 0 clean, 1 findings, 2 usage or fatal error; findings exit 0
 * under the earlier tool's names and with --exit-zero (cli/invocation.ts).
 */
// First: sizes libuv's thread pool before anything starts it (cli/thread-pool-size.ts).
import './cli/thread-pool-size.js';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { COMMANDS, type CommandSpec, type OptionSpec } from './cli/commands.js';
import type { CliOptions } from './cli/context.js';
import { finalExitCode, isLegacyInvocation } from './cli/invocation.js';
import { EXIT_FATAL } from './exit-codes.js';
import { watchThreadPool } from './fs/thread-pool-watch.js';
import { packageVersion } from './version.js';

const parsers: Record<NonNullable<OptionSpec['parse']>, (v: string) => number> = {
  int: (v) => {
    if (!/^\d+$/.test(v.trim())) throw new InvalidArgumentError('expected a whole number');
    return Number(v);
  },
  fraction: (v) => {
    const n = Number(v);
    if (v.trim() === '' || !Number.isFinite(n) || n < 0 || n > 1) throw new InvalidArgumentError('expected a number from 0 to 1');
    return n;
  },
};

function makeOption(spec: OptionSpec): Option {
  const o = new Option(spec.flags, spec.description);
  if (spec.choices) o.choices(spec.choices);
  if (spec.parse) o.argParser(parsers[spec.parse]);
  if (spec.default !== undefined) o.default(spec.default);
  return o;
}

/** Exit code of the command that ran (commander calls actions; they cannot return values). */
let exitCode = 0;
/** Findings exit 0 (earlier tool's name, or --exit-zero); known once the arguments are parsed. */
let findingsExitZero = isLegacyInvocation(process.argv[1]);

function addCommand(program: Command, spec: CommandSpec, parent?: string): void {
  const cmd = program.command(spec.name).description(spec.summary);
  if (spec.subcommands) {
    for (const sub of spec.subcommands) addCommand(cmd, sub, spec.name);
    cmd.addHelpText('after', `\nExamples:\n${spec.examples.map((e) => `  $ ${e}`).join('\n')}\n`);
    return;
  }
  const name = parent ? `${parent} ${spec.name}` : spec.name;
  if (spec.argument) cmd.argument(spec.argument.name, spec.argument.description);
  for (const o of spec.options) cmd.addOption(makeOption(o));
  cmd.addHelpText('after', `\nExamples:\n${spec.examples.map((e) => `  $ ${e}`).join('\n')}\n`);
  cmd.action(async (...args: unknown[]) => {
    watchThreadPool(); // a lost wake-up of libuv's pool never hangs a command (fs/thread-pool-watch.ts)
    const first = spec.argument ? (args[0] as string | string[] | undefined) : undefined;
    const arg = Array.isArray(first) ? undefined : first;
    const opts = (spec.argument ? args[1] : args[0]) as CliOptions;
    const [{ run }, { processIo, checkOutputFile }, { tuneHost }] = await Promise.all([spec.load(), import('./cli/context.js'), import('./engine/host.js')]);
    tuneHost(process.execArgv, process.env.NODE_OPTIONS); // the CLI owns its process: V8 flags, main-thread heap bounds (engine/host.ts)
    const ctx = { command: name, arg, opts, io: processIo(), ...(Array.isArray(first) ? { args: first } : {}) };
    await checkOutputFile(ctx);
    exitCode = await run(ctx);
  });
}

function buildProgram(): Command {
  const program = new Command('image-sidecar')
    .description('Find, pair, read, write, validate and convert image sidecar files safely and fast.')
    .version(packageVersion(), '-V, --version', 'print the version')
    .option('--exit-zero', 'exit 0 when the command finds problems (findings); usage and fatal errors still exit 2')
    .configureHelp({ showGlobalOptions: true })
    .exitOverride()
    .configureOutput({ outputError: (str, write) => write(`image-sidecar: ${str}`) })
    .showSuggestionAfterError(true);
  for (const spec of COMMANDS) addCommand(program, spec);
  program.addHelpText(
    'after',
    '\nOutput: JSON on stdout when it is not a terminal (or with --json / -o FILE); logs and progress on stderr.\n' +
      'Exit codes: 0 clean, 1 findings (invalid files, differences, failures), 2 usage or fatal error.\n' +
      'Findings exit 0 with --exit-zero, and when run as image-sidecar-rust or sportball-sidecar-rust (as the earlier tool did).\n\n' +
      'Examples:\n  $ image-sidecar stats ~/Photos\n  $ image-sidecar validate --input ~/Photos --workers 4 > report.json\n' +
      '  $ image-sidecar cleanup ~/Photos --dry-run\n',
  );
  return program;
}

async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    if (argv.length <= 2) {
      program.outputHelp({ error: true });
      return 2;
    }
    // An argument that is not UTF-8 was already replaced by Node (U+FFFD): refused before it names another file.
    if (argv.some((a) => a.includes('\uFFFD'))) (await import('./fs/byte-names.js')).assertUtf8Args(argv);
    await program.parseAsync(argv);
    findingsExitZero ||= program.opts().exitZero === true;
    return finalExitCode(exitCode, { findingsExitZero });
  } catch (e) {
    // Help and --version end this way too; they are not errors and load nothing more.
    if (e instanceof CommanderError && e.exitCode === 0) return 0;
    const { reportError } = await import('./cli/fail.js');
    return reportError(e, process.stderr, process.env);
  }
}

/** Exit once stdout and stderr have flushed (pipes are asynchronous). */
function exitAfterFlush(code: number): void {
  let pending = 2;
  const done = () => {
    if (--pending === 0) process.exit(code);
  };
  process.stdout.write('', done);
  process.stderr.write('', done);
}

/**
 * stdout failed: the reader went away (`export lib -o - | head`: EPIPE) or the write failed. Either
 * way the result was not delivered whole, so the run did not succeed, and it ends at once. A C tool
 * would die of SIGPIPE, silently, and its shell would report 141; Node ignores SIGPIPE, and our
 * exit codes are 0 clean / 1 findings / 2 fatal, so a broken pipe is fatal: exit 2 — never 0 (the
 * run claimed success with half its output) nor the findings' 1 (which --exit-zero and the earlier
 * tool's names turn into 0). No stack trace: one line on stderr, as every exit 2 has, saying why.
 * `serve --stdio` removes this handler: its client going away ends its session (server/stdio.ts).
 */
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  const why = e.code === 'EPIPE' ? 'stdout was closed before the output was complete (EPIPE: the reader went away)' : `cannot write to stdout: ${e.code ?? e.message}`;
  // stderr may be gone too (the whole pipeline ended): the line is then lost, the exit code is not.
  process.stderr.on('error', () => undefined);
  process.stderr.write(`image-sidecar: error [IO]: ${why}\n`);
  process.exit(EXIT_FATAL);
});

// An error nothing caught (in a stream's or a timer's callback, a promise nobody awaited) would end
// the process with Node's exit code 1: "findings", which the earlier tool's names turn into 0 — a
// crash read as a clean run. It is fatal: 2, with the error on stderr.
const crashed = (e: unknown) => {
  process.stderr.write(`image-sidecar: error [INTERNAL]: ${(e as Error)?.stack ?? String(e)}\n`);
  process.exit(2);
};
process.on('uncaughtException', crashed);
process.on('unhandledRejection', crashed);

main(process.argv).then(exitAfterFlush, (e) => {
  process.stderr.write(`image-sidecar: error [INTERNAL]: ${(e as Error)?.message ?? e}\n`);
  exitAfterFlush(2);
});
