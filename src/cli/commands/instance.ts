import type { AdminLogin, InstanceList, InstanceView } from '../../api/index.js';
import { CliError } from '../client.js';
import { withContext, type Cli, type CommandContext } from '../context.js';
import { onOff, printAnswer, table, tableOr } from '../output.js';
import { measuredNote, registerVacuum, usageCells, usageRow } from './instance-usage.js';

function path(id: string): string {
  return `/instances/${encodeURIComponent(id)}`;
}

/**
 * What a PBX App object is set up with, together: the URLs on the DNS name, the domain and
 * the password (or how to see it).
 */
function linkRows(view: InstanceView): string[][] {
  const { link } = view;
  const rows = [['domain', view.domain]];
  if (link !== undefined) {
    rows.push(
      ['app object url', link.url],
      ['websocket url', link.websocketUrl],
      [
        'dns name',
        link.dnsNameFrom === 'settings'
          ? link.dnsName
          : `${link.dnsName} (the instance's domain: no DNS name is set; appvisor settings set --dns-name N)`,
      ],
    );
  }
  rows.push(['password', view.password ?? 'hidden (--reveal-password shows it)']);
  return rows;
}

function printView(context: CommandContext, view: InstanceView, notes: string[][] = []): void {
  printAnswer(context, view, () => table([...viewRows(view), ...notes]));
}

function viewRows(view: InstanceView): string[][] {
  return [
    ['instance', `${view.id} (app ${view.app})`],
    ['state', `${view.state}${view.error ? `: ${view.error}` : ''}`],
    ...(view.node === undefined ? [] : [['node', view.node]]),
    ...linkRows(view),
    ['path', view.path],
    ['enabled', view.enabled ? 'on' : 'off'],
    ['backup', view.excludeFromBackup ? 'excluded' : 'included'],
    ['trace', view.traceFlags.length ? view.traceFlags.join(' ') : 'none'],
    ['database', view.database],
    ['database user', view.databaseUser],
    ['data', view.dataDir],
    ['usage', usageRow(view.usage)],
  ];
}

/** `appvisor instance create <app> <id> [--domain D] [--path P] [--password PW] [--node N]` */
export async function instanceCreate(
  context: CommandContext,
  app: string,
  id: string,
  options: { domain?: string; path?: string; password?: string; node?: string },
): Promise<void> {
  printView(
    context,
    await context.client.call<InstanceView>('POST', '/instances', { app, id, ...options }),
  );
}

/** `appvisor instance move <id> --node N`: its owner stops it, node N starts it. */
export async function instanceMove(
  context: CommandContext,
  id: string,
  options: { node: string },
): Promise<void> {
  printView(
    context,
    await context.client.call<InstanceView>('POST', `${path(id)}/move`, { node: options.node }),
  );
}

/** `appvisor instance list [--app A] [--sort id|size]` */
export async function instanceList(
  context: CommandContext,
  options: { app?: string; sort?: string },
): Promise<void> {
  if (options.sort !== undefined && options.sort !== 'id' && options.sort !== 'size')
    throw new CliError('BAD_REQUEST', `--sort takes id or size, not "${options.sort}"`);
  const params = new URLSearchParams();
  if (options.app) params.set('app', options.app);
  if (options.sort) params.set('sort', options.sort);
  const query = params.size > 0 ? `?${params.toString()}` : '';
  const { instances, unanswered = [] } = await context.client.call<InstanceList>(
    'GET',
    `/instances${query}`,
  );
  for (const node of unanswered) {
    context.io.stderr.write(`warning: node ${node} did not answer: its instances are missing\n`);
  }
  // On a cluster every view names its node: then the table does too.
  const onNodes = instances.some((i) => i.node !== undefined);
  const header = ['ID', 'APP', 'STATE', 'PATH', ...(onNodes ? ['NODE'] : []), 'ENABLED'];
  const rows = instances.map((i) => [
    i.id,
    i.app,
    i.state,
    i.path,
    ...(onNodes ? [i.node ?? ''] : []),
    i.enabled ? 'on' : 'off',
    ...usageCells(i.usage),
  ]);
  printAnswer(context, instances, () => {
    const text = tableOr('no instances', [...header, 'DATABASE', 'FILES'], rows);
    return rows.length === 0 ? text : `${text}\n${measuredNote(instances)}`;
  });
}

/** `appvisor instance show <id> [--reveal-password]` */
export async function instanceShow(
  context: CommandContext,
  id: string,
  options: { revealPassword?: boolean },
): Promise<void> {
  printView(
    context,
    await context.client.call<InstanceView>(
      'GET',
      `${path(id)}${options.revealPassword ? '?reveal=true' : ''}`,
    ),
  );
}

/** The options of `appvisor instance set`, as given. */
export interface InstanceSetOptions {
  domain?: string;
  path?: string;
  password?: string;
  enabled?: string;
  excludeFromBackup?: string;
  dbPassword?: boolean;
}

/** `appvisor instance set <id> [--domain D] [--path P] [--password PW] [--enabled on|off] [--exclude-from-backup on|off] [--db-password]` */
export async function instanceSet(
  context: CommandContext,
  id: string,
  options: InstanceSetOptions,
): Promise<void> {
  const body = {
    domain: options.domain,
    path: options.path,
    password: options.password,
    enabled: onOff(options.enabled, '--enabled'),
    excludeFromBackup: onOff(options.excludeFromBackup, '--exclude-from-backup'),
    rotateDbPassword: options.dbPassword === true ? true : undefined,
  };
  const notes = options.dbPassword
    ? [['database password', 'replaced (the running service has it; it is never shown)']]
    : [];
  printView(context, await context.client.call<InstanceView>('PATCH', path(id), body), notes);
}

/** `appvisor instance trace <id> [+flag|-flag ...]`: without flags, shows them. */
export async function instanceTrace(
  context: CommandContext,
  id: string,
  changes: string[],
): Promise<void> {
  const view =
    changes.length === 0
      ? await context.client.call<InstanceView>('GET', path(id))
      : await context.client.call<InstanceView>('POST', `${path(id)}/trace`, { changes });
  printAnswer(context, { id: view.id, traceFlags: view.traceFlags }, () =>
    view.traceFlags.length ? view.traceFlags.join(' ') : 'no trace flags on',
  );
}

/**
 * `appvisor instance login <id> --challenge C`: the AppLogin an admin client sends to the
 * instance after it answered AppChallenge with C (docs/appwebsocket.md).
 */
export async function instanceLogin(
  context: CommandContext,
  id: string,
  options: { challenge?: string },
): Promise<void> {
  if (options.challenge === undefined) {
    // The login signs a challenge only the instance can give: say how to get one, for this
    // instance (an unknown one is INSTANCE_NOT_FOUND, as with a challenge).
    const view = await context.client.call<InstanceView>('GET', path(id));
    const where = view.link?.websocketUrl ?? `the instance's path ${view.path}`;
    throw new CliError(
      'BAD_REQUEST',
      `instance login needs --challenge C: open a WebSocket to ${where}, send {"mt":"AppChallenge"}, ` +
        `run appvisor instance login ${id} --challenge C with the challenge of its AppChallengeResult, ` +
        'and send the AppLogin it prints (docs/appwebsocket.md)',
    );
  }
  const login = await context.client.call<AdminLogin>('POST', `${path(id)}/login`, {
    challenge: options.challenge,
  });
  printAnswer(
    context,
    login,
    () => `${JSON.stringify(login.login)}\nsession key ${login.sessionKey}`,
  );
}

/** `appvisor instance delete <id> --yes` */
export async function instanceDelete(
  context: CommandContext,
  id: string,
  options: { yes?: boolean },
): Promise<void> {
  if (!options.yes)
    throw new CliError('BAD_REQUEST', `deleting ${id} drops its database and files: add --yes`);
  await context.client.call('DELETE', path(id));
  printAnswer(context, { ok: true }, () => `deleted ${id}`);
}

/** Registers `appvisor instance`. */
export function registerInstance(cli: Cli): void {
  const instance = cli.program
    .command('instance')
    .description('instances of apps: a database, web path and password each');
  instance
    .command('create')
    .description('create an instance of an app that hosts instances')
    .argument('<app>')
    .argument('<id>')
    .option('--domain <domain>', 'its domain (default: this machine name)')
    .option('--path <path>', 'its web path (default /<domain>/<id>)')
    .option('--password <password>', 'its password (default: generated)')
    .option('--node <id>', 'on a cluster: the node to own it (default: the one with fewest)')
    .action(withContext(cli, instanceCreate));
  instance
    .command('move')
    .description('on a cluster: move an instance to another node (its clients reconnect)')
    .argument('<id>')
    .requiredOption('--node <id>', 'the node to own it')
    .action(withContext(cli, instanceMove));
  instance
    .command('list')
    .description('every instance')
    .option('--app <app>', 'only those of one app')
    .option('--sort <id|size>', 'by id (default), or largest first (database and files)')
    .action(withContext(cli, instanceList));
  instance
    .command('show')
    .description('one instance, its PBX App-object URL; its password only when asked')
    .argument('<id>')
    .option('--reveal-password', 'also print the instance password')
    .action(withContext(cli, instanceShow));
  instance
    .command('set')
    .description("change an instance's settings")
    .argument('<id>')
    .option('--domain <domain>')
    .option('--path <path>')
    .option('--password <password>')
    .option('--enabled <on|off>')
    .option('--exclude-from-backup <on|off>')
    .option('--db-password', "give the instance's database role a new generated password")
    .action(withContext(cli, instanceSet));
  instance
    .command('trace')
    .description('turn trace flags on (+flag) or off (-flag); without flags, show them')
    .argument('<id>')
    .argument('[changes...]')
    // -flag must reach the command as an argument: -http-client is not -h.
    .allowUnknownOption()
    .helpOption(false)
    .action(withContext(cli, instanceTrace));
  instance
    .command('login')
    .description("an admin login for the instance's app: the AppLogin to send after AppChallenge")
    .argument('<id>')
    .option(
      '--challenge <challenge>',
      'the challenge of the AppChallengeResult (without it: how to get one)',
    )
    .action(withContext(cli, instanceLogin));
  registerVacuum(cli, instance);
  instance
    .command('delete')
    .description('delete an instance with its database and files')
    .argument('<id>')
    .option('--yes', 'really')
    .action(withContext(cli, instanceDelete));
}
