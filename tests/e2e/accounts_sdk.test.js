// Managed keys (issue 4; docs/admin-api.md) as the official SDKs see them. One real gateway with a
// master key, a temporary SQLite store and the built-in mock channel; users and keys are made
// through the admin API (fetch, the master key as Bearer), then the openai, @anthropic-ai/sdk and
// @google/genai clients use those keys and meet the data plane's refusals, each in their own
// protocol (src/server/admission.cpp, src/server/endpoints.cpp):
//
//   rate limits   429 with retry-after and x-ratelimit-* (OpenAI RateLimitError, type "requests"
//                 or "tokens"; Anthropic rate_limit_error; Gemini RESOURCE_EXHAUSTED)
//   revoked, expired, disabled owner, rotated-out secret, missing/replayed signature   401
//   model outside the key's globs, address outside allowed_ips                         403
//
// and how a client signs requests (require_signature) with an official SDK: a custom `fetch`
// adding x-sy-timestamp and x-sy-signature (signedFetch below; the same function serves the three
// SDKs).
//
// Identical requests: the signature covers the timestamp in whole seconds, the method, the target
// and the body, nothing else, so two identical requests signed within the same second carry the
// same signature and the second is refused as a replay (401 invalid_signature, "already used").
// The signed calls below therefore never repeat a request within a test run.
//
// Every test makes keys of its own, so that the limits of one do not leak into another. One wait
// of about 3 s (the expiry) is the only sleep. Requests use keep-alive connections, as SDK clients
// do; SY_E2E_KEEPALIVE=0 gives every request a connection of its own (see clientFetch).
//
// Run: SWITCHYARD_BIN=/path/to/switchyard node --test --test-reporter=spec accounts_sdk.test.js
//      (or ctest -R e2e_accounts_sdk).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';
import { ApiError, GoogleGenAI } from '@google/genai';
import { startGateway } from './support/gateway.js';

const MASTER = 'sk-master-e2e-accounts-sdk-0123456789';
const SECRET_KEY = 'e2e-accounts-sdk-sealing-secret-0123456789abcdef';
const T = { timeout: 15_000 };
const PROMPT = 'Say hello.';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'switchyard-accounts-sdk-'));
let gw;

before(async () => {
  gw = await startGateway(
    `listen: 127.0.0.1:0
workers: 1
master_key: ${MASTER}
database: sqlite:${tmp}/sy.db
# The tests fail to authenticate on purpose a dozen times from 127.0.0.1: no slowing down here
# (the guard itself is tested elsewhere).
auth_guard: { slow_after: 1000, block_after: 2000 }
channels:
  - name: mockch
    type: mock
    models: [demo, other]
  - name: slowch
    type: mock
    models: [slow]
    mock: { chunk_delay_ms: 100, chunks: 4 }
`,
    { env: { SWITCHYARD_SECRET_KEY: SECRET_KEY } },
  );
});

after(async () => {
  if (gw) await gw.stop();
  rmSync(tmp, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

const show = (v) => {
  const s = JSON.stringify(v);
  return s === undefined ? String(v) : s.length > 800 ? `${s.slice(0, 800)}…` : s;
};

/**
 * Keep-alive by default. Over keep-alive connections the gateway once failed about one run in ten:
 * its per-connection key cache kept a raw pointer into a snapshot the connection did not hold, so
 * after admin changes on other connections had replaced the snapshot twice, a new one could sit
 * at the old address and the freed key record was read (403 "the role ''", std::bad_alloc,
 * SIGSEGV). Fixed (the cache holds its snapshot); this suite runs keep-alive to keep it fixed.
 * SY_E2E_KEEPALIVE=0 sends every request over a connection of its own (`connection: close`).
 */
const KEEPALIVE = process.env.SY_E2E_KEEPALIVE !== '0';
function clientFetch(input, init = {}) {
  if (KEEPALIVE) return fetch(input, init);
  const headers = new Headers(init.headers ?? (input instanceof Request ? input.headers : undefined));
  headers.set('connection', 'close');
  return fetch(input, { ...init, headers });
}

/** An admin API call with the master key; asserts the status and returns the JSON answer. */
async function admin(method, route, body, expectStatus = method === 'POST' && !route.endsWith('/rotate') ? 201 : 200) {
  const res = await clientFetch(`${gw.baseURL}${route}`, {
    method,
    headers: { authorization: `Bearer ${MASTER}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(5_000),
  });
  const text = await res.text();
  assert.equal(res.status, expectStatus, `${method} ${route} ${show(body)} → ${res.status} ${text}\n${gw.output().stderr.slice(-1500)}`);
  return JSON.parse(text);
}

let names = 0;
/** A user (a developer with the models demo, other and slow unless `fields` says otherwise). */
const makeUser = (fields = {}) =>
  admin('POST', '/admin/users', { name: `user-${++names}`, role: 'developer', models: ['demo', 'other', 'slow'], ...fields });
/** A key of its own user (models demo and slow unless `fields` says otherwise). */
async function makeKey(fields = {}) {
  const user = fields.user_id ? null : await makeUser();
  const key = await admin('POST', '/admin/keys', { name: `key-${++names}`, user_id: user?.id, models: ['demo', 'slow'], ...fields });
  assert.match(key.key, /^sk-[A-Za-z0-9]{48}$/);
  return key;
}

/** Runs `fn`, which must throw; returns the error. */
async function thrown(fn, what) {
  try {
    await fn();
  } catch (err) {
    return err;
  }
  assert.fail(`${what}: expected an error, the call succeeded`);
}

/** Asserts `err` is an instance of `cls`, saying what it was otherwise. */
function isA(err, cls, what) {
  assert.ok(
    err instanceof cls,
    `${what}: expected ${cls.name}, got ${err?.constructor?.name}: ${err?.message}${err?.status ? ` (status ${err.status})` : ''}`,
  );
}

const openai = (apiKey, opts = {}) =>
  new OpenAI({ baseURL: `${gw.baseURL}/v1`, apiKey, maxRetries: 0, timeout: 5_000, fetch: clientFetch, ...opts });
const anthropic = (apiKey, opts = {}) =>
  new Anthropic({ baseURL: gw.baseURL, apiKey, maxRetries: 0, timeout: 5_000, fetch: clientFetch, ...opts });
const gemini = (apiKey, httpOptions = {}) =>
  new GoogleGenAI({
    apiKey,
    httpOptions: { baseUrl: gw.baseURL, apiVersion: 'v1beta', retryOptions: { attempts: 1 }, timeout: 5_000, fetch: clientFetch, ...httpOptions },
  });

const chatParams = (model = 'demo') => ({ model, messages: [{ role: 'user', content: PROMPT }] });
const messageParams = (model = 'demo') => ({ model, max_tokens: 64, messages: [{ role: 'user', content: PROMPT }] });
const geminiParams = (model = 'demo') => ({ model, contents: PROMPT });

/** One successful call per SDK, each asserting it got text back. */
async function openaiWorks(key, model) {
  const c = await openai(key).chat.completions.create(chatParams(model));
  assert.ok(c.choices[0].message.content.length > 0, show(c));
}
async function anthropicWorks(key, model) {
  const m = await anthropic(key).messages.create(messageParams(model));
  assert.equal(m.content[0].type, 'text', show(m));
}
async function geminiWorks(key, model) {
  const r = await gemini(key).models.generateContent(geminiParams(model));
  assert.ok(r.text.length > 0, show(r));
}

/** The Gemini error object, from the ApiError message (the SDK puts the JSON body there). */
function geminiBody(err) {
  try {
    return JSON.parse(err.message);
  } catch {
    assert.fail(`ApiError.message is not the JSON error body: ${err.message}`);
  }
}

/** Expects an OpenAI SDK error of class `cls` with `status` and error.code `code`. */
async function openaiRefuses(call, cls, status, code, what) {
  const err = await thrown(call, what);
  isA(err, cls, what);
  assert.equal(err.status, status, what);
  if (code !== undefined) assert.equal(err.code, code, `${what}: error.code (body ${show(err.error)})`);
  return err;
}
/** Expects an Anthropic SDK error of class `cls` with `status` and body error.type `type`. */
async function anthropicRefuses(call, cls, status, type, what) {
  const err = await thrown(call, what);
  isA(err, cls, what);
  assert.equal(err.status, status, what);
  assert.equal(err.error?.type, 'error', `${what}: body ${show(err.error)}`);
  assert.equal(err.error?.error?.type, type, `${what}: body ${show(err.error)}`);
  assert.equal(err.type, type, `${what}: Anthropic APIError.type`);
  assert.equal(typeof err.apiMessage, 'string', `${what}: Anthropic APIError.apiMessage`);
  return err;
}
/** Expects a @google/genai ApiError with `status` and the Gemini error status name `statusName`. */
async function geminiRefuses(call, status, statusName, what) {
  const err = await thrown(call, what);
  isA(err, ApiError, what);
  assert.equal(err.status, status, what);
  const body = geminiBody(err);
  assert.equal(body.error?.code, status, `${what}: body ${show(body)}`);
  assert.equal(body.error?.status, statusName, `${what}: body ${show(body)}`);
  assert.equal(typeof body.error?.message, 'string', `${what}: body ${show(body)}`);
  return err;
}

// ---------------------------------------------------------------------------------------------
// HMAC signing, as a client would write it
// ---------------------------------------------------------------------------------------------

/**
 * A `fetch` for any of the SDKs that signs each request for a key with require_signature:
 * x-sy-timestamp = unix seconds, x-sy-signature = hex(HMAC-SHA256(secret,
 * timestamp "\n" method "\n" target "\n" body)), where target is the path and query as sent.
 * `sent` (optional array) receives { url, init } of every signed request, for the replay test.
 */
function signedFetch(signingSecret, sent) {
  return async (input, init = {}) => {
    const request = input instanceof Request ? input : null;
    const url = new URL(request ? request.url : String(input));
    const method = (init.method ?? request?.method ?? 'GET').toUpperCase();
    let body = init.body ?? (request ? await request.clone().text() : '');
    if (body == null) body = '';
    if (typeof body !== 'string') {
      // The SDKs send JSON strings; anything else is read as bytes once and sent as read.
      body = Buffer.from(await new Response(body).arrayBuffer()).toString('utf8');
    }
    const timestamp = String(Math.floor(Date.now() / 1000));
    const target = url.pathname + url.search;
    const signature = createHmac('sha256', signingSecret)
      .update(`${timestamp}\n${method}\n${target}\n${body}`)
      .digest('hex');
    const headers = new Headers(init.headers ?? request?.headers);
    headers.set('x-sy-timestamp', timestamp);
    headers.set('x-sy-signature', signature);
    const signedInit = { ...init, method, headers, body: method === 'GET' || method === 'HEAD' ? undefined : body };
    sent?.push({ url: url.toString(), init: signedInit });
    return clientFetch(url, signedInit);
  };
}

// ---------------------------------------------------------------------------------------------
// OpenAI SDK
// ---------------------------------------------------------------------------------------------

describe('OpenAI SDK', () => {
  test('rpm 2: two calls admitted with x-ratelimit-* headers, the third is a RateLimitError with retry-after', T, async () => {
    const key = await makeKey({ rpm: 2 });
    const client = openai(key.key);
    for (const remaining of ['1', '0']) {
      const { data, response } = await client.chat.completions.create(chatParams()).withResponse();
      assert.equal(data.object, 'chat.completion');
      assert.equal(response.headers.get('x-ratelimit-limit-requests'), '2');
      assert.equal(response.headers.get('x-ratelimit-remaining-requests'), remaining);
      assert.match(response.headers.get('x-ratelimit-reset-requests') ?? '', /^\d+(\.\d+)?m?s$/);
    }
    const err = await openaiRefuses(
      () => client.chat.completions.create(chatParams()),
      OpenAI.RateLimitError,
      429,
      'rate_limit_exceeded',
      'third call',
    );
    assert.equal(err.type, 'requests');
    assert.ok(err.headers instanceof Headers, 'error.headers is a Headers object');
    const retryAfter = err.headers.get('retry-after');
    assert.match(retryAfter ?? '', /^\d+$/, `retry-after: ${retryAfter}`);
    assert.ok(Number(retryAfter) >= 1 && Number(retryAfter) <= 60, `retry-after ${retryAfter}`);
    assert.equal(err.headers.get('x-ratelimit-limit-requests'), '2');
    assert.equal(err.headers.get('x-ratelimit-remaining-requests'), '0');
    assert.match(err.headers.get('x-request-id') ?? '', /^req_/);
    assert.equal(err.requestID, err.headers.get('x-request-id'));
  });

  test('tpm: a RateLimitError of type "tokens" once the estimated and used tokens pass the limit', T, async () => {
    const key = await makeKey({ tpm: 40 });
    const client = openai(key.key);
    const { response } = await client.chat.completions.create(chatParams()).withResponse();
    assert.equal(response.headers.get('x-ratelimit-limit-tokens'), '40');
    assert.match(response.headers.get('x-ratelimit-remaining-tokens') ?? '', /^\d+$/);
    let err;
    for (let i = 0; i < 4 && !err; i++) {
      try {
        await client.chat.completions.create(chatParams());
      } catch (e) {
        err = e;
      }
    }
    assert.ok(err, 'four more calls of ~20 tokens each were admitted under tpm 40');
    isA(err, OpenAI.RateLimitError, 'tpm refusal');
    assert.equal(err.status, 429);
    assert.equal(err.type, 'tokens');
    assert.equal(err.code, 'rate_limit_exceeded');
    assert.match(err.headers.get('retry-after') ?? '', /^\d+$/);
    assert.equal(err.headers.get('x-ratelimit-limit-tokens'), '40');
    assert.equal(err.headers.get('x-ratelimit-remaining-tokens'), '0');
  });

  test('max_concurrency 1: a second call while a stream is open is a RateLimitError; afterwards calls pass', T, async () => {
    const key = await makeKey({ max_concurrency: 1 });
    const client = openai(key.key);
    const stream = await client.chat.completions.create({ ...chatParams('slow'), stream: true });
    const it = stream[Symbol.asyncIterator]();
    const first = await it.next();
    assert.equal(first.done, false);
    const err = await openaiRefuses(
      () => client.chat.completions.create(chatParams()),
      OpenAI.RateLimitError,
      429,
      'rate_limit_exceeded',
      'a call beside the open stream',
    );
    assert.match(err.message, /concurrent/i);
    assert.match(err.headers.get('retry-after') ?? '', /^\d+$/);
    let text = first.value.choices[0]?.delta?.content ?? '';
    for (let r = await it.next(); !r.done; r = await it.next()) text += r.value.choices[0]?.delta?.content ?? '';
    assert.ok(text.length > 0);
    // The ticket is given back when the stream ends; poll briefly for the release.
    const deadline = Date.now() + 2_000;
    for (;;) {
      try {
        await openaiWorks(key.key);
        break;
      } catch (e) {
        if (!(e instanceof OpenAI.RateLimitError) || Date.now() > deadline) throw e;
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  });

  test('a revoked key: AuthenticationError with code key_revoked, at once', T, async () => {
    const key = await makeKey();
    await openaiWorks(key.key);
    const revoked = await admin('DELETE', `/admin/keys/${key.id}`);
    assert.equal(revoked.enabled, false);
    assert.match(revoked.revoked_at ?? '', /Z$/);
    const err = await openaiRefuses(
      () => openai(key.key).chat.completions.create(chatParams()),
      OpenAI.AuthenticationError,
      401,
      'key_revoked',
      'revoked key',
    );
    assert.equal(err.type, 'invalid_request_error');
  });

  test('a model outside the key\'s models: PermissionDeniedError with code model_not_allowed', T, async () => {
    const key = await makeKey({ models: ['demo'] });
    await openaiWorks(key.key, 'demo');
    const err = await openaiRefuses(
      () => openai(key.key).chat.completions.create(chatParams('other')),
      OpenAI.PermissionDeniedError,
      403,
      'model_not_allowed',
      'model other',
    );
    assert.equal(err.type, 'permission_error');
    assert.equal(err.param, 'model');
  });

  test('a model the key allows but its user does not: PermissionDeniedError', T, async () => {
    const user = await makeUser({ models: ['demo'] });
    const key = await makeKey({ user_id: user.id, models: ['*'] });
    await openaiWorks(key.key, 'demo');
    await openaiRefuses(
      () => openai(key.key).chat.completions.create(chatParams('other')),
      OpenAI.PermissionDeniedError,
      403,
      'model_not_allowed',
      'model outside the user',
    );
  });

  test('an address outside allowed_ips: PermissionDeniedError with code ip_not_allowed', T, async () => {
    const key = await makeKey({ allowed_ips: ['203.0.113.0/24'] });
    await openaiRefuses(
      () => openai(key.key).chat.completions.create(chatParams()),
      OpenAI.PermissionDeniedError,
      403,
      'ip_not_allowed',
      'key for 203.0.113.0/24 used from 127.0.0.1',
    );
    const local = await makeKey({ allowed_ips: ['127.0.0.1', '::1'] });
    await openaiWorks(local.key);
  });

  test('a disabled owner, then a disabled key: AuthenticationError with code key_disabled', T, async () => {
    const user = await makeUser();
    const key = await makeKey({ user_id: user.id });
    await openaiWorks(key.key);
    await admin('PATCH', `/admin/users/${user.id}`, { enabled: false });
    await openaiRefuses(
      () => openai(key.key).chat.completions.create(chatParams()),
      OpenAI.AuthenticationError,
      401,
      'key_disabled',
      'key of a disabled user',
    );
    await admin('PATCH', `/admin/users/${user.id}`, { enabled: true });
    await openaiWorks(key.key);
    await admin('PATCH', `/admin/keys/${key.id}`, { enabled: false });
    await openaiRefuses(
      () => openai(key.key).chat.completions.create(chatParams()),
      OpenAI.AuthenticationError,
      401,
      'key_disabled',
      'disabled key',
    );
  });
});

// ---------------------------------------------------------------------------------------------
// Anthropic SDK
// ---------------------------------------------------------------------------------------------

describe('Anthropic SDK', () => {
  test('rpm 2: two messages admitted, the third is a RateLimitError (rate_limit_error) with retry-after', T, async () => {
    const key = await makeKey({ rpm: 2 });
    const client = anthropic(key.key);
    for (const remaining of ['1', '0']) {
      const { data, response } = await client.messages.create(messageParams()).withResponse();
      assert.equal(data.type, 'message');
      assert.equal(response.headers.get('x-ratelimit-remaining-requests'), remaining);
    }
    const err = await anthropicRefuses(
      () => client.messages.create(messageParams()),
      Anthropic.RateLimitError,
      429,
      'rate_limit_error',
      'third message',
    );
    assert.match(err.headers.get('retry-after') ?? '', /^\d+$/);
    assert.equal(err.headers.get('x-ratelimit-limit-requests'), '2');
  });

  test('a revoked key: AuthenticationError (authentication_error)', T, async () => {
    const key = await makeKey();
    await anthropicWorks(key.key);
    await admin('DELETE', `/admin/keys/${key.id}`);
    const err = await anthropicRefuses(
      () => anthropic(key.key).messages.create(messageParams()),
      Anthropic.AuthenticationError,
      401,
      'authentication_error',
      'revoked key',
    );
    assert.match(err.apiMessage, /revoked/i);
  });

  test('a model outside the key\'s models: PermissionDeniedError (permission_error)', T, async () => {
    const key = await makeKey({ models: ['demo'] });
    await anthropicWorks(key.key, 'demo');
    await anthropicRefuses(
      () => anthropic(key.key).messages.create(messageParams('other')),
      Anthropic.PermissionDeniedError,
      403,
      'permission_error',
      'model other',
    );
  });

  test('an address outside allowed_ips: PermissionDeniedError (permission_error)', T, async () => {
    const key = await makeKey({ allowed_ips: ['203.0.113.0/24'] });
    await anthropicRefuses(
      () => anthropic(key.key).messages.create(messageParams()),
      Anthropic.PermissionDeniedError,
      403,
      'permission_error',
      'key for 203.0.113.0/24',
    );
  });
});

// ---------------------------------------------------------------------------------------------
// Gemini SDK
// ---------------------------------------------------------------------------------------------

describe('Gemini SDK (@google/genai)', () => {
  test('rpm 2: two calls admitted (headers in sdkHttpResponse), the third an ApiError 429 RESOURCE_EXHAUSTED', T, async () => {
    const key = await makeKey({ rpm: 2 });
    const ai = gemini(key.key);
    for (const remaining of ['1', '0']) {
      const r = await ai.models.generateContent(geminiParams());
      assert.ok(r.text.length > 0);
      assert.equal(r.sdkHttpResponse?.headers?.['x-ratelimit-remaining-requests'], remaining, show(r.sdkHttpResponse?.headers));
    }
    const err = await geminiRefuses(() => ai.models.generateContent(geminiParams()), 429, 'RESOURCE_EXHAUSTED', 'third call');
    assert.match(geminiBody(err).error.message, /requests per minute/);
  });

  test('a streamed call past the limit: the same ApiError 429', T, async () => {
    const key = await makeKey({ rpm: 1 });
    const ai = gemini(key.key);
    let text = '';
    for await (const chunk of await ai.models.generateContentStream(geminiParams())) text += chunk.text ?? '';
    assert.ok(text.length > 0);
    await geminiRefuses(
      async () => {
        for await (const _ of await ai.models.generateContentStream(geminiParams()));
      },
      429,
      'RESOURCE_EXHAUSTED',
      'second stream',
    );
  });

  test('a revoked key: ApiError 401 UNAUTHENTICATED', T, async () => {
    const key = await makeKey();
    await geminiWorks(key.key);
    await admin('DELETE', `/admin/keys/${key.id}`);
    const err = await geminiRefuses(() => gemini(key.key).models.generateContent(geminiParams()), 401, 'UNAUTHENTICATED', 'revoked key');
    assert.match(geminiBody(err).error.message, /revoked/i);
  });

  test('a model outside the key\'s models, an address outside allowed_ips: ApiError 403 PERMISSION_DENIED', T, async () => {
    const key = await makeKey({ models: ['demo'] });
    await geminiWorks(key.key, 'demo');
    await geminiRefuses(() => gemini(key.key).models.generateContent(geminiParams('other')), 403, 'PERMISSION_DENIED', 'model other');
    const far = await makeKey({ allowed_ips: ['203.0.113.0/24'] });
    await geminiRefuses(() => gemini(far.key).models.generateContent(geminiParams()), 403, 'PERMISSION_DENIED', 'key for 203.0.113.0/24');
  });
});

// ---------------------------------------------------------------------------------------------
// Expiry (one wait for the three SDKs)
// ---------------------------------------------------------------------------------------------

describe('an expiring key', () => {
  let key;
  let expiresAtMs;
  const expired = async () => {
    const wait = expiresAtMs + 100 - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  };

  before(async () => {
    const expiresAt = Math.floor(Date.now() / 1000) + 3; // valid for 2 to 3 seconds
    key = await makeKey({ expires_at: expiresAt });
    expiresAtMs = expiresAt * 1000;
    assert.equal(key.expires_at, new Date(expiresAtMs).toISOString().replace('.000Z', 'Z'));
  });

  test('works with the three SDKs until expires_at', T, async () => {
    await Promise.all([openaiWorks(key.key), anthropicWorks(key.key), geminiWorks(key.key)]);
    assert.ok(Date.now() < expiresAtMs, 'the calls ended before the expiry (else the test proves nothing)');
  });

  test('OpenAI SDK after expires_at: AuthenticationError with code key_expired', T, async () => {
    await expired();
    await openaiRefuses(() => openai(key.key).chat.completions.create(chatParams()), OpenAI.AuthenticationError, 401, 'key_expired', 'expired key');
  });

  test('Anthropic SDK after expires_at: AuthenticationError (authentication_error)', T, async () => {
    await expired();
    const err = await anthropicRefuses(
      () => anthropic(key.key).messages.create(messageParams()),
      Anthropic.AuthenticationError,
      401,
      'authentication_error',
      'expired key',
    );
    assert.match(err.apiMessage, /expired/i);
  });

  test('Gemini SDK after expires_at: ApiError 401 UNAUTHENTICATED', T, async () => {
    await expired();
    await geminiRefuses(() => gemini(key.key).models.generateContent(geminiParams()), 401, 'UNAUTHENTICATED', 'expired key');
  });
});

// ---------------------------------------------------------------------------------------------
// Rotation
// ---------------------------------------------------------------------------------------------

describe('rotation', () => {
  test('grace_seconds 0: the old secret fails at once (all three SDKs), the new one works at once', T, async () => {
    const key = await makeKey();
    await openaiWorks(key.key);
    const rotated = await admin('POST', `/admin/keys/${key.id}/rotate`, { grace_seconds: 0 });
    assert.equal(rotated.id, key.id);
    assert.match(rotated.key, /^sk-[A-Za-z0-9]{48}$/);
    assert.notEqual(rotated.key, key.key);

    await openaiRefuses(
      () => openai(key.key).chat.completions.create(chatParams()),
      OpenAI.AuthenticationError,
      401,
      'invalid_api_key',
      'rotated-out secret',
    );
    await anthropicRefuses(
      () => anthropic(key.key).messages.create(messageParams()),
      Anthropic.AuthenticationError,
      401,
      'authentication_error',
      'rotated-out secret',
    );
    await geminiRefuses(() => gemini(key.key).models.generateContent(geminiParams()), 401, 'UNAUTHENTICATED', 'rotated-out secret');
    await Promise.all([openaiWorks(rotated.key), anthropicWorks(rotated.key), geminiWorks(rotated.key)]);
  });

  test('with a grace period both secrets work, and share the key\'s rpm', T, async () => {
    const key = await makeKey({ rpm: 2 });
    const rotated = await admin('POST', `/admin/keys/${key.id}/rotate`, { grace_seconds: 60 });
    await openaiWorks(key.key);
    await openaiWorks(rotated.key);
    await openaiRefuses(() => openai(key.key).chat.completions.create(chatParams()), OpenAI.RateLimitError, 429, 'rate_limit_exceeded', 'third call on one key record');
  });
});

// ---------------------------------------------------------------------------------------------
// HMAC request signing
// ---------------------------------------------------------------------------------------------

describe('signed requests (require_signature)', () => {
  let key;
  before(async () => {
    key = await makeKey({ require_signature: true });
    assert.equal(key.require_signature, true);
    assert.match(key.signing_secret ?? '', /^[0-9a-f]{64}$/, show(key));
  });

  test('OpenAI SDK with a signing fetch: plain and streamed calls pass', T, async () => {
    const client = openai(key.key, { fetch: signedFetch(key.signing_secret) });
    const c = await client.chat.completions.create(chatParams());
    assert.ok(c.choices[0].message.content.length > 0);
    let text = '';
    for await (const chunk of await client.chat.completions.create({ ...chatParams(), stream: true })) {
      text += chunk.choices[0]?.delta?.content ?? '';
    }
    assert.equal(text, c.choices[0].message.content);
  });

  test('Anthropic and Gemini SDKs with the same signing fetch pass too', T, async () => {
    const m = await anthropic(key.key, { fetch: signedFetch(key.signing_secret) }).messages.create(messageParams());
    assert.equal(m.content[0].type, 'text');
    const sent = [];
    const ai = gemini(key.key, { fetch: signedFetch(key.signing_secret, sent) });
    const r = await ai.models.generateContent(geminiParams());
    assert.ok(r.text.length > 0);
    // A stream's target has a query (?alt=sse): it is signed as part of the target.
    let text = '';
    for await (const chunk of await ai.models.generateContentStream(geminiParams())) text += chunk.text ?? '';
    assert.equal(text, r.text);
    assert.equal(new URL(sent[1].url).search, '?alt=sse');
  });

  test('unsigned: AuthenticationError with code invalid_signature (OpenAI), authentication_error (Anthropic)', T, async () => {
    const err = await openaiRefuses(
      () => openai(key.key).chat.completions.create(chatParams()),
      OpenAI.AuthenticationError,
      401,
      'invalid_signature',
      'unsigned call',
    );
    assert.match(err.message, /x-sy-timestamp/);
    await anthropicRefuses(
      () => anthropic(key.key).messages.create(messageParams()),
      Anthropic.AuthenticationError,
      401,
      'authentication_error',
      'unsigned call',
    );
  });

  test('signed with another secret: AuthenticationError with code invalid_signature', T, async () => {
    await openaiRefuses(
      () => openai(key.key, { fetch: signedFetch('0'.repeat(64)) }).chat.completions.create(chatParams()),
      OpenAI.AuthenticationError,
      401,
      'invalid_signature',
      'wrong secret',
    );
  });

  test('a signed request replayed as is with fetch: 401 invalid_signature; a tampered body: 401', T, async () => {
    // A body of its own: the same request signed within the same second has the same signature,
    // which the gateway takes for a replay (see the 'identical requests' note in the header).
    const params = { model: 'demo', messages: [{ role: 'user', content: `${PROMPT} (replay test)` }] };
    const sent = [];
    await openai(key.key, { fetch: signedFetch(key.signing_secret, sent) }).chat.completions.create(params);
    assert.equal(sent.length, 1);
    const { url, init } = sent[0];
    assert.equal(new URL(url).pathname, '/v1/chat/completions');

    const replay = await clientFetch(url, init);
    const replayBody = await replay.json();
    assert.equal(replay.status, 401, show(replayBody));
    assert.equal(replayBody.error?.code, 'invalid_signature', show(replayBody));
    assert.match(replayBody.error?.message ?? '', /already used/);

    // Same headers, another body: the signature does not cover it.
    const tampered = await clientFetch(url, { ...init, body: JSON.stringify(chatParams('other')) });
    const tamperedBody = await tampered.json();
    assert.equal(tampered.status, 401, show(tamperedBody));
    assert.equal(tamperedBody.error?.code, 'invalid_signature', show(tamperedBody));
  });
});
