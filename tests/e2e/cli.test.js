// The command line and process behaviour of the switchyard binary (docs/cli.md, the `log` and
// `limits` sections of docs/configuration.md): --version/--help, check-config and its error
// messages, ${ENV} substitution, ./switchyard.yaml lookup, the generated key, draining on
// SIGTERM/SIGINT, the access log, and the header/idle timeouts. No SDK: node:http, node:net, fetch.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runSwitchyard, startGateway } from './support/gateway.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const T = { timeout: 20_000 };

const APP_KEY = 'sk-app-cli-7f3e9a1b2c4d';
const WRONG_KEY = 'sk-wrong-cli-5d6e7f8a9b0c';
const PROMPT = 'purple-elephant-prompt';

// ---------------------------------------------------------------------------------------------
// Bookkeeping: every gateway started here is stopped, every temporary directory removed.
// ---------------------------------------------------------------------------------------------

const tmpRoot = mkdtempSync(path.join(os.tmpdir(), 'switchyard-cli-e2e-'));
const gateways = new Set();

after(async () => {
  await Promise.all([...gateways].map((gw) => gw.stop()));
  rmSync(tmpRoot, { recursive: true, force: true });
});

/** A fresh directory under tmpRoot with the given files ({ name: text }). */
function tmpDir(files = {}) {
  const dir = mkdtempSync(path.join(tmpRoot, 'd-'));
  for (const [name, text] of Object.entries(files)) writeFileSync(path.join(dir, name), text);
  return dir;
}

async function gateway(configText, opts) {
  const gw = await startGateway(configText, opts);
  gateways.add(gw);
  gw.exited.then(() => gateways.delete(gw));
  return gw;
}

/** Runs fn(gw) against a fresh gateway and always stops it (SIGTERM, then SIGKILL after 5 s). */
async function withGateway(configText, opts, fn) {
  const gw = await gateway(configText, opts);
  try {
    return await fn(gw);
  } finally {
    await gw.stop();
  }
}

function port(gw) {
  return Number(new URL(gw.baseURL).port);
}

function mockConfig({ extra = '', keys = `keys:\n  - name: app\n    key: ${APP_KEY}\n`, mock = '', workers = 1 } = {}) {
  return `listen: 127.0.0.1:0
workers: ${workers}
${extra}channels:
  - name: mockch
    type: mock
    models: [ demo ]
${mock ? `    mock: ${mock}\n` : ''}${keys}`;
}

/** POST /v1/chat/completions with fetch; resolves to { status, headers, text, json }. */
async function chat(gw, { key = APP_KEY, model = 'demo', stream = false, requestId, content = PROMPT } = {}) {
  const headers = { 'content-type': 'application/json' };
  if (key !== null) headers.authorization = `Bearer ${key}`;
  if (requestId) headers['x-request-id'] = requestId;
  const res = await fetch(`${gw.baseURL}/v1/chat/completions`, {
    method: 'POST',
    headers,
    body: JSON.stringify({ model, stream, messages: [{ role: 'user', content }] }),
    signal: AbortSignal.timeout(8_000),
  });
  const text = await res.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {}
  return { status: res.status, headers: res.headers, text, json };
}

function withOutput(gw, msg) {
  const { stdout, stderr } = gw.output();
  return `${msg}\n--- stdout ---\n${stdout}\n--- stderr ---\n${stderr}`;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function within(ms, what, promise) {
  let timer;
  try {
    return await Promise.race([
      promise,
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

// ---------------------------------------------------------------------------------------------
// 1. --version, --help, no subcommand
// ---------------------------------------------------------------------------------------------

describe('top-level options', () => {
  test('--version prints "switchyard VERSION" (the project version) and exits 0', T, async () => {
    const r = await runSwitchyard(['--version']);
    assert.equal(r.code, 0, `exit code; stderr: ${r.stderr}`);
    assert.match(r.stdout, /^switchyard \d+\.\d+\.\d+\s*$/);
    const cmake = readFileSync(path.resolve(here, '../../CMakeLists.txt'), 'utf8');
    const m = /project\(\s*switchyard\s+VERSION\s+(\d+\.\d+\.\d+)/.exec(cmake);
    assert.ok(m, 'project VERSION in CMakeLists.txt');
    assert.equal(r.stdout.trim(), `switchyard ${m[1]}`);
  });

  test('--help exits 0 and lists the serve and check-config subcommands', T, async () => {
    const r = await runSwitchyard(['--help']);
    assert.equal(r.code, 0, `exit code; stderr: ${r.stderr}`);
    const out = r.stdout + r.stderr;
    assert.match(out, /\bserve\b/);
    assert.match(out, /\bcheck-config\b/);
  });

  test('no subcommand, or an unknown one: non-zero exit, not a crash', T, async () => {
    for (const args of [[], ['frobnicate']]) {
      const r = await runSwitchyard(args, { timeoutMs: 5_000 });
      assert.equal(r.signal, null, `switchyard ${args.join(' ')} died from a signal`);
      assert.notEqual(r.code, 0, `switchyard ${args.join(' ')} exited 0; stdout: ${r.stdout}`);
      assert.doesNotMatch(r.stdout, /listening on/);
    }
  });
});

// ---------------------------------------------------------------------------------------------
// 2. check-config and invalid configurations
// ---------------------------------------------------------------------------------------------

const GOOD_YAML = `listen: 127.0.0.1:0
workers: 1
channels:
  - name: mockch
    type: mock
    models: [ demo ]
  - name: remote
    type: openai
    base_url: http://127.0.0.1:9/v1
    models: [ gpt-4o-mini ]
keys:
  - name: app
    key: ${APP_KEY}
`;

// Each: file name, text, the line and the fragment `FILE:LINE: <fragment>` the message must have.
const BAD_CONFIGS = [
  {
    what: 'unknown channel type',
    file: 'bad-type.yaml',
    text: `listen: 127.0.0.1:0
workers: 1
channels:
  - name: m
    type: foo
    models: [ demo ]
`,
    expect: "bad-type.yaml:5: channels[0].type: unknown channel type 'foo'",
  },
  {
    what: 'YAML syntax error (bad indentation)',
    file: 'syntax.yaml',
    text: `listen: 127.0.0.1:0
workers: 1
channels:
  - name: m
    type: mock
   models: [ demo ]
`,
    expect: 'syntax.yaml:6: ',
  },
  {
    what: 'unknown top-level key',
    file: 'unknown-top.yaml',
    text: `listen: 127.0.0.1:0
workers: 1
bogus_setting: 1
channels: []
`,
    expect: 'unknown-top.yaml:3: bogus_setting: ',
  },
  {
    what: 'unknown nested key (typo in limits)',
    file: 'unknown-nested.yaml',
    text: `listen: 127.0.0.1:0
limits:
  header_timeout_ms: 300
  idle_timout_ms: 300
`,
    expect: 'unknown-nested.yaml:4: limits.idle_timout_ms: ',
  },
  {
    what: 'invalid value in the second key',
    file: 'bad-key.yaml',
    text: `listen: 127.0.0.1:0
keys:
  - name: one
    key: sk-valid-key-123
  - name: two
    key: not-a-key
`,
    expect: 'bad-key.yaml:6: keys[1].key: ',
  },
];

describe('check-config', () => {
  test('a valid file: "FILE: ok (N channels, M keys)" and exit 0', T, async () => {
    const dir = tmpDir({ 'good.yaml': GOOD_YAML });
    const r = await runSwitchyard(['check-config', '--config', 'good.yaml'], { cwd: dir });
    assert.equal(r.code, 0, `exit code; stderr: ${r.stderr}`);
    assert.match(r.stdout, /^good\.yaml: ok \(2 channels, 1 keys?\)\s*$/);
  });

  for (const bad of BAD_CONFIGS) {
    test(`${bad.what}: exit 2, "${bad.expect}..." on stderr`, T, async () => {
      const dir = tmpDir({ [bad.file]: bad.text });
      const r = await runSwitchyard(['check-config', '--config', bad.file], { cwd: dir });
      assert.equal(r.code, 2, `exit code; stdout: ${r.stdout}; stderr: ${r.stderr}`);
      assert.ok(r.stderr.includes(bad.expect), `stderr should contain ${JSON.stringify(bad.expect)}, got: ${r.stderr}`);
      assert.doesNotMatch(r.stdout, /\bok\b/);
    });
  }

  test('a missing file: exit 2 and the file named', T, async () => {
    const dir = tmpDir();
    const r = await runSwitchyard(['check-config', '--config', 'no-such-file.yaml'], { cwd: dir });
    assert.equal(r.code, 2, `exit code; stderr: ${r.stderr}`);
    assert.match(r.stderr, /no-such-file\.yaml/);
  });

  test('serve --config with an invalid file: exit 2 with the same message, never listens', T, async () => {
    const bad = BAD_CONFIGS[0];
    const dir = tmpDir({ [bad.file]: bad.text });
    const r = await runSwitchyard(['serve', '--config', bad.file], { cwd: dir });
    assert.equal(r.code, 2, `exit code; stdout: ${r.stdout}; stderr: ${r.stderr}`);
    assert.ok(r.stderr.includes(bad.expect), `stderr should contain ${JSON.stringify(bad.expect)}, got: ${r.stderr}`);
    assert.doesNotMatch(r.stdout, /listening on/);
  });

  test('serve --config with a missing file: exit 2, does not fall back to defaults', T, async () => {
    // A valid ./switchyard.yaml next to it must not be used instead of the named file.
    const dir = tmpDir({ 'switchyard.yaml': GOOD_YAML });
    const r = await runSwitchyard(['serve', '--config', 'no-such-file.yaml'], { cwd: dir });
    assert.equal(r.code, 2, `exit code; stdout: ${r.stdout}; stderr: ${r.stderr}`);
    assert.match(r.stderr, /no-such-file\.yaml/);
    assert.doesNotMatch(r.stdout, /listening on/);
  });
});

// ---------------------------------------------------------------------------------------------
// 3-5. ${ENV} substitution, ./switchyard.yaml, the generated key
// ---------------------------------------------------------------------------------------------

describe('configuration sources and keys', () => {
  test('${ENV} and ${ENV:-default} in key values are substituted from the environment', T, async () => {
    const envKey = 'sk-from-env-4b5c6d7e8f';
    const defaultKey = 'sk-from-default-1a2b3c';
    const config = mockConfig({
      keys: `keys:
  - name: from-env
    key: "\${TEST_SY_KEY}"
  - name: from-default
    key: "\${TEST_SY_SURELY_UNSET_VAR:-${defaultKey}}"
`,
    });
    await withGateway(config, { env: { TEST_SY_KEY: envKey, TEST_SY_SURELY_UNSET_VAR: undefined } }, async (gw) => {
      const ok = await chat(gw, { key: envKey, requestId: 'env-ok' });
      assert.equal(ok.status, 200, withOutput(gw, `the env key was refused: ${ok.text}`));
      assert.equal(ok.json?.object, 'chat.completion');
      const dflt = await chat(gw, { key: defaultKey });
      assert.equal(dflt.status, 200, withOutput(gw, `the default key was refused: ${dflt.text}`));
      // The placeholder itself is not a key.
      const literal = await chat(gw, { key: '${TEST_SY_KEY}' });
      assert.equal(literal.status, 401, literal.text);
    });
  });

  test('serve without --config uses ./switchyard.yaml from the working directory', T, async () => {
    const key = 'sk-cwd-config-9a8b7c';
    const config = `listen: 127.0.0.1:0
workers: 1
channels:
  - name: cwdmock
    type: mock
    models: [ cwd-model ]
keys:
  - name: cwd
    key: ${key}
`;
    await withGateway(config, { configFlag: false }, async (gw) => {
      const { stdout } = gw.output();
      const line = stdout.split('\n').find((l) => /listening on/.test(l));
      assert.match(line, /config: switchyard\.yaml\)/, withOutput(gw, 'the start line should name ./switchyard.yaml'));
      // The file's own model and key work (the embedded defaults know neither).
      const r = await chat(gw, { key, model: 'cwd-model' });
      assert.equal(r.status, 200, withOutput(gw, r.text));
      assert.equal(r.json?.model, 'cwd-model');
    });
  });

  test('no keys and no master_key: a key is generated, printed once, and works; others get 401', T, async () => {
    const config = mockConfig({ keys: '' });
    const version = (await runSwitchyard(['--version'])).stdout.trim();
    const keys = [];
    for (let i = 0; i < 2; i++) {
      await withGateway(config, {}, async (gw) => {
        const { stdout } = await gw.waitForOutput((o) => /key: sk-sy-/.test(o.stdout), 3000);
        const lines = stdout.split('\n');
        const start = lines.find((l) => /listening on/.test(l));
        assert.ok(start.startsWith(`${version} listening on http://127.0.0.1:`), `start line: ${start}`);
        const keyLines = lines.filter((l) => /^\s*key: /.test(l));
        assert.equal(keyLines.length, 1, withOutput(gw, 'exactly one "key:" line'));
        const key = /key: (sk-sy-[^\s'"]+)/.exec(keyLines[0])[1];
        keys.push(key);

        const ok = await chat(gw, { key });
        assert.equal(ok.status, 200, withOutput(gw, ok.text));
        assert.equal(ok.json?.object, 'chat.completion');
        assert.ok(ok.json?.choices?.[0]?.message?.content?.length > 0);

        const other = await chat(gw, { key: `sk-sy-${'0'.repeat(48)}` });
        assert.equal(other.status, 401, other.text);
        assert.equal(other.json?.error?.code, 'invalid_api_key');
        const none = await chat(gw, { key: null });
        assert.equal(none.status, 401, none.text);
      });
    }
    assert.notEqual(keys[0], keys[1], 'each run should generate its own key');
  });
});

// ---------------------------------------------------------------------------------------------
// 6. Draining on SIGTERM / SIGINT
// ---------------------------------------------------------------------------------------------

/**
 * Tries a new TCP connection and a request on it. Resolves to 'refused' (connect failed),
 * 'closed' (connected, but closed or reset without an HTTP response) or 'served'.
 */
function probeConnection(p) {
  return new Promise((resolve) => {
    const sock = net.connect({ host: '127.0.0.1', port: p });
    let data = '';
    let connected = false;
    const done = (what) => {
      clearTimeout(timer);
      sock.destroy();
      resolve(what);
    };
    const timer = setTimeout(() => done(data ? 'served' : 'hung'), 2000);
    sock.on('connect', () => {
      connected = true;
      sock.write(`GET /v1/models HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${APP_KEY}\r\n\r\n`);
    });
    sock.on('data', (d) => {
      data += d;
      if (/^HTTP\/1\.1 \d{3}/.test(data)) done('served');
    });
    sock.on('error', (err) => done(!connected && err.code === 'ECONNREFUSED' ? 'refused' : data ? 'served' : 'closed'));
    sock.on('close', () => done(data ? 'served' : 'closed'));
  });
}

describe('draining', () => {
  test('SIGTERM: the listener closes, idle keep-alive connections close, the stream in flight completes, exit 0', T, async () => {
    const config = mockConfig({ workers: 2, mock: '{ chunk_delay_ms: 150, chunks: 6, words: 12 }' });
    const gw = await gateway(config);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const p = port(gw);
      const body = (stream) => JSON.stringify({ model: 'demo', stream, messages: [{ role: 'user', content: 'hi' }] });
      const headers = { 'content-type': 'application/json', authorization: `Bearer ${APP_KEY}` };

      // An idle keep-alive connection: one finished request, then nothing.
      const idleSocket = await new Promise((resolve, reject) => {
        const req = http.request({ host: '127.0.0.1', port: p, path: '/v1/chat/completions', method: 'POST', headers, agent }, (res) => {
          res.resume();
          res.on('end', () => (res.statusCode === 200 ? resolve(req.socket) : reject(new Error(`status ${res.statusCode}`))));
        });
        req.on('error', reject);
        req.end(body(false));
      });
      let idleClosedAt = null;
      const idleClosed = new Promise((resolve) => idleSocket.once('close', () => resolve((idleClosedAt = Date.now()))));

      // The stream.
      let streamText = '';
      let streamEndedAt = null;
      let firstChunk;
      const gotFirst = new Promise((r) => (firstChunk = r));
      const streamDone = new Promise((resolve, reject) => {
        const req = http.request(
          { host: '127.0.0.1', port: p, path: '/v1/chat/completions', method: 'POST', headers, agent: false },
          (res) => {
            res.setEncoding('utf8');
            res.on('data', (d) => {
              streamText += d;
              if (/data: \{/.test(streamText)) firstChunk();
            });
            res.on('end', () => {
              streamEndedAt = Date.now();
              resolve(res.statusCode);
            });
            res.on('error', reject);
          },
        );
        req.on('error', reject);
        req.end(body(true));
      });
      streamDone.catch(() => {});
      await within(5000, 'first stream chunk', gotFirst);

      const signalAt = Date.now();
      gw.child.kill('SIGTERM');

      // New connections: refused (or closed unanswered) soon after the signal, while the stream
      // is still running.
      let probe;
      let probeAt;
      while (Date.now() - signalAt < 3000) {
        probe = await probeConnection(p);
        probeAt = Date.now();
        if (probe === 'refused' || probe === 'closed') break;
        await sleep(25);
      }
      assert.ok(probe === 'refused' || probe === 'closed', withOutput(gw, `new connections were still ${probe} 3 s after SIGTERM`));
      assert.equal(streamEndedAt, null, withOutput(gw, `the listener only stopped accepting after the stream in flight had ended (${probeAt - signalAt} ms after SIGTERM)`));

      await within(3000, 'the idle keep-alive connection to be closed after SIGTERM', idleClosed);
      assert.ok(
        streamEndedAt === null || idleClosedAt <= streamEndedAt,
        withOutput(gw, 'the idle keep-alive connection was only closed after the stream in flight had ended'),
      );

      const status = await within(5000, 'the stream in flight to end', streamDone);
      assert.equal(status, 200);
      assert.match(streamText, /data: \[DONE\]\s*$/, withOutput(gw, `the stream did not complete:\n${streamText}`));
      assert.doesNotMatch(streamText, /"error"/);
      const events = streamText
        .split('\n')
        .filter((l) => l.startsWith('data: {'))
        .map((l) => JSON.parse(l.slice(6)));
      const contentChunks = events.filter((e) => e.choices?.[0]?.delta?.content);
      assert.equal(contentChunks.length, 6, `content chunks in the stream:\n${streamText}`);
      assert.equal(events.filter((e) => e.choices?.[0]?.finish_reason === 'stop').length, 1);

      const exit = await within(5000, 'the process to exit after the drain', gw.exited);
      assert.deepEqual(exit, { code: 0, signal: null }, withOutput(gw, 'exit status after SIGTERM'));
    } finally {
      agent.destroy();
      await gw.stop();
    }
  });

  test('SIGTERM/SIGINT right after the start line: drained, exit 0 (not killed by the signal)', T, async () => {
    // Once the "listening on" line is out, a supervisor may stop the gateway at any moment; the
    // signal must already be handled. Ten tries, so that a window of a few microseconds shows.
    const config = mockConfig({ extra: 'log: { access: off }\n' });
    for (let i = 0; i < 10; i++) {
      const sig = i % 2 ? 'SIGINT' : 'SIGTERM';
      const gw = await gateway(config);
      try {
        gw.child.kill(sig);
        const exit = await within(3000, `exit after ${sig}`, gw.exited);
        assert.deepEqual(exit, { code: 0, signal: null }, withOutput(gw, `try ${i + 1}: exit status after ${sig} sent right after the start line`));
      } finally {
        await gw.stop();
      }
    }
  });

  test('SIGINT when idle: exits 0 promptly', T, async () => {
    const gw = await gateway(mockConfig());
    try {
      const r = await chat(gw, {});
      assert.equal(r.status, 200, r.text);
      gw.child.kill('SIGINT');
      const exit = await within(3000, 'exit after SIGINT', gw.exited);
      assert.deepEqual(exit, { code: 0, signal: null }, withOutput(gw, 'exit status after SIGINT'));
    } finally {
      await gw.stop();
    }
  });
});

// ---------------------------------------------------------------------------------------------
// 7. The access log
// ---------------------------------------------------------------------------------------------

function jsonLines(text) {
  return text
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => {
      try {
        return JSON.parse(l);
      } catch (err) {
        throw new Error(`an access log line is not JSON (${err.message}): ${l}`);
      }
    });
}

function assertNoSecrets(text, secrets, where) {
  const lines = text.split('\n');
  for (const s of secrets) {
    const hit = lines.find((l) => l.includes(s));
    assert.equal(hit, undefined, `${where} contains ${JSON.stringify(s)}: ${hit}`);
  }
}

describe('access log', () => {
  test('stdout by default: one JSON line per request with the documented fields, no secrets or prompts', T, async () => {
    const config = mockConfig({ mock: '{ chunk_delay_ms: 40, chunks: 4, words: 12 }' });
    const gw = await gateway(config);
    let answer;
    try {
      const ok = await chat(gw, { requestId: 'cli-ok-1' });
      assert.equal(ok.status, 200, ok.text);
      answer = ok.json.choices[0].message.content;
      const st = await chat(gw, { requestId: 'cli-stream-2', stream: true });
      assert.equal(st.status, 200, st.text);
      assert.match(st.text, /data: \[DONE\]/);
      const unauth = await chat(gw, { requestId: 'cli-401-3', key: WRONG_KEY });
      assert.equal(unauth.status, 401, unauth.text);
      const nf = await chat(gw, { requestId: 'cli-404-4', model: 'nope-model' });
      assert.equal(nf.status, 404, nf.text);
      for (const [r, id] of [[ok, 'cli-ok-1'], [st, 'cli-stream-2'], [unauth, 'cli-401-3'], [nf, 'cli-404-4']]) {
        assert.equal(r.headers.get('x-request-id'), id);
      }

      // The lines come from a background thread: wait for them while the gateway runs.
      const ids = ['cli-ok-1', 'cli-stream-2', 'cli-401-3', 'cli-404-4'];
      await gw.waitForOutput((o) => {
        const seen = new Set(jsonLines(o.stdout).map((e) => e.request_id));
        return ids.every((id) => seen.has(id));
      }, 5000);
    } finally {
      await gw.stop();
    }
    await gw.closed;
    const { stdout, stderr } = gw.output();
    const entries = jsonLines(stdout);
    const byId = (id) => {
      const found = entries.filter((e) => e.request_id === id);
      assert.equal(found.length, 1, `access log lines for ${id}: ${JSON.stringify(found)}\n--- stdout ---\n${stdout}`);
      return found[0];
    };
    const now = Date.now();
    const expectations = [
      { id: 'cli-ok-1', status: 200, key: 'app', model: 'demo', channel: 'mockch', stream: false },
      { id: 'cli-stream-2', status: 200, key: 'app', model: 'demo', channel: 'mockch', stream: true },
      { id: 'cli-401-3', status: 401, key: null, stream: false, error: 'invalid_api_key' },
      { id: 'cli-404-4', status: 404, key: 'app', model: 'nope-model', stream: false, error: 'model_not_found' },
    ];
    for (const x of expectations) {
      const e = byId(x.id);
      const ctx = `access log line for ${x.id}: ${JSON.stringify(e)}`;
      for (const field of ['ts', 'request_id', 'method', 'path', 'key', 'model', 'channel', 'status', 'stream', 'duration_ms', 'ttfb_ms']) {
        assert.ok(field in e, `${ctx}: field ${field} missing`);
      }
      assert.match(e.ts, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/, ctx);
      assert.ok(Math.abs(Date.parse(e.ts) - now) < 120_000, `${ctx}: ts is not the current time`);
      assert.equal(e.method, 'POST', ctx);
      assert.equal(e.path, '/v1/chat/completions', ctx);
      assert.equal(e.status, x.status, ctx);
      assert.equal(e.key, x.key, ctx);
      assert.equal(e.stream, x.stream, ctx);
      if (x.model !== undefined) assert.equal(e.model, x.model, ctx);
      if (x.channel !== undefined) assert.equal(e.channel, x.channel, ctx);
      if (x.error !== undefined) assert.equal(e.error, x.error, ctx);
      assert.equal(typeof e.duration_ms, 'number', ctx);
      assert.ok(e.duration_ms >= 0, ctx);
      if (x.status === 200) {
        assert.equal(typeof e.ttfb_ms, 'number', ctx);
        assert.ok(e.ttfb_ms >= 0 && e.ttfb_ms <= e.duration_ms, `${ctx}: ttfb_ms should be in [0, duration_ms]`);
        assert.ok(!('error' in e) || e.error === null, `${ctx}: error on a 200`);
      }
    }
    // 4 content chunks 40 ms apart: the stream's duration covers the whole stream, not just the
    // head of the response.
    assert.ok(byId('cli-stream-2').duration_ms >= 100, `stream duration_ms: ${JSON.stringify(byId('cli-stream-2'))}`);
    const okLine = byId('cli-ok-1');
    assert.equal(typeof okLine.prompt_tokens, 'number', 'prompt_tokens of a response with usage');
    assert.equal(typeof okLine.completion_tokens, 'number', 'completion_tokens of a response with usage');

    const secrets = [APP_KEY, WRONG_KEY, PROMPT, answer];
    assertNoSecrets(stdout, secrets, 'stdout');
    assertNoSecrets(stderr, secrets, 'stderr');
  });

  test('log.access: off writes no access log lines', T, async () => {
    const gw = await gateway(mockConfig({ extra: 'log: { access: off }\n' }));
    try {
      const r = await chat(gw, { requestId: 'cli-off-1' });
      assert.equal(r.status, 200, r.text);
      const r2 = await chat(gw, { requestId: 'cli-off-2', key: WRONG_KEY });
      assert.equal(r2.status, 401, r2.text);
    } finally {
      await gw.stop();
    }
    await gw.closed;
    const { stdout, stderr } = gw.output();
    assert.deepEqual(jsonLines(stdout), [], `stdout:\n${stdout}`);
    assert.ok(!stdout.includes('cli-off-') && !stderr.includes('cli-off-'), withOutput(gw, 'the request ids were logged'));
    assertNoSecrets(stdout + stderr, [APP_KEY, WRONG_KEY, PROMPT], 'output');
  });

  test('log.access: a file path: lines are appended to that file, not written to stdout', T, async () => {
    const dir = tmpDir();
    const logFile = path.join(dir, 'access.log');
    writeFileSync(logFile, 'pre-existing line\n');
    const gw = await gateway(mockConfig({ extra: `log: { access: "${logFile}" }\n` }));
    try {
      const r = await chat(gw, { requestId: 'cli-file-1' });
      assert.equal(r.status, 200, r.text);
      const deadline = Date.now() + 5000;
      let text = '';
      while (Date.now() < deadline) {
        text = existsSync(logFile) ? readFileSync(logFile, 'utf8') : '';
        if (text.includes('"cli-file-1"')) break;
        await sleep(25);
      }
      assert.ok(text.startsWith('pre-existing line\n'), `the file was not appended to:\n${text}`);
      const entries = jsonLines(text).filter((e) => e.request_id === 'cli-file-1');
      assert.equal(entries.length, 1, withOutput(gw, `access log file:\n${text}`));
      assert.equal(entries[0].status, 200);
      assert.equal(entries[0].key, 'app');
      assert.equal(entries[0].model, 'demo');
      assertNoSecrets(text, [APP_KEY, PROMPT], 'the access log file');
    } finally {
      await gw.stop();
    }
    await gw.closed;
    const { stdout } = gw.output();
    assert.deepEqual(jsonLines(stdout), [], `access log lines on stdout although log.access is a file:\n${stdout}`);
  });
});

// ---------------------------------------------------------------------------------------------
// 8. Header and idle timeouts
// ---------------------------------------------------------------------------------------------

/** Resolves with the time (Date.now()) `sock` is closed (or reset). */
function whenClosed(sock) {
  return new Promise((resolve) => {
    sock.on('error', () => {});
    sock.once('close', () => resolve(Date.now()));
  });
}

/** Resolves when a complete HTTP/1.1 response (content-length or chunked) has arrived on sock. */
function readResponse(sock) {
  return new Promise((resolve, reject) => {
    let buf = '';
    const onData = (d) => {
      buf += d;
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      const head = buf.slice(0, end);
      const rest = buf.slice(end + 4);
      const cl = /\r\ncontent-length:\s*(\d+)/i.exec(head);
      const complete = cl ? Buffer.byteLength(rest) >= Number(cl[1]) : /\r\n0\r\n\r\n$/.test(`\r\n${rest}`);
      if (complete) {
        sock.off('data', onData);
        resolve(head);
      }
    };
    sock.setEncoding('utf8');
    sock.on('data', onData);
    sock.once('close', () => reject(new Error(`connection closed before a complete response:\n${buf}`)));
  });
}

describe('connection timeouts', () => {
  const config = mockConfig({ extra: 'limits: { idle_timeout_ms: 300, header_timeout_ms: 300 }\n' });

  test('a new connection that sends nothing is closed after header_timeout_ms', T, async () => {
    await withGateway(config, {}, async (gw) => {
      const sock = net.connect({ host: '127.0.0.1', port: port(gw) });
      try {
        const closed = whenClosed(sock);
        await new Promise((r) => sock.once('connect', r));
        const t0 = Date.now();
        const at = await within(3000, 'the server to close a silent new connection', closed);
        assert.ok(at - t0 >= 250, `closed after ${at - t0} ms, before header_timeout_ms (300)`);
      } finally {
        sock.destroy();
      }
    });
  });

  test('a keep-alive connection that stays silent after a request is closed after idle_timeout_ms', T, async () => {
    await withGateway(config, {}, async (gw) => {
      const sock = net.connect({ host: '127.0.0.1', port: port(gw) });
      try {
        const closed = whenClosed(sock);
        await new Promise((r) => sock.once('connect', r));
        const payload = JSON.stringify({ model: 'demo', messages: [{ role: 'user', content: 'hi' }] });
        sock.write(
          `POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${APP_KEY}\r\n` +
            `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(payload)}\r\n\r\n${payload}`,
        );
        const head = await within(3000, 'the response', readResponse(sock));
        assert.match(head, /^HTTP\/1\.1 200 /);
        assert.doesNotMatch(head, /\r\nconnection:\s*close/i, 'the server should keep the connection alive');
        const t0 = Date.now();
        const at = await within(3000, 'the server to close the idle keep-alive connection', closed);
        assert.ok(at - t0 >= 250, `closed after ${at - t0} ms, before idle_timeout_ms (300)`);
      } finally {
        sock.destroy();
      }
    });
  });

  test('a request body that stops arriving is cut off after idle_timeout_ms', T, async () => {
    await withGateway(config, {}, async (gw) => {
      const sock = net.connect({ host: '127.0.0.1', port: port(gw) });
      try {
        const closed = whenClosed(sock);
        await new Promise((r) => sock.once('connect', r));
        sock.write(
          `POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${APP_KEY}\r\n` +
            `Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"model":"demo",`,
        );
        const t0 = Date.now();
        const at = await within(3000, 'the server to give up on the stalled body', closed);
        assert.ok(at - t0 >= 250, `closed after ${at - t0} ms, before idle_timeout_ms (300)`);
      } finally {
        sock.destroy();
      }
    });
  });
});
