// The official `openai` SDK (pinned in package-lock.json) against a real Switchyard process that
// routes to a fake OpenAI upstream and to the built-in mock channel.
import { after, afterEach, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { startFakeUpstream, startGateway } from './support/gateway.js';

const APP_KEY = 'sk-app-0123456789abcdef';
const LIMITED_KEY = 'sk-limited-0123456789abcdef';
const UPSTREAM_KEY = 'sk-upstream-secret';
const T = { timeout: 10_000 };

let fake;
let gw;

function config(fakePort) {
  return `listen: 127.0.0.1:0
workers: 1
channels:
  - name: fake-openai
    type: openai
    base_url: http://127.0.0.1:${fakePort}/v1
    api_keys: [ "${UPSTREAM_KEY}" ]
    models: { gpt-4o-mini: gpt-4o-mini-2024-07-18, text-embedding-3-small: text-embedding-3-small, gpt-stall: gpt-stall }
  - name: mock
    type: mock
    models: [ demo ]
keys:
  - name: app
    key: ${APP_KEY}
    models: [ "*" ]
  - name: limited
    key: ${LIMITED_KEY}
    models: [ "demo" ]
`;
}

function client(apiKey = APP_KEY) {
  return new OpenAI({ apiKey, baseURL: `${gw.baseURL}/v1`, maxRetries: 0, timeout: 8_000 });
}

function timeout(ms, what) {
  let timer;
  const p = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  p.cancel = () => clearTimeout(timer);
  return p;
}

async function within(ms, what, promise) {
  const t = timeout(ms, what);
  try {
    return await Promise.race([promise, t]);
  } finally {
    t.cancel();
  }
}

/** Collects a chat completion stream: chunks, concatenated content, last usage seen. */
async function drain(stream) {
  const chunks = [];
  let text = '';
  let usage = null;
  for await (const chunk of stream) {
    chunks.push(chunk);
    for (const choice of chunk.choices ?? []) text += choice.delta?.content ?? '';
    if (chunk.usage) usage = chunk.usage;
  }
  return { chunks, text, usage };
}

/** Runs `fn`, which must reject with an instance of `cls`; returns the error. */
async function expectError(cls, fn) {
  let err;
  try {
    await fn();
  } catch (e) {
    err = e;
  }
  assert.ok(err, `expected ${cls.name}, but the call succeeded`);
  assert.ok(err instanceof cls, `expected ${cls.name}, got ${err?.constructor?.name}: ${err?.message}`);
  return err;
}

const messages = [
  { role: 'system', content: 'You are terse.' },
  { role: 'user', content: 'Say hello.' },
];

before(async () => {
  fake = await startFakeUpstream();
  gw = await startGateway(config(fake.port));
});

// A gateway that dies fails the test during which it died (with its exit status and the end of
// its output), and is restarted so that the later tests still say something.
afterEach(async () => {
  if (!gw) return;
  // A crash right after the last response takes a moment to be noticed.
  await Promise.race([gw.exited, new Promise((resolve) => setTimeout(resolve, 50))]);
  if (!gw.exitInfo) return;
  const { code, signal } = gw.exitInfo;
  const { stdout, stderr } = gw.output();
  gw = await startGateway(config(fake.port));
  throw new Error(
    `the gateway died during this test (code ${code}, signal ${signal}); it was restarted\n` +
      `--- stderr (end) ---\n${stderr.slice(-2000)}\n--- stdout (end) ---\n${stdout.slice(-2000)}`,
  );
});

after(async () => {
  await gw?.stop();
  await fake?.close();
});

describe('chat completions through an openai channel', () => {
  test('non-streamed: content comes back; model mapped, upstream key used, body otherwise unchanged', T, async () => {
    fake.reset();
    const request = {
      model: 'gpt-4o-mini',
      messages,
      temperature: 0.3,
      max_tokens: 50,
      top_p: 0.9,
      seed: 7,
      user: 'e2e-user',
      metadata: { suite: 'e2e' },
      store: false,
      stop: ['\n\n'],
      n: 1,
    };
    const completion = await client().chat.completions.create(request);

    assert.equal(completion.object, 'chat.completion');
    assert.equal(completion.choices.length, 1);
    assert.equal(completion.choices[0].message.role, 'assistant');
    assert.equal(completion.choices[0].message.content, fake.text);
    assert.equal(completion.choices[0].finish_reason, 'stop');
    assert.deepEqual(completion.usage, fake.options.usage);

    const chats = fake.requests.filter((r) => r.url.startsWith('/v1/chat/completions'));
    assert.equal(chats.length, 1, 'the upstream got exactly one chat request');
    const up = chats[0];
    assert.equal(up.method, 'POST');
    assert.equal(up.headers.authorization, `Bearer ${UPSTREAM_KEY}`);
    assert.ok(!JSON.stringify(up.headers).includes(APP_KEY), "the client's key must not reach the upstream");
    assert.ok(up.body, `upstream body is JSON: ${up.rawBody}`);
    assert.equal(up.body.model, 'gpt-4o-mini-2024-07-18');
    const { model: _m, ...rest } = up.body;
    const { model: _r, ...sent } = request;
    assert.deepEqual(rest, sent, 'every field but model reaches the upstream unchanged');
  });

  test('streamed: deltas concatenate to the upstream text; usage chunk with include_usage', T, async () => {
    fake.reset();
    const stream = await client().chat.completions.create({
      model: 'gpt-4o-mini',
      messages,
      stream: true,
      stream_options: { include_usage: true },
    });
    const { chunks, text, usage } = await drain(stream);

    assert.ok(chunks.length >= fake.options.pieces.length, `several chunks arrive (got ${chunks.length})`);
    for (const c of chunks) assert.equal(c.object, 'chat.completion.chunk');
    assert.equal(text, fake.text);
    assert.ok(
      chunks.some((c) => c.choices?.[0]?.finish_reason === 'stop'),
      'a chunk carries finish_reason stop',
    );
    assert.deepEqual(usage, fake.options.usage);

    const up = await fake.waitForRequest((r) => r.url.startsWith('/v1/chat/completions'));
    assert.equal(up.body.model, 'gpt-4o-mini-2024-07-18');
    assert.equal(up.body.stream, true);
    assert.deepEqual(up.body.messages, messages);
    assert.equal(up.headers.authorization, `Bearer ${UPSTREAM_KEY}`);
  });

  test('streamed without include_usage: no usage chunk the client did not ask for', T, async () => {
    // The gateway may ask the upstream for usage to meter the request; the client must still get
    // the stream OpenAI would send it: no usage, no chunk with empty choices.
    const stream = await client().chat.completions.create({ model: 'gpt-4o-mini', messages, stream: true });
    const { chunks, text } = await drain(stream);
    assert.equal(text, fake.text);
    for (const c of chunks) {
      assert.ok(!c.usage, `unexpected usage: ${JSON.stringify(c)}`);
      assert.ok(c.choices.length > 0, `unexpected chunk without choices: ${JSON.stringify(c)}`);
    }
  });

  test('client abort mid-stream closes the upstream request within 2 s', T, async () => {
    fake.reset();
    const controller = new AbortController();
    const stream = await client().chat.completions.create(
      { model: 'gpt-stall', messages, stream: true },
      { signal: controller.signal },
    );
    const up = await fake.waitForRequest((r) => r.body?.model === 'gpt-stall');

    // Read what the upstream sent before it stalled; a gateway that buffers the stream fails here.
    const wanted = fake.options.stallChunks.join('');
    const it = stream[Symbol.asyncIterator]();
    let text = '';
    try {
      await within(3000, 'the chunks sent before the stall reach the client (does the gateway buffer streams?)', (async () => {
        while (text !== wanted) {
          const { value, done } = await it.next();
          assert.ok(!done, `the stream must not end while the upstream stalls (got ${JSON.stringify(text)})`);
          text += value.choices?.[0]?.delta?.content ?? '';
        }
      })());
    } catch (err) {
      controller.abort();
      throw err;
    }
    assert.equal(up.completed, false, 'the upstream response is still open before the abort');

    controller.abort();
    const { aborted } = await within(2000, 'the upstream sees its request closed after the client aborted', up.closed);
    assert.equal(aborted, true);

    // The gateway still serves requests afterwards.
    const ok = await client().chat.completions.create({ model: 'gpt-4o-mini', messages });
    assert.equal(ok.choices[0].message.content, fake.text);
  });
});

describe('the built-in mock channel', () => {
  test('non-streamed: a chat.completion with content and usage, deterministic', T, async () => {
    const req = { model: 'demo', messages };
    const a = await client().chat.completions.create(req);
    assert.equal(a.object, 'chat.completion');
    assert.equal(a.choices[0].message.role, 'assistant');
    assert.equal(typeof a.choices[0].message.content, 'string');
    assert.ok(a.choices[0].message.content.length > 0, 'non-empty content');
    assert.ok(a.usage, 'usage present');
    assert.ok(a.usage.prompt_tokens > 0 && a.usage.completion_tokens > 0);
    assert.equal(a.usage.total_tokens, a.usage.prompt_tokens + a.usage.completion_tokens);

    const b = await client().chat.completions.create(req);
    assert.equal(b.choices[0].message.content, a.choices[0].message.content, 'same request, same content');
  });

  test('streamed: role first, several chunks, finish_reason stop, usage chunk; deterministic', T, async () => {
    const req = { model: 'demo', messages, stream: true, stream_options: { include_usage: true } };
    const a = await drain(await client().chat.completions.create(req));
    assert.ok(a.chunks.length >= 3, `several chunks (got ${a.chunks.length})`);
    assert.equal(a.chunks[0].choices[0].delta.role, 'assistant');
    assert.ok(a.chunks.some((c) => c.choices?.[0]?.finish_reason === 'stop'), 'finish_reason stop');
    assert.ok(a.text.length > 0, 'non-empty content');
    assert.ok(a.usage, 'a usage chunk with include_usage');
    assert.ok(a.usage.completion_tokens > 0);

    const b = await drain(await client().chat.completions.create(req));
    assert.equal(b.text, a.text, 'same request, same content');
  });
});

describe('models, embeddings, request ids', () => {
  test('models.list shows what each key may use', T, async () => {
    const ids = async (key) => {
      const out = [];
      for await (const m of client(key).models.list()) out.push(m.id);
      return out;
    };
    const app = await ids(APP_KEY);
    for (const id of ['gpt-4o-mini', 'text-embedding-3-small', 'demo']) assert.ok(app.includes(id), `app sees ${id}: ${app}`);
    assert.ok(!app.includes('gpt-4o-mini-2024-07-18'), `public names only: ${app}`);
    assert.deepEqual(await ids(LIMITED_KEY), ['demo']);
  });

  test('embeddings come back from the upstream (base64 default and float)', T, async () => {
    fake.reset();
    const res = await client().embeddings.create({ model: 'text-embedding-3-small', input: 'hi' });
    assert.equal(res.data.length, 1);
    assert.deepEqual(Array.from(res.data[0].embedding), fake.options.embedding);

    const floats = await client().embeddings.create({ model: 'text-embedding-3-small', input: ['a', 'b'], encoding_format: 'float' });
    assert.equal(floats.data.length, 2);
    assert.deepEqual(floats.data[1].embedding, fake.options.embedding);

    const up = await fake.waitForRequest((r) => r.url.startsWith('/v1/embeddings'));
    assert.equal(up.body.model, 'text-embedding-3-small');
    assert.equal(up.body.input, 'hi');
    assert.equal(up.headers.authorization, `Bearer ${UPSTREAM_KEY}`);
  });

  test('responses carry x-request-id, and a client-chosen one comes back', T, async () => {
    const { data, response } = await client().chat.completions.create({ model: 'demo', messages }).withResponse();
    assert.equal(data.object, 'chat.completion');
    const id = response.headers.get('x-request-id');
    assert.ok(id && id.length > 0, 'x-request-id is set');

    const again = await client().chat.completions.create({ model: 'demo', messages }).withResponse();
    assert.notEqual(again.response.headers.get('x-request-id'), id, 'ids differ between requests');

    const mine = await client()
      .chat.completions.create({ model: 'demo', messages }, { headers: { 'x-request-id': 'my-id-123' } })
      .asResponse();
    assert.equal(mine.status, 200);
    assert.equal(mine.headers.get('x-request-id'), 'my-id-123');
  });
});

describe('errors in OpenAI shape', () => {
  test('a bad key is a 401 AuthenticationError with code invalid_api_key', T, async () => {
    const err = await expectError(OpenAI.AuthenticationError, () =>
      client('sk-wrong-0123456789abcdef').chat.completions.create({ model: 'demo', messages }),
    );
    assert.equal(err.status, 401);
    assert.equal(err.code, 'invalid_api_key');
    assert.equal(typeof err.error?.message, 'string');
  });

  test('an unknown model is a 404 NotFoundError with code model_not_found', T, async () => {
    fake.reset();
    const err = await expectError(OpenAI.NotFoundError, () =>
      client().chat.completions.create({ model: 'no-such-model', messages }),
    );
    assert.equal(err.status, 404);
    assert.equal(err.code, 'model_not_found');
    assert.equal(fake.requests.length, 0, 'nothing reached the upstream');
  });

  test('a key not allowed the model is a 403 PermissionDeniedError', T, async () => {
    fake.reset();
    const err = await expectError(OpenAI.PermissionDeniedError, () =>
      client(LIMITED_KEY).chat.completions.create({ model: 'gpt-4o-mini', messages }),
    );
    assert.equal(err.status, 403);
    assert.equal(typeof err.error?.message, 'string');
    assert.equal(fake.requests.length, 0, 'nothing reached the upstream');
  });
});
