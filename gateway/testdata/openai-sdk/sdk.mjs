// Drives keyward's gateway with the official OpenAI Node SDK, as a user
// would: run by gateway/openaisdk_test.go, which starts the gateway and
// the mock upstream and passes the base URL and the keys in the
// environment (never on the command line). Prints one line per check and
// exits 1 if any failed. It never prints a key.
import OpenAI from 'openai';

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
};
const baseURL = env('KW_BASE_URL');
const failures = [];
const check = (name, ok, detail = '') => {
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${name}${ok || !detail ? '' : ': ' + detail}`);
  if (!ok) failures.push(name);
};

// client returns an SDK client whose HTTP statuses are recorded in seen,
// to tell a retried call from a first-time success.
const client = (apiKey) => {
  const seen = [];
  const c = new OpenAI({
    apiKey, baseURL, maxRetries: 2, timeout: 20_000,
    fetch: async (url, init) => {
      const r = await fetch(url, init);
      seen.push(r.status);
      return r;
    },
  });
  return { c, seen };
};
const hi = { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi there' }] };
const mockText = 'Hello from the keyward mock upstream.';

// expectError runs call, which must throw an instance of type, and
// returns the error and how long the SDK took to give up.
const expectError = async (name, call, type) => {
  const t0 = Date.now();
  try {
    await call();
  } catch (e) {
    const ms = Date.now() - t0;
    check(`${name}: raises ${type.name}`, e instanceof type, `${e?.constructor?.name} ${e?.status} ${e?.message}`);
    return { e, ms };
  }
  check(`${name}: raises ${type.name}`, false, 'the call succeeded');
  return { e: null, ms: Date.now() - t0 };
};

// Chat, and streaming with usage.
{
  const { c, seen } = client(env('KW_KEY_ALL'));
  const r = await c.chat.completions.create(hi);
  check('chat: the completion', r.choices[0]?.message?.content === mockText, JSON.stringify(r));
  check('chat: usage', r.usage?.total_tokens === 9, JSON.stringify(r.usage));
  const s = await c.chat.completions.create({ ...hi, stream: true, stream_options: { include_usage: true } });
  let text = '', usage = null, chunks = 0;
  for await (const ch of s) {
    chunks++;
    text += ch.choices[0]?.delta?.content ?? '';
    if (ch.usage) usage = ch.usage;
  }
  check('stream: the text, chunk by chunk', text === mockText && chunks > 2, `${chunks} chunks: ${text}`);
  check('stream: usage', usage?.total_tokens === 9, JSON.stringify(usage));
  const ids = [];
  for await (const m of c.models.list()) ids.push(m.id);
  check('models: an unscoped key sees every model', JSON.stringify(ids) === '["gpt-4o-mini","llama-3-8b"]', JSON.stringify(ids));
  check('no retries on the way', seen.every((s) => s === 200), JSON.stringify(seen));
}

// A throttle (1/s, burst 1): the second call is refused, and the SDK
// retries after Retry-After and succeeds.
{
  const { c, seen } = client(env('KW_KEY_THROTTLE'));
  await c.chat.completions.create(hi);
  const t0 = Date.now();
  const r = await c.chat.completions.create(hi);
  const ms = Date.now() - t0;
  check('throttle: retried through', r.choices[0]?.message?.content === mockText && seen.includes(429) && seen.at(-1) === 200, JSON.stringify(seen));
  check('throttle: waited for the bucket, briefly', ms >= 500 && ms < 10_000, `${ms} ms`);
}

// A spent quota: RateLimitError at once, no retry, the reset in the body.
{
  const { c, seen } = client(env('KW_KEY_QUOTA'));
  await c.chat.completions.create(hi);
  const n = seen.length;
  const { e, ms } = await expectError('quota', () => c.chat.completions.create(hi), OpenAI.RateLimitError);
  check('quota: fails within 2 s', ms < 2000, `${ms} ms`);
  check('quota: not retried', seen.length - n === 1, JSON.stringify(seen));
  check('quota: x-should-retry false, no Retry-After', e?.headers?.get('x-should-retry') === 'false' && !e?.headers?.get('retry-after'));
  check('quota: code insufficient_quota', e?.code === 'insufficient_quota', e?.code);
  check('quota: reset time in the body', !Number.isNaN(Date.parse(e?.error?.reset_at)) && Date.parse(e.error.reset_at) > Date.now(), JSON.stringify(e?.error));
  check('quota: x-ratelimit-reset-requests', /^(\d+h)?(\d+m)?\d+s$/.test(e?.headers?.get('x-ratelimit-reset-requests') ?? ''), e?.headers?.get('x-ratelimit-reset-requests'));
}

// A day's token budget, spent by calls with long prompts: the call that
// no longer fits fails at once; one that could never fit too.
{
  const { c, seen } = client(env('KW_KEY_DAY'));
  const long = { ...hi, max_tokens: 16, messages: [{ role: 'user', content: 'word '.repeat(2000) }] };
  let refused = null, ms = 0, calls = 0;
  for (; calls < 30 && !refused; calls++) {
    const n = seen.length;
    const t0 = Date.now();
    try {
      await c.chat.completions.create(long);
    } catch (e) {
      refused = e;
      ms = Date.now() - t0;
      check('day budget: not retried', seen.length - n === 1, JSON.stringify(seen.slice(n)));
    }
  }
  check('day budget: RateLimitError once spent', refused instanceof OpenAI.RateLimitError && calls > 1, `${calls} calls, ${refused?.message}`);
  check('day budget: fails within 2 s', ms < 2000, `${ms} ms`);
  check('day budget: x-should-retry false, no Retry-After', refused?.headers?.get('x-should-retry') === 'false' && !refused?.headers?.get('retry-after'));
  check('day budget: type tokens, x-ratelimit-reset-tokens', refused?.type === 'tokens' && !!refused?.headers?.get('x-ratelimit-reset-tokens'));
  const { e, ms: ms2 } = await expectError('over the budget itself', () => c.chat.completions.create({ ...hi, max_tokens: 1_000_000 }), OpenAI.RateLimitError);
  check('over the budget itself: fails within 2 s', ms2 < 2000 && e?.headers?.get('x-should-retry') === 'false', `${ms2} ms`);
}

// Limits that cannot be checked (a shared limiter whose Redis is down,
// failing closed): 503 with Retry-After: 1, which the SDK retries shortly
// (twice here), then InternalServerError; the upstream is never reached.
{
  const { c, seen } = client(env('KW_KEY_DOWN'));
  const { e, ms } = await expectError('limits down', () => c.chat.completions.create(hi), OpenAI.InternalServerError);
  check('limits down: 503 limits_unavailable', e?.status === 503 && e?.code === 'limits_unavailable', `${e?.status} ${e?.code}`);
  check('limits down: retried after Retry-After, then gave up', JSON.stringify(seen) === '[503,503,503]' && ms >= 1500 && ms < 10_000, `${JSON.stringify(seen)} in ${ms} ms`);
}

// A bad key: AuthenticationError (401, invalid_api_key).
{
  const { c } = client('sk-not-a-keyward-key-0000000000');
  const { e } = await expectError('bad key', () => c.chat.completions.create(hi), OpenAI.AuthenticationError);
  check('bad key: 401 invalid_api_key', e?.status === 401 && e?.code === 'invalid_api_key', `${e?.status} ${e?.code}`);
  const { e: e2 } = await expectError('bad key, model list', () => c.models.list(), OpenAI.AuthenticationError);
  check('bad key, model list: 401', e2?.status === 401);
}

// A model-scoped key: its own models only, and a clear 403 for another.
{
  const { c } = client(env('KW_KEY_SCOPED'));
  const ids = [];
  for await (const m of c.models.list()) ids.push(m.id);
  check('models: a scoped key sees its models only', JSON.stringify(ids) === '["gpt-4o-mini"]', JSON.stringify(ids));
  const r = await c.chat.completions.create(hi);
  check('scoped key: chat with its model', r.choices[0]?.message?.content === mockText);
  const { e } = await expectError('scoped key, other model', () => c.chat.completions.create({ ...hi, model: 'llama-3-8b' }), OpenAI.PermissionDeniedError);
  check('scoped key, other model: says the model is not allowed', e?.status === 403 && /model is not allowed for this API key/.test(e?.message ?? ''), e?.message);
}

if (failures.length > 0) {
  console.log(`${failures.length} check(s) failed`);
  process.exit(1);
}
console.log('all checks passed');
