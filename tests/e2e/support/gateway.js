// Helpers for the end-to-end tests: a fake OpenAI upstream (node:http) and a real Switchyard
// process started from a YAML config. No dependencies beyond node itself.
import http from 'node:http';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));

// ---------------------------------------------------------------------------------------------
// Fake upstream
// ---------------------------------------------------------------------------------------------

export const FAKE_DEFAULTS = Object.freeze({
  // The completion text, and how the stream splits it (the pieces concatenate to `text`).
  pieces: ['Hello', ' from', ' the', ' fake', ' upstream', '!'],
  usage: { prompt_tokens: 12, completion_tokens: 6, total_tokens: 18 },
  // Values exactly representable in float32, so the SDK's base64 decoding round-trips them.
  embedding: [0.5, -0.25, 0.125, 1, -2, 0.0625],
  // Requests whose body.model equals this get a stream that sends a few chunks and then stalls.
  stallModel: 'gpt-stall',
  stallChunks: ['Stalling', ' now'],
});

/**
 * Starts an HTTP server on 127.0.0.1 (free port) that imitates the OpenAI API:
 *   POST /v1/chat/completions  JSON chat.completion, or SSE chat.completion.chunk events when
 *                              body.stream is true (a usage chunk when
 *                              stream_options.include_usage, then `data: [DONE]`);
 *                              body.model === stallModel: a couple of chunks, then nothing more.
 *   POST /v1/embeddings        one embedding per input (base64 when encoding_format is base64).
 * Any other route answers 404 with an OpenAI-style error body.
 *
 * `handlers` overrides FAKE_DEFAULTS fields, and may hold `routes`: { 'POST /v1/x': fn(rec, req,
 * res) } for a route of a test's own (called before the built-in ones).
 *
 * Every request is recorded in `requests` as { method, url, headers, body, rawBody, closed,
 * socketClosed, completed }: `closed` resolves when the response is closed (finished normally or
 * cut off by the peer) to { aborted }, where aborted means the peer went away before the response
 * ended; `socketClosed` resolves when the TCP connection it came on closes.
 */
export async function startFakeUpstream(handlers = {}) {
  const opts = { ...FAKE_DEFAULTS, ...handlers };
  const text = opts.pieces.join('');
  const requests = [];
  const waiters = new Set();
  const sockets = new Set();

  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const rawBody = Buffer.concat(chunks).toString('utf8');
      let body;
      try {
        body = rawBody ? JSON.parse(rawBody) : undefined;
      } catch {
        body = undefined;
      }
      const rec = {
        method: req.method,
        url: req.url,
        headers: req.headers,
        rawBody,
        body,
        completed: false,
        aborted: false,
      };
      rec.closed = new Promise((resolve) => {
        res.once('close', () => {
          rec.completed = res.writableFinished;
          rec.aborted = !res.writableFinished;
          resolve({ aborted: rec.aborted });
        });
      });
      rec.socketClosed = new Promise((resolve) => req.socket.once('close', () => resolve()));
      requests.push(rec);
      for (const w of waiters) w.check(rec);
      try {
        route(rec, req, res);
      } catch (err) {
        if (!res.headersSent) sendJson(res, 500, errorBody(String(err?.stack ?? err), null, 'server_error'));
        else res.destroy(err);
      }
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });

  function route(rec, req, res) {
    const key = `${req.method} ${req.url.split('?')[0]}`;
    if (opts.routes?.[key]) return opts.routes[key](rec, req, res);
    if (key === 'POST /v1/chat/completions') return chat(rec, res);
    if (key === 'POST /v1/embeddings') return embeddings(rec, res);
    sendJson(res, 404, errorBody(`Unknown route ${key}`, null, 'invalid_request_error'));
  }

  function chat(rec, res) {
    const body = rec.body;
    if (!body || typeof body !== 'object') {
      return sendJson(res, 400, errorBody('We could not parse the JSON body of your request.', null, 'invalid_request_error'));
    }
    const id = `chatcmpl-fake${requests.length}`;
    const created = 1_700_000_000;
    const model = body.model;
    if (!body.stream) {
      return sendJson(res, 200, {
        id,
        object: 'chat.completion',
        created,
        model,
        system_fingerprint: 'fp_fake',
        choices: [
          {
            index: 0,
            message: { role: 'assistant', content: text, refusal: null, annotations: [] },
            logprobs: null,
            finish_reason: 'stop',
          },
        ],
        usage: opts.usage,
      });
    }
    const includeUsage = body.stream_options?.include_usage === true;
    const chunk = (delta, finish_reason = null) => ({
      id,
      object: 'chat.completion.chunk',
      created,
      model,
      system_fingerprint: 'fp_fake',
      choices: [{ index: 0, delta, logprobs: null, finish_reason }],
      ...(includeUsage ? { usage: null } : {}),
    });
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
    });
    res.flushHeaders();
    const send = (obj) => res.write(`data: ${JSON.stringify(obj)}\n\n`);
    if (model === opts.stallModel) {
      send(chunk({ role: 'assistant', content: '', refusal: null }));
      for (const p of opts.stallChunks) send(chunk({ content: p }));
      return; // ...and never another byte: only the peer closing ends this response.
    }
    send(chunk({ role: 'assistant', content: '', refusal: null }));
    for (const p of opts.pieces) send(chunk({ content: p }));
    send(chunk({}, 'stop'));
    if (includeUsage) {
      send({ id, object: 'chat.completion.chunk', created, model, system_fingerprint: 'fp_fake', choices: [], usage: opts.usage });
    }
    res.end('data: [DONE]\n\n');
  }

  function embeddings(rec, res) {
    const body = rec.body;
    if (!body || typeof body !== 'object' || body.input === undefined) {
      return sendJson(res, 400, errorBody("'input' is a required property", 'input', 'invalid_request_error'));
    }
    const inputs = Array.isArray(body.input) && typeof body.input[0] !== 'number' ? body.input : [body.input];
    const encode = (vec) =>
      body.encoding_format === 'base64' ? Buffer.from(new Float32Array(vec).buffer).toString('base64') : vec;
    sendJson(res, 200, {
      object: 'list',
      data: inputs.map((_, index) => ({ object: 'embedding', index, embedding: encode(opts.embedding) })),
      model: body.model,
      usage: { prompt_tokens: inputs.length, total_tokens: inputs.length },
    });
  }

  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address();

  return {
    port,
    baseURL: `http://127.0.0.1:${port}/v1`,
    text,
    options: opts,
    requests,
    /** Resolves with the first recorded request (past or future) that satisfies `pred`. */
    waitForRequest(pred, timeoutMs = 5000) {
      const found = requests.find(pred);
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const w = {
          check(rec) {
            if (!pred(rec)) return;
            waiters.delete(w);
            clearTimeout(timer);
            resolve(rec);
          },
        };
        const timer = setTimeout(() => {
          waiters.delete(w);
          reject(new Error(`fake upstream: no matching request within ${timeoutMs} ms`));
        }, timeoutMs);
        waiters.add(w);
      });
    },
    /** Forget the recorded requests. */
    reset() {
      requests.length = 0;
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

function errorBody(message, param = null, type = 'invalid_request_error', code = null) {
  return { error: { message, type, param, code } };
}

function sendJson(res, status, obj) {
  const payload = JSON.stringify(obj);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) });
  res.end(payload);
}

// ---------------------------------------------------------------------------------------------
// Gateway process
// ---------------------------------------------------------------------------------------------

const live = new Set();
const liveDirs = new Set();
process.once('exit', () => {
  for (const child of live) {
    try {
      child.kill('SIGKILL');
    } catch {}
  }
  for (const dir of liveDirs) {
    try {
      rmSync(dir, { recursive: true, force: true });
    } catch {}
  }
});

export function gatewayBinary() {
  return process.env.SWITCHYARD_BIN || path.resolve(here, '../../../build/switchyard');
}

/**
 * Writes `configYamlText` to a temporary file, starts `switchyard serve --config <file>` and
 * waits (up to `timeoutMs`) for a stdout line `listening on http://host:port`.
 * Resolves to { baseURL, child, dir, configPath, output(), waitForOutput(), exited, closed,
 * exitInfo, stop() }; baseURL is the printed address without a trailing slash. stop() sends
 * SIGTERM, waits for the exit (SIGKILL after 5 s) and resolves to { code, signal }; it asserts
 * nothing. The process is killed (and its temporary directory removed) when node exits in any case.
 *
 * With `configFlag: false` the file is written as `switchyard.yaml` in the temporary directory and
 * the gateway is started there as `switchyard serve` (no --config), to exercise the lookup of
 * ./switchyard.yaml. `cwd` sets the working directory otherwise (default: the temporary directory,
 * where the default SQLite database then lives and dies).
 */
export function startGateway(
  configYamlText,
  { timeoutMs = 10_000, args = [], env = {}, configFlag = true, cwd = undefined } = {},
) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'switchyard-e2e-'));
  liveDirs.add(dir);
  const configPath = path.join(dir, 'switchyard.yaml');
  writeFileSync(configPath, configYamlText);
  const bin = gatewayBinary();

  let stdout = '';
  let stderr = '';
  const argv = configFlag ? ['serve', '--config', configPath, ...args] : ['serve', ...args];
  const child = spawn(bin, argv, {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
    cwd: configFlag ? (cwd ?? dir) : dir,  // the default database (./switchyard-data) goes there too
  });
  live.add(child);
  const exited = new Promise((resolve) => {
    child.once('exit', (code, signal) => {
      live.delete(child);
      resolve({ code, signal });
    });
  });
  const cleanup = () => {
    rmSync(dir, { recursive: true, force: true });
    liveDirs.delete(dir);
  };
  exited.then(cleanup);
  // Output may still be in the pipes when 'exit' fires; 'close' comes once they are drained.
  const closed = new Promise((resolve) => child.once('close', resolve));
  child.stdout.setEncoding('utf8');
  child.stderr.setEncoding('utf8');

  let exitInfo = null;
  exited.then((info) => (exitInfo = info));

  async function stop() {
    if (exitInfo) return exitInfo;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    const info = await exited;
    clearTimeout(timer);
    return info;
  }

  return new Promise((resolve, reject) => {
    let settled = false;
    const fail = (why) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(
        new Error(
          `switchyard (${bin}) ${why}\n--- config ---\n${configYamlText}\n--- stdout ---\n${stdout}\n--- stderr ---\n${stderr}`,
        ),
      );
    };
    const timer = setTimeout(() => fail(`printed no "listening on http://..." line on stdout within ${timeoutMs} ms`), timeoutMs);
    child.once('error', (err) => {
      cleanup();
      fail(`could not be started: ${err.message}`);
    });
    child.stderr.on('data', (d) => (stderr += d));
    child.stdout.on('data', (d) => {
      stdout += d;
      if (settled) return;
      const m = /listening on (http:\/\/[^\s]+)/.exec(stdout);
      if (!m) return;
      settled = true;
      clearTimeout(timer);
      const baseURL = m[1].replace(/[.,;:)"'\]]+$/, '').replace(/\/+$/, '');
      resolve({
        baseURL,
        child,
        dir,
        configPath,
        output: () => ({ stdout, stderr }),
        /**
         * Resolves with the output ({ stdout, stderr }) once `pred(output)` is true; polls every
         * 20 ms and rejects after `waitMs` (or as soon as the output is complete and still fails).
         */
        waitForOutput(pred, waitMs = 5000) {
          const deadline = Date.now() + waitMs;
          let done = false;
          closed.then(() => (done = true));
          return new Promise((resolve2, reject2) => {
            const poll = () => {
              const out = { stdout, stderr };
              if (pred(out)) return resolve2(out);
              if (done || Date.now() > deadline) {
                return reject2(
                  new Error(`expected output did not appear within ${waitMs} ms\n--- stdout ---\n${stdout}\n--- stderr ---\n${stderr}`),
                );
              }
              setTimeout(poll, 20);
            };
            poll();
          });
        },
        /** Resolves to { code, signal } when the process exits. */
        exited,
        /** Resolves once the process has exited and its stdout and stderr are drained. */
        closed,
        /** null while the process runs; { code, signal } once it has exited. */
        get exitInfo() {
          return exitInfo;
        },
        stop,
      });
    });
    exited.then(async ({ code, signal }) => {
      await Promise.race([closed, new Promise((r) => setTimeout(r, 500))]);
      fail(`exited before listening (code ${code}, signal ${signal})`);
    });
  });
}


/**
 * Runs `switchyard ...args` to completion (SIGKILL after `timeoutMs`) and resolves to
 * { code, signal, stdout, stderr }.
 */
export function runSwitchyard(args, { cwd = undefined, env = {}, timeoutMs = 10_000 } = {}) {
  const bin = gatewayBinary();
  return new Promise((resolve, reject) => {
    let stdout = '';
    let stderr = '';
    const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'], cwd, env: { ...process.env, ...env } });
    live.add(child);
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.once('error', (err) => {
      clearTimeout(timer);
      live.delete(child);
      reject(new Error(`switchyard (${bin}) could not be started: ${err.message}`));
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      live.delete(child);
      if (timedOut) {
        reject(new Error(`switchyard ${args.join(' ')} did not exit within ${timeoutMs} ms\n--- stdout ---\n${stdout}\n--- stderr ---\n${stderr}`));
        return;
      }
      resolve({ code, signal, stdout, stderr });
    });
  });
}
