// The 3×3 protocol matrix: each official SDK (openai, @anthropic-ai/sdk, @google/genai) against a
// real Switchyard process that routes to a fake vendor of each kind (support/fake_vendors.js).
//
// First the "direct" suites: each SDK against the fake vendor of its own protocol, without the
// gateway. They prove the fakes speak the wire format the SDKs expect. Then, for each of the nine
// (client SDK × upstream vendor) pairs, the same scenarios through the gateway, plus assertions on
// what the upstream received (its own format, its own key, the mapped model).
//
// The fakes answer deterministically (see the header of support/fake_vendors.js): plain text,
// tool calls when tools are given, a text quoting tool results, a text naming received images,
// 429 / 500 errors and a failing stream on request. They refuse what the real vendors refuse
// (wrong key, unknown fields, broken tool-call pairing, empty texts, ...), so a translation
// mistake shows as the upstream's 400, quoted in the failure report with the request body, the
// gateway's stderr and its access log lines.
//
// Run: SWITCHYARD_BIN=/path/to/switchyard node --test --test-reporter=spec matrix.test.js
//      (or ctest -R e2e_matrix). --test-name-pattern "openai client → gemini" selects one pair.
import { after, afterEach, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';
import { ApiError, GoogleGenAI } from '@google/genai';
import { startGateway } from './support/gateway.js';
import {
  IMG_INLINE_PNG,
  IMG_URL_PNG,
  PREAMBLE,
  RETRY_AFTER,
  TEXT,
  TOOL_ARGS,
  FAIL_400_MESSAGE,
  MIDSTREAM_PIECES,
  TRUNCATED_PIECES,
  USAGE,
  describeImageBytes,
  describeImageUrl,
  startFakeVendors,
} from './support/fake_vendors.js';

const GATEWAY_KEY = 'sk-e2e-matrix-0000';
const PROTOCOLS = ['openai', 'anthropic', 'gemini'];
const UPSTREAM = {
  openai: { channel: 'up-openai', publicModel: 'm-openai', model: 'gpt-fake', key: 'sk-up-openai' },
  anthropic: { channel: 'up-anthropic', publicModel: 'm-anthropic', model: 'claude-fake', key: 'sk-ant-up' },
  gemini: { channel: 'up-gemini', publicModel: 'm-gemini', model: 'gemini-fake', key: 'gem-up' },
};
const SYSTEM = 'You are terse.';
const T = { timeout: 10_000 };

let fake;
let gw; // the running gateway, or null
let gwInfo = { accepted: [], mediaFetch: false, startupError: null, refused: {} };

// ---------------------------------------------------------------------------------------------
// Gateway config and start-up
// ---------------------------------------------------------------------------------------------

function matrixConfig(port, { channels = PROTOCOLS, mediaFetch = true } = {}) {
  const line = {
    openai: `  - { name: up-openai,    type: openai,    base_url: "http://127.0.0.1:${port}/v1", api_keys: [sk-up-openai], models: { m-openai: gpt-fake } }`,
    anthropic: `  - { name: up-anthropic, type: anthropic, base_url: "http://127.0.0.1:${port}",    api_keys: [sk-ant-up],   models: { m-anthropic: claude-fake } }`,
    gemini: `  - { name: up-gemini,    type: gemini,    base_url: "http://127.0.0.1:${port}",    api_keys: [gem-up],      models: { m-gemini: gemini-fake } }`,
  };
  return [
    'listen: 127.0.0.1:0',
    `keys: [{ name: e2e, key: ${GATEWAY_KEY} }]`,
    ...(mediaFetch ? ['media_fetch: { allow_private: true }'] : []),
    ...(channels.length ? ['channels:', ...channels.map((c) => line[c])] : ['channels: []']),
    '',
  ].join('\n');
}

const stderrOf = (err) => {
  const m = /--- stderr ---\n([\s\S]*)$/.exec(err?.message ?? '');
  return (m ? m[1] : String(err?.message ?? err)).trim().slice(-1500) || '(no stderr)';
};

async function tryStart(cfg) {
  try {
    return { gw: await startGateway(cfg) };
  } catch (err) {
    return { err };
  }
}

/**
 * Starts the gateway with the matrix config. A build that refuses part of it (a channel type or
 * media_fetch it does not know yet) still gets a gateway with the parts it accepts, so the pairs
 * that can work are tested; the tests of the other pairs fail saying what was refused.
 */
async function bootGateway() {
  gwInfo = { accepted: [], mediaFetch: true, startupError: null, refused: {} };
  const full = await tryStart(matrixConfig(fake.port));
  if (full.gw) {
    gwInfo.accepted = [...PROTOCOLS];
    return full.gw;
  }
  gwInfo.startupError = stderrOf(full.err);
  const probe = await tryStart(matrixConfig(fake.port, { channels: [], mediaFetch: true }));
  if (probe.gw) await probe.gw.stop();
  else gwInfo.mediaFetch = false;
  for (const c of PROTOCOLS) {
    const probe = await tryStart(matrixConfig(fake.port, { channels: [c], mediaFetch: gwInfo.mediaFetch }));
    if (probe.gw) {
      await probe.gw.stop();
      gwInfo.accepted.push(c);
    } else {
      gwInfo.refused[c] = stderrOf(probe.err);
    }
  }
  if (gwInfo.accepted.length === 0) return null;
  const partial = await tryStart(matrixConfig(fake.port, { channels: gwInfo.accepted, mediaFetch: gwInfo.mediaFetch }));
  if (!partial.gw) {
    gwInfo.refused.all = stderrOf(partial.err);
    return null;
  }
  return partial.gw;
}

function requireUpstream(upstream) {
  if (gwInfo.refused.all) assert.fail(`the gateway does not start with the matrix config:\n${gwInfo.startupError}\nnor with the part of it it accepts:\n${gwInfo.refused.all}`);
  if (!gwInfo.accepted.includes(upstream)) {
    assert.fail(
      `the gateway refuses the ${upstream} channel of the matrix config, so no ${upstream} upstream can be tested:\n${gwInfo.refused[upstream]}`,
    );
  }
  assert.ok(gw, 'the gateway is not running');
}

// ---------------------------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------------------------

const show = (v) => {
  const s = JSON.stringify(v);
  return s === undefined ? String(v) : s.length > 600 ? `${s.slice(0, 600)}…` : s;
};
function eq(actual, expected, what) {
  assert.deepStrictEqual(actual, expected, `${what}: expected ${show(expected)}, got ${show(actual)}`);
}
function ok(cond, what) {
  assert.ok(cond, what);
}

/** Runs `fn`, which must throw; returns the error. */
async function thrown(fn, what) {
  try {
    await fn();
  } catch (err) {
    return err;
  }
  assert.fail(`${what}: expected an error, but the call succeeded`);
}

// Tool definitions: get_weather first (the fakes call the first tool), get_time second.
// additionalProperties: false, as OpenAI's strict tools require; Gemini's `parameters` Schema has
// no such field (a translation must drop it or use parametersJsonSchema).
const WEATHER_SCHEMA = {
  type: 'object',
  properties: { city: { type: 'string', description: 'City name' }, unit: { type: 'string', enum: ['celsius', 'fahrenheit'] } },
  required: ['city'],
  additionalProperties: false,
};
const TIME_SCHEMA = { type: 'object', properties: { tz: { type: 'string', description: 'IANA time zone' } }, required: ['tz'] };

// ---------------------------------------------------------------------------------------------
// Client adapters: one per protocol, each driving its official SDK the way an application would,
// checking the protocol's own invariants on the way, and returning normalized results.
// ---------------------------------------------------------------------------------------------

function openaiAdapter(origin, apiKey) {
  const client = new OpenAI({ baseURL: `${origin}/v1`, apiKey, maxRetries: 0, timeout: 5_000 });
  const tools = [
    { type: 'function', function: { name: 'get_weather', description: 'Current weather in a city', parameters: WEATHER_SCHEMA } },
    { type: 'function', function: { name: 'get_time', description: 'Current time in a time zone', parameters: TIME_SCHEMA } },
  ];
  const usageOf = (u) => (u ? { input: u.prompt_tokens, output: u.completion_tokens, total: u.total_tokens } : null);
  const checkCompletion = (r, what) => {
    eq(r.object, 'chat.completion', `${what}: object`);
    eq(r.choices?.length, 1, `${what}: number of choices`);
    eq(r.choices[0].message?.role, 'assistant', `${what}: message.role`);
    return r.choices[0];
  };
  /** Reads a raw chunk stream, checking OpenAI's stream invariants. */
  async function readChunks(stream, { includeUsage }) {
    const chunks = [];
    let text = '';
    let deltas = 0;
    let finish = null;
    let usage = null;
    for await (const c of stream) {
      chunks.push(c);
      eq(c.object, 'chat.completion.chunk', 'chunk.object');
      for (const ch of c.choices ?? []) {
        if (typeof ch.delta?.content === 'string' && ch.delta.content !== '') {
          text += ch.delta.content;
          deltas++;
        }
        if (ch.finish_reason) {
          ok(finish === null, `two chunks carry a finish_reason (${finish}, then ${ch.finish_reason})`);
          finish = ch.finish_reason;
        }
      }
      if (c.usage) usage = c.usage;
    }
    ok(chunks.length > 0, 'the stream has chunks');
    eq(chunks[0].choices?.[0]?.delta?.role, 'assistant', 'the first chunk carries delta.role');
    if (includeUsage) {
      const last = chunks[chunks.length - 1];
      ok(last.usage && Array.isArray(last.choices) && last.choices.length === 0, `with include_usage the last chunk is the usage chunk with choices: [] (got ${show(last)})`);
    } else {
      for (const c of chunks) {
        ok(!c.usage, `a usage the client did not ask for (no stream_options.include_usage): ${show(c)}`);
        ok(c.choices?.length > 0, `a chunk without choices the client did not ask for: ${show(c)}`);
      }
    }
    return { chunks, text, deltas, finish, usage: usageOf(usage) };
  }
  return {
    protocol: 'openai',
    finish: { stop: 'stop', tool: 'tool_calls', length: 'length' },
    overloadedStatus: 503,
    usage: { input: USAGE.input, output: USAGE.output, total: USAGE.total },
    async chat({ model, prompt, system, maxTokens, temperature, stop, history = [], newLimitField = false }) {
      const messages = [
        ...(system ? [{ role: 'system', content: system }] : []),
        ...history.map((h) => ({ role: h.role, content: h.text })),
        { role: 'user', content: prompt },
      ];
      const r = await client.chat.completions.create({
        model,
        messages,
        ...(maxTokens ? { [newLimitField ? 'max_completion_tokens' : 'max_tokens']: maxTokens } : {}),
        ...(temperature !== undefined ? { temperature } : {}),
        ...(stop ? { stop } : {}),
      });
      const choice = checkCompletion(r, 'chat.completion');
      return { text: choice.message.content, finish: choice.finish_reason, usage: usageOf(r.usage), model: r.model };
    },
    async stream({ model, prompt }) {
      const messages = [{ role: 'user', content: prompt }];
      // The SDK's stream helper: it accumulates the chunks and validates their sequence.
      const s = client.chat.completions.stream({ model, messages, stream_options: { include_usage: true } });
      const got = await readChunks(s, { includeUsage: true });
      const final = await s.finalChatCompletion();
      // Without include_usage: no usage chunk (OpenAI sends none; the gateway must not add one).
      const plain = await readChunks(await client.chat.completions.create({ model, messages, stream: true }), { includeUsage: false });
      eq(plain.text, got.text, 'the stream without include_usage: text');
      return { ...got, finalText: final.choices[0].message.content, finalFinish: final.choices[0].finish_reason, model: got.chunks[0].model };
    },
    async toolCall({ model, prompt, stream, force }) {
      const messages = [{ role: 'user', content: prompt }];
      const params = { model, messages, tools, ...(force ? { tool_choice: 'required' } : {}) };
      let choice;
      if (stream) {
        const s = client.chat.completions.stream({ ...params, stream: true });
        for await (const c of s) eq(c.object, 'chat.completion.chunk', 'chunk.object');
        const final = await s.finalChatCompletion();
        choice = final.choices[0];
      } else {
        choice = checkCompletion(await client.chat.completions.create(params), 'chat.completion');
      }
      const tc = choice.message.tool_calls ?? [];
      const calls = tc.map((c, k) => {
        eq(c.type, 'function', `tool_calls[${k}].type`);
        let args;
        try {
          args = JSON.parse(c.function.arguments);
        } catch {
          assert.fail(`tool_calls[${k}].function.arguments is not JSON: ${show(c.function.arguments)}`);
        }
        return { id: c.id, name: c.function.name, args };
      });
      const assistant = {
        role: 'assistant',
        content: choice.message.content ?? null,
        tool_calls: tc.map((c) => ({ id: c.id, type: 'function', function: { name: c.function.name, arguments: c.function.arguments } })),
      };
      return { calls, text: choice.message.content ?? '', finish: choice.finish_reason, state: { messages: [...messages, assistant], calls } };
    },
    // `variant`: the results as arrays of text parts instead of strings.
    async toolResult({ model, state, results, variant }) {
      const messages = [
        ...state.messages,
        ...state.calls.map((c, i) => ({ role: 'tool', tool_call_id: c.id, content: variant ? [{ type: 'text', text: results[i] }] : results[i] })),
      ];
      const choice = checkCompletion(await client.chat.completions.create({ model, messages, tools }), 'chat.completion');
      return { text: choice.message.content, finish: choice.finish_reason };
    },
    async image({ model, prompt, image }) {
      const url = image.url ?? `data:${image.mime};base64,${image.data}`;
      const r = await client.chat.completions.create({
        model,
        messages: [{ role: 'user', content: [{ type: 'text', text: prompt }, { type: 'image_url', image_url: { url } }] }],
      });
      const choice = checkCompletion(r, 'chat.completion');
      return { text: choice.message.content, finish: choice.finish_reason };
    },
    async streamUntilError({ model, prompt }) {
      let text = '';
      let finish = null;
      let error = null;
      try {
        const s = await client.chat.completions.create({ model, messages: [{ role: 'user', content: prompt }], stream: true });
        for await (const c of s) {
          for (const ch of c.choices ?? []) {
            text += ch.delta?.content ?? '';
            finish = ch.finish_reason ?? finish;
          }
        }
      } catch (err) {
        error = err;
      }
      ok(!error || error instanceof OpenAI.APIError, `an openai.APIError: got ${error?.constructor?.name}: ${error?.message}`);
      return { text, error, finished: finish !== null ? `finish_reason ${finish}` : null };
    },
    async fail({ model, prompt, stream, status }) {
      const cls = { 400: OpenAI.BadRequestError, 429: OpenAI.RateLimitError, 500: OpenAI.InternalServerError, 503: OpenAI.InternalServerError }[status];
      const err = await thrown(async () => {
        const r = await client.chat.completions.create({ model, messages: [{ role: 'user', content: prompt }], ...(stream ? { stream: true } : {}) });
        if (stream) for await (const _ of r); // eslint-disable-line no-unused-vars
      }, `${stream ? 'streamed' : 'non-streamed'} request to a failing upstream`);
      ok(err instanceof cls, `expected openai.${cls.name} (status ${status}), got ${err?.constructor?.name} status ${err?.status}: ${err?.message}`);
      eq(err.status, status, 'error status');
      ok(typeof err.error?.message === 'string' && err.error.message.length > 0, `an OpenAI error body {error:{message,type,param,code}}: ${show(err.error)}`);
      ok(typeof err.error?.type === 'string', `error.type is a string: ${show(err.error)}`);
      if (status === 400) eq(err.type, 'invalid_request_error', 'error.type of a 400');
      if (status === 429) eq(err.code, 'rate_limit_exceeded', 'error.code of a 429');
      if (status >= 500) eq(err.type, 'server_error', `error.type of a ${status}`);
      return { retryAfter: err.headers?.get?.('retry-after') ?? null, message: err.error?.message };
    },
  };
}

function anthropicAdapter(origin, apiKey) {
  const client = new Anthropic({ baseURL: origin, apiKey, maxRetries: 0, timeout: 5_000 });
  const tools = [
    { name: 'get_weather', description: 'Current weather in a city', input_schema: WEATHER_SCHEMA },
    { name: 'get_time', description: 'Current time in a time zone', input_schema: TIME_SCHEMA },
  ];
  const usageOf = (u) => (u ? { input: u.input_tokens, output: u.output_tokens } : null);
  const checkMessage = (m, what) => {
    eq(m.type, 'message', `${what}: type`);
    eq(m.role, 'assistant', `${what}: role`);
    ok(Array.isArray(m.content), `${what}: content is an array`);
    for (const b of m.content) {
      // Sent back in the next turn, an empty text block is refused by Anthropic.
      if (b.type === 'text') ok(b.text.length > 0, `${what}: an empty text block: ${show(m.content)}`);
    }
    return m;
  };
  const textOf = (m) => m.content.filter((b) => b.type === 'text').map((b) => b.text).join('');
  return {
    protocol: 'anthropic',
    finish: { stop: 'end_turn', tool: 'tool_use', length: 'max_tokens' },
    overloadedStatus: 529,
    usage: { input: USAGE.input, output: USAGE.output },
    async chat({ model, prompt, system, maxTokens, temperature, stop, history = [] }) {
      const m = checkMessage(
        await client.messages.create({
          model,
          max_tokens: maxTokens ?? 256,
          messages: [...history.map((h) => ({ role: h.role, content: h.text })), { role: 'user', content: prompt }],
          ...(system ? { system } : {}),
          ...(temperature !== undefined ? { temperature } : {}),
          ...(stop ? { stop_sequences: stop } : {}),
        }),
        'message',
      );
      return { text: textOf(m), finish: m.stop_reason, usage: usageOf(m.usage), model: m.model };
    },
    async stream({ model, prompt }) {
      // The SDK's stream helper: it builds the message from the events and refuses a bad sequence.
      const s = client.messages.stream({ model, max_tokens: 256, messages: [{ role: 'user', content: prompt }] });
      const events = [];
      let text = '';
      let deltas = 0;
      for await (const ev of s) {
        events.push(ev);
        if (ev.type === 'content_block_delta' && ev.delta.type === 'text_delta') {
          text += ev.delta.text;
          deltas++;
        }
      }
      const final = checkMessage(await s.finalMessage(), 'finalMessage()');
      const types = events.map((e) => e.type);
      eq(types[0], 'message_start', 'the first event');
      eq(types[types.length - 1], 'message_stop', 'the last event');
      const md = events.filter((e) => e.type === 'message_delta');
      eq(md.length, 1, 'number of message_delta events');
      eq(types.indexOf('message_delta'), types.length - 2, 'message_delta comes right before message_stop');
      // message_start carries a usage object; its input_tokens may still be 0 when the upstream
      // reports usage only at the end (OpenAI): message_delta.usage then carries the totals.
      ok(events[0].message.usage && typeof events[0].message.usage.input_tokens === 'number', `message_start carries usage.input_tokens: ${show(events[0])}`);
      ok(typeof md[0].usage?.output_tokens === 'number', `message_delta carries usage.output_tokens: ${show(md[0])}`);
      return {
        text,
        deltas,
        finish: md[0].delta.stop_reason,
        // What the SDK makes of message_start + message_delta.
        usage: usageOf(final.usage),
        finalText: textOf(final),
        finalFinish: final.stop_reason,
        model: events[0].message.model,
      };
    },
    async toolCall({ model, prompt, stream, force }) {
      const messages = [{ role: 'user', content: prompt }];
      const params = { model, max_tokens: 256, messages, tools, ...(force ? { tool_choice: { type: 'any' } } : {}) };
      const m = checkMessage(stream ? await client.messages.stream(params).finalMessage() : await client.messages.create(params), 'message');
      const calls = m.content.filter((b) => b.type === 'tool_use').map((b) => ({ id: b.id, name: b.name, args: b.input }));
      // Anthropic refuses a tool_use id outside this pattern when the turn is sent back.
      for (const c of calls) ok(/^[a-zA-Z0-9_-]+$/.test(c.id ?? ''), `tool_use id ${show(c.id)} does not match ^[a-zA-Z0-9_-]+$`);
      // As applications do: the assistant turn goes back as it came.
      return { calls, text: textOf(m), finish: m.stop_reason, state: { messages: [...messages, { role: 'assistant', content: m.content }], calls } };
    },
    // `variant`: the results as arrays of text blocks instead of strings.
    async toolResult({ model, state, results, variant }) {
      const messages = [
        ...state.messages,
        {
          role: 'user',
          content: state.calls.map((c, i) => ({ type: 'tool_result', tool_use_id: c.id, content: variant ? [{ type: 'text', text: results[i] }] : results[i] })),
        },
      ];
      const m = checkMessage(await client.messages.create({ model, max_tokens: 256, messages, tools }), 'message');
      return { text: textOf(m), finish: m.stop_reason };
    },
    async image({ model, prompt, image }) {
      const source = image.url ? { type: 'url', url: image.url } : { type: 'base64', media_type: image.mime, data: image.data };
      const m = checkMessage(
        await client.messages.create({
          model,
          max_tokens: 256,
          messages: [{ role: 'user', content: [{ type: 'image', source }, { type: 'text', text: prompt }] }],
        }),
        'message',
      );
      return { text: textOf(m), finish: m.stop_reason };
    },
    async streamUntilError({ model, prompt }) {
      let text = '';
      let stop = null;
      let error = null;
      try {
        const s = await client.messages.create({ model, max_tokens: 256, messages: [{ role: 'user', content: prompt }], stream: true });
        for await (const ev of s) {
          if (ev.type === 'content_block_delta' && ev.delta.type === 'text_delta') text += ev.delta.text;
          if (ev.type === 'message_delta') stop = `message_delta stop_reason ${ev.delta.stop_reason}`;
          if (ev.type === 'message_stop') stop = stop ?? 'message_stop';
        }
      } catch (err) {
        error = err;
      }
      ok(!error || error instanceof Anthropic.APIError, `an Anthropic.APIError: got ${error?.constructor?.name}: ${error?.message}`);
      return { text, error, finished: stop };
    },
    async fail({ model, prompt, stream, status }) {
      const [cls, type] = {
        400: [Anthropic.BadRequestError, 'invalid_request_error'],
        429: [Anthropic.RateLimitError, 'rate_limit_error'],
        500: [Anthropic.InternalServerError, 'api_error'],
        529: [Anthropic.OverloadedError, 'overloaded_error'],
      }[status];
      const err = await thrown(async () => {
        const params = { model, max_tokens: 256, messages: [{ role: 'user', content: prompt }] };
        if (stream) {
          const r = await client.messages.create({ ...params, stream: true });
          for await (const _ of r); // eslint-disable-line no-unused-vars
        } else {
          await client.messages.create(params);
        }
      }, `${stream ? 'streamed' : 'non-streamed'} request to a failing upstream`);
      ok(err instanceof cls, `expected Anthropic.${cls.name} (status ${status}), got ${err?.constructor?.name} status ${err?.status}: ${err?.message}`);
      eq(err.status, status, 'error status');
      eq(err.error?.type, 'error', `an Anthropic error body {type:"error",error:{type,message}}: ${show(err.error)}`);
      eq(err.error?.error?.type, type, 'error.error.type');
      ok(typeof err.error?.error?.message === 'string', `error.error.message is a string: ${show(err.error)}`);
      return { retryAfter: err.headers?.get?.('retry-after') ?? null, message: err.error?.error?.message };
    },
  };
}

// @google/genai 3.x calls /v1/models/... unless told otherwise; the gateway documents
// /v1beta/models/..., so the matrix client asks for v1beta (a separate test tries the default).
function geminiAdapter(origin, apiKey, { apiVersion = 'v1beta' } = {}) {
  let lastResponse = null;
  const recordingFetch = async (url, init) => {
    const res = await fetch(url, init);
    lastResponse = { status: res.status, headers: res.headers, url: String(url), body: null };
    if (!res.ok) lastResponse.body = await res.clone().text();
    return res;
  };
  const ai = new GoogleGenAI({
    apiKey,
    httpOptions: { baseUrl: origin, ...(apiVersion ? { apiVersion } : {}), retryOptions: { attempts: 1 }, timeout: 5_000, fetch: recordingFetch },
  });
  const tools = [
    {
      functionDeclarations: [
        { name: 'get_weather', description: 'Current weather in a city', parametersJsonSchema: WEATHER_SCHEMA },
        // The OpenAPI-subset Schema form with upper-case types, as the SDK's Type enum writes it.
        { name: 'get_time', description: 'Current time in a time zone', parameters: { type: 'OBJECT', properties: { tz: { type: 'STRING', description: 'IANA time zone' } }, required: ['tz'] } },
      ],
    },
  ];
  const usageOf = (u) => (u ? { input: u.promptTokenCount, output: u.candidatesTokenCount, total: u.totalTokenCount } : null);
  const partsText = (parts) => (parts ?? []).filter((p) => typeof p.text === 'string' && !p.thought).map((p) => p.text).join('');
  const candidate = (r, what) => {
    eq(r.candidates?.length, 1, `${what}: number of candidates`);
    const c = r.candidates[0];
    eq(c.content?.role, 'model', `${what}: candidates[0].content.role`);
    ok(Array.isArray(c.content?.parts) && c.content.parts.length > 0, `${what}: candidates[0].content.parts is a non-empty array: ${show(c)}`);
    for (const p of c.content.parts) ok(!(typeof p.text === 'string' && p.text === '' && !p.thought), `${what}: an empty text part (Gemini refuses it when sent back): ${show(c)}`);
    return c;
  };
  /** Reads a generateContentStream, checking Gemini's stream invariants; returns all parts. */
  async function readStream(s) {
    const chunks = [];
    for await (const r of s) chunks.push(r);
    ok(chunks.length > 0, 'the stream has chunks');
    const parts = [];
    let text = '';
    let deltas = 0;
    chunks.forEach((r, i) => {
      const c = r.candidates?.[0];
      const last = i === chunks.length - 1;
      ok(c, `stream chunk ${i} has a candidate: ${show(r)}`);
      if (last) ok(c.finishReason, `the last chunk carries finishReason: ${show(r)}`);
      else ok(!c.finishReason, `only the last chunk carries finishReason, chunk ${i} of ${chunks.length} has ${c.finishReason}`);
      for (const p of c.content?.parts ?? []) {
        // Gemini never sends an empty text part (its last chunk may have no parts at all); a
        // client that keeps the parts as history (as the SDK's chats do) gets 400 "Unable to
        // submit request because it has an empty text parameter" when they go back to Gemini.
        ok(!(typeof p.text === 'string' && p.text === '' && !p.thought), `stream chunk ${i} of ${chunks.length} has an empty text part {"text":""}, which Gemini refuses when it is sent back as history: ${show({ candidates: r.candidates })}`);
        parts.push(p);
        if (typeof p.text === 'string' && p.text !== '' && !p.thought) {
          text += p.text;
          deltas++;
        }
      }
    });
    const last = chunks[chunks.length - 1];
    return { chunks, parts, text, deltas, finish: last.candidates[0].finishReason, usage: usageOf(last.usageMetadata) };
  }
  const userText = (text) => ({ role: 'user', parts: [{ text }] });
  return {
    protocol: 'gemini',
    finish: { stop: 'STOP', tool: 'STOP', length: 'MAX_TOKENS' },
    overloadedStatus: 503,
    usage: { input: USAGE.input, output: USAGE.output, total: USAGE.total },
    get lastResponse() {
      return lastResponse;
    },
    async chat({ model, prompt, system, maxTokens, temperature, stop, history = [] }) {
      const config = {
        ...(system ? { systemInstruction: system } : {}),
        ...(maxTokens ? { maxOutputTokens: maxTokens } : {}),
        ...(temperature !== undefined ? { temperature } : {}),
        ...(stop ? { stopSequences: stop } : {}),
      };
      const contents = history.length
        ? [...history.map((h) => ({ role: h.role === 'assistant' ? 'model' : 'user', parts: [{ text: h.text }] })), userText(prompt)]
        : prompt;
      const r = await ai.models.generateContent({ model, contents, config });
      const c = candidate(r, 'generateContent');
      return { text: partsText(c.content.parts), finish: c.finishReason, usage: usageOf(r.usageMetadata), model: r.modelVersion };
    },
    async stream({ model, prompt }) {
      const got = await readStream(await ai.models.generateContentStream({ model, contents: prompt }));
      return { ...got, finalText: got.text, finalFinish: got.finish, model: got.chunks[0].modelVersion };
    },
    async toolCall({ model, prompt, stream, force }) {
      const contents = [userText(prompt)];
      const config = { tools, ...(force ? { toolConfig: { functionCallingConfig: { mode: 'ANY' } } } : {}) };
      let parts;
      let finish;
      if (stream) {
        const got = await readStream(await ai.models.generateContentStream({ model, contents, config }));
        parts = got.parts;
        finish = got.finish;
      } else {
        const c = candidate(await ai.models.generateContent({ model, contents, config }), 'generateContent');
        parts = c.content.parts;
        finish = c.finishReason;
      }
      const calls = parts.filter((p) => p.functionCall).map((p) => ({ id: p.functionCall.id, name: p.functionCall.name, args: p.functionCall.args }));
      return { calls, text: partsText(parts), finish, state: { contents: [...contents, { role: 'model', parts }], calls } };
    },
    // `variant`: as a client that does not keep call ids (the REST examples have none): the ids
    // are dropped from the functionCall parts sent back, and the responses carry none.
    async toolResult({ model, state, results, variant }) {
      const strip = (c) => (c.role === 'model' ? { ...c, parts: c.parts.map((p) => (p.functionCall ? { ...p, functionCall: { name: p.functionCall.name, args: p.functionCall.args } } : p)) } : c);
      const contents = [
        ...(variant ? state.contents.map(strip) : state.contents),
        {
          role: 'user',
          parts: state.calls.map((c, i) => ({ functionResponse: { ...(c.id && !variant ? { id: c.id } : {}), name: c.name, response: { output: results[i] } } })),
        },
      ];
      const c = candidate(await ai.models.generateContent({ model, contents, config: { tools } }), 'generateContent');
      return { text: partsText(c.content.parts), finish: c.finishReason };
    },
    async image({ model, prompt, image }) {
      const part = image.url ? { fileData: { fileUri: image.url, mimeType: image.mime } } : { inlineData: { mimeType: image.mime, data: image.data } };
      const c = candidate(await ai.models.generateContent({ model, contents: [{ role: 'user', parts: [{ text: prompt }, part] }] }), 'generateContent');
      return { text: partsText(c.content.parts), finish: c.finishReason };
    },
    async streamUntilError({ model, prompt }) {
      let text = '';
      let finish = null;
      let error = null;
      try {
        for await (const r of await ai.models.generateContentStream({ model, contents: prompt })) {
          text += partsText(r.candidates?.[0]?.content?.parts);
          finish = r.candidates?.[0]?.finishReason ?? finish;
        }
      } catch (err) {
        error = err;
      }
      ok(!error || error instanceof ApiError, `an @google/genai ApiError: got ${error?.constructor?.name}: ${error?.message}`);
      return { text, error, finished: finish ? `finishReason ${finish}` : null };
    },
    async fail({ model, prompt, stream, status }) {
      const err = await thrown(async () => {
        if (stream) {
          for await (const _ of await ai.models.generateContentStream({ model, contents: prompt })); // eslint-disable-line no-unused-vars
        } else {
          await ai.models.generateContent({ model, contents: prompt });
        }
      }, `${stream ? 'streamed' : 'non-streamed'} request to a failing upstream`);
      ok(err instanceof ApiError, `expected @google/genai ApiError (status ${status}), got ${err?.constructor?.name}: ${err?.message}`);
      eq(err.status, status, 'ApiError.status');
      // The SDK puts the error body, as JSON, in the message; a body it could not read as JSON
      // (Content-Type not application/json) is wrapped as {error:{message:<text>,...}}.
      let body;
      try {
        body = JSON.parse(err.message);
        if (typeof body?.error?.message === 'string' && body.error.message.trim().startsWith('{')) body = JSON.parse(body.error.message);
      } catch {
        assert.fail(`the error body is not JSON: ${err.message}`);
      }
      eq(body?.error?.code, status, `a Gemini error body {error:{code,message,status}}: error.code (${show(body)})`);
      eq(body?.error?.status, { 400: 'INVALID_ARGUMENT', 429: 'RESOURCE_EXHAUSTED', 500: 'INTERNAL', 503: 'UNAVAILABLE' }[status], 'error.status');
      ok(typeof body?.error?.message === 'string', `error.message is a string: ${show(body)}`);
      return { retryAfter: lastResponse?.headers?.get('retry-after') ?? null, message: body?.error?.message };
    },
  };
}

const ADAPTERS = { openai: openaiAdapter, anthropic: anthropicAdapter, gemini: geminiAdapter };
const KEY_OF = { openai: 'sk-up-openai', anthropic: 'sk-ant-up', gemini: 'gem-up' };

// ---------------------------------------------------------------------------------------------
// What the upstream received
// ---------------------------------------------------------------------------------------------

function describeRecs(recs) {
  if (recs.length === 0) return '  (none)';
  return recs
    .map(
      (r) =>
        `  #${r.seq} ${r.method} ${r.url} → ${r.status ?? '(open)'}` +
        (r.rejection ? `\n     REFUSED by the fake ${r.vendor}: ${r.rejection}` : '') +
        (r.rawBody ? `\n     body: ${r.rawBody.length > 1500 ? `${r.rawBody.slice(0, 1500)}…` : r.rawBody}` : ''),
    )
    .join('\n');
}

/**
 * Checks the requests the fake vendors recorded for one client call: they went to `upstream`,
 * were accepted, and are in its format, with its key and the mapped model. Returns them.
 */
function checkUpstream(ctx, recs, { stream = false, expectCount = 1 } = {}) {
  const { upstream } = ctx;
  const calls = recs.filter((r) => r.vendor !== 'media');
  ok(calls.length > 0, `no request reached the fake ${upstream} vendor`);
  for (const r of calls) {
    ok(r.vendor === upstream, `a request went to the ${r.vendor} API (${r.method} ${r.url}) instead of the ${upstream} one`);
    ok(!r.rejection, `the fake ${upstream} vendor refused the gateway's request with ${r.status}: ${r.rejection}\n  request: ${r.method} ${r.url}\n  body: ${r.rawBody}`);
    const wire = `${JSON.stringify(r.headers)} ${r.url}`;
    ok(ctx.direct || !wire.includes(GATEWAY_KEY), `the client's gateway key reached the upstream: ${wire}`);
  }
  if (expectCount !== null) eq(calls.length, expectCount, `number of upstream requests for one client call (${calls.map((r) => r.url).join(', ')})`);
  const u = UPSTREAM[upstream];
  for (const r of calls) {
    const b = r.body;
    switch (upstream) {
      case 'openai':
        eq(r.path, '/v1/chat/completions', 'OpenAI upstream path');
        eq(r.headers.authorization, `Bearer ${u.key}`, 'OpenAI upstream Authorization header');
        eq(b.model, u.model, 'OpenAI upstream body.model');
        ok(Array.isArray(b.messages), 'OpenAI upstream body.messages is an array');
        eq(b.stream === true, stream, 'OpenAI upstream body.stream');
        if (stream && ctx.client !== 'openai') {
          eq(b.stream_options?.include_usage, true, `stream_options.include_usage sent to the OpenAI upstream (a ${ctx.client} client's stream reports usage, and OpenAI sends it only when asked)`);
        }
        break;
      case 'anthropic':
        eq(r.path, '/v1/messages', 'Anthropic upstream path');
        if (ctx.direct) ok(r.headers['x-api-key'] === u.key || r.headers.authorization === `Bearer ${u.key}`, 'the SDK sends its key');
        else eq(r.headers['x-api-key'], u.key, 'Anthropic upstream x-api-key header');
        ok(/^\d{4}-\d{2}-\d{2}$/.test(r.headers['anthropic-version'] ?? ''), `Anthropic upstream anthropic-version header: ${show(r.headers['anthropic-version'])}`);
        eq(b.model, u.model, 'Anthropic upstream body.model');
        ok(Number.isInteger(b.max_tokens) && b.max_tokens > 0, `Anthropic upstream body.max_tokens is a positive integer: ${show(b.max_tokens)}`);
        eq(b.stream === true, stream, 'Anthropic upstream body.stream');
        break;
      case 'gemini':
        ok(
          [`/v1beta/models/${u.model}:${stream ? 'streamGenerateContent' : 'generateContent'}`, `/v1/models/${u.model}:${stream ? 'streamGenerateContent' : 'generateContent'}`].includes(r.path),
          `Gemini upstream path: expected /v1beta/models/${u.model}:${stream ? 'streamGenerateContent' : 'generateContent'} (model and method in the path), got ${r.path}`,
        );
        ok(r.headers['x-goog-api-key'] === u.key || r.query.key === u.key, `Gemini upstream key (x-goog-api-key or ?key=): header ${show(r.headers['x-goog-api-key'])}, query ${show(r.query.key)}`);
        ok(Array.isArray(b.contents), 'Gemini upstream body.contents is an array');
        break;
      default:
        break;
    }
  }
  return calls;
}

// ---------------------------------------------------------------------------------------------
// The scenarios, shared by the direct suites and the gateway matrix
// ---------------------------------------------------------------------------------------------

const b64 = (buf) => buf.toString('base64');

const HISTORY = [
  { role: 'user', text: 'Hi.' },
  { role: 'assistant', text: 'Hello there.' },
];

/** The conversation an upstream received, as [{ role: 'user'|'assistant', text }] (system left out). */
function upstreamTurns(upstream, b) {
  const text = (c) => (typeof c === 'string' ? c : (c ?? []).map((p) => p.text ?? '').join(''));
  switch (upstream) {
    case 'openai':
      return b.messages.filter((m) => m.role !== 'system' && m.role !== 'developer').map((m) => ({ role: m.role, text: text(m.content) }));
    case 'anthropic':
      return b.messages.map((m) => ({ role: m.role, text: text(m.content) }));
    case 'gemini':
      return b.contents.map((c) => ({ role: c.role === 'model' ? 'assistant' : c.role, text: text(c.parts) }));
    default:
      return null;
  }
}

/** The tools an upstream received, as [{ name, schema }]. */
function upstreamTools(upstream, b) {
  switch (upstream) {
    case 'openai':
      return (b.tools ?? []).map((t) => ({ name: t.function?.name, schema: t.function?.parameters }));
    case 'anthropic':
      return (b.tools ?? []).map((t) => ({ name: t.name, schema: t.input_schema }));
    case 'gemini':
      return (b.tools ?? [])
        .flatMap((t) => t.functionDeclarations ?? t.function_declarations ?? [])
        .map((d) => ({ name: d.name, schema: d.parametersJsonSchema ?? d.parameters_json_schema ?? d.parameters }));
    default:
      return null;
  }
}

/** The tool choice an upstream received, normalized to 'auto' | 'any' | 'none' | undefined. */
function upstreamToolChoice(upstream, b) {
  switch (upstream) {
    case 'openai':
      return b.tool_choice === 'required' ? 'any' : b.tool_choice;
    case 'anthropic':
      return b.tool_choice?.type;
    case 'gemini': {
      const mode = (b.toolConfig ?? b.tool_config)?.functionCallingConfig?.mode ?? (b.toolConfig ?? b.tool_config)?.function_calling_config?.mode;
      return mode?.toLowerCase();
    }
    default:
      return undefined;
  }
}

const SCENARIOS = {
  async plain(ctx) {
    const mark = fake.requests.length;
    const r = await ctx.api.chat({ model: ctx.model, prompt: 'Say hello.', system: SYSTEM, maxTokens: 100, temperature: 0.5, stop: ['END'], history: HISTORY });
    eq(r.text, TEXT, 'completion text');
    eq(r.finish, ctx.api.finish.stop, `finish reason (${ctx.client} protocol)`);
    eq(r.usage, ctx.api.usage, 'usage');
    const [up] = checkUpstream(ctx, fake.since(mark));
    const b = up.body;
    eq(upstreamTurns(ctx.upstream, b), [...HISTORY, { role: 'user', text: 'Say hello.' }], `the conversation the ${ctx.upstream} upstream received (roles and texts)`);
    // The system prompt, the output limit, the temperature and the stop sequences arrive in the
    // upstream's own fields.
    switch (ctx.upstream) {
      case 'openai': {
        const sys = b.messages.filter((m) => m.role === 'system' || m.role === 'developer');
        eq(sys.length, 1, `system messages sent to the OpenAI upstream (${show(b.messages)})`);
        const t = typeof sys[0].content === 'string' ? sys[0].content : sys[0].content.map((p) => p.text).join('');
        eq(t, SYSTEM, 'OpenAI upstream system message text');
        eq(b.messages[0], sys[0], 'the system message comes first');
        eq(b.max_tokens ?? b.max_completion_tokens, 100, 'OpenAI upstream max_tokens / max_completion_tokens');
        eq(b.temperature, 0.5, 'OpenAI upstream temperature');
        eq([].concat(b.stop ?? []), ['END'], 'OpenAI upstream stop');
        break;
      }
      case 'anthropic': {
        const t = typeof b.system === 'string' ? b.system : (b.system ?? []).map((x) => x.text).join('');
        eq(t, SYSTEM, 'Anthropic upstream top-level system');
        ok(b.messages.every((m) => m.role !== 'system'), 'no system role inside Anthropic messages');
        eq(b.max_tokens, 100, 'Anthropic upstream max_tokens');
        eq(b.temperature, 0.5, 'Anthropic upstream temperature');
        eq(b.stop_sequences, ['END'], 'Anthropic upstream stop_sequences');
        break;
      }
      case 'gemini': {
        const si = b.systemInstruction ?? b.system_instruction;
        eq((si?.parts ?? []).map((p) => p.text).join(''), SYSTEM, 'Gemini upstream systemInstruction text');
        const gc = b.generationConfig ?? b.generation_config ?? {};
        eq(gc.maxOutputTokens ?? gc.max_output_tokens, 100, 'Gemini upstream generationConfig.maxOutputTokens');
        eq(gc.temperature, 0.5, 'Gemini upstream generationConfig.temperature');
        eq(gc.stopSequences ?? gc.stop_sequences, ['END'], 'Gemini upstream generationConfig.stopSequences');
        break;
      }
      default:
        break;
    }
  },

  async stream(ctx) {
    const mark = fake.requests.length;
    const r = await ctx.api.stream({ model: ctx.model, prompt: 'Say hello, streamed.' });
    eq(r.text, TEXT, 'concatenated stream deltas');
    ok(r.deltas >= 2, `the text arrives in several deltas (got ${r.deltas}): is the stream buffered?`);
    eq(r.finish, ctx.api.finish.stop, `stream finish reason (${ctx.client} protocol)`);
    eq(r.usage, ctx.api.usage, 'stream usage');
    eq(r.finalText, TEXT, "the SDK stream helper's final text");
    eq(r.finalFinish, ctx.api.finish.stop, "the SDK stream helper's final finish reason");
    if (r.finalUsage) eq(r.finalUsage, ctx.api.usage, "the SDK stream helper's final usage");
    const recs = fake.since(mark);
    checkUpstream(ctx, recs.slice(0, 1), { stream: true });
    // The OpenAI adapter sends a second stream without include_usage.
    if (ctx.client === 'openai') checkUpstream(ctx, recs.slice(1), { stream: true });
  },

  async modelName(ctx) {
    const a = await ctx.api.chat({ model: ctx.model, prompt: 'Say hello.' });
    const b = await ctx.api.stream({ model: ctx.model, prompt: 'Say hello, streamed.' });
    const names = [ctx.model, UPSTREAM[ctx.upstream].model];
    ok(names.includes(a.model), `the model named in the non-streamed answer (${show(a.model)}) is the public or the upstream name ${show(names)}`);
    eq(b.model, a.model, `the model named in the streamed answer, against the non-streamed one (${show(a.model)})`);
  },

  async truncated(ctx) {
    const want = TRUNCATED_PIECES.join('');
    let mark = fake.requests.length;
    // OpenAI's newer limit field this time (max_completion_tokens).
    const r = await ctx.api.chat({ model: ctx.model, prompt: 'Please truncate this.', maxTokens: 50, newLimitField: true });
    eq(r.text, want, 'text');
    eq(r.finish, ctx.api.finish.length, `finish reason of an answer cut by the length limit (${ctx.client} protocol)`);
    const [up] = checkUpstream(ctx, fake.since(mark));
    const limit = {
      openai: (b) => b.max_completion_tokens ?? b.max_tokens,
      anthropic: (b) => b.max_tokens,
      gemini: (b) => (b.generationConfig ?? b.generation_config ?? {}).maxOutputTokens ?? (b.generationConfig ?? b.generation_config ?? {}).max_output_tokens,
    }[ctx.upstream];
    eq(limit(up.body), 50, `the output limit as the ${ctx.upstream} upstream received it`);
    mark = fake.requests.length;
    const st = await ctx.api.stream({ model: ctx.model, prompt: 'Please truncate this, streamed.' });
    eq(st.text, want, 'streamed text');
    eq(st.finish, ctx.api.finish.length, `streamed finish reason of an answer cut by the length limit (${ctx.client} protocol)`);
    eq(st.finalFinish, ctx.api.finish.length, "the SDK stream helper's final finish reason");
    const recs = fake.since(mark);
    checkUpstream(ctx, recs.slice(0, 1), { stream: true });
  },

  async tools(ctx, { stream = false, parallel = false, preamble = false } = {}) {
    const words = [parallel ? 'parallel' : '', preamble ? 'preamble' : ''].filter(Boolean).join(' ');
    const prompt = `What is the weather in Paris${parallel ? ' and São Paulo' : ''}? ${words}`.trim();
    const n = parallel ? 2 : 1;
    let mark = fake.requests.length;
    // The non-streamed round trip forces a tool call (tool_choice required / any / ANY).
    const force = !stream;
    const t1 = await ctx.api.toolCall({ model: ctx.model, prompt, stream, force });
    eq(t1.calls.length, n, `number of tool calls (${show(t1.calls)})`);
    t1.calls.forEach((c, k) => {
      eq(c.name, 'get_weather', `tool call ${k}: name (the first tool)`);
      eq(c.args, TOOL_ARGS[k], `tool call ${k}: arguments`);
    });
    if (ctx.client !== 'gemini') {
      t1.calls.forEach((c, k) => ok(typeof c.id === 'string' && c.id.length > 0, `tool call ${k} has an id: ${show(c)}`));
    }
    const ids = t1.calls.map((c) => c.id).filter(Boolean);
    eq(new Set(ids).size, ids.length, `tool call ids are distinct (${show(ids)})`);
    eq(t1.finish, ctx.api.finish.tool, `finish reason of a tool call (${ctx.client} protocol)`);
    eq(t1.text, preamble ? PREAMBLE : '', 'text that came with the tool calls');
    const up1 = checkUpstream(ctx, fake.since(mark), { stream });
    eq(up1[0].reply?.kind, 'tools', `the upstream saw tools in the request (its reply: ${show(up1[0].reply)})`);
    const sent = upstreamTools(ctx.upstream, up1[0].body);
    eq(sent.map((t) => t.name), ['get_weather', 'get_time'], `the tools the ${ctx.upstream} upstream received, in order`);
    eq(Object.keys(sent[0].schema?.properties ?? {}).sort(), ['city', 'unit'], 'the properties of get_weather as the upstream received them');
    eq(sent[0].schema?.properties?.unit?.enum, ['celsius', 'fahrenheit'], 'get_weather.unit enum as the upstream received it');
    if (force) eq(upstreamToolChoice(ctx.upstream, up1[0].body), 'any', `the forced tool choice as the ${ctx.upstream} upstream received it (required / {type:"any"} / mode ANY)`);

    // The client runs the tools and sends the results back.
    const results = ['21 C and sunny in Paris (ref R-1)', '18 C and cloudy in São Paulo (ref R-2)'].slice(0, n);
    mark = fake.requests.length;
    // The streamed round trip sends the results in the protocol's other form (see toolResult).
    const t2 = await ctx.api.toolResult({ model: ctx.model, state: t1.state, results, variant: stream });
    ok(typeof t2.text === 'string' && t2.text.startsWith('Tool results: '), `the answer quotes the tool results: got ${show(t2.text)}`);
    let from = 0;
    for (const res of results) {
      const at = t2.text.indexOf(res, from);
      ok(at >= 0, `the answer quotes the tool result ${show(res)} (in order): got ${show(t2.text)}`);
      from = at + res.length;
    }
    eq(t2.finish, ctx.api.finish.stop, `finish reason after the tool results (${ctx.client} protocol)`);
    const [up2] = checkUpstream(ctx, fake.since(mark));
    // How the results reached the upstream, in its own format.
    const b = up2.body;
    switch (ctx.upstream) {
      case 'openai': {
        const toolMsgs = b.messages.filter((m) => m.role === 'tool');
        eq(toolMsgs.length, n, 'tool messages sent to the OpenAI upstream');
        const asst = b.messages.filter((m) => m.role === 'assistant' && m.tool_calls);
        eq(asst.length, 1, 'assistant messages with tool_calls sent to the OpenAI upstream');
        eq(asst[0].tool_calls.map((c) => c.function.name), Array(n).fill('get_weather'), 'tool_calls names sent back upstream');
        eq(asst[0].tool_calls.map((c) => JSON.parse(c.function.arguments)), TOOL_ARGS.slice(0, n), 'tool_calls arguments sent back upstream');
        eq(toolMsgs.map((m) => m.tool_call_id), asst[0].tool_calls.map((c) => c.id), 'tool_call_id of each tool message, in call order');
        break;
      }
      case 'anthropic': {
        const last = b.messages[b.messages.length - 1];
        const res = Array.isArray(last.content) ? last.content.filter((x) => x.type === 'tool_result') : [];
        eq(res.length, n, 'tool_result blocks in the last Anthropic message');
        const prev = b.messages[b.messages.length - 2];
        const uses = prev.content.filter((x) => x.type === 'tool_use');
        eq(uses.map((x) => x.input), TOOL_ARGS.slice(0, n), 'tool_use inputs sent back upstream');
        eq(res.map((x) => x.tool_use_id), uses.map((x) => x.id), 'tool_result ids, in call order');
        break;
      }
      case 'gemini': {
        const last = b.contents[b.contents.length - 1];
        const fr = last.parts.filter((p) => p.functionResponse ?? p.function_response);
        eq(fr.length, n, 'functionResponse parts in the last Gemini content');
        eq(last.role, 'user', 'role of the Gemini content holding function responses');
        const prev = b.contents[b.contents.length - 2];
        const fc = prev.parts.filter((p) => p.functionCall ?? p.function_call).map((p) => p.functionCall ?? p.function_call);
        eq(fc.map((c) => c.args), TOOL_ARGS.slice(0, n), 'functionCall args sent back upstream');
        break;
      }
      default:
        break;
    }
  },

  async imageInline(ctx) {
    const mark = fake.requests.length;
    const r = await ctx.api.image({ model: ctx.model, prompt: 'What is in this image?', image: { mime: 'image/png', data: b64(IMG_INLINE_PNG) } });
    eq(r.text, `Received ${describeImageBytes('image/png', IMG_INLINE_PNG)}.`, 'the answer names the inline image the upstream received');
    eq(r.finish, ctx.api.finish.stop, 'finish reason');
    checkUpstream(ctx, fake.since(mark));
  },

  async imageUrl(ctx) {
    const mark = fake.requests.length;
    const url = fake.imageUrl;
    const r = await ctx.api.image({ model: ctx.model, prompt: 'What is in this image?', image: { url, mime: 'image/png' } });
    const fetched = `Received ${describeImageBytes('image/png', IMG_URL_PNG)}.`;
    const byUrl = `Received ${describeImageUrl(url)}.`;
    const recs = fake.since(mark);
    const gets = recs.filter((x) => x.vendor === 'media');
    if (ctx.upstream === 'gemini' && ctx.client !== 'gemini') {
      // Gemini cannot be given an arbitrary (here: private) URL: the gateway downloads the image
      // and sends it inline.
      eq(r.text, fetched, 'the answer names the image the Gemini upstream received inline (the gateway must fetch the URL)');
      ok(gets.length >= 1, 'the gateway fetched GET /img.png');
      const up = checkUpstream(ctx, recs);
      const parts = up[0].body.contents.flatMap((c) => c.parts);
      ok(parts.some((p) => p.inlineData ?? p.inline_data), `the Gemini upstream got the image as inlineData: ${show(parts)}`);
    } else {
      ok(r.text === byUrl || r.text === fetched, `the answer names the image: expected ${show(byUrl)} (URL passed on) or ${show(fetched)} (fetched and inlined), got ${show(r.text)}`);
      checkUpstream(ctx, recs);
    }
    eq(r.finish, ctx.api.finish.stop, 'finish reason');
  },

  async midstream(ctx) {
    const mark = fake.requests.length;
    const r = await ctx.api.streamUntilError({ model: ctx.model, prompt: 'Please fail-midstream.' });
    eq(r.text, MIDSTREAM_PIECES.join(''), 'the text that arrived before the upstream failed');
    ok(r.error, `the stream must end with an error the SDK raises, not as a complete answer (it ended with ${r.finished ?? 'no finish marker'})`);
    ok(!r.finished, `a stream that failed must not carry a normal finish (${r.finished})`);
    checkUpstream(ctx, fake.since(mark), { stream: true });
  },

  // `kind`: '400', '429', '500' or 'overloaded' (503 from OpenAI and Gemini, 529 from Anthropic).
  // The client gets the status and error type docs/protocols.md gives for its protocol.
  async fail(ctx, kind) {
    const status = kind === 'overloaded' ? ctx.api.overloadedStatus : Number(kind);
    const upStatus = kind === 'overloaded' ? (ctx.upstream === 'anthropic' ? 529 : 503) : Number(kind);
    for (const stream of [false, true]) {
      const mark = fake.requests.length;
      const what = stream ? 'streamed' : 'non-streamed';
      const { retryAfter, message } = await ctx.api.fail({ model: ctx.model, prompt: `Please fail-${kind}.`, stream, status });
      if (kind === '429') eq(retryAfter, RETRY_AFTER, `${what}: the upstream's retry-after header passed on to the client`);
      if (kind === '400') ok(String(message).includes(FAIL_400_MESSAGE), `${what}: the upstream's error message reaches the client: got ${show(message)}`);
      const recs = checkUpstream(ctx, fake.since(mark), { stream, expectCount: null });
      eq(recs[0].reply?.kind === 'error' ? recs[0].reply.status : null, upStatus, `${what}: the upstream answered ${upStatus}`);
    }
  },
};

// ---------------------------------------------------------------------------------------------
// Running a scenario with diagnostics
// ---------------------------------------------------------------------------------------------

/** Runs `fn`; on failure, adds to the error what the upstream saw and what the gateway logged. */
async function withDiagnostics(ctx, fn) {
  const mark = fake.requests.length;
  const outMark = gw ? gw.output() : { stdout: '', stderr: '' };
  try {
    await fn();
  } catch (err) {
    const lines = [`[${ctx.client} client → ${ctx.upstream} upstream${ctx.direct ? ', direct' : ''}] ${err?.message ?? err}`];
    const peer = ctx.direct ? 'the fake vendor' : 'the gateway';
    if (err?.status !== undefined) lines.push(`  (the SDK saw HTTP ${err.status} from ${peer})`);
    const lr = ctx.api?.lastResponse;
    if (lr && lr.status >= 400) {
      lines.push(`  (the last HTTP response from ${peer}: ${lr.status} ${lr.headers.get('content-type') ?? ''} ${show(lr.body)})`);
    }
    // The access log may reach the pipe a moment after the response.
    if (gw && !ctx.direct) await new Promise((resolve) => setTimeout(resolve, 100));
    lines.push('--- requests the fake vendors received during this test ---', describeRecs(fake.since(mark)));
    if (gw && !ctx.direct) {
      const now = gw.output();
      const tail = (s) => (s.length > 2500 ? `…${s.slice(-2500)}` : s) || '(nothing)';
      lines.push('--- gateway stderr during this test ---', tail(now.stderr.slice(outMark.stderr.length)));
      lines.push('--- gateway access log during this test ---', tail(now.stdout.slice(outMark.stdout.length)));
    }
    const e = new Error(lines.join('\n'));
    e.stack = `${e.message}\n${(err?.stack ?? '').split('\n').slice(1, 6).join('\n')}`;
    throw e;
  }
}

function defineScenarioTests(makeCtx) {
  const run = (fn) => async () => {
    const ctx = makeCtx();
    await withDiagnostics(ctx, () => fn(ctx));
  };
  test('plain completion: text, finish reason, usage; system prompt and limits mapped', T, run((ctx) => SCENARIOS.plain(ctx)));
  test('stream: deltas concatenate to the text; the SDK stream helper completes; usage', T, run((ctx) => SCENARIOS.stream(ctx)));
  test('finish reason length (non-streamed and streamed)', T, run((ctx) => SCENARIOS.truncated(ctx)));
  test('the answer names the same model streamed and non-streamed', T, run((ctx) => SCENARIOS.modelName(ctx)));
  test('tool call round trip (tool choice forced): call → result → answer quoting it', T, run((ctx) => SCENARIOS.tools(ctx)));
  test('tool call round trip, streamed: two parallel calls after a text preamble; results as parts (Gemini: without ids)', T, run((ctx) => SCENARIOS.tools(ctx, { stream: true, parallel: true, preamble: true })));
  test('image input, inline base64', T, run((ctx) => SCENARIOS.imageInline(ctx)));
  test('image input, http URL', T, run((ctx) => SCENARIOS.imageUrl(ctx)));
  test('upstream 400: the SDK raises its bad-request error with the upstream message', T, run((ctx) => SCENARIOS.fail(ctx, '400')));
  test('upstream 429: the SDK raises its rate-limit error; retry-after passed on', T, run((ctx) => SCENARIOS.fail(ctx, '429')));
  test('upstream 500: the SDK raises its server error', T, run((ctx) => SCENARIOS.fail(ctx, '500')));
  test('upstream overloaded (503 / 529): the SDK raises the error its protocol has for it', T, run((ctx) => SCENARIOS.fail(ctx, 'overloaded')));
  test('upstream error mid-stream: the SDK raises an error after the partial text', T, run((ctx) => SCENARIOS.midstream(ctx)));
}

// ---------------------------------------------------------------------------------------------
// Suites
// ---------------------------------------------------------------------------------------------

before(async () => {
  fake = await startFakeVendors();
  gw = await bootGateway();
});

// A gateway that dies fails the test during which it died, and is restarted for the later tests.
afterEach(async () => {
  if (!gw) return;
  await Promise.race([gw.exited, new Promise((resolve) => setTimeout(resolve, 50))]);
  if (!gw.exitInfo) return;
  const { code, signal } = gw.exitInfo;
  const { stdout, stderr } = gw.output();
  gw = await bootGateway();
  throw new Error(
    `the gateway died during this test (code ${code}, signal ${signal}); it was restarted\n` +
      `--- stderr (end) ---\n${stderr.slice(-2000)}\n--- stdout (end) ---\n${stdout.slice(-1000)}`,
  );
});

after(async () => {
  await gw?.stop();
  await fake?.close();
});

describe('direct: each SDK against the fake vendor of its own protocol (no gateway)', () => {
  for (const protocol of PROTOCOLS) {
    describe(`${protocol} SDK → fake ${protocol}`, () => {
      defineScenarioTests(() => ({
        client: protocol,
        upstream: protocol,
        direct: true,
        model: UPSTREAM[protocol].model,
        api: ADAPTERS[protocol](fake.origin, KEY_OF[protocol]),
      }));
    });
  }

  test("Gemini SDK with its default API version (v1)", T, async () => {
    const ctx = { client: 'gemini', upstream: 'gemini', direct: true, model: UPSTREAM.gemini.model, api: geminiAdapter(fake.origin, KEY_OF.gemini, { apiVersion: null }) };
    await withDiagnostics(ctx, async () => {
      const mark = fake.requests.length;
      const r = await ctx.api.chat({ model: ctx.model, prompt: 'Say hello.' });
      eq(r.text, TEXT, 'completion text');
      const [up] = fake.since(mark);
      eq(up.path, '/v1/models/gemini-fake:generateContent', 'the path the SDK calls by default');
    });
  });

  test('Anthropic count_tokens', T, async () => {
    const client = new Anthropic({ baseURL: fake.origin, apiKey: KEY_OF.anthropic, maxRetries: 0 });
    const r = await client.messages.countTokens({ model: UPSTREAM.anthropic.model, messages: [{ role: 'user', content: 'Hi' }] });
    eq(r.input_tokens, USAGE.input, 'input_tokens');
  });

  test('the fakes refuse what the real vendors refuse', T, async () => {
    const post = async (path, body, headers) => {
      const res = await fetch(`${fake.origin}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
      return { status: res.status, body: await res.json() };
    };
    const oa = { authorization: 'Bearer sk-up-openai' };
    const an = { 'x-api-key': 'sk-ant-up', 'anthropic-version': '2023-06-01' };
    const ge = { 'x-goog-api-key': 'gem-up' };
    const cases = [
      ['OpenAI: no key', '/v1/chat/completions', { model: 'gpt-fake', messages: [{ role: 'user', content: 'x' }] }, {}, 401],
      ['OpenAI: the gateway key', '/v1/chat/completions', { model: 'gpt-fake', messages: [{ role: 'user', content: 'x' }] }, { authorization: `Bearer ${GATEWAY_KEY}` }, 401],
      ['OpenAI: public model name', '/v1/chat/completions', { model: 'm-openai', messages: [{ role: 'user', content: 'x' }] }, oa, 404],
      ['OpenAI: unknown field', '/v1/chat/completions', { model: 'gpt-fake', max_tokens_to_sample: 5, messages: [{ role: 'user', content: 'x' }] }, oa, 400],
      ['OpenAI: tool message without a matching call', '/v1/chat/completions', { model: 'gpt-fake', messages: [{ role: 'user', content: 'x' }, { role: 'assistant', content: null, tool_calls: [{ id: 'call_a', type: 'function', function: { name: 'f', arguments: '{}' } }] }, { role: 'tool', tool_call_id: 'call_b', content: 'r' }] }, oa, 400],
      ['OpenAI: a call left without a result', '/v1/chat/completions', { model: 'gpt-fake', messages: [{ role: 'user', content: 'x' }, { role: 'assistant', content: null, tool_calls: [{ id: 'call_a', type: 'function', function: { name: 'f', arguments: '{}' } }] }, { role: 'user', content: 'y' }] }, oa, 400],
      ['OpenAI: arguments as an object', '/v1/chat/completions', { model: 'gpt-fake', messages: [{ role: 'user', content: 'x' }, { role: 'assistant', content: null, tool_calls: [{ id: 'call_a', type: 'function', function: { name: 'f', arguments: {} } }] }, { role: 'tool', tool_call_id: 'call_a', content: 'r' }] }, oa, 400],
      ['OpenAI: stream_options without stream', '/v1/chat/completions', { model: 'gpt-fake', stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'x' }] }, oa, 400],
      ['Anthropic: no key', '/v1/messages', { model: 'claude-fake', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] }, { 'anthropic-version': '2023-06-01' }, 401],
      ['Anthropic: no anthropic-version', '/v1/messages', { model: 'claude-fake', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] }, { 'x-api-key': 'sk-ant-up' }, 400],
      ['Anthropic: no max_tokens', '/v1/messages', { model: 'claude-fake', messages: [{ role: 'user', content: 'x' }] }, an, 400],
      ['Anthropic: OpenAI field', '/v1/messages', { model: 'claude-fake', max_tokens: 5, stream_options: {}, messages: [{ role: 'user', content: 'x' }] }, an, 400],
      ['Anthropic: starts with assistant', '/v1/messages', { model: 'claude-fake', max_tokens: 5, messages: [{ role: 'assistant', content: 'x' }, { role: 'user', content: 'y' }] }, an, 400],
      ['Anthropic: two user turns', '/v1/messages', { model: 'claude-fake', max_tokens: 5, messages: [{ role: 'user', content: 'x' }, { role: 'user', content: 'y' }] }, an, 400],
      ['Anthropic: system role', '/v1/messages', { model: 'claude-fake', max_tokens: 5, messages: [{ role: 'system', content: 'x' }, { role: 'user', content: 'y' }] }, an, 400],
      ['Anthropic: empty text block', '/v1/messages', { model: 'claude-fake', max_tokens: 5, messages: [{ role: 'user', content: [{ type: 'text', text: '' }] }] }, an, 400],
      ['Anthropic: tool_result for an unknown id', '/v1/messages', { model: 'claude-fake', max_tokens: 5, messages: [{ role: 'user', content: 'x' }, { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_a', name: 'f', input: {} }] }, { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_b', content: 'r' }] }] }, an, 400],
      ['Anthropic: image media type not matching the bytes', '/v1/messages', { model: 'claude-fake', max_tokens: 5, messages: [{ role: 'user', content: [{ type: 'image', source: { type: 'base64', media_type: 'image/jpeg', data: b64(IMG_INLINE_PNG) } }] }] }, an, 400],
      ['Anthropic: OpenAI image part', '/v1/messages', { model: 'claude-fake', max_tokens: 5, messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: fake.imageUrl } }] }] }, an, 400],
      ['Gemini: no key', '/v1beta/models/gemini-fake:generateContent', { contents: [{ role: 'user', parts: [{ text: 'x' }] }] }, {}, 403],
      ['Gemini: wrong key', '/v1beta/models/gemini-fake:generateContent', { contents: [{ role: 'user', parts: [{ text: 'x' }] }] }, { 'x-goog-api-key': GATEWAY_KEY }, 400],
      ['Gemini: public model name', '/v1beta/models/m-gemini:generateContent', { contents: [{ role: 'user', parts: [{ text: 'x' }] }] }, ge, 404],
      ['Gemini: assistant role', '/v1beta/models/gemini-fake:generateContent', { contents: [{ role: 'assistant', parts: [{ text: 'x' }] }] }, ge, 400],
      ['Gemini: empty parts', '/v1beta/models/gemini-fake:generateContent', { contents: [{ role: 'user', parts: [] }] }, ge, 400],
      ['Gemini: unknown field', '/v1beta/models/gemini-fake:generateContent', { model: 'gemini-fake', messages: [], contents: [{ role: 'user', parts: [{ text: 'x' }] }] }, ge, 400],
      ['Gemini: functionResponse without a name', '/v1beta/models/gemini-fake:generateContent', { contents: [{ role: 'user', parts: [{ text: 'x' }] }, { role: 'model', parts: [{ functionCall: { name: 'f', args: {} } }] }, { role: 'user', parts: [{ functionResponse: { response: { output: 'r' } } }] }] }, ge, 400],
      ['Gemini: fewer responses than calls', '/v1beta/models/gemini-fake:generateContent', { contents: [{ role: 'user', parts: [{ text: 'x' }] }, { role: 'model', parts: [{ functionCall: { name: 'f', args: {} } }, { functionCall: { name: 'f', args: {} } }] }, { role: 'user', parts: [{ functionResponse: { name: 'f', response: { output: 'r' } } }] }] }, ge, 400],
    ];
    const wrong = [];
    for (const [what, path, body, headers, status] of cases) {
      const r = await post(path, body, headers);
      if (r.status !== status) wrong.push(`${what}: expected ${status}, got ${r.status} ${show(r.body)}`);
      const shaped = path.startsWith('/v1beta') ? typeof r.body?.error?.status === 'string' : path.startsWith('/v1/messages') ? r.body?.type === 'error' : typeof r.body?.error?.message === 'string';
      if (!shaped) wrong.push(`${what}: not in the vendor's error format: ${show(r.body)}`);
    }
    ok(wrong.length === 0, wrong.join('\n'));
  });
});

describe('gateway: the startup with the matrix config', () => {
  test('the gateway accepts the whole matrix config (3 channel types, media_fetch)', T, () => {
    ok(!gwInfo.startupError, `the gateway refused the matrix config:\n${gwInfo.startupError}\n` + `(running with the accepted part: channels ${show(gwInfo.accepted)}, media_fetch ${gwInfo.mediaFetch})`);
  });
});

describe('gateway: each SDK lists the models in its own protocol', () => {
  const want = PROTOCOLS.map((p) => UPSTREAM[p].publicModel);
  const check = (ids, what) => {
    for (const m of want) ok(ids.includes(m), `${what} lists ${m}: ${show(ids)}`);
    for (const p of PROTOCOLS) ok(!ids.includes(UPSTREAM[p].model), `${what} shows upstream names: ${show(ids)}`);
  };
  test('openai: models.list()', T, async () => {
    assert.ok(gw, 'the gateway is not running');
    const ids = [];
    for await (const m of new OpenAI({ baseURL: `${gw.baseURL}/v1`, apiKey: GATEWAY_KEY, maxRetries: 0 }).models.list()) ids.push(m.id);
    check(ids, 'openai models.list()');
  });
  test('anthropic: models.list()', T, async () => {
    assert.ok(gw, 'the gateway is not running');
    const ids = [];
    for await (const m of new Anthropic({ baseURL: gw.baseURL, apiKey: GATEWAY_KEY, maxRetries: 0 }).models.list()) {
      eq(m.type, 'model', `an Anthropic model object: ${show(m)}`);
      ids.push(m.id);
    }
    check(ids, 'anthropic models.list()');
  });
  test('gemini: models.list()', T, async () => {
    assert.ok(gw, 'the gateway is not running');
    const ai = new GoogleGenAI({ apiKey: GATEWAY_KEY, httpOptions: { baseUrl: gw.baseURL, apiVersion: 'v1beta', retryOptions: { attempts: 1 } } });
    const names = [];
    for await (const m of await ai.models.list()) names.push(m.name);
    ok(names.every((n) => n.startsWith('models/')), `Gemini model names are "models/<id>": ${show(names)}`);
    check(names.map((n) => n.replace(/^models\//, '')), 'gemini models.list()');
  });
});

for (const client of PROTOCOLS) {
  for (const upstream of PROTOCOLS) {
    describe(`gateway: ${client} client → ${upstream} upstream`, () => {
      defineScenarioTests(() => {
        requireUpstream(upstream);
        return {
          client,
          upstream,
          direct: false,
          model: UPSTREAM[upstream].publicModel,
          api: ADAPTERS[client](gw.baseURL, GATEWAY_KEY),
        };
      });
      if (client === 'anthropic') {
        test('count_tokens: counted by an Anthropic upstream, estimated by the gateway for the others', T, async () => {
          requireUpstream(upstream);
          const ctx = { client, upstream, direct: false };
          await withDiagnostics(ctx, async () => {
            const mark = fake.requests.length;
            const an = new Anthropic({ baseURL: gw.baseURL, apiKey: GATEWAY_KEY, maxRetries: 0, timeout: 5_000 });
            const r = await an.messages.countTokens({
              model: UPSTREAM[upstream].publicModel,
              system: SYSTEM,
              messages: [{ role: 'user', content: 'How many tokens is this?' }],
            });
            const recs = fake.since(mark);
            if (upstream === 'anthropic') {
              eq(r.input_tokens, USAGE.input, 'input_tokens counted by the upstream');
              eq(recs.length, 1, 'requests to the upstream');
              eq(recs[0].path, '/v1/messages/count_tokens', 'upstream path');
              ok(!recs[0].rejection, `the fake Anthropic refused the count_tokens request: ${recs[0].rejection}`);
              eq(recs[0].headers['x-api-key'], UPSTREAM.anthropic.key, 'upstream x-api-key');
              eq(recs[0].body?.model, UPSTREAM.anthropic.model, 'upstream body.model');
            } else {
              ok(Number.isInteger(r.input_tokens) && r.input_tokens > 0, `a positive estimate: ${show(r)}`);
              eq(recs.length, 0, `requests to the ${upstream} upstream for an estimate (${recs.map((x) => x.url).join(', ')})`);
            }
          });
        });
      }
      if (client === 'gemini') {
        test("the SDK's default API version (v1): /v1/models/{model}:generateContent", T, async () => {
          requireUpstream(upstream);
          const ctx = { client, upstream, direct: false, model: UPSTREAM[upstream].publicModel, api: geminiAdapter(gw.baseURL, GATEWAY_KEY, { apiVersion: null }) };
          await withDiagnostics(ctx, async () => {
            const r = await ctx.api.chat({ model: ctx.model, prompt: 'Say hello.' });
            eq(r.text, TEXT, 'completion text');
            checkUpstream(ctx, fake.requests.slice(-1));
          });
        });
        test('raw HTTP: snake_case field names (system_instruction, generation_config, inline_data), as in the REST docs', T, async () => {
          requireUpstream(upstream);
          await withDiagnostics({ client, upstream }, async () => {
            const mark = fake.requests.length;
            const body = {
              system_instruction: { parts: [{ text: SYSTEM }] },
              contents: [{ role: 'user', parts: [{ inline_data: { mime_type: 'image/png', data: b64(IMG_INLINE_PNG) } }, { text: 'Caption this image.' }] }],
              generation_config: { max_output_tokens: 100, stop_sequences: ['END'] },
            };
            const res = await fetch(`${gw.baseURL}/v1beta/models/${UPSTREAM[upstream].publicModel}:generateContent`, {
              method: 'POST',
              headers: { 'content-type': 'application/json', 'x-goog-api-key': GATEWAY_KEY },
              body: JSON.stringify(body),
            });
            const t = await res.text();
            eq(res.status, 200, `status (body ${t.slice(0, 500)})`);
            const j = JSON.parse(t);
            eq(j.candidates?.[0]?.content?.parts?.map((p) => p.text).join(''), `Received ${describeImageBytes('image/png', IMG_INLINE_PNG)}.`, 'the answer names the inline image the upstream received');
            const [up] = checkUpstream({ client, upstream }, fake.since(mark));
            const b = up.body;
            const sys = { openai: () => b.messages.find((m) => m.role === 'system' || m.role === 'developer')?.content, anthropic: () => b.system, gemini: () => (b.systemInstruction ?? b.system_instruction)?.parts }[upstream]();
            ok(JSON.stringify(sys ?? null).includes(SYSTEM), `the system instruction reached the ${upstream} upstream: ${show(sys)}`);
            const lim = { openai: () => b.max_tokens ?? b.max_completion_tokens, anthropic: () => b.max_tokens, gemini: () => (b.generationConfig ?? b.generation_config)?.maxOutputTokens ?? (b.generationConfig ?? b.generation_config)?.max_output_tokens }[upstream]();
            eq(lim, 100, `the output limit as the ${upstream} upstream received it`);
          });
        });
        test('raw HTTP: the key as ?key=, and :streamGenerateContent without alt=sse (a JSON array)', T, async () => {
          requireUpstream(upstream);
          await withDiagnostics({ client, upstream }, async () => {
            const base = `${gw.baseURL}/v1beta/models/${UPSTREAM[upstream].publicModel}`;
            const body = JSON.stringify({ contents: [{ role: 'user', parts: [{ text: 'Say hello.' }] }] });
            const headers = { 'content-type': 'application/json' };
            const r1 = await fetch(`${base}:generateContent?key=${GATEWAY_KEY}`, { method: 'POST', headers, body });
            const t1 = await r1.text();
            eq(r1.status, 200, `generateContent with ?key=: status (body ${t1.slice(0, 500)})`);
            const j1 = JSON.parse(t1);
            eq(j1.candidates?.[0]?.content?.parts?.map((p) => p.text).join(''), TEXT, 'generateContent with ?key=: text');
            const r2 = await fetch(`${base}:streamGenerateContent`, { method: 'POST', headers: { ...headers, 'x-goog-api-key': GATEWAY_KEY }, body });
            const t2 = await r2.text();
            eq(r2.status, 200, `streamGenerateContent without alt=sse: status (body ${t2.slice(0, 500)})`);
            let arr;
            try {
              arr = JSON.parse(t2);
            } catch {
              assert.fail(`streamGenerateContent without alt=sse must answer one JSON array; got ${show(t2.slice(0, 500))}`);
            }
            ok(Array.isArray(arr) && arr.length >= 1, `a JSON array of responses: ${show(arr)}`);
            eq(arr.flatMap((x) => x.candidates?.[0]?.content?.parts ?? []).map((p) => p.text ?? '').join(''), TEXT, 'text across the array');
            eq(arr[arr.length - 1].candidates?.[0]?.finishReason, 'STOP', 'finishReason of the last element');
          });
        });
      }
    });
  }
}
