// The exactness test's reference (tests/tokenizer/CMakeLists.txt runs it at build time):
//
//   node reference.cjs <node_modules dir> <output file>
//
// Encodes a corpus with js-tiktoken (the package and version the vocabularies come from,
// third_party/tokenizer) as encode_ordinary does (special tokens are text), for o200k_base and
// cl100k_base, and writes, little-endian: u32 case count; per case: u32 byte length, the UTF-8
// bytes, then per encoding (o200k_base, cl100k_base) u32 token count and the u32 ids.
// tokenizer_reference_check.cpp compares src/billing/tokenizer.cpp's ids with these exactly.
//
// The corpus: the hand-written cases below, then 4000 random strings from a seeded PRNG mixing
// every class of character the split regexes distinguish, then random code points.
"use strict";
const fs = require("fs");
const path = require("path");

const [modulesDir, outFile] = process.argv.slice(2);
const req = require("module").createRequire(path.join(path.resolve(modulesDir), "x.cjs"));
const { Tiktoken } = req("js-tiktoken/lite");
const encoders = ["o200k_base", "cl100k_base"].map(
  (name) => new Tiktoken(req(`js-tiktoken/ranks/${name}`)));

const cases = [
  "",
  "Hello, world!",
  "The quick brown fox jumps over the lazy dog. THE QUICK BROWN FOX! The Quick Brown Fox?",
  "It was the best of times, it was the worst of times, it was the age of wisdom, it was the " +
      "age of foolishness, it was the epoch of belief, it was the epoch of incredulity.\n\n" +
      "    Indented paragraph with  double  spaces and a trailing space. \n",
  // contractions in every case
  "I'm you're he's she'll we've they'd it's can't won't Y'ALL'RE I'M YOU'RE HE'S SHE'LL WE'VE " +
      "THEY'D IT'S 'S 'T 'RE 'VE 'M 'LL 'D 's 't 're 've 'm 'll 'd 'Re 'rE 'Ll 'lL 'Ve 'vE",
  "don't DON'T Don'T o'clock rock'n'roll ''s '''ll 'x 'Ś 'ſ 'K 'sa 'lla 're'd",
  "l'été d'Artagnan L'ÉTÉ D'ARTAGNAN aujourd'hui",
  // code
  "#include <vector>\n\nint main(int argc, char** argv) {\n  std::vector<int> v{1, 2, 3};\n" +
      "  for (auto& x : v) x *= 2;  // double\n  return v.size() > 2 ? 0 : 1;\n}\n",
  "def fib(n: int) -> int:\n    \"\"\"Return the n-th Fibonacci number.\"\"\"\n    a, b = 0, 1\n" +
      "    for _ in range(n):\n        a, b = b, a + b\n    return a\n\n\nprint(f\"{fib(90)=}\")\n",
  "{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"user\",\"content\":\"Hi!\"}],\"stream\":true," +
      "\"max_tokens\":1024,\"temperature\":0.7,\"stop\":[\"\\n\\n\",\"</s>\"]}",
  "{\n  \"a\": [1, 2.5, -3e10, null, true],\n  \"b\": {\"c\": \"d\\u00e9\"}\n}\r\n",
  "SELECT id, name FROM users WHERE created_at >= '2024-01-01' AND status <> 'deleted';",
  "fn main() { let x: Vec<u8> = (0..=255).collect(); println!(\"{:?}\", &x[..4]); }",
  "<html><body><a href=\"https://example.com/path/to/page?q=1&r=two#frag\">link</a></body></html>",
  "https://github.com/openai/tiktoken/blob/main/tiktoken_ext/openai_public.py#L1-L20 " +
      "http://user:pass@host.example:8080/a/b/c.d?e=f/g//h///",
  "path/to/file.txt ../../etc/passwd C:\\Windows\\System32 //comment /* block */ a//b///c",
  // numbers
  "0 1 12 123 1234 12345 123456 1234567 12345678 123456789 1234567890 12345678901234567890",
  "3.14159265358979 -0.5 +1e-9 1,000,000 1.000.000,00 $19.99 €5 100% 0x1F 0b1010 1_000_000",
  "2024-11-26T15:30:24.123Z 15:30 +49 (0)30 1234567 ISBN 978-3-16-148410-0",
  "٠١٢٣٤٥٦٧٨٩ ०१२३४५६७८९ 〇一二三 ①②③ ⅠⅡⅢⅫ ²³¹ ½¾ １２３４５",
  // whitespace
  "line one\r\nline two\r\n\r\nline four\n\n\n\ttabbed\t\t\n   \n  \r\n \r \n",
  "trailing spaces   ",
  "   leading spaces",
  "mixed \t \u00a0\u3000 whitespace\u2003runs\u2028and\u2029separators\u000b\u000c.",
  "\n", "\r\n", " ", "  ", "\t", "a\n", " a", "a ", "  a  ", "\n\n \n \n  x", "x  \n  y",
  "a \u0085 b\u0085c \ufeffd\ufeff \u200be\u200b",
  // CJK
  "你好，世界！今天天气很好。我们去公园散步吧。这是一个测试句子，用于检查分词器。",
  "日本語のテキストです。カタカナとひらがなと漢字が混ざっています。東京タワーは３３３メートル。",
  "한국어 텍스트입니다. 안녕하세요! 만나서 반갑습니다.",
  // Arabic, Hebrew, Hindi, Thai
  "مرحبا بالعالم! هذه جملة اختبار باللغة العربية مع تشكيل: بِسْمِ اللَّهِ الرَّحْمَٰنِ الرَّحِيمِ",
  "שלום עולם, זהו משפט בדיקה.",
  "नमस्ते दुनिया! यह हिंदी में एक परीक्षण वाक्य है। क्षत्रिय, ज्ञान, श्री, हिन्दी",
  "สวัสดีชาวโลก นี่คือประโยคทดสอบ",
  // emoji
  "Emoji: 😀😃😄 👍🏽 👨‍👩‍👧‍👦 🏳️‍🌈 🇩🇪🇺🇸🇯🇵 ❤️ 1️⃣ #️⃣ 🧑🏿‍🚀 👩‍❤️‍💋‍👨",
  "😀a😀 a😀a 😀😀😀😀😀😀😀😀😀😀 🇦🇧🇨🇩🇪",
  // accents, case
  "Ça va? Élève, ÉLÈVE, élève. Æsir ÆSIR æsir. Ǆemal ǅemal ǆemal. Straße STRASSE ẞ.",
  "naïve café résumé Zoë Ångström Ørsted Łódź İstanbul ıi",
  "e\u0301 E\u0301 \u0301\u0301 a\u0308\u0304 \u0301abc \u0301ABC x\u0301Y\u0301z",
  "ǅ ǈ ǋ ǲ ᾈ ᾉ ᾼ ʰʲʷ ˈstress ー ゝ 々 〻 ꜰ ᴀʙᴄ",
  "Привет, мир! ПРИВЕТ МИР. Ёлка ёлка. Україна. Ґ ґ Ї ї",
  "Ελληνικά: Καλημέρα κόσμε! ΣΊΣΥΦΟΣ σίσυφος",
  // math
  "∀x∈ℝ: x²≥0 ∑_{i=1}^{n} i = n(n+1)/2 ∫₀^∞ e^{-x²} dx = √π/2 ≤ ≥ ≠ ≈ ∞ ⊂ ⊆ ∪ ∩",
  "𝔸𝔹ℂ 𝐀𝐁𝐂 𝑎𝑏𝑐 𝟎𝟏𝟐 ℵ₀ ℏ Ω ℧ µ μ",
  // special tokens as text
  "<|endoftext|> <|fim_prefix|><|fim_middle|><|fim_suffix|> <|endofprompt|> <|im_start|>",
  // punctuation runs
  "!!!??? ... --- === *** ### @@@ $$$ %%% ^^^ &&& ((())) [[[]]] {{{}}} \"\"\" ''' ``` ~~~",
  "a//\n/\r\n//\n\n! \n!\n\n!/\n/ \n",
  "...\r\n\r\n--\n\n+/\n\r/",
  "«quotes» „quotes“ “quotes” ‘quotes’ ‹›",
  "\u0000\u0001\u001f\u007f\u0080\u009f control chars",
  "\uffff\ufffe\ufffd \u{10ffff} \u{e0001}\u{e0041} \u{1f3f4}\u{e0067}\u{e0062}\u{e0065}\u{e006e}\u{e0067}\u{e007f}",
  "a".repeat(300), "ab".repeat(200), "Aa".repeat(150), "1".repeat(100), " ".repeat(300),
  "\n".repeat(100), "!".repeat(300), "é".repeat(200), "你".repeat(200), "😀".repeat(100),
  "x".repeat(40) + " " + "y".repeat(100), "supercalifragilisticexpialidocious".repeat(8),
];

// A seeded PRNG (mulberry32): the corpus is the same on every build.
let seed = 0x5eed1234;
function rand() {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const pick = (arr) => arr[Math.floor(rand() * arr.length)];
const cps = (s) => Array.from(s);

const pools = [
  cps("abcdefghijklmnopqrstuvwxyz"), cps("ABCDEFGHIJKLMNOPQRSTUVWXYZ"), cps("0123456789"),
  cps(" "), cps("    \t\n\r"), ["\r\n", "\n\n", "\r", "\n", " \n", "\t\n"],
  cps("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"), ["'s", "'S", "'ll", "'LL", "'Re", "'ve", "'D", "'m", "'t"],
  ["/", "//", "/\n", "\n/"], cps("\u00a0\u3000\u2003\u2028\u2029\u000b\u000c\u0085\ufeff\u200b\u1680"),
  cps("你好世界中文字符测试漢字東京"), cps("あいうえおかきくけこアイウエオカキクケコーゝ"),
  cps("한국어텍스트입니다"), cps("مرحبابالعالمَُِّْ"), cps("नमस्तेदुनियाक्षज्ञ्ािीुूेैोौंः"),
  cps("😀😃👍🏽👨👩👧🏳🌈❤💋🚀🧑🏿"), ["\u200d", "\ufe0f", "\u20e3"], cps("🇦🇧🇨🇩🇪🇫🇬"),
  cps("àáâäãåçèéêëìíîïñòóôöõùúûüýÿœæß"), cps("ÀÁÂÄÃÅÇÈÉÊËÌÍÎÏÑÒÓÔÖÕÙÚÛÜÝŸŒÆ"),
  cps("ǅǈǋǲᾈᾉᾼ"), cps("ʰʲʷˈーゝ々"), ["\u0301", "\u0308", "\u0304", "\u0323", "\u20dd"],
  cps("абвгдеёжзийклмнопрстуфхцчшщъыьэюяАБВГДЕЁЖЗИЙКЛМНОПРСТУФХЦЧШЩЪЫЬЭЮЯ"),
  cps("ΑΒΓΔαβγδΣσς"), cps("∀∈ℝ²≥∑∫√π≤≠≈∞⊂∪∩±×÷"), cps("𝔸𝔹ℂ𝐀𝐁𝐂𝑎𝑏𝑐𝟎𝟏𝟐ℵ₀ℏΩ"),
  cps("٠١٢٣٤٥٦٧٨٩०१२३४५६७८९①②③ⅠⅡⅫ½¾１２３"),
  ["https://", "http://", "www.", ".com", "/path", "?q=", "&x=", "#frag"],
  ["the", "The", "THE", "hello", "World", "CamelCase", "snake_case", "x", "I"],
  ["<|endoftext|>", "<|fim_prefix|>", "<|endofprompt|>"],
];
const weights = pools.map((p, i) => (i <= 4 ? 4 : 1));
const total = weights.reduce((a, b) => a + b, 0);
function pickPool() {
  let r = rand() * total;
  for (let i = 0; i < pools.length; ++i) {
    if ((r -= weights[i]) < 0) return pools[i];
  }
  return pools[0];
}
for (let k = 0; k < 4000; ++k) {
  const len = 1 + Math.floor(rand() * (k % 10 === 0 ? 400 : 60));
  // Some strings draw from few pools, so long runs of one class appear too.
  const local = k % 3 === 0 ? [pickPool(), pickPool()] : null;
  let s = "";
  for (let i = 0; i < len; ++i) s += pick(local ? pick(local) : pickPool());
  cases.push(s);
}
// Random code points of the whole range (no surrogates: the C++ side reads UTF-8).
for (let k = 0; k < 1000; ++k) {
  let s = "";
  const len = 1 + Math.floor(rand() * 30);
  for (let i = 0; i < len; ++i) {
    let cp;
    const r = rand();
    if (r < 0.3) cp = Math.floor(rand() * 0x80);
    else if (r < 0.7) cp = Math.floor(rand() * 0x3000);
    else if (r < 0.9) cp = Math.floor(rand() * 0x10000);
    else cp = Math.floor(rand() * 0x110000);
    if (cp >= 0xd800 && cp <= 0xdfff) cp = 0x20;
    s += String.fromCodePoint(cp);
  }
  cases.push(s);
}
// Long pieces (the heap merge): letters without spaces, 150 to 600 bytes.
for (let k = 0; k < 50; ++k) {
  let s = "";
  const len = 150 + Math.floor(rand() * 450);
  const pool = pick([pools[0], pools[1], pools[18], pools[23], pools[10]]);
  while (Buffer.byteLength(s) < len) s += pick(pool);
  cases.push(s);
}

const chunks = [];
const u32 = (v) => { const b = Buffer.alloc(4); b.writeUInt32LE(v >>> 0); return b; };
chunks.push(u32(cases.length));
for (const text of cases) {
  const bytes = Buffer.from(text, "utf8");
  chunks.push(u32(bytes.length), bytes);
  for (const enc of encoders) {
    const ids = enc.encode(text, [], []);
    chunks.push(u32(ids.length));
    const b = Buffer.alloc(4 * ids.length);
    ids.forEach((id, i) => b.writeUInt32LE(id, 4 * i));
    chunks.push(b);
  }
}
fs.writeFileSync(outFile, Buffer.concat(chunks));
console.log(`reference.cjs: ${cases.length} cases`);
