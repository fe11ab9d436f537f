#!/usr/bin/env node
// The `vpr` command line: every operation of the record, for operators and for patients, on a
// local data directory (VPR_DATA_DIR, no server needed) or against a running server (--server,
// with the API key from VPR_API_KEY or the profile). Commands are grouped (patient, letter,
// entry, thread, …); each only turns its arguments into the same requests any client sends and
// prints the answer: for people by default, `--json` for scripts. Exit codes (docs/cli.md): 0 ok,
// 2 usage, 3 invalid input, 4 not found, 5 conflict, 6 busy, 7 not allowed, 8 unavailable, 1 else.
import { Command, CommanderError } from 'commander';
import { isVprError } from '../core/errors.js';
import { ConfigError } from '../config/config.js';
import { VprRequestError } from '../client/signing-client.js';
import { ERROR_STATUSES, USAGE_EXIT } from '../transport/error-statuses.js';
import { CliContext, type GlobalOptions } from './context.js';
import { candidates, completionScript } from './completion.js';
import { registerAdminCommands } from './commands/admin.js';
import { registerClinicalCommands } from './commands/clinical.js';
import { registerGenerateCommand } from './commands/generate.js';
import { registerCoordinationCommands } from './commands/coordination.js';
import { registerPatientCommands } from './commands/patients.js';
import { registerRecordCommands } from './commands/records.js';
import { collect } from './commands/shared.js';

/** The exit code of a server's answer: its code's, or by HTTP status for codes not of ours. */
function exitOfAnswer(error: VprRequestError): number {
  const known = ERROR_STATUSES[error.code as keyof typeof ERROR_STATUSES];
  if (known !== undefined) return known.exit;
  if (error.status === 503) return 8;
  if (error.status === 401 || error.status === 403) return 7;
  return 1;
}

export function buildProgram(context: () => CliContext): Command {
  const program = new Command('vpr')
    .description(
      'The Versioned Patient Repository: every change a Git commit.\n' +
        'Works on the local data directory (VPR_DATA_DIR) or, with --server, against a running server.',
    )
    .option('--json', 'machine-readable output: the answer as JSON')
    .option('-q, --quiet', 'print only the id of what was made (for scripts)')
    .option('--server <url>', 'a running server (default VPR_SERVER or the profile; else local mode)')
    .option('--profile <file>', 'the profile (default VPR_PROFILE or ~/.config/vpr/profile.yaml)')
    .option('--author-name <name>', 'local mode: the author of commits')
    .option('--author-email <email>', 'local mode: the author email')
    .option('--author-role <role>', 'local mode: the author role')
    .option(
      '--registration <reg>',
      'local mode: a professional registration, "GMC 7000001" (repeatable)',
      collect,
    )
    .option('--care-location <name>', 'local mode: the care location of commits')
    .option('--signer <prefix>', 'sign writes with <prefix>.key.pem and <prefix>.cert.pem, in two steps')
    .showHelpAfterError()
    .exitOverride()
    .configureOutput({ writeErr: (text) => process.stderr.write(text) });
  registerPatientCommands(program, context);
  registerClinicalCommands(program, context);
  registerCoordinationCommands(program, context);
  registerRecordCommands(program, context);
  registerAdminCommands(program, context);
  registerGenerateCommand(program, context);
  program
    .command('completion')
    .description('print the shell completion script')
    .addArgument(new Command().createArgument('<shell>', 'bash or zsh').choices(['bash', 'zsh']))
    .action((shell: 'bash' | 'zsh') => {
      process.stdout.write(completionScript(shell));
    });
  program
    .command('__complete', { hidden: true })
    .argument('[words...]')
    .allowUnknownOption()
    .helpOption(false)
    .action((words: string[]) => {
      const list = candidates(program, words.length === 0 ? [''] : words);
      if (list.length > 0) process.stdout.write(`${list.join('\n')}\n`);
    });
  for (const command of program.commands) command.exitOverride().showHelpAfterError();
  return program;
}

let ctx: CliContext | undefined;
const program = buildProgram(() => {
  ctx ??= new CliContext(program.opts<GlobalOptions>());
  return ctx;
});

try {
  await program.parseAsync(process.argv);
} catch (error) {
  const out = ctx?.out;
  const report = (code: string, message: string) =>
    out === undefined ? process.stderr.write(`vpr: ${code}: ${message}\n`) : out.error(code, message);
  if (error instanceof CommanderError) {
    process.exitCode = error.exitCode === 0 ? 0 : USAGE_EXIT;
  } else if (isVprError(error)) {
    report(error.code, error.message);
    process.exitCode = error.details?.usage === true ? USAGE_EXIT : ERROR_STATUSES[error.code].exit;
  } else if (error instanceof VprRequestError) {
    report(error.code, error.message);
    process.exitCode = exitOfAnswer(error);
  } else if (error instanceof ConfigError) {
    report('INVALID_INPUT', `configuration: ${error.message}`);
    process.exitCode = ERROR_STATUSES.INVALID_INPUT.exit;
  } else {
    report('INTERNAL', error instanceof Error ? error.message : String(error));
    process.exitCode = ERROR_STATUSES.INTERNAL.exit;
  }
} finally {
  await ctx?.close();
}
