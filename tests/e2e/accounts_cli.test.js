// The accounts command line (docs/cli.md): `switchyard users ...` and `switchyard keys ...` run by
// the real binary on a real store: a temporary SQLite file, or the PostgreSQL server named by
// SY_TEST_POSTGRES_URL (tests/support/with_postgres.sh; ctest entry e2e_accounts_cli_postgres).
// Covers --json and the readable output, rotation, revocation, user updates, the exit statuses
// (1 for a refused call, naming the field; 2 for bad flags), spend budgets on users and keys
// (--budget-usd, --budget-period: set, shown, cleared, refused), that no secret is stored in clear,
// and that a running gateway on the same store takes a CLI-made key, and drops a revoked one,
// within about a second. Then `switchyard usage` (JSON, table, CSV) sums the requests a gateway on
// the same store served.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runSwitchyard, startGateway } from './support/gateway.js';

const T = { timeout: 30_000 };
const SECRET_RE = /^sk-[A-Za-z0-9]{48}$/;
const SEALING_SECRET = 'e2e-accounts-cli-sealing-secret-0123456789abcdef';

const tmpRoot = mkdtempSync(path.join(os.tmpdir(), 'switchyard-accounts-e2e-'));
const postgresURL = process.env.SY_TEST_POSTGRES_URL || '';
const backend = postgresURL ? 'postgres' : 'sqlite';
const sqlitePath = path.join(tmpRoot, 'store', 'switchyard.db');
const databaseURL = postgresURL || `sqlite:${sqlitePath}`;
// A suffix for names, so that runs sharing a PostgreSQL database do not meet.
const run = Math.random().toString(36).slice(2, 8);

// Every secret the CLI printed: none may be in the store in clear.
const secrets = new Set();

const gateways = new Set();
after(async () => {
  await Promise.all([...gateways].map((gw) => gw.stop()));
  rmSync(tmpRoot, { recursive: true, force: true });
});

/** `switchyard ARGS --database URL`; resolves to { code, signal, stdout, stderr }. */
function cli(args, { database = databaseURL, env = {}, cwd = tmpRoot } = {}) {
  const tail = database ? ['--database', database] : [];
  return runSwitchyard([...args, ...tail], { env: { SWITCHYARD_SECRET_KEY: '', ...env }, cwd, timeoutMs: 15_000 });
}

function describeRun(args, r) {
  return `switchyard ${args.join(' ')} → ${r.code}\n--- stdout ---\n${r.stdout}\n--- stderr ---\n${r.stderr}`;
}

/** Runs `args --json`, expects exit 0 and one JSON document on stdout, returns it. */
async function cliJson(args, opts) {
  const r = await cli([...args, '--json'], opts);
  assert.equal(r.code, 0, describeRun(args, r));
  let doc;
  assert.doesNotThrow(() => (doc = JSON.parse(r.stdout)), describeRun(args, r));
  for (const s of [doc?.key, doc?.signing_secret]) if (typeof s === 'string') secrets.add(s);
  return { doc, r };
}

/** Runs `args`, expects exit `code`; returns the result. */
async function cliFails(args, code, opts) {
  const r = await cli(args, opts);
  assert.equal(r.signal, null, describeRun(args, r));
  assert.equal(r.code, code, describeRun(args, r));
  return r;
}

/** Every byte of the store, as text: the SQLite file and its WAL, or a pg_dump of the database. */
function storeBytes() {
  if (backend === 'sqlite') {
    const dir = path.dirname(sqlitePath);
    return readdirSync(dir)
      .map((f) => readFileSync(path.join(dir, f)).toString('latin1'))
      .join('\n');
  }
  return execFileSync('pg_dump', ['--data-only', '--inserts', postgresURL], { encoding: 'utf8', maxBuffer: 64 << 20 });
}

// ---------------------------------------------------------------------------------------------

describe(`accounts CLI on ${backend}`, () => {
  let dev; // the developer user
  let key; // its key, as created
  const models = [`alpha-${run}`, `beta-${run}`];

  test('users create: a developer limited to two models (--json)', T, async () => {
    const args = ['users', 'create', '--name', `Grace ${run}`, '--role', 'developer', '--email', 'grace@example.com', '--models', models.join(',')];
    const { doc } = await cliJson(args);
    assert.match(doc.id, /^usr_/);
    assert.equal(doc.name, `Grace ${run}`);
    assert.equal(doc.role, 'developer');
    assert.equal(doc.email, 'grace@example.com');
    assert.deepEqual(doc.models, models);
    assert.equal(doc.enabled, true);
    assert.equal(doc.budget_usd, null);
    assert.equal(doc.budget_period, 'total');
    assert.match(doc.created_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    dev = doc;
  });

  test('users create, readable: a summary naming the id', T, async () => {
    const r = await cli(['users', 'create', '--name', `Viewer ${run}`, '--role', 'viewer']);
    assert.equal(r.code, 0, describeRun([], r));
    assert.match(r.stdout, /^created user usr_[0-9a-f]+\n/);
    assert.match(r.stdout, /^\s+role\s+viewer$/m);
    assert.match(r.stdout, /^\s+models\s+\*$/m);
    assert.match(r.stdout, /^\s+budget_usd\s+-$/m);
    assert.match(r.stdout, /^\s+budget_period\s+total$/m);
  });

  test('keys create: a key for the developer limited to its two models; the secret shown once', T, async () => {
    const args = ['keys', 'create', '--name', `laptop-${run}`, '--user', dev.id, '--models', models[0], '--models', models[1], '--rpm', '60', '--allow-ip', '127.0.0.1,::1', '--expires', '2999-01-01T00:00:00Z', '--metadata', '{"team":"search"}'];
    const { doc, r } = await cliJson(args);
    assert.match(doc.id, /^key_/);
    assert.match(doc.key, SECRET_RE);
    assert.equal(doc.prefix, doc.key.slice(0, 7));
    assert.equal(doc.user_id, dev.id);
    assert.deepEqual(doc.models, models);
    assert.equal(doc.rpm, 60);
    assert.equal(doc.tpm, null);
    assert.deepEqual(doc.allowed_ips, ['127.0.0.1/32', '::1/128']);
    assert.equal(doc.expires_at, '2999-01-01T00:00:00Z');
    assert.deepEqual(doc.metadata, { team: 'search' });
    assert.equal(doc.require_signature, false);
    assert.equal(doc.budget_usd, null);
    assert.equal(doc.budget_period, 'total');
    assert.match(r.stderr, /will not be shown again/);
    key = doc;
  });

  test('keys create, readable: the key on its own line, and the warning', T, async () => {
    const r = await cli(['keys', 'create', '--name', `ci-${run}`, '--expires', '32503680000', '--tpm', '1000', '--max-concurrency', '2']);
    assert.equal(r.code, 0, describeRun([], r));
    assert.match(r.stdout, /^created key key_[0-9a-f]+\n/);
    const m = /^key:\s+(sk-\S+)$/m.exec(r.stdout);
    assert.ok(m, r.stdout);
    assert.match(m[1], SECRET_RE);
    secrets.add(m[1]);
    assert.match(r.stdout, /^\s+expires_at\s+3000-01-01T00:00:00Z$/m);
    assert.match(r.stderr, /will not be shown again/);
  });

  test('keys list --json: the key, without its secret; users list --json: the user', T, async () => {
    const { doc, r } = await cliJson(['keys', 'list', '--user', dev.id]);
    assert.deepEqual(Object.keys(doc).sort(), ['data', 'next_cursor']);
    assert.equal(doc.data.length, 1);
    assert.equal(doc.data[0].id, key.id);
    assert.equal(doc.data[0].prefix, key.prefix);
    assert.equal(doc.data[0].key, undefined);
    assert.equal(doc.next_cursor, null);
    assert.ok(!r.stdout.includes(key.key), 'the secret is not listed');

    const users = (await cliJson(['users', 'list', '--limit', '1000'])).doc;
    assert.ok(users.data.some((u) => u.id === dev.id && u.role === 'developer'));
    const shown = (await cliJson(['users', 'show', dev.id])).doc;
    assert.deepEqual(shown, dev);
  });

  test('lists page with --limit and --cursor', T, async () => {
    const first = (await cliJson(['users', 'list', '--limit', '1'])).doc;
    assert.equal(first.data.length, 1);
    assert.equal(typeof first.next_cursor, 'string');
    const second = (await cliJson(['users', 'list', '--limit', '1', '--cursor', first.next_cursor])).doc;
    assert.equal(second.data.length, 1);
    assert.ok(second.data[0].id > first.data[0].id);
    const readable = await cli(['users', 'list', '--limit', '1']);
    assert.match(readable.stdout, /^ID\s+NAME\s+ROLE\s+ENABLED\s+MODELS\s+BUDGET\s+EMAIL\s+CREATED$/m);
    assert.match(readable.stdout, /^\(more: switchyard users list --cursor usr_[0-9a-f]+\)$/m);
  });

  test('keys list, readable: a table with the status', T, async () => {
    const r = await cli(['keys', 'list', '--user', dev.id]);
    assert.equal(r.code, 0, describeRun([], r));
    assert.match(r.stdout, /^ID\s+NAME\s+USER\s+PREFIX\s+MODELS\s+STATUS\s+EXPIRES\s+LIMITS\s+BUDGET$/m);
    const line = r.stdout.split('\n').find((l) => l.startsWith(key.id));
    assert.ok(line, r.stdout);
    assert.match(line, new RegExp(`\\b${models.join(',')}\\b`));
    assert.match(line, /\bactive\b/);
    assert.match(line, /\brpm=60\b/);
    assert.match(line, /\s-$/); // no budget
    assert.ok(!r.stdout.includes(key.key));
  });

  test('keys rotate: a new secret, the old one valid for the grace period', T, async () => {
    const { doc, r } = await cliJson(['keys', 'rotate', key.id, '--grace', '3600']);
    assert.equal(doc.id, key.id);
    assert.match(doc.key, SECRET_RE);
    assert.notEqual(doc.key, key.key);
    assert.equal(doc.prefix, doc.key.slice(0, 7));
    const until = Date.parse(doc.previous_valid_until);
    assert.ok(Math.abs(until - (Date.now() + 3600_000)) < 120_000, doc.previous_valid_until);
    assert.match(r.stderr, /will not be shown again/);

    const readable = await cli(['keys', 'rotate', key.id]);
    assert.equal(readable.code, 0, describeRun([], readable));
    const m = /^key:\s+(sk-\S+)$/m.exec(readable.stdout);
    assert.ok(m, readable.stdout);
    assert.match(m[1], SECRET_RE);
    assert.notEqual(m[1], doc.key);
    secrets.add(m[1]);
    assert.match(readable.stdout, /previous secret keeps working until \S+Z \((23h 59m|1d) from now\)/);

    const now = await cli(['keys', 'rotate', key.id, '--grace', '0']);
    assert.equal(now.code, 0, describeRun([], now));
    secrets.add(/^key:\s+(sk-\S+)$/m.exec(now.stdout)[1]);
    assert.match(now.stdout, /previous secret no longer works/);
  });

  test('keys revoke: revoked for good, shown as revoked', T, async () => {
    const { doc } = await cliJson(['keys', 'revoke', key.id]);
    assert.equal(doc.id, key.id);
    assert.equal(doc.enabled, false);
    assert.match(doc.revoked_at, /Z$/);
    const r = await cli(['keys', 'list', '--user', dev.id]);
    assert.match(r.stdout.split('\n').find((l) => l.startsWith(key.id)) ?? '', /\brevoked\b/);
    const rotate = await cliFails(['keys', 'rotate', key.id], 1);
    assert.match(rotate.stderr, /key_revoked/);
    const again = await cli(['keys', 'revoke', key.id]);
    assert.equal(again.code, 0, describeRun([], again));
    assert.match(again.stdout, /^revoked key key_/);
  });

  test('users update: role, email, models, enabled; only what is given changes', T, async () => {
    const { doc } = await cliJson(['users', 'update', dev.id, '--role', 'viewer', '--enabled', 'false', '--email', 'g@example.org']);
    assert.equal(doc.role, 'viewer');
    assert.equal(doc.enabled, false);
    assert.equal(doc.email, 'g@example.org');
    assert.deepEqual(doc.models, models);
    assert.equal(doc.name, dev.name);
    const back = (await cliJson(['users', 'update', dev.id, '--role', 'developer', '--enabled', 'true', '--email', '', '--models', models[0]])).doc;
    assert.equal(back.role, 'developer');
    assert.equal(back.enabled, true);
    assert.equal(back.email, null);
    assert.deepEqual(back.models, [models[0]]);
    const readable = await cli(['users', 'update', dev.id, '--name', `Grace H ${run}`]);
    assert.equal(readable.code, 0, describeRun([], readable));
    assert.match(readable.stdout, new RegExp(`^updated user ${dev.id}\\n`));
    assert.match(readable.stdout, new RegExp(`^\\s+name\\s+Grace H ${run}$`, 'm'));
  });

  test('budgets: --budget-usd and --budget-period on users and keys; shown, read back, cleared', T, async () => {
    /** The BUDGET cell of the table row starting with `id` (the columns are aligned on the header). */
    const budgetCell = (stdout, id) => {
      const lines = stdout.split('\n');
      const at = lines.find((l) => l.startsWith('ID ')).indexOf('BUDGET');
      const row = lines.find((l) => l.startsWith(id));
      assert.ok(at > 0 && row, stdout);
      return row.slice(at).split(/\s+/)[0];
    };

    const args = ['users', 'create', '--name', `Budget ${run}`, '--role', 'developer', '--budget-usd', '12.5', '--budget-period', 'month'];
    const { doc: user } = await cliJson(args);
    assert.equal(user.budget_usd, 12.5);
    assert.equal(user.budget_period, 'month');
    // The amount goes to the API as the text given: every one of the 9 decimal places gets there.
    const made = (await cliJson(['keys', 'create', '--name', `budget-${run}`, '--user', user.id, '--budget-usd', '0.000000001', '--budget-period', 'day'])).doc;
    assert.equal(made.budget_usd, 0.000000001);
    assert.equal(made.budget_period, 'day');
    const whole = (await cliJson(['keys', 'create', '--name', `budget-total-${run}`, '--user', user.id, '--budget-usd', '40'])).doc;
    assert.equal(whole.budget_usd, 40);
    assert.equal(whole.budget_period, 'total');

    // Read back: --json as created, the readable forms as decimals.
    assert.deepEqual((await cliJson(['users', 'show', user.id])).doc, user);
    const keyJson = (await cliJson(['keys', 'show', made.id])).doc;
    assert.equal(keyJson.budget_usd, 0.000000001);
    assert.equal(keyJson.budget_period, 'day');
    const listed = (await cliJson(['keys', 'list', '--user', user.id])).doc;
    assert.deepEqual(listed.data.map((k) => [k.id, k.budget_usd, k.budget_period]), [[made.id, 0.000000001, 'day'], [whole.id, 40, 'total']].sort());
    const shown = await cli(['users', 'show', user.id]);
    assert.equal(shown.code, 0, describeRun([], shown));
    assert.match(shown.stdout, /^\s+budget_usd\s+12\.5$/m);
    assert.match(shown.stdout, /^\s+budget_period\s+month$/m);
    const keyShown = await cli(['keys', 'show', made.id]);
    assert.match(keyShown.stdout, /^\s+budget_usd\s+0\.000000001$/m);
    assert.match(keyShown.stdout, /^\s+budget_period\s+day$/m);
    const users = await cli(['users', 'list', '--limit', '1000']);
    assert.equal(budgetCell(users.stdout, user.id), '12.5/month');
    assert.equal(budgetCell(users.stdout, dev.id), '-');
    const keys = await cli(['keys', 'list', '--user', user.id]);
    assert.equal(budgetCell(keys.stdout, made.id), '0.000000001/day');
    assert.equal(budgetCell(keys.stdout, whole.id), '40/total');

    // Changed, then cleared (none, or an empty value); the period stays unless given.
    const changed = (await cliJson(['users', 'update', user.id, '--budget-usd', '7.25', '--budget-period', 'day'])).doc;
    assert.equal(changed.budget_usd, 7.25);
    assert.equal(changed.budget_period, 'day');
    const cleared = (await cliJson(['users', 'update', user.id, '--budget-usd', 'none'])).doc;
    assert.equal(cleared.budget_usd, null);
    assert.equal(cleared.budget_period, 'day');
    assert.equal(budgetCell((await cli(['users', 'list', '--limit', '1000'])).stdout, user.id), '-');
    await cliJson(['users', 'update', user.id, '--budget-usd', '3']);
    const readable = await cli(['users', 'update', user.id, '--budget-usd', '', '--budget-period', 'total']);
    assert.equal(readable.code, 0, describeRun([], readable));
    assert.match(readable.stdout, /^\s+budget_usd\s+-$/m);
    assert.match(readable.stdout, /^\s+budget_period\s+total$/m);
    assert.equal((await cliJson(['users', 'show', user.id])).doc.budget_usd, null);
  });

  test('refused calls: exit 1, the field and its flag named on stderr; --json prints the error body', T, async () => {
    const role = await cliFails(['users', 'create', '--name', 'x', '--role', 'superuser'], 1);
    assert.match(role.stderr, /^switchyard: role \(--role\): .+ \[invalid_request\]$/m);
    assert.equal(role.stdout, '');

    const json = await cliFails(['users', 'create', '--name', 'x', '--role', 'superuser', '--json'], 1);
    const body = JSON.parse(json.stdout);
    assert.equal(body.error.code, 'invalid_request');
    assert.equal(body.error.field, 'role');

    const unknownUser = await cliFails(['users', 'show', 'usr_0000000000000000'], 1);
    assert.match(unknownUser.stderr, /usr_0000000000000000.*\[not_found\]$/m);
    const unknownKey = await cliFails(['keys', 'revoke', 'key_0000000000000000'], 1);
    assert.match(unknownKey.stderr, /key_0000000000000000.*\[not_found\]$/m);
    const unknownOwner = await cliFails(['keys', 'create', '--name', 'x', '--user', 'usr_0000000000000000'], 1);
    assert.match(unknownOwner.stderr, /user_id \(--user\)/);

    for (const [args, field, flag] of [
      [['keys', 'create', '--name', 'x', '--rpm', '0'], 'rpm', '--rpm'],
      [['keys', 'create', '--name', 'x', '--expires', 'tomorrow'], 'expires_at', '--expires'],
      [['keys', 'create', '--name', 'x', '--allow-ip', '10.0.0.0/99'], 'allowed_ips', '--allow-ip'],
      [['keys', 'create', '--name', 'x', '--metadata', '{not json'], 'metadata', '--metadata'],
      [['keys', 'create', '--name', 'x', '--metadata', '[1,2]'], 'metadata', '--metadata'],
      [['keys', 'rotate', 'key_0000000000000000', '--grace', '-1'], 'grace_seconds', '--grace'],
      [['users', 'list', '--limit', '0'], 'limit', '--limit'],
      [['users', 'update', dev.id, '--email', 'no-at-sign'], 'email', '--email'],
    ]) {
      const r = await cliFails(args, 1);
      assert.ok(r.stderr.includes(`${field} (${flag})`), describeRun(args, r));
    }
    // A budget the API does not take: its message, naming the flag; nothing is made or changed.
    for (const args of [
      ['users', 'create', '--name', `bad-budget-${run}`, '--role', 'viewer', '--budget-usd', '-1'],
      ['users', 'create', '--name', `bad-budget-${run}`, '--role', 'viewer', '--budget-usd', '1e3'],
      ['keys', 'create', '--name', `bad-budget-${run}`, '--budget-usd', '0.0000000001'],
      ['keys', 'create', '--name', `bad-budget-${run}`, '--budget-usd', '12,5'],
      ['users', 'update', dev.id, '--budget-usd', 'lots'],
    ]) {
      const r = await cliFails(args, 1);
      assert.match(r.stderr, /^switchyard: budget_usd \(--budget-usd\): budget_usd must be a non-negative amount of USD \(at most 9 decimal places\) or null \[invalid_request\]$/m, describeRun(args, r));
      assert.equal(r.stdout, '');
      const json = await cliFails([...args, '--json'], 1);
      assert.equal(JSON.parse(json.stdout).error.field, 'budget_usd');
    }
    const users = (await cliJson(['users', 'list', '--limit', '1000'])).doc;
    assert.ok(!users.data.some((u) => u.name === `bad-budget-${run}`));
    assert.equal((await cliJson(['users', 'show', dev.id])).doc.budget_usd, null);
    // Nothing to change is refused too.
    await cliFails(['users', 'update', dev.id], 1);
  });

  test('usage errors: exit 2 (unknown flag, missing flag or argument, bad value)', T, async () => {
    for (const args of [
      ['users', 'create', '--name', 'x', '--role', 'viewer', '--frobnicate'],
      ['users', 'create', '--role', 'viewer'],
      ['users', 'update'],
      ['users', 'update', 'usr_0000000000000000', '--enabled', 'maybe'],
      ['keys', 'create', '--name', 'x', '--rpm', 'many'],
      ['users', 'create', '--name', 'x', '--role', 'viewer', '--budget-period', 'week'],
      ['users', 'update', 'usr_0000000000000000', '--budget-period', 'Month'],
      ['keys', 'create', '--name', 'x', '--budget-usd', '5', '--budget-period', 'year'],
      ['keys', 'create', '--name', 'x', '--budget-usd'],
      ['keys', 'frobnicate'],
      ['users'],
    ]) {
      const r = await cliFails(args, 2);
      assert.notEqual(r.stderr, '', describeRun(args, r));
    }
    const help = await runSwitchyard(['keys', 'create', '--help']);
    assert.equal(help.code, 0);
    for (const flag of ['--name', '--user', '--models', '--expires', '--rpm', '--tpm', '--max-concurrency', '--allow-ip', '--require-signature', '--metadata', '--budget-usd', '--budget-period', '--database', '--config', '--json']) {
      assert.ok(help.stdout.includes(flag), `keys create --help lists ${flag}`);
    }
  });

  test('signing: --require-signature needs SWITCHYARD_SECRET_KEY; then the signing secret is shown once', T, async () => {
    const without = await cliFails(['keys', 'create', '--name', 'signed', '--require-signature'], 1);
    assert.match(without.stderr, /require_signature \(--require-signature\).*\[secret_key_required\]/);
    const { doc } = await cliJson(['keys', 'create', '--name', `signed-${run}`, '--require-signature'], { env: { SWITCHYARD_SECRET_KEY: SEALING_SECRET } });
    assert.equal(doc.require_signature, true);
    assert.match(doc.signing_secret, /^[0-9a-f]{64}$/);
    const short = await cliFails(['keys', 'list'], 1, { env: { SWITCHYARD_SECRET_KEY: 'short' } });
    assert.match(short.stderr, /SWITCHYARD_SECRET_KEY/);
  });

  test('the store: --config and ./switchyard.yaml name it like serve does; database: none is refused', T, async () => {
    const dir = mkdtempSync(path.join(tmpRoot, 'cfg-'));
    const file = path.join(dir, 'gateway.yaml');
    writeFileSync(file, `database: ${databaseURL}\n`);
    const viaFlag = (await cliJson(['users', 'show', dev.id, '-c', file], { database: '' })).doc;
    assert.equal(viaFlag.id, dev.id);
    writeFileSync(path.join(dir, 'switchyard.yaml'), `database: ${databaseURL}\n`);
    const viaCwd = (await cliJson(['users', 'show', dev.id], { database: '', cwd: dir })).doc;
    assert.equal(viaCwd.id, dev.id);

    writeFileSync(file, 'database: none\n');
    const none = await cliFails(['users', 'list', '--config', file], 1, { database: '' });
    assert.match(none.stderr, /database: none/);
    writeFileSync(file, 'database: [\n');
    await cliFails(['users', 'list', '--config', file], 2, { database: '' });
    const unreachable = await cliFails(['users', 'list'], 1, { database: 'postgres://nobody:pw@127.0.0.1:1/none' });
    assert.match(unreachable.stderr, /^switchyard: database postgres:\/\/nobody:\*\*\*@127\.0\.0\.1:1\/none: /m);
    assert.ok(!unreachable.stderr.includes(':pw@'));
  });

  test('no secret is stored in clear', T, async () => {
    assert.ok(secrets.size >= 6, `secrets seen: ${secrets.size}`);
    const bytes = storeBytes();
    assert.ok(bytes.length > 0);
    for (const s of secrets) assert.ok(!bytes.includes(s), `a secret (${s.slice(0, 7)}...) is in the ${backend} store in clear`);
    // ...while the store does hold what was written (the check reads the right place).
    assert.ok(bytes.includes(dev.id));
  });
});

// ---------------------------------------------------------------------------------------------

describe(`a running gateway on the same ${backend} store`, () => {
  let gw;
  const model = `gw-${run}`;
  const other = `gw-other-${run}`;

  before(async () => {
    gw = await startGateway(
      `listen: 127.0.0.1:0
workers: 1
database: ${databaseURL}
channels:
  - name: mockch
    type: mock
    models: [ ${model}, ${other} ]
    pricing:
      ${model}: { input: 1000, output: 2000 }
`,
      { env: { SWITCHYARD_SECRET_KEY: '' } },
    );
    gateways.add(gw);
  });

  async function chat(secret, m = model) {
    const res = await fetch(`${gw.baseURL}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${secret}` },
      body: JSON.stringify({ model: m, messages: [{ role: 'user', content: 'Hi' }] }),
      signal: AbortSignal.timeout(5_000),
    });
    await res.text();
    return res.status;
  }

  /** Polls chat(secret) every 50 ms until it answers `status`; resolves to the time it took (ms). */
  async function until(secret, status, limitMs = 5_000) {
    const start = Date.now();
    let last;
    while (Date.now() - start < limitMs) {
      last = await chat(secret);
      if (last === status) return Date.now() - start;
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.fail(`still ${last} (expected ${status}) after ${limitMs} ms\n${gw.output().stderr}`);
  }

  test('a key made by the CLI works within ~1 s, within its models; revoked, it stops within ~1 s', T, async (t) => {
    const user = (await cliJson(['users', 'create', '--name', `gw-user-${run}`, '--role', 'developer', '--models', model])).doc;
    const made = (await cliJson(['keys', 'create', '--name', `gw-key-${run}`, '--user', user.id, '--models', model])).doc;
    const accepted = await until(made.key, 200);
    t.diagnostic(`new key accepted after ${accepted} ms`);
    assert.ok(accepted <= 1_500, `the gateway took ${accepted} ms to accept the new key`);
    assert.equal(await chat(made.key, other), 403, 'a model outside the key is refused');

    await cliJson(['keys', 'revoke', made.id]);
    const refused = await until(made.key, 401);
    t.diagnostic(`revoked key refused after ${refused} ms`);
    assert.ok(refused <= 1_500, `the gateway took ${refused} ms to refuse the revoked key`);
  });
});

// ---------------------------------------------------------------------------------------------

describe(`switchyard usage on ${backend}`, () => {
  let gw;
  const model = `usage-${run}`;
  const other = `usage-other-${run}`;
  let user;
  let made;
  const started = new Date(Date.now() - 1_000).toISOString();

  before(async () => {
    gw = await startGateway(
      `listen: 127.0.0.1:0
workers: 1
database: ${databaseURL}
channels:
  - name: mockch
    type: mock
    models: [ ${model}, ${other} ]
    pricing:
      ${model}: { input: 1000, output: 2000 }
`,
      { env: { SWITCHYARD_SECRET_KEY: '' } },
    );
    gateways.add(gw);
  });

  async function chat(secret, m) {
    const res = await fetch(`${gw.baseURL}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${secret}` },
      body: JSON.stringify({ model: m, messages: [{ role: 'user', content: `Hello there, ${m}` }] }),
      signal: AbortSignal.timeout(5_000),
    });
    await res.text();
    return res.status;
  }

  const filter = () => ['--key', made.id, '--from', started];

  test('requests through a gateway are summed by the CLI, to the row', T, async () => {
    user = (await cliJson(['users', 'create', '--name', `usage-user-${run}`, '--role', 'developer'])).doc;
    made = (await cliJson(['keys', 'create', '--name', `=usage-key-${run}`, '--user', user.id])).doc;
    // The gateway takes the new key within about a second.
    const deadline = Date.now() + 5_000;
    let status;
    while ((status = await chat(made.key, model)) !== 200 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.equal(status, 200);
    assert.equal(await chat(made.key, model), 200);
    assert.equal(await chat(made.key, other), 200);

    // The ledger is written in batches (every 100 ms): wait for the three rows.
    let doc;
    while (Date.now() < deadline + 5_000) {
      doc = (await cliJson(['usage', ...filter()])).doc;
      if (doc.total.requests === 3) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(doc.total.requests, 3, JSON.stringify(doc));
    assert.equal(doc.group_by, 'day');
    assert.equal(doc.from, new Date(started).toISOString());
    // A mock channel given prices of its own prices only those models: the other has none.
    assert.equal(doc.total.unknown_cost_requests, 1, JSON.stringify(doc));
    assert.ok(doc.total.cost_usd > 0, JSON.stringify(doc));
    assert.ok(doc.total.input_tokens > 0 && doc.total.output_tokens > 0, JSON.stringify(doc));

    // By model: the two models, summing to the total.
    const byModel = (await cliJson(['usage', '--group-by', 'model', ...filter()])).doc;
    assert.deepEqual(byModel.data.map((g) => [g.group, g.requests]), [[model, 2], [other, 1]].sort());
    for (const field of ['input_tokens', 'cached_input_tokens', 'cache_write_tokens', 'output_tokens', 'reasoning_tokens', 'cost_usd']) {
      assert.equal(byModel.data.reduce((s, g) => s + g[field], 0), doc.total[field], field);
      assert.equal(byModel.total[field], doc.total[field], field);
    }
    // By user: the same, under the user's id.
    const byUser = (await cliJson(['usage', '--group-by', 'user', '--user', user.id, '--from', started])).doc;
    assert.equal(byUser.data.length, 1);
    assert.equal(byUser.data[0].group, user.id);
    assert.equal(byUser.total.input_tokens, doc.total.input_tokens);

    // --csv: one line per request, in time order, the same tokens; the name cannot start a formula.
    const csv = await cli(['usage', '--csv', ...filter()]);
    assert.equal(csv.code, 0, describeRun(['usage', '--csv'], csv));
    const lines = csv.stdout.split('\r\n').filter((l) => l !== '');
    assert.equal(lines[0], 'time,request_id,key_id,key_name,user_id,api,model,channel,upstream_model,input_tokens,cached_input_tokens,cache_write_5m_tokens,cache_write_1h_tokens,output_tokens,reasoning_tokens,estimated,cost_usd,status,duration_ms,ttfb_ms');
    assert.equal(lines.length, 4, csv.stdout);
    const rows = lines.slice(1).map((l) => l.split(','));
    const times = rows.map((r) => r[0]);
    assert.deepEqual([...times].sort(), times);
    for (const r of rows) {
      assert.equal(r[2], made.id);
      assert.equal(r[3], `'=usage-key-${run}`);
      assert.equal(r[4], user.id);
      // The priced model's cost; the unpriced one's is empty, never 0.
      if (r[6] === model) assert.match(r[16], /^0\.\d+$/);
      else assert.equal(r[16], '');
      assert.equal(r[17], '200');
    }
    assert.equal(rows.reduce((s, r) => s + Number(r[9]), 0), doc.total.input_tokens);
    assert.equal(rows.reduce((s, r) => s + Number(r[13]), 0), doc.total.output_tokens);
    // --csv --group-by: the groups as CSV.
    const grouped = await cli(['usage', '--csv', '--group-by', 'model', ...filter()]);
    assert.equal(grouped.code, 0, describeRun([], grouped));
    assert.match(grouped.stdout, /^model,requests,input_tokens,/);
    assert.equal(grouped.stdout.split('\r\n').filter((l) => l !== '').length, 3);
  });

  test('the readable report: an aligned table with a TOTAL line', T, async () => {
    const r = await cli(['usage', '--group-by', 'model', ...filter()]);
    assert.equal(r.code, 0, describeRun([], r));
    const lines = r.stdout.split('\n');
    assert.match(lines[0], /^usage from \S+ to \S+, by model$/);
    assert.match(lines[1], /^MODEL\s+REQUESTS\s+INPUT\s+CACHED\s+CACHE_WRITE\s+OUTPUT\s+REASONING\s+COST_USD$/);
    const total = lines.find((l) => l.startsWith('TOTAL'));
    assert.ok(total, r.stdout);
    assert.match(total, /^TOTAL\s+3\s+\d+\s+0\s+0\s+\d+\s+0\s+0\.\d+$/);
    // Aligned: every line of the table ends at the same column.
    const table = lines.slice(1, lines.indexOf(total) + 1);
    assert.equal(new Set(table.map((l) => l.length)).size, 1, r.stdout);
    assert.match(r.stdout, /1 request has no known price/);
    // No usage in a range: said so.
    const empty = await cli(['usage', '--key', made.id, '--from', '2001-01-01T00:00:00Z', '--to', '2001-02-01T00:00:00Z']);
    assert.equal(empty.code, 0);
    assert.match(empty.stdout, /no requests in this range/);
  });

  test('bad input: exit 1 naming the flag, or 2 for bad flags', T, async () => {
    const bad = await cliFails(['usage', '--from', 'yesterday'], 1);
    assert.match(bad.stderr, /from \(--from\): .*\[invalid_request\]/);
    const reversed = await cliFails(['usage', '--from', '2026-02-01T00:00:00Z', '--to', '2026-01-01T00:00:00Z'], 1);
    assert.match(reversed.stderr, /from \(--from\)/);
    await cliFails(['usage', '--group-by', 'week'], 2);
    await cliFails(['usage', '--csv', '--json'], 2);
  });
});
