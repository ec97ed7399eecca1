// One node:http server that imitates the three vendor APIs at their real paths, in their exact
// wire formats (as recorded in /work/shared/protocol/{openai,anthropic,gemini}/), for the
// protocol matrix tests:
//
//   OpenAI     POST /v1/chat/completions                      (Authorization: Bearer)
//   Anthropic  POST /v1/messages, POST /v1/messages/count_tokens  (x-api-key or Bearer; anthropic-version)
//   Gemini     POST /v1beta/models/{model}:generateContent (and /v1/models/..., as the real API)
//              POST /v1beta/models/{model}:streamGenerateContent[?alt=sse]  (x-goog-api-key or ?key=)
//   GET /img.png  a tiny real PNG (IMG_URL_PNG), for image-by-URL tests
//
// Each vendor validates a request the way the real one does and refuses it in its own error
// format: missing or wrong key, unknown model, unknown fields, broken conversation structure
// (see validateOpenAI / validateAnthropic / validateGemini). A valid request gets a deterministic
// answer, the same for the three vendors (see decide()):
//
//   prompt contains "fail-429"      429, `retry-after: 7`, the vendor's rate-limit error body
//   prompt contains "fail-500"      500, the vendor's server error body
//   prompt contains "fail-400"      400, the vendor's invalid-request error with FAIL_400_MESSAGE
//   prompt contains "fail-overloaded"  the vendor's overloaded error: OpenAI 503, Anthropic 529
//                                   overloaded_error, Gemini 503 UNAVAILABLE
//   prompt contains "fail-midstream"  a stream that sends MIDSTREAM_PIECES, then the vendor's
//                                   error event (OpenAI data: {"error":...}, Anthropic event: error
//                                   overloaded_error, Gemini data: {"error":...}), and ends;
//                                   a non-streamed request gets the 500
//   last message carries tool results  text "Tool results: <r1> | <r2>" quoting every result
//   tools defined                   a call to the first tool with TOOL_ARGS[0] (a second one with
//                                   TOOL_ARGS[1] when the prompt contains "parallel"; a text
//                                   PREAMBLE before the calls when it contains "preamble")
//   last user message has images    text "Received <image> and <image>." where <image> is
//                                   "image <mime> <n> bytes #<sha256 first 8 hex>" for inline
//                                   data and "image-url <url>" for a URL reference
//   prompt contains "truncate"      TRUNCATED_PIECES, stopped by the length limit
//   otherwise                       TEXT_PIECES joined (streamed as one delta per piece)
//
// Usage is always USAGE (input 11, output 7). Every request is recorded (see startFakeVendors).
import http from 'node:http';
import { createHash } from 'node:crypto';
import zlib from 'node:zlib';

// ---------------------------------------------------------------------------------------------
// Fixed behaviour
// ---------------------------------------------------------------------------------------------

// Not only ASCII: the streams are cut at byte boundaries, inside multi-byte characters too.
export const TEXT_PIECES = Object.freeze(['The fake', ' model', ' says', ' héllo 👋', '.']);
export const TEXT = TEXT_PIECES.join('');
export const USAGE = Object.freeze({ input: 11, output: 7, total: 18 });
export const TOOL_ARGS = Object.freeze([
  Object.freeze({ city: 'Paris', unit: 'celsius' }),
  Object.freeze({ city: 'São Paulo', unit: 'celsius' }),
]);
/** The message of the 400 a prompt containing "fail-400" gets, in each vendor's error format. */
export const FAIL_400_MESSAGE = 'This request was refused on purpose by the fake vendor (fail-400).';
/** What a stream sends before failing, for a prompt containing "fail-midstream". */
export const MIDSTREAM_PIECES = Object.freeze(['Partial', ' answer']);
/** The answer to a prompt containing "truncate": cut short, finish reason length / max_tokens / MAX_TOKENS. */
export const TRUNCATED_PIECES = Object.freeze(['This answer', ' is cut']);
export const PREAMBLE = 'Let me check the weather.';
export const RETRY_AFTER = '7';

/** The keys and upstream model names each fake vendor accepts. */
export const VENDOR_DEFAULTS = Object.freeze({
  keys: { openai: ['sk-up-openai'], anthropic: ['sk-ant-up'], gemini: ['gem-up'] },
  models: { openai: ['gpt-fake'], anthropic: ['claude-fake'], gemini: ['gemini-fake'] },
});

// A small real PNG, built at load time (signature, IHDR, IDAT, IEND with correct CRCs).
function crc32(buf) {
  let c = ~0;
  for (const b of buf) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xedb88320 : c >>> 1;
  }
  return ~c >>> 0;
}
function pngChunk(type, data) {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const td = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(td));
  return Buffer.concat([len, td, crc]);
}
function makePng(width, height, [r, g, b]) {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // colour type: RGB
  const rows = [];
  for (let y = 0; y < height; y++) {
    rows.push(Buffer.from([0])); // filter: none
    for (let x = 0; x < width; x++) rows.push(Buffer.from([r, g, b]));
  }
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    pngChunk('IHDR', ihdr),
    pngChunk('IDAT', zlib.deflateSync(Buffer.concat(rows), { level: 9 })),
    pngChunk('IEND', Buffer.alloc(0)),
  ]);
}

/** The image tests send inline (base64). */
export const IMG_INLINE_PNG = makePng(1, 1, [255, 0, 0]);
/** The image GET /img.png serves (different bytes, so a test can tell which one arrived). */
export const IMG_URL_PNG = makePng(2, 2, [0, 0, 255]);

/** How the fakes name an inline image in their answer. */
export function describeImageBytes(mime, bytes) {
  const sha = createHash('sha256').update(bytes).digest('hex').slice(0, 8);
  return `image ${mime} ${bytes.length} bytes #${sha}`;
}
export function describeImageUrl(url) {
  return `image-url ${url}`;
}

// ---------------------------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------------------------

const isObj = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);
const B64_RE = /^[A-Za-z0-9+/]*={0,2}$/;
function decodeBase64(s) {
  if (typeof s !== 'string' || s.length === 0 || s.length % 4 !== 0 || !B64_RE.test(s)) return null;
  return Buffer.from(s, 'base64');
}
// Real vendors also accept URL-safe base64 for Gemini's bytes fields (protobuf JSON).
function decodeBase64Loose(s) {
  if (typeof s !== 'string' || s.length === 0) return null;
  const std = s.replace(/-/g, '+').replace(/_/g, '/');
  const padded = std + '='.repeat((4 - (std.length % 4)) % 4);
  return decodeBase64(padded);
}
function sniffImage(bytes) {
  if (bytes.length >= 8 && bytes.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))) return 'image/png';
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'image/jpeg';
  if (bytes.length >= 6 && /^GIF8[79]a$/.test(bytes.subarray(0, 6).toString('latin1'))) return 'image/gif';
  if (bytes.length >= 12 && bytes.subarray(0, 4).toString('latin1') === 'RIFF' && bytes.subarray(8, 12).toString('latin1') === 'WEBP') return 'image/webp';
  return null;
}
const IMAGE_MIMES = ['image/jpeg', 'image/png', 'image/gif', 'image/webp'];
const isHttpUrl = (u) => typeof u === 'string' && /^https?:\/\/[^\s]+$/.test(u);
const JSON_TYPES = ['object', 'array', 'string', 'number', 'integer', 'boolean', 'null'];
/** The first place in a JSON Schema whose `type` is not a JSON Schema type (e.g. Gemini's "OBJECT"), or null. */
function schemaTypeProblem(s, path) {
  if (!isObj(s)) return null;
  if (s.type !== undefined) {
    const types = Array.isArray(s.type) ? s.type : [s.type];
    if (!types.every((t) => JSON_TYPES.includes(t))) return `${path}.type: ${JSON.stringify(s.type)} is not a JSON Schema type`;
  }
  const subs = [];
  for (const [k, v] of Object.entries(s.properties ?? {})) subs.push([v, `${path}.properties.${k}`]);
  for (const k of ['$defs', 'definitions']) for (const [n, v] of Object.entries(s[k] ?? {})) subs.push([v, `${path}.${k}.${n}`]);
  if (isObj(s.items)) subs.push([s.items, `${path}.items`]);
  if (isObj(s.additionalProperties)) subs.push([s.additionalProperties, `${path}.additionalProperties`]);
  for (const k of ['anyOf', 'oneOf', 'allOf']) (s[k] ?? []).forEach((v, i) => subs.push([v, `${path}.${k}[${i}]`]));
  for (const [v, at] of subs) {
    const p = schemaTypeProblem(v, at);
    if (p) return p;
  }
  return null;
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
let idCounter = 0;
const nextId = () => (++idCounter).toString(36).padStart(4, '0');

/** Reads a Gemini field under its camelCase or snake_case name (protobuf JSON accepts both). */
function g(obj, camel) {
  if (!isObj(obj)) return undefined;
  if (obj[camel] !== undefined) return obj[camel];
  return obj[camel.replace(/[A-Z]/g, (c) => '_' + c.toLowerCase())];
}
const snake = (camel) => camel.replace(/[A-Z]/g, (c) => '_' + c.toLowerCase());
const withSnake = (names) => new Set(names.flatMap((n) => [n, snake(n)]));

// ---------------------------------------------------------------------------------------------
// The decision: what a valid request gets
// ---------------------------------------------------------------------------------------------

/**
 * `view`: { prompt, toolResults: [string] | null, tools: [name], images: [desc] }
 * Returns { kind: 'error', status } | { kind: 'text', pieces, truncated? } | { kind: 'tools', preamble, calls }.
 */
function decide(view) {
  if (view.prompt.includes('fail-429')) return { kind: 'error', status: 429 };
  if (view.prompt.includes('fail-500')) return { kind: 'error', status: 500 };
  if (view.prompt.includes('fail-400')) return { kind: 'error', status: 400 };
  if (view.prompt.includes('fail-overloaded')) return { kind: 'error', status: 503, overloaded: true };
  if (view.prompt.includes('fail-midstream')) return { kind: 'midstream', pieces: [...MIDSTREAM_PIECES] };
  if (view.toolResults && view.toolResults.length > 0) {
    const pieces = ['Tool results: '];
    view.toolResults.forEach((r, i) => {
      if (i > 0) pieces.push(' | ');
      pieces.push(r);
    });
    return { kind: 'text', pieces };
  }
  if (view.tools.length > 0) {
    const n = view.prompt.includes('parallel') ? 2 : 1;
    const calls = [];
    for (let k = 0; k < n; k++) calls.push({ name: view.tools[0], args: TOOL_ARGS[k] });
    return { kind: 'tools', preamble: view.prompt.includes('preamble') ? PREAMBLE : null, calls };
  }
  if (view.images.length > 0) {
    const pieces = ['Received '];
    view.images.forEach((d, i) => {
      if (i > 0) pieces.push(' and ');
      pieces.push(d);
    });
    pieces.push('.');
    return { kind: 'text', pieces };
  }
  if (view.prompt.includes('truncate')) return { kind: 'text', pieces: [...TRUNCATED_PIECES], truncated: true };
  return { kind: 'text', pieces: [...TEXT_PIECES] };
}

// ---------------------------------------------------------------------------------------------
// OpenAI
// ---------------------------------------------------------------------------------------------

const OPENAI_FIELDS = new Set([
  'model', 'messages', 'audio', 'frequency_penalty', 'function_call', 'functions', 'logit_bias',
  'logprobs', 'max_completion_tokens', 'max_tokens', 'metadata', 'modalities', 'n',
  'parallel_tool_calls', 'prediction', 'presence_penalty', 'prompt_cache_key',
  'prompt_cache_retention', 'reasoning_effort', 'response_format', 'safety_identifier', 'seed',
  'service_tier', 'stop', 'store', 'stream', 'stream_options', 'temperature', 'tool_choice', 'tools',
  'top_logprobs', 'top_p', 'user', 'verbosity', 'web_search_options',
]);
const OPENAI_ROLES = ['system', 'developer', 'user', 'assistant', 'tool', 'function'];

function openaiError(status, message, { type = 'invalid_request_error', param = null, code = null } = {}) {
  return { status, body: { error: { message, type, param, code } } };
}

function openaiText(content, where, allowed) {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) throw openaiError(400, `Invalid type for '${where}': expected one of a string or array of objects, but got ${content === null ? 'null' : typeof content} instead.`, { param: where, code: 'invalid_type' });
  let text = '';
  content.forEach((p, j) => {
    if (!isObj(p) || !allowed.includes(p.type)) {
      throw openaiError(400, `Invalid value: '${p?.type}'. Supported values are: ${allowed.map((a) => `'${a}'`).join(', ')}.`, { param: `${where}[${j}].type`, code: 'invalid_value' });
    }
    if (p.type === 'text') {
      if (typeof p.text !== 'string') throw openaiError(400, `Missing required parameter: '${where}[${j}].text'.`, { param: `${where}[${j}].text`, code: 'missing_required_parameter' });
      text += p.text;
    }
  });
  return text;
}

function validateOpenAI(body, opts) {
  if (!isObj(body)) throw openaiError(400, 'We could not parse the JSON body of your request. (HINT: This likely means you aren\'t using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON.)');
  for (const k of Object.keys(body)) {
    if (!OPENAI_FIELDS.has(k)) throw openaiError(400, `Unrecognized request argument supplied: ${k}`);
  }
  if (typeof body.model !== 'string') throw openaiError(400, 'you must provide a model parameter');
  if (!opts.models.openai.includes(body.model)) {
    throw openaiError(404, `The model \`${body.model}\` does not exist or you do not have access to it.`, { code: 'model_not_found' });
  }
  if (!Array.isArray(body.messages)) throw openaiError(400, "Missing required parameter: 'messages'.", { param: 'messages', code: 'missing_required_parameter' });
  if (body.messages.length === 0) throw openaiError(400, "Invalid 'messages': empty array. Expected an array with minimum length 1, but got an empty array instead.", { param: 'messages', code: 'empty_array' });
  if (body.stream_options !== undefined && body.stream !== true) {
    throw openaiError(400, "The 'stream_options' parameter is only allowed when 'stream' is enabled.", { param: 'stream_options', code: 'invalid_value' });
  }
  for (const [k, lo, hi] of [['temperature', 0, 2], ['top_p', 0, 1]]) {
    if (body[k] !== undefined && (typeof body[k] !== 'number' || body[k] < lo || body[k] > hi)) {
      throw openaiError(400, `Invalid '${k}': must be a number between ${lo} and ${hi}.`, { param: k, code: 'invalid_value' });
    }
  }
  const tools = [];
  if (body.tools !== undefined) {
    if (!Array.isArray(body.tools)) throw openaiError(400, "Invalid type for 'tools': expected an array.", { param: 'tools', code: 'invalid_type' });
    body.tools.forEach((t, i) => {
      if (!isObj(t) || t.type !== 'function' || !isObj(t.function)) throw openaiError(400, `Missing required parameter: 'tools[${i}].function'.`, { param: `tools[${i}].function`, code: 'missing_required_parameter' });
      if (typeof t.function.name !== 'string' || !/^[a-zA-Z0-9_-]{1,64}$/.test(t.function.name)) {
        throw openaiError(400, `Invalid 'tools[${i}].function.name': string does not match pattern. Expected a string that matches the pattern '^[a-zA-Z0-9_-]+$'.`, { param: `tools[${i}].function.name`, code: 'invalid_value' });
      }
      if (t.function.parameters !== undefined && !isObj(t.function.parameters)) throw openaiError(400, `Invalid type for 'tools[${i}].function.parameters': expected an object.`, { param: `tools[${i}].function.parameters`, code: 'invalid_type' });
      const bad = schemaTypeProblem(t.function.parameters, 'parameters');
      if (bad) throw openaiError(400, `Invalid schema for function '${t.function.name}': ${bad}.`, { param: `tools[${i}].function.parameters`, code: 'invalid_function_parameters' });
      tools.push(t.function.name);
    });
  }
  if (body.tool_choice !== undefined) {
    const tc = body.tool_choice;
    const ok = ['none', 'auto', 'required'].includes(tc) || (isObj(tc) && tc.type === 'function' && isObj(tc.function) && tools.includes(tc.function.name));
    if (!ok) throw openaiError(400, `Invalid value for 'tool_choice': ${JSON.stringify(tc)}.`, { param: 'tool_choice', code: 'invalid_value' });
    if (tools.length === 0) throw openaiError(400, "Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' are specified.", { param: 'tool_choice' });
  }

  // Conversation structure.
  let pending = null; // ids of the last assistant tool_calls still waiting for tool messages
  let pendingAt = -1;
  let lastUser = null;
  body.messages.forEach((m, i) => {
    const at = `messages[${i}]`;
    if (!isObj(m)) throw openaiError(400, `Invalid type for '${at}': expected an object.`, { param: at, code: 'invalid_type' });
    if (!OPENAI_ROLES.includes(m.role)) {
      throw openaiError(400, `Invalid value: '${m.role}'. Supported values are: 'system', 'assistant', 'user', 'function', 'tool', and 'developer'.`, { param: `${at}.role`, code: 'invalid_value' });
    }
    if (m.role !== 'tool' && pending && pending.size > 0) {
      throw openaiError(400, `An assistant message with 'tool_calls' must be followed by tool messages responding to each 'tool_call_id'. The following tool_call_ids did not have response messages: ${[...pending].join(', ')}`, { param: `messages.[${pendingAt}].role` });
    }
    if (m.role !== 'tool') pending = null;
    switch (m.role) {
      case 'system':
      case 'developer':
        openaiText(m.content, `${at}.content`, ['text']);
        break;
      case 'user':
        if (typeof m.content !== 'string' && !Array.isArray(m.content)) openaiText(m.content, `${at}.content`, ['text']);
        if (Array.isArray(m.content)) {
          m.content.forEach((p, j) => {
            const pat = `${at}.content[${j}]`;
            if (!isObj(p) || !['text', 'image_url', 'input_audio', 'file'].includes(p.type)) {
              throw openaiError(400, `Invalid value: '${p?.type}'. Supported values are: 'text', 'image_url', 'input_audio', 'refusal', 'audio', and 'file'.`, { param: `${pat}.type`, code: 'invalid_value' });
            }
            if (p.type === 'text' && typeof p.text !== 'string') throw openaiError(400, `Missing required parameter: '${pat}.text'.`, { param: `${pat}.text`, code: 'missing_required_parameter' });
            if (p.type === 'image_url') {
              const url = p.image_url?.url;
              if (typeof url !== 'string') throw openaiError(400, `Missing required parameter: '${pat}.image_url.url'.`, { param: `${pat}.image_url.url`, code: 'missing_required_parameter' });
              if (url.startsWith('data:')) {
                const mm = /^data:([^;,]+);base64,(.*)$/s.exec(url);
                const bytes = mm && decodeBase64(mm[2]);
                if (!mm || !bytes) throw openaiError(400, `Invalid 'image_url': the data URL is not valid base64 image data.`, { param: `${pat}.image_url.url`, code: 'invalid_image_url' });
                if (!IMAGE_MIMES.includes(mm[1]) || sniffImage(bytes) !== mm[1]) {
                  throw openaiError(400, "You uploaded an unsupported image. Please make sure your image has of one the following formats: ['png', 'jpeg', 'gif', 'webp'].", { param: `${pat}.image_url.url`, code: 'invalid_image_format' });
                }
              } else if (!isHttpUrl(url)) {
                throw openaiError(400, `Invalid image URL: '${pat}.image_url.url'. Expected a base64-encoded data URL with an image MIME type (e.g. 'data:image/png;base64,...'), but got a value without the 'data:' prefix.`, { param: `${pat}.image_url.url`, code: 'invalid_image_url' });
              }
            }
          });
        }
        lastUser = m;
        break;
      case 'assistant': {
        const hasCalls = Array.isArray(m.tool_calls) && m.tool_calls.length > 0;
        if (m.content === null || m.content === undefined) {
          if (!hasCalls && !m.function_call) throw openaiError(400, `Invalid value for 'content': expected a string, got null.`, { param: `${at}.content` });
        } else {
          openaiText(m.content, `${at}.content`, ['text', 'refusal']);
        }
        if (m.tool_calls !== undefined) {
          if (!Array.isArray(m.tool_calls)) throw openaiError(400, `Invalid type for '${at}.tool_calls': expected an array.`, { param: `${at}.tool_calls`, code: 'invalid_type' });
          if (m.tool_calls.length === 0) throw openaiError(400, `Invalid 'messages[${i}].tool_calls': empty array. Expected an array with minimum length 1, but got an empty array instead.`, { param: `${at}.tool_calls`, code: 'empty_array' });
          pending = new Set();
          pendingAt = i;
          m.tool_calls.forEach((c, k) => {
            const cat = `${at}.tool_calls[${k}]`;
            if (!isObj(c) || c.type !== 'function' || !isObj(c.function)) throw openaiError(400, `Missing required parameter: '${cat}.function'.`, { param: `${cat}.function`, code: 'missing_required_parameter' });
            if (typeof c.id !== 'string' || c.id.length === 0) throw openaiError(400, `Missing required parameter: '${cat}.id'.`, { param: `${cat}.id`, code: 'missing_required_parameter' });
            if (c.id.length > 40) throw openaiError(400, `Invalid '${cat}.id': string too long. Expected a string with maximum length 40, but got a string with length ${c.id.length} instead.`, { param: `${cat}.id`, code: 'string_above_max_length' });
            if (typeof c.function.name !== 'string') throw openaiError(400, `Missing required parameter: '${cat}.function.name'.`, { param: `${cat}.function.name`, code: 'missing_required_parameter' });
            if (typeof c.function.arguments !== 'string') {
              throw openaiError(400, `Invalid type for '${cat}.function.arguments': expected a string, but got ${c.function.arguments === null ? 'null' : typeof c.function.arguments} instead.`, { param: `${cat}.function.arguments`, code: 'invalid_type' });
            }
            pending.add(c.id);
          });
        }
        break;
      }
      case 'tool': {
        if (typeof m.tool_call_id !== 'string') throw openaiError(400, `Missing required parameter: '${at}.tool_call_id'.`, { param: `${at}.tool_call_id`, code: 'missing_required_parameter' });
        if (!pending) throw openaiError(400, "Invalid parameter: messages with role 'tool' must be a response to a preceeding message with 'tool_calls'.", { param: `${at}.role` });
        if (!pending.has(m.tool_call_id)) {
          throw openaiError(400, `Invalid parameter: 'tool_call_id' of '${m.tool_call_id}' not found in 'tool_calls' of previous message.`, { param: `${at}.tool_call_id` });
        }
        pending.delete(m.tool_call_id);
        openaiText(m.content, `${at}.content`, ['text']);
        break;
      }
      default:
        break;
    }
  });

  // The view.
  const last = body.messages[body.messages.length - 1];
  const view = { prompt: '', toolResults: null, tools, images: [] };
  if (lastUser) {
    if (typeof lastUser.content === 'string') view.prompt = lastUser.content;
    else view.prompt = lastUser.content.filter((p) => p.type === 'text').map((p) => p.text).join('\n');
  }
  if (last.role === 'tool') {
    const results = [];
    for (let i = body.messages.length - 1; i >= 0 && body.messages[i].role === 'tool'; i--) {
      results.unshift(openaiText(body.messages[i].content, 'content', ['text']));
    }
    view.toolResults = results;
  } else if (last.role === 'user' && Array.isArray(last.content)) {
    for (const p of last.content) {
      if (p.type !== 'image_url') continue;
      const url = p.image_url.url;
      if (url.startsWith('data:')) {
        const mm = /^data:([^;,]+);base64,(.*)$/s.exec(url);
        view.images.push(describeImageBytes(mm[1], decodeBase64(mm[2])));
      } else {
        view.images.push(describeImageUrl(url));
      }
    }
  }
  return view;
}

function openaiAuth(req, opts) {
  const h = req.headers.authorization;
  if (!h) {
    throw openaiError(401, "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), or as the password field (with blank username) if you're accessing the API from your browser and are prompted for a username and password. You can obtain an API key from https://platform.openai.com/account/api-keys.");
  }
  const m = /^Bearer (.+)$/.exec(h);
  if (!m || !opts.keys.openai.includes(m[1])) {
    const shown = m ? `${m[1].slice(0, 3)}*****${m[1].slice(-4)}` : h.slice(0, 8);
    throw openaiError(401, `Incorrect API key provided: ${shown}. You can find your API key at https://platform.openai.com/account/api-keys.`, { code: 'invalid_api_key' });
  }
}

async function openaiRespond(rec, req, res, opts) {
  openaiAuth(req, opts);
  const body = rec.body;
  const view = validateOpenAI(body, opts);
  const reply = decide(view);
  rec.reply = reply;
  const id = `chatcmpl-fk${nextId()}`;
  const created = 1_765_000_000;
  const model = body.model;
  if (reply.kind === 'error') {
    if (reply.status === 429) {
      return sendJson(res, 429, openaiError(429, `Rate limit reached for ${model} in organization org-fake on requests per min (RPM): Limit 3, Used 3, Requested 1. Please try again in 7s. Visit https://platform.openai.com/account/rate-limits to learn more.`, { type: 'requests', code: 'rate_limit_exceeded' }).body, { 'retry-after': RETRY_AFTER, 'x-request-id': `req_${id}` });
    }
    if (reply.status === 400) return sendJson(res, 400, openaiError(400, FAIL_400_MESSAGE, { code: 'invalid_value' }).body, { 'x-request-id': `req_${id}` });
    if (reply.overloaded) return sendJson(res, 503, openaiError(503, 'The engine is currently overloaded, please try again later.', { type: 'server_error' }).body, { 'x-request-id': `req_${id}` });
    return sendJson(res, 500, openaiError(500, 'The server had an error while processing your request. Sorry about that!', { type: 'server_error' }).body, { 'x-request-id': `req_${id}` });
  }
  if (reply.kind === 'midstream' && !body.stream) {
    return sendJson(res, 500, openaiError(500, 'The server had an error while processing your request. Sorry about that!', { type: 'server_error' }).body, { 'x-request-id': `req_${id}` });
  }
  const usage = {
    prompt_tokens: USAGE.input,
    completion_tokens: USAGE.output,
    total_tokens: USAGE.total,
    prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
    completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
  };
  const calls = reply.kind === 'tools' ? reply.calls.map((c, k) => ({ id: `call_fk${id.slice(-4)}x${k}`, name: c.name, arguments: JSON.stringify(c.args) })) : [];
  const finish = reply.kind === 'tools' ? 'tool_calls' : reply.truncated ? 'length' : 'stop';
  if (!body.stream) {
    const content = reply.kind === 'text' ? reply.pieces.join('') : reply.preamble;
    const message = { role: 'assistant', content: content ?? null, refusal: null, annotations: [] };
    if (calls.length) message.tool_calls = calls.map((c) => ({ id: c.id, type: 'function', function: { name: c.name, arguments: c.arguments } }));
    return sendJson(
      res,
      200,
      { id, object: 'chat.completion', created, model, choices: [{ index: 0, message, logprobs: null, finish_reason: finish }], usage, service_tier: 'default', system_fingerprint: 'fp_fake' },
      { 'x-request-id': `req_${id}` },
    );
  }
  const includeUsage = body.stream_options?.include_usage === true;
  let ob = 0;
  const chunk = (delta, finish_reason = null) => ({
    id,
    object: 'chat.completion.chunk',
    created,
    model,
    service_tier: 'default',
    system_fingerprint: 'fp_fake',
    choices: [{ index: 0, delta, logprobs: null, finish_reason }],
    ...(includeUsage ? { usage: null } : {}),
    obfuscation: 'x'.repeat(1 + (ob++ % 7)),
  });
  if (reply.kind === 'midstream') {
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', 'x-request-id': `req_${id}` });
    const evs = [chunk({ role: 'assistant', content: '', refusal: null }), ...reply.pieces.map((p) => chunk({ content: p }))];
    const err = openaiError(500, 'The server had an error while processing your request. Sorry about that!', { type: 'server_error' }).body;
    return writeSlowly(res, [...evs.map((e) => `data: ${JSON.stringify(e)}\n\n`), `data: ${JSON.stringify(err)}\n\n`]);
  }
  const events = [];
  const text = reply.kind === 'text' ? reply.pieces : reply.preamble ? [reply.preamble] : [];
  events.push(chunk(text.length ? { role: 'assistant', content: '', refusal: null } : { role: 'assistant', content: null }));
  for (const p of text) events.push(chunk({ content: p }));
  calls.forEach((c, k) => {
    events.push(chunk({ tool_calls: [{ index: k, id: c.id, type: 'function', function: { name: c.name, arguments: '' } }] }));
    const a = c.arguments;
    const cut = [0, 2, Math.floor(a.length / 2), a.length];
    for (let j = 0; j + 1 < cut.length; j++) events.push(chunk({ tool_calls: [{ index: k, function: { arguments: a.slice(cut[j], cut[j + 1]) } }] }));
  });
  events.push(chunk({}, finish));
  if (includeUsage) events.push({ id, object: 'chat.completion.chunk', created, model, service_tier: 'default', system_fingerprint: 'fp_fake', choices: [], usage, obfuscation: 'xx' });
  res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', 'x-request-id': `req_${id}` });
  await writeSlowly(res, [...events.map((e) => `data: ${JSON.stringify(e)}\n\n`), 'data: [DONE]\n\n']);
}

// ---------------------------------------------------------------------------------------------
// Anthropic
// ---------------------------------------------------------------------------------------------

const ANTHROPIC_FIELDS = new Set([
  'model', 'messages', 'max_tokens', 'system', 'metadata', 'stop_sequences', 'stream', 'temperature',
  'top_p', 'top_k', 'tools', 'tool_choice', 'thinking', 'service_tier', 'container', 'mcp_servers',
  'context_management', 'output_config', 'output_format', 'inference_geo', 'cache_control',
]);
const ANTHROPIC_COUNT_FIELDS = new Set([
  'model', 'messages', 'system', 'tools', 'tool_choice', 'thinking', 'mcp_servers', 'context_management',
  'output_config', 'output_format', 'cache_control',
]);
const ANTHROPIC_BLOCKS = new Set([
  'text', 'image', 'document', 'search_result', 'thinking', 'redacted_thinking', 'tool_use', 'tool_result',
  'server_tool_use', 'web_search_tool_result', 'web_fetch_tool_result', 'code_execution_tool_result',
  'container_upload', 'mcp_tool_use', 'mcp_tool_result',
]);

function anthropicError(status, message, type = 'invalid_request_error') {
  return { status, body: { type: 'error', error: { type, message }, request_id: `req_fk${nextId()}` } };
}

function anthropicAuth(req, opts) {
  const key = req.headers['x-api-key'] ?? /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
  if (!key) throw anthropicError(401, 'x-api-key header is required', 'authentication_error');
  if (!opts.keys.anthropic.includes(key)) throw anthropicError(401, 'invalid x-api-key', 'authentication_error');
  const v = req.headers['anthropic-version'];
  if (!v) throw anthropicError(400, 'anthropic-version: header is required');
  if (!/^\d{4}-\d{2}-\d{2}$/.test(v)) throw anthropicError(400, `anthropic-version: invalid version '${v}'`);
}

function anthropicImage(block, at) {
  const s = block.source;
  if (!isObj(s)) throw anthropicError(400, `${at}.source: Field required`);
  if (s.type === 'base64') {
    if (!IMAGE_MIMES.includes(s.media_type)) {
      throw anthropicError(400, `${at}.source.base64.media_type: Input should be 'image/jpeg', 'image/png', 'image/gif' or 'image/webp'`);
    }
    const bytes = decodeBase64(s.data);
    if (!bytes) throw anthropicError(400, `${at}.source.base64.data: The image data is not valid base64.`);
    const sniffed = sniffImage(bytes);
    if (sniffed !== s.media_type) throw anthropicError(400, `${at}.source.base64.data: Image does not match the provided media type ${s.media_type}`);
    return describeImageBytes(s.media_type, bytes);
  }
  if (s.type === 'url') {
    if (!isHttpUrl(s.url)) throw anthropicError(400, `${at}.source.url.url: Input should be a valid URL`);
    return describeImageUrl(s.url);
  }
  throw anthropicError(400, `${at}.source: Input tag '${s.type}' found using 'type' does not match any of the expected tags: 'base64', 'url', 'file'`);
}

function anthropicBlockText(content, at) {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) throw anthropicError(400, `${at}: Input should be a valid list`);
  return content
    .map((b, j) => {
      if (!isObj(b) || !['text', 'image', 'search_result', 'document'].includes(b.type)) {
        throw anthropicError(400, `${at}.${j}: Input tag '${b?.type}' found using 'type' does not match any of the expected tags: 'text', 'image', 'search_result', 'document'`);
      }
      if (b.type === 'text') {
        if (typeof b.text !== 'string' || b.text.length === 0) throw anthropicError(400, 'messages: text content blocks must be non-empty');
        return b.text;
      }
      if (b.type === 'image') return `[${anthropicImage(b, `${at}.${j}`)}]`;
      return '';
    })
    .join('');
}

function validateAnthropic(body, opts, { count = false } = {}) {
  if (!isObj(body)) throw anthropicError(400, 'Request body is not valid JSON');
  const allowed = count ? ANTHROPIC_COUNT_FIELDS : ANTHROPIC_FIELDS;
  for (const k of Object.keys(body)) if (!allowed.has(k)) throw anthropicError(400, `${k}: Extra inputs are not permitted`);
  if (typeof body.model !== 'string') throw anthropicError(400, 'model: Field required');
  if (!opts.models.anthropic.includes(body.model)) throw anthropicError(404, `model: ${body.model}`, 'not_found_error');
  if (!count) {
    if (body.max_tokens === undefined) throw anthropicError(400, 'max_tokens: Field required');
    if (!Number.isInteger(body.max_tokens) || body.max_tokens < 1) throw anthropicError(400, 'max_tokens: Input should be a valid integer greater than or equal to 1');
    if (body.stream !== undefined && typeof body.stream !== 'boolean') throw anthropicError(400, 'stream: Input should be a valid boolean');
  }
  for (const [k, lo, hi] of [['temperature', 0, 1], ['top_p', 0, 1]]) {
    if (body[k] !== undefined && (typeof body[k] !== 'number' || body[k] < lo || body[k] > hi)) {
      throw anthropicError(400, `${k}: Input should be less than or equal to ${hi}`);
    }
  }
  if (body.top_k !== undefined && (!Number.isInteger(body.top_k) || body.top_k < 0)) throw anthropicError(400, 'top_k: Input should be a valid integer');
  if (body.stop_sequences !== undefined && (!Array.isArray(body.stop_sequences) || body.stop_sequences.some((s) => typeof s !== 'string' || s.trim() === ''))) {
    throw anthropicError(400, 'stop_sequences: each stop sequence must be a string containing non-whitespace characters');
  }
  if (body.metadata !== undefined) {
    if (!isObj(body.metadata)) throw anthropicError(400, 'metadata: Input should be a valid dictionary');
    for (const k of Object.keys(body.metadata)) if (k !== 'user_id') throw anthropicError(400, `metadata.${k}: Extra inputs are not permitted`);
  }
  if (body.system !== undefined) {
    if (typeof body.system !== 'string') {
      if (!Array.isArray(body.system)) throw anthropicError(400, 'system: Input should be a valid string');
      body.system.forEach((b, j) => {
        if (!isObj(b) || b.type !== 'text') throw anthropicError(400, `system.${j}: Input tag '${b?.type}' found using 'type' does not match any of the expected tags: 'text'`);
        if (typeof b.text !== 'string' || b.text.length === 0) throw anthropicError(400, 'system: text content blocks must be non-empty');
      });
    }
  }
  const tools = [];
  if (body.tools !== undefined) {
    if (!Array.isArray(body.tools)) throw anthropicError(400, 'tools: Input should be a valid list');
    body.tools.forEach((t, i) => {
      if (!isObj(t)) throw anthropicError(400, `tools.${i}: Input should be a valid dictionary`);
      if (t.type !== undefined && t.type !== 'custom') return; // a server tool (web_search_..., bash_..., ...)
      for (const k of Object.keys(t)) {
        if (!['name', 'description', 'input_schema', 'cache_control', 'type', 'strict', 'input_examples', 'defer_loading', 'allowed_callers', 'eager_input_streaming'].includes(k)) {
          throw anthropicError(400, `tools.${i}.custom.${k}: Extra inputs are not permitted`);
        }
      }
      if (typeof t.name !== 'string' || !/^[a-zA-Z0-9_-]{1,128}$/.test(t.name)) throw anthropicError(400, `tools.${i}.custom.name: String should match pattern '^[a-zA-Z0-9_-]{1,128}$'`);
      if (!isObj(t.input_schema)) throw anthropicError(400, `tools.${i}.custom.input_schema: Field required`);
      if (t.input_schema.type !== 'object') throw anthropicError(400, `tools.${i}.custom.input_schema.type: Input should be 'object'`);
      const bad = schemaTypeProblem(t.input_schema, 'input_schema');
      if (bad) throw anthropicError(400, `tools.${i}.custom.input_schema: JSON schema is invalid - please consult https://json-schema.org or our documentation at https://docs.anthropic.com/en/docs/tool-use (${bad})`);
      tools.push(t.name);
    });
  }
  if (body.tool_choice !== undefined) {
    const tc = body.tool_choice;
    if (!isObj(tc) || !['auto', 'any', 'tool', 'none'].includes(tc.type)) {
      throw anthropicError(400, `tool_choice: Input tag '${tc?.type}' found using 'type' does not match any of the expected tags: 'auto', 'any', 'tool', 'none'`);
    }
    if (tc.type === 'tool' && !tools.includes(tc.name)) throw anthropicError(400, `tool_choice.tool.name: tool '${tc.name}' not found in tools`);
  }

  if (!Array.isArray(body.messages)) throw anthropicError(400, 'messages: Field required');
  if (body.messages.length === 0) throw anthropicError(400, 'messages: at least one message is required');
  let prevToolUses = null; // ids of the previous assistant message's tool_use blocks
  const view = { prompt: '', toolResults: null, tools, images: [] };
  body.messages.forEach((m, i) => {
    const at = `messages.${i}`;
    if (!isObj(m)) throw anthropicError(400, `${at}: Input should be a valid dictionary`);
    for (const k of Object.keys(m)) if (!['role', 'content'].includes(k)) throw anthropicError(400, `${at}.${k}: Extra inputs are not permitted`);
    if (m.role !== 'user' && m.role !== 'assistant') throw anthropicError(400, `${at}.role: Input should be 'user' or 'assistant'`);
    if (i === 0 && m.role !== 'user') throw anthropicError(400, 'messages: first message must use the "user" role');
    if (i > 0 && body.messages[i - 1].role === m.role) throw anthropicError(400, 'messages: roles must alternate between "user" and "assistant", but found multiple "' + m.role + '" roles in a row');
    const blocks = typeof m.content === 'string' ? null : m.content;
    if (typeof m.content === 'string') {
      if (m.content.length === 0) throw anthropicError(400, `${at}: ${m.role} messages must have non-empty content`);
    } else if (!Array.isArray(m.content)) {
      throw anthropicError(400, `${at}.content: Input should be a valid list`);
    } else if (m.content.length === 0) {
      throw anthropicError(400, `${at}: ${m.role} messages must have non-empty content`);
    }
    const toolUses = [];
    const results = [];
    const images = [];
    let text = typeof m.content === 'string' ? m.content : '';
    (blocks ?? []).forEach((b, j) => {
      const bat = `${at}.content.${j}`;
      if (!isObj(b) || !ANTHROPIC_BLOCKS.has(b.type)) {
        throw anthropicError(400, `${bat}: Input tag '${b?.type}' found using 'type' does not match any of the expected tags: ${[...ANTHROPIC_BLOCKS].map((t) => `'${t}'`).join(', ')}`);
      }
      switch (b.type) {
        case 'text':
          if (typeof b.text !== 'string' || b.text.length === 0) throw anthropicError(400, 'messages: text content blocks must be non-empty');
          text += (text ? '\n' : '') + b.text;
          break;
        case 'image':
          images.push(anthropicImage(b, bat));
          break;
        case 'tool_use':
          if (m.role !== 'assistant') throw anthropicError(400, `${bat}: tool_use blocks can only be in assistant messages`);
          if (typeof b.id !== 'string' || !/^[a-zA-Z0-9_-]+$/.test(b.id)) throw anthropicError(400, `${bat}.tool_use.id: String should match pattern '^[a-zA-Z0-9_-]+$'`);
          if (typeof b.name !== 'string' || b.name.length === 0) throw anthropicError(400, `${bat}.tool_use.name: Field required`);
          if (!isObj(b.input)) throw anthropicError(400, `${bat}.tool_use.input: Input should be a valid dictionary`);
          toolUses.push(b.id);
          break;
        case 'tool_result': {
          if (m.role !== 'user') throw anthropicError(400, `${bat}: tool_result blocks can only be in user messages`);
          if (typeof b.tool_use_id !== 'string') throw anthropicError(400, `${bat}.tool_result.tool_use_id: Field required`);
          if (!prevToolUses || !prevToolUses.includes(b.tool_use_id)) {
            throw anthropicError(400, `${at}.content.${j}: unexpected \`tool_use_id\` found in \`tool_result\` blocks: ${b.tool_use_id}. Each \`tool_result\` block must have a corresponding \`tool_use\` block in the previous message.`);
          }
          results.push({ id: b.tool_use_id, text: b.content === undefined ? '' : anthropicBlockText(b.content, `${bat}.tool_result.content`) });
          break;
        }
        default:
          break;
      }
    });
    if (m.role === 'user' && prevToolUses && prevToolUses.length > 0) {
      const missing = prevToolUses.filter((id) => !results.some((r) => r.id === id));
      if (missing.length) {
        throw anthropicError(400, `${at}: \`tool_use\` ids were found without \`tool_result\` blocks immediately after: ${missing.join(', ')}. Each \`tool_use\` block must have a corresponding \`tool_result\` block in the next message.`);
      }
    }
    prevToolUses = m.role === 'assistant' ? toolUses : null;
    if (m.role === 'user') {
      view.prompt = text || view.prompt;
      view.images = images;
      view.toolResults = results.length ? results.map((r) => r.text) : null;
    }
  });
  if (body.messages[body.messages.length - 1].role !== 'user') {
    view.toolResults = null;
    view.images = [];
  }
  return view;
}

function anthropicUsage(output) {
  return {
    input_tokens: USAGE.input,
    cache_creation_input_tokens: 0,
    cache_read_input_tokens: 0,
    cache_creation: { ephemeral_5m_input_tokens: 0, ephemeral_1h_input_tokens: 0 },
    output_tokens: output,
    service_tier: 'standard',
  };
}

async function anthropicRespond(rec, req, res, opts) {
  anthropicAuth(req, opts);
  const body = rec.body;
  const view = validateAnthropic(body, opts);
  const reply = decide(view);
  rec.reply = reply;
  const id = `msg_fk${nextId()}`;
  const headers = { 'request-id': `req_${id}` };
  if (reply.kind === 'error') {
    if (reply.status === 429) {
      const e = anthropicError(429, `This request would exceed your organization's rate limit of 3 requests per minute (model: ${body.model}). For details, refer to: https://docs.claude.com/en/api/rate-limits.`, 'rate_limit_error');
      return sendJson(res, 429, e.body, { ...headers, 'retry-after': RETRY_AFTER, 'x-should-retry': 'true' });
    }
    if (reply.status === 400) return sendJson(res, 400, anthropicError(400, FAIL_400_MESSAGE).body, headers);
    if (reply.overloaded) {
      reply.status = 529;
      return sendJson(res, 529, anthropicError(529, 'Overloaded', 'overloaded_error').body, { ...headers, 'x-should-retry': 'true' });
    }
    return sendJson(res, 500, anthropicError(500, 'Internal server error', 'api_error').body, { ...headers, 'x-should-retry': 'true' });
  }
  if (reply.kind === 'midstream') {
    if (!body.stream) return sendJson(res, 500, anthropicError(500, 'Internal server error', 'api_error').body, { ...headers, 'x-should-retry': 'true' });
    const ev = (type, obj) => `event: ${type}\ndata: ${JSON.stringify(obj)}\n\n`;
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', ...headers });
    return writeSlowly(res, [
      ev('message_start', { type: 'message_start', message: { model: body.model, id, type: 'message', role: 'assistant', content: [], stop_reason: null, stop_sequence: null, usage: anthropicUsage(1) } }),
      ev('content_block_start', { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } }),
      'event: ping\ndata: {"type": "ping"}\n\n',
      ...reply.pieces.map((p) => ev('content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: p } })),
      // As documented (anthropic/docs/streaming_error_event_overloaded.DOC.sse).
      ev('error', { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } }),
    ]);
  }
  const content = [];
  if (reply.kind === 'text') content.push({ type: 'text', text: reply.pieces.join('') });
  if (reply.kind === 'tools') {
    if (reply.preamble) content.push({ type: 'text', text: reply.preamble });
    reply.calls.forEach((c, k) => content.push({ type: 'tool_use', id: `toolu_fk${id.slice(-4)}x${k}`, name: c.name, input: c.args, caller: { type: 'direct' } }));
  }
  const stop = reply.kind === 'tools' ? 'tool_use' : reply.truncated ? 'max_tokens' : 'end_turn';
  if (!body.stream) {
    return sendJson(
      res,
      200,
      { model: body.model, id, type: 'message', role: 'assistant', content, stop_reason: stop, stop_sequence: null, usage: anthropicUsage(USAGE.output) },
      headers,
    );
  }
  // Recorded streams pad some data lines with trailing spaces; so do we.
  const ev = (type, obj, pad = 0) => `event: ${type}\ndata: ${JSON.stringify(obj)}${' '.repeat(pad)}\n\n`;
  const out = [ev('message_start', { type: 'message_start', message: { model: body.model, id, type: 'message', role: 'assistant', content: [], stop_reason: null, stop_sequence: null, usage: anthropicUsage(1) } }, 1)];
  let pinged = false;
  const ping = () => {
    if (!pinged) out.push('event: ping\ndata: {"type": "ping"}\n\n');
    pinged = true;
  };
  content.forEach((block, index) => {
    if (block.type === 'text') {
      out.push(ev('content_block_start', { type: 'content_block_start', index, content_block: { type: 'text', text: '' } }, 11));
      ping();
      const pieces = reply.kind === 'text' ? reply.pieces : [block.text.slice(0, 8), block.text.slice(8)];
      for (const p of pieces) out.push(ev('content_block_delta', { type: 'content_block_delta', index, delta: { type: 'text_delta', text: p } }, 3));
    } else {
      out.push(ev('content_block_start', { type: 'content_block_start', index, content_block: { type: 'tool_use', id: block.id, name: block.name, input: {}, caller: { type: 'direct' } } }, 13));
      ping();
      const a = JSON.stringify(block.input);
      const cut = [0, 0, 2, Math.floor(a.length / 2), a.length];
      for (let j = 0; j + 1 < cut.length; j++) {
        out.push(ev('content_block_delta', { type: 'content_block_delta', index, delta: { type: 'input_json_delta', partial_json: a.slice(cut[j], cut[j + 1]) } }, 5));
      }
    }
    out.push(ev('content_block_stop', { type: 'content_block_stop', index }, 7));
  });
  const { service_tier: _s, cache_creation: _c, ...deltaUsage } = anthropicUsage(USAGE.output);
  out.push(ev('message_delta', { type: 'message_delta', delta: { stop_reason: stop, stop_sequence: null }, usage: deltaUsage }, 12));
  out.push(ev('message_stop', { type: 'message_stop' }, 5));
  res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', ...headers });
  await writeSlowly(res, out);
}

function anthropicCountTokens(rec, req, res, opts) {
  anthropicAuth(req, opts);
  const view = validateAnthropic(rec.body, opts, { count: true });
  rec.reply = { kind: 'count', view };
  sendJson(res, 200, { input_tokens: USAGE.input });
}

// ---------------------------------------------------------------------------------------------
// Gemini
// ---------------------------------------------------------------------------------------------

const GEMINI_FIELDS = withSnake(['contents', 'model', 'tools', 'toolConfig', 'safetySettings', 'systemInstruction', 'generationConfig', 'cachedContent', 'serviceTier', 'labels', 'store']);
const GEMINI_CONFIG_FIELDS = withSnake([
  'stopSequences', 'responseMimeType', 'responseSchema', 'responseJsonSchema', '_responseJsonSchema', 'responseModalities',
  'candidateCount', 'maxOutputTokens', 'temperature', 'topP', 'topK', 'seed', 'presencePenalty', 'frequencyPenalty',
  'responseLogprobs', 'logprobs', 'enableEnhancedCivicAnswers', 'speechConfig', 'thinkingConfig', 'imageConfig',
  'mediaResolution', 'routingConfig', 'modelSelectionConfig', 'audioTimestamp',
]);
const GEMINI_CONTENT_FIELDS = withSnake(['role', 'parts']);
const GEMINI_PART_FIELDS = withSnake([
  'text', 'inlineData', 'fileData', 'functionCall', 'functionResponse', 'thought', 'thoughtSignature', 'executableCode',
  'codeExecutionResult', 'videoMetadata', 'partMetadata', 'mediaResolution', 'toolCall', 'toolResponse',
]);
const GEMINI_DATA_FIELDS = ['text', 'inlineData', 'fileData', 'functionCall', 'functionResponse', 'executableCode', 'codeExecutionResult', 'toolCall', 'toolResponse'];
const GRPC = { 400: 'INVALID_ARGUMENT', 401: 'UNAUTHENTICATED', 403: 'PERMISSION_DENIED', 404: 'NOT_FOUND', 429: 'RESOURCE_EXHAUSTED', 500: 'INTERNAL', 503: 'UNAVAILABLE' };

function geminiError(status, message, details = []) {
  return { status, body: { error: { code: status, message, status: GRPC[status], ...(details.length ? { details } : {}) } } };
}
const unknownName = (path, k) => geminiError(400, `Invalid JSON payload received. Unknown name "${k}" at '${path}': Cannot find field.`, [
  { '@type': 'type.googleapis.com/google.rpc.BadRequest', fieldViolations: [{ field: path, description: `Invalid JSON payload received. Unknown name "${k}" at '${path}': Cannot find field.` }] },
]);

function geminiAuth(req, url, opts) {
  const key = req.headers['x-goog-api-key'] ?? url.searchParams.get('key');
  if (!key) {
    throw geminiError(403, "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API.");
  }
  if (!opts.keys.gemini.includes(key)) {
    throw geminiError(400, 'API key not valid. Please pass a valid API key.', [
      { '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: 'API_KEY_INVALID', domain: 'googleapis.com', metadata: { service: 'generativelanguage.googleapis.com' } },
      { '@type': 'type.googleapis.com/google.rpc.LocalizedMessage', locale: 'en-US', message: 'API key not valid. Please pass a valid API key.' },
    ]);
  }
}

function geminiParts(parts, path, { allowFunctionParts = true } = {}) {
  if (!Array.isArray(parts) || parts.length === 0) throw geminiError(400, `* GenerateContentRequest.${path}: contents.parts must not be empty.\n`);
  parts.forEach((p, j) => {
    const pat = `${path}[${j}]`;
    if (!isObj(p)) throw geminiError(400, `Invalid value at '${pat}' (type.googleapis.com/google.ai.generativelanguage.v1beta.Part), "${p}"`);
    for (const k of Object.keys(p)) if (!GEMINI_PART_FIELDS.has(k)) throw unknownName(pat, k);
    const data = GEMINI_DATA_FIELDS.filter((f) => g(p, f) !== undefined);
    if (data.length === 0) throw geminiError(400, `* GenerateContentRequest.${pat}.data: required oneof field 'data' must have one initialized field\n`);
    if (data.length > 1) throw geminiError(400, `Invalid JSON payload received. Oneof field 'data' is already set. Cannot set '${data[1]}' at '${pat}'`);
    const text = g(p, 'text');
    if (text !== undefined && (typeof text !== 'string' || text.length === 0)) {
      throw geminiError(400, `* GenerateContentRequest.${pat}.text: Unable to submit request because it has an empty text parameter. Add a value to the parameter and try again.\n`);
    }
    const inline = g(p, 'inlineData');
    if (inline !== undefined) {
      if (!isObj(inline) || typeof g(inline, 'mimeType') !== 'string' || g(inline, 'mimeType') === '') throw geminiError(400, `* GenerateContentRequest.${pat}.inline_data.mime_type: mime_type must be specified.\n`);
      if (!decodeBase64Loose(g(inline, 'data'))) throw geminiError(400, `Invalid value at '${pat}.inline_data.data' (TYPE_BYTES), Base64 decoding failed for "${String(g(inline, 'data')).slice(0, 20)}"`);
    }
    const file = g(p, 'fileData');
    if (file !== undefined && (!isObj(file) || typeof g(file, 'fileUri') !== 'string' || g(file, 'fileUri') === '')) {
      throw geminiError(400, `* GenerateContentRequest.${pat}.file_data.file_uri: file_uri must be specified.\n`);
    }
    const call = g(p, 'functionCall');
    const resp = g(p, 'functionResponse');
    if ((call !== undefined || resp !== undefined) && !allowFunctionParts) throw geminiError(400, `* GenerateContentRequest.${pat}: function parts are not allowed here.\n`);
    if (call !== undefined) {
      if (!isObj(call) || typeof call.name !== 'string' || call.name === '') throw geminiError(400, `* GenerateContentRequest.${pat}.function_call.name: Name cannot be empty.\n`);
      if (call.args !== undefined && !isObj(call.args)) throw geminiError(400, `Invalid value at '${pat}.function_call.args' (type.googleapis.com/google.protobuf.Struct), ${JSON.stringify(call.args)}`);
    }
    if (resp !== undefined) {
      if (!isObj(resp) || typeof resp.name !== 'string' || resp.name === '') throw geminiError(400, `* GenerateContentRequest.${pat}.function_response.name: Name cannot be empty.\n`);
      if (!isObj(resp.response)) throw geminiError(400, `Invalid value at '${pat}.function_response.response' (type.googleapis.com/google.protobuf.Struct), ${JSON.stringify(resp.response ?? null)}`);
    }
  });
}

// The fields of Gemini's OpenAPI-subset Schema (the `parameters` of a function declaration);
// anything else (additionalProperties, $ref, $defs, const, ...) is refused as an unknown name.
// JSON Schema proper goes in `parametersJsonSchema` instead.
const GEMINI_SCHEMA_FIELDS = withSnake([
  'type', 'format', 'title', 'description', 'nullable', 'enum', 'maxItems', 'minItems', 'properties', 'required',
  'minProperties', 'maxProperties', 'minLength', 'maxLength', 'pattern', 'example', 'anyOf', 'propertyOrdering',
  'default', 'items', 'minimum', 'maximum',
]);
const GEMINI_TYPES = ['TYPE_UNSPECIFIED', 'STRING', 'NUMBER', 'INTEGER', 'BOOLEAN', 'ARRAY', 'OBJECT', 'NULL'];
function geminiSchema(schema, path) {
  if (!isObj(schema)) throw geminiError(400, `Invalid value at '${path}' (type.googleapis.com/google.ai.generativelanguage.v1beta.Schema)`);
  for (const k of Object.keys(schema)) if (!GEMINI_SCHEMA_FIELDS.has(k)) throw unknownName(path, k);
  if (schema.type !== undefined && (typeof schema.type !== 'string' || !GEMINI_TYPES.includes(schema.type.toUpperCase()))) {
    throw geminiError(400, `Invalid value at '${path}.type' (type.googleapis.com/google.ai.generativelanguage.v1beta.Type), ${JSON.stringify(schema.type)}`);
  }
  for (const [k, v] of Object.entries(schema.properties ?? {})) geminiSchema(v, `${path}.properties[${k}].value`);
  if (schema.items !== undefined) geminiSchema(schema.items, `${path}.items`);
  (g(schema, 'anyOf') ?? []).forEach((v, i) => geminiSchema(v, `${path}.any_of[${i}]`));
}

function geminiQuote(response) {
  // A result sent as {output: "..."} (or any single string member) is quoted as that string.
  const keys = Object.keys(response);
  if (keys.length === 1 && typeof response[keys[0]] === 'string') return response[keys[0]];
  return JSON.stringify(response);
}

function validateGemini(body, model, opts) {
  if (!opts.models.gemini.includes(model)) {
    throw geminiError(404, `models/${model} is not found for API version v1beta, or is not supported for generateContent. Call ListModels to see the list of available models and their supported methods.`);
  }
  if (!isObj(body)) throw geminiError(400, 'Invalid JSON payload received. Unexpected token.');
  for (const k of Object.keys(body)) if (!GEMINI_FIELDS.has(k)) throw unknownName('', k);
  const gc = g(body, 'generationConfig');
  if (gc !== undefined) {
    if (!isObj(gc)) throw geminiError(400, "Invalid value at 'generation_config' (type.googleapis.com/google.ai.generativelanguage.v1beta.GenerationConfig)");
    for (const k of Object.keys(gc)) if (!GEMINI_CONFIG_FIELDS.has(k)) throw unknownName('generation_config', k);
    const mot = g(gc, 'maxOutputTokens');
    if (mot !== undefined && (!Number.isInteger(mot) || mot < 1)) throw geminiError(400, `* GenerateContentRequest.generation_config.max_output_tokens: max_output_tokens must be positive.\n`);
    const t = g(gc, 'temperature');
    if (t !== undefined && (typeof t !== 'number' || t < 0 || t > 2)) throw geminiError(400, `* GenerateContentRequest.generation_config.temperature: temperature must be in [0, 2].\n`);
  }
  const si = g(body, 'systemInstruction');
  if (si !== undefined) {
    if (!isObj(si)) throw geminiError(400, "Invalid value at 'system_instruction' (type.googleapis.com/google.ai.generativelanguage.v1beta.Content)");
    for (const k of Object.keys(si)) if (!GEMINI_CONTENT_FIELDS.has(k)) throw unknownName('system_instruction', k);
    geminiParts(si.parts, 'system_instruction.parts', { allowFunctionParts: false });
  }
  const tools = [];
  const rawTools = g(body, 'tools');
  if (rawTools !== undefined) {
    if (!Array.isArray(rawTools)) throw geminiError(400, "Invalid value at 'tools'");
    rawTools.forEach((t, i) => {
      if (!isObj(t)) throw geminiError(400, `Invalid value at 'tools[${i}]'`);
      const decls = g(t, 'functionDeclarations');
      if (decls === undefined) return; // googleSearch, codeExecution, ...
      if (!Array.isArray(decls)) throw geminiError(400, `Invalid value at 'tools[${i}].function_declarations'`);
      decls.forEach((d, j) => {
        const at = `tools[${i}].function_declarations[${j}]`;
        if (!isObj(d)) throw geminiError(400, `Invalid value at '${at}'`);
        for (const k of Object.keys(d)) {
          if (!withSnake(['name', 'description', 'parameters', 'parametersJsonSchema', 'response', 'responseJsonSchema', 'behavior']).has(k)) throw unknownName(at, k);
        }
        if (typeof d.name !== 'string' || !/^[a-zA-Z_][a-zA-Z0-9_.:-]{0,127}$/.test(d.name)) {
          throw geminiError(400, `* GenerateContentRequest.${at}.name: Invalid function name. Must start with a letter or an underscore. Must be a-z, A-Z, 0-9, or contain underscores, dots, colons and dashes, with a maximum length of 128.\n`);
        }
        if (d.parameters !== undefined && g(d, 'parametersJsonSchema') !== undefined) {
          throw geminiError(400, `* GenerateContentRequest.${at}: parameters and parameters_json_schema must not both be set.\n`);
        }
        if (d.parameters !== undefined) geminiSchema(d.parameters, `${at}.parameters`);
        tools.push(d.name);
      });
    });
  }
  const tc = g(body, 'toolConfig');
  if (tc !== undefined) {
    const fcc = g(tc, 'functionCallingConfig');
    if (fcc !== undefined && fcc.mode !== undefined && !['MODE_UNSPECIFIED', 'AUTO', 'ANY', 'NONE', 'VALIDATED'].includes(fcc.mode)) {
      throw geminiError(400, `Invalid value at 'tool_config.function_calling_config.mode' (type.googleapis.com/google.ai.generativelanguage.v1beta.FunctionCallingConfig.Mode), "${fcc.mode}"`);
    }
  }

  const contents = body.contents;
  if (!Array.isArray(contents) || contents.length === 0) throw geminiError(400, '* GenerateContentRequest.contents: contents is not specified\n');
  const view = { prompt: '', toolResults: null, tools, images: [] };
  contents.forEach((c, i) => {
    const at = `contents[${i}]`;
    if (!isObj(c)) throw geminiError(400, `Invalid value at '${at}' (type.googleapis.com/google.ai.generativelanguage.v1beta.Content)`);
    for (const k of Object.keys(c)) if (!GEMINI_CONTENT_FIELDS.has(k)) throw unknownName(at, k);
    if (c.role !== undefined && c.role !== 'user' && c.role !== 'model') throw geminiError(400, 'Please use a valid role: user, model.');
    geminiParts(c.parts, `${at}.parts`);
    const calls = c.parts.filter((p) => g(p, 'functionCall') !== undefined);
    const responses = c.parts.filter((p) => g(p, 'functionResponse') !== undefined);
    const prev = contents[i - 1];
    const prevCalls = prev && prev.role === 'model' ? prev.parts.filter((p) => g(p, 'functionCall') !== undefined) : [];
    if (calls.length > 0) {
      if (c.role !== 'model') throw geminiError(400, `* GenerateContentRequest.${at}: function call parts must be in a content with role model.\n`);
      if (!prev || (prev.role ?? 'user') !== 'user') {
        throw geminiError(400, 'Please ensure that function call turn comes immediately after a user turn or after a function response turn.');
      }
    }
    if (responses.length > 0) {
      if (prevCalls.length === 0) throw geminiError(400, 'Please ensure that function response turn comes immediately after a function call turn.');
      if (responses.length !== prevCalls.length) {
        throw geminiError(400, 'Please ensure that the number of function response parts is equal to the number of function call parts of the function call turn.');
      }
      // Not a check the real API is known to make, but what a correct translation gives:
      // every response names one of the calls it answers.
      const callNames = prevCalls.map((p) => g(p, 'functionCall').name).sort();
      const respNames = responses.map((p) => g(p, 'functionResponse').name).sort();
      if (JSON.stringify(callNames) !== JSON.stringify(respNames)) {
        throw geminiError(400, `* GenerateContentRequest.${at}: function response names ${JSON.stringify(respNames)} do not match the function calls of the previous turn ${JSON.stringify(callNames)}.\n`);
      }
    } else if (prevCalls.length > 0) {
      throw geminiError(400, 'Please ensure that the number of function response parts is equal to the number of function call parts of the function call turn.');
    }
    if ((c.role ?? 'user') === 'user') {
      view.prompt = c.parts.filter((p) => typeof g(p, 'text') === 'string').map((p) => g(p, 'text')).join('\n') || view.prompt;
    }
  });
  const last = contents[contents.length - 1];
  if ((last.role ?? 'user') === 'user') {
    const responses = last.parts.filter((p) => g(p, 'functionResponse') !== undefined);
    if (responses.length) view.toolResults = responses.map((p) => geminiQuote(g(p, 'functionResponse').response));
    for (const p of last.parts) {
      const inline = g(p, 'inlineData');
      const file = g(p, 'fileData');
      if (inline) view.images.push(describeImageBytes(g(inline, 'mimeType'), decodeBase64Loose(g(inline, 'data'))));
      if (file) view.images.push(describeImageUrl(g(file, 'fileUri')));
    }
  }
  return view;
}

function geminiUsage(final) {
  return final
    ? {
        promptTokenCount: USAGE.input,
        candidatesTokenCount: USAGE.output,
        totalTokenCount: USAGE.total,
        promptTokensDetails: [{ modality: 'TEXT', tokenCount: USAGE.input }],
        candidatesTokensDetails: [{ modality: 'TEXT', tokenCount: USAGE.output }],
      }
    : { promptTokenCount: USAGE.input, totalTokenCount: USAGE.input, promptTokensDetails: [{ modality: 'TEXT', tokenCount: USAGE.input }] };
}

async function geminiRespond(rec, req, res, opts, url, model, method) {
  const stream = method === 'streamGenerateContent';
  const sse = stream && url.searchParams.get('alt') === 'sse';
  // Errors on a stream request come with Content-Type text/event-stream (recorded).
  rec.errorContentType = stream ? 'text/event-stream' : 'application/json; charset=UTF-8';
  geminiAuth(req, url, opts);
  const view = validateGemini(rec.body, model, opts);
  const reply = decide(view);
  rec.reply = reply;
  const responseId = `fk${nextId()}Gem`;
  if (reply.kind === 'error') {
    if (reply.status === 429) {
      const e = geminiError(429, 'Resource has been exhausted (e.g. check quota).', [
        { '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: `${RETRY_AFTER}s` },
      ]);
      return sendGemini(res, e, rec.errorContentType, { 'retry-after': RETRY_AFTER });
    }
    if (reply.status === 400) {
      return sendGemini(res, geminiError(400, FAIL_400_MESSAGE, [{ '@type': 'type.googleapis.com/google.rpc.BadRequest', fieldViolations: [{ field: 'contents', description: FAIL_400_MESSAGE }] }]), rec.errorContentType);
    }
    if (reply.overloaded) return sendGemini(res, geminiError(503, 'The model is overloaded. Please try again later.'), rec.errorContentType);
    return sendGemini(res, geminiError(500, 'An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting'), rec.errorContentType);
  }
  if (reply.kind === 'midstream' && !stream) {
    return sendGemini(res, geminiError(500, 'An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting'), rec.errorContentType);
  }
  const parts = [];
  if (reply.kind === 'text') parts.push({ text: reply.pieces.join('') });
  if (reply.kind === 'tools') {
    if (reply.preamble) parts.push({ text: reply.preamble });
    for (const c of reply.calls) parts.push({ functionCall: { name: c.name, args: c.args } });
  }
  const envelope = (candParts, final) => ({
    candidates: [{ content: { parts: candParts, role: 'model' }, ...(final ? { finishReason: reply.truncated ? 'MAX_TOKENS' : 'STOP' } : {}), index: 0 }],
    usageMetadata: geminiUsage(final),
    modelVersion: model,
    responseId,
  });
  if (reply.kind === 'midstream') {
    const evs = reply.pieces.map((p) => envelope([{ text: p }], false));
    const err = geminiError(503, 'The model is overloaded. Please try again later.').body;
    if (sse) {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'content-disposition': 'attachment' });
      return writeSlowly(res, [...evs.map((e) => `data: ${JSON.stringify(e)}\r\n\r\n`), `data: ${JSON.stringify(err)}\r\n\r\n`]);
    }
    res.writeHead(200, { 'content-type': 'application/json; charset=UTF-8' });
    return writeSlowly(res, [...evs.map((e, i) => (i === 0 ? '[' : ',\r\n') + JSON.stringify(e, null, 2)), `,\r\n${JSON.stringify(err, null, 2)}]`]);
  }
  if (!stream) {
    const payload = JSON.stringify(envelope(parts, true), null, 2);
    res.writeHead(200, { 'content-type': 'application/json; charset=UTF-8', 'content-length': Buffer.byteLength(payload) });
    return res.end(payload);
  }
  // One event per text piece; a function call comes whole in one event (recorded); the last
  // event carries finishReason and the final usage.
  const eventParts = [];
  if (reply.kind === 'text') for (const p of reply.pieces) eventParts.push([{ text: p }]);
  else for (const p of parts) eventParts.push([p]);
  const events = eventParts.map((ps, i) => envelope(ps, i === eventParts.length - 1));
  if (sse) {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'content-disposition': 'attachment' });
    await writeSlowly(res, events.map((e) => `data: ${JSON.stringify(e)}\r\n\r\n`));
  } else {
    res.writeHead(200, { 'content-type': 'application/json; charset=UTF-8' });
    const texts = events.map((e, i) => (i === 0 ? '[' : ',\r\n') + JSON.stringify(e, null, 2));
    texts.push(']');
    await writeSlowly(res, texts);
  }
}

function sendGemini(res, err, contentType, extra = {}) {
  const payload = JSON.stringify(err.body, null, 2);
  res.writeHead(err.status, { 'content-type': contentType, 'content-length': Buffer.byteLength(payload), ...extra });
  res.end(payload);
}

// ---------------------------------------------------------------------------------------------
// Server
// ---------------------------------------------------------------------------------------------

function sendJson(res, status, obj, headers = {}) {
  const payload = JSON.stringify(obj);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload), ...headers });
  res.end(payload);
}

/**
 * Writes the strings one by one, each cut in two at its middle byte (so a multi-byte UTF-8
 * character may be split between two writes), with a pause between writes.
 */
async function writeSlowly(res, strings) {
  for (const s of strings) {
    const buf = Buffer.from(s, 'utf8');
    const cut = Math.max(1, Math.floor(buf.length / 2));
    for (const piece of [buf.subarray(0, cut), buf.subarray(cut)]) {
      if (res.destroyed) return;
      if (piece.length) res.write(piece);
      await sleep(1);
    }
  }
  if (!res.destroyed) res.end();
}

/**
 * Starts the fake vendors on 127.0.0.1 (port 0). `options` may override VENDOR_DEFAULTS.
 *
 * Every request is recorded in `requests` as { seq, method, url, path, query, headers, rawBody,
 * body, vendor ('openai' | 'anthropic' | 'gemini' | 'media' | null), stream, model, status,
 * rejection (the error message when the fake refused it), reply, done }: `done` resolves once the
 * response is finished or cut off.
 */
export async function startFakeVendors(options = {}) {
  const opts = {
    keys: { ...VENDOR_DEFAULTS.keys, ...(options.keys ?? {}) },
    models: { ...VENDOR_DEFAULTS.models, ...(options.models ?? {}) },
  };
  const requests = [];
  const sockets = new Set();
  let seq = 0;

  const server = http.createServer({ noDelay: true }, (req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', async () => {
      const rawBody = Buffer.concat(chunks).toString('utf8');
      const url = new URL(req.url, 'http://fake.invalid');
      let body;
      let parseError = null;
      try {
        body = rawBody ? JSON.parse(rawBody) : undefined;
      } catch (e) {
        parseError = e;
      }
      const rec = {
        seq: ++seq,
        method: req.method,
        url: req.url,
        path: url.pathname,
        query: Object.fromEntries(url.searchParams),
        headers: req.headers,
        rawBody,
        body,
        vendor: null,
        stream: false,
        model: null,
        status: null,
        rejection: null,
        reply: null,
      };
      rec.done = new Promise((resolve) => res.once('close', resolve));
      res.once('close', () => {
        rec.status = res.statusCode;
      });
      requests.push(rec);
      try {
        await route(rec, req, res, url, parseError);
      } catch (err) {
        if (err && typeof err.status === 'number' && err.body) {
          rec.rejection = err.body.error?.message ?? JSON.stringify(err.body);
          if (rec.vendor === 'gemini') sendGemini(res, err, rec.errorContentType ?? 'application/json; charset=UTF-8');
          else sendJson(res, err.status, err.body);
        } else {
          rec.rejection = `fake vendor crashed: ${err?.stack ?? err}`;
          if (!res.headersSent) sendJson(res, 500, { error: { message: rec.rejection } });
          else res.destroy();
        }
      }
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });

  async function route(rec, req, res, url, parseError) {
    const p = url.pathname;
    if (req.method === 'GET' && p === '/img.png') {
      rec.vendor = 'media';
      res.writeHead(200, { 'content-type': 'image/png', 'content-length': IMG_URL_PNG.length });
      return res.end(IMG_URL_PNG);
    }
    if (req.method === 'POST' && p === '/v1/chat/completions') {
      rec.vendor = 'openai';
      rec.stream = rec.body?.stream === true;
      rec.model = rec.body?.model ?? null;
      if (parseError) throw openaiError(400, 'We could not parse the JSON body of your request.');
      return openaiRespond(rec, req, res, opts);
    }
    if (req.method === 'POST' && (p === '/v1/messages' || p === '/v1/messages/count_tokens')) {
      rec.vendor = 'anthropic';
      rec.stream = rec.body?.stream === true;
      rec.model = rec.body?.model ?? null;
      if (parseError) throw anthropicError(400, `Request body is not valid JSON: ${parseError.message}`);
      if (p === '/v1/messages/count_tokens') return anthropicCountTokens(rec, req, res, opts);
      return anthropicRespond(rec, req, res, opts);
    }
    // Gemini serves both API versions; @google/genai 3.x defaults to v1, the docs use v1beta.
    const gm = /^\/v1(?:beta)?\/models\/([^/:]+):(generateContent|streamGenerateContent)$/.exec(p);
    if (req.method === 'POST' && gm) {
      rec.vendor = 'gemini';
      rec.model = decodeURIComponent(gm[1]);
      rec.stream = gm[2] === 'streamGenerateContent';
      if (parseError) throw geminiError(400, `Invalid JSON payload received. ${parseError.message}`);
      return geminiRespond(rec, req, res, opts, url, rec.model, gm[2]);
    }
    if (p.startsWith('/v1beta/') || /^\/v1\/models\/[^/]+:/.test(p)) {
      rec.vendor = 'gemini';
      throw geminiError(404, `Method not found: ${req.method} ${p}`);
    }
    if (p.startsWith('/v1/messages')) {
      rec.vendor = 'anthropic';
      throw anthropicError(404, `Not found: ${req.method} ${p}`, 'not_found_error');
    }
    rec.vendor = 'openai';
    throw openaiError(404, `Invalid URL (${req.method} ${p})`);
  }

  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address();
  const origin = `http://127.0.0.1:${port}`;
  return {
    port,
    origin,
    imageUrl: `${origin}/img.png`,
    options: opts,
    requests,
    /** The requests recorded after `mark` (a previous requests.length). */
    since(mark) {
      return requests.slice(mark);
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
