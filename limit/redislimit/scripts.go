package redislimit

import "github.com/redis/go-redis/v9"

// The scripts hold every decision that touches shared counters: Redis runs
// a script alone, so a charge's counters are read, checked and written with
// nothing in between, and either all of them are charged or none.
//
// Times are Unix microseconds (Lua numbers are doubles: nanoseconds since
// 1970 would lose precision). A now of 0 means Redis's own clock (TIME,
// which scripts may call since Redis 5 replicates their effects), so every
// node charges on one clock to the microsecond and none wins the race for
// each new token by running ahead; tests pass their own now instead.
// Calendar windows are computed by the caller, on its reading of Redis's
// clock (see clock.go). Amounts are clamped by the caller to 2^53, where
// doubles are still exact.
//
// A counter's state is one hash at its own key:
//   - Throttle: tk (tokens in the bucket at ls), ls (µs).
//   - Windows: st, en (the window, µs), u (used, reservations included), d
//     (the Quota definition the window was computed for), and one field
//     "r:<ticket>" per open reservation: "<amount>:<window start>".
//
// Token counters also have a sorted set of open reservations by expiry, so
// that a reservation whose node died before settling is released.

// scriptNow starts the scripts that take a time: ARGV[1], the caller's
// now (µs), or Redis's own clock when it is 0.
const scriptNow = `
local now = tonumber(ARGV[1])
if now == 0 then
  local tm = redis.call('TIME')
  now = tonumber(tm[1]) * 1000000 + tonumber(tm[2])
end
`

// chargeScript charges n counters all-or-nothing.
//
// KEYS: the key's index (the set of its counters' keys, for Forget), then
// for each counter its state key, and after it, for a token counter, its
// reservation set.
// ARGV: now, n, ticket, reservation expiry, this node's name, how long
// (µs) Redis counts a node's throttle lease as held, then 14 values per
// counter:
// kind, rate (per second), burst, limit, cost (what the shared counter
// must give), take (cost plus the lease asked for, >= cost), window start,
// window end, definition, and the request's whole cost (above cost when the
// node pays part of it from its lease; a whole cost above the burst or the
// limit never passes), its position in the request's charge (which
// names its reservation), and the window after the current one (start,
// end): a node whose reading of Redis's clock lags may name a window that
// has just ended, and the script moves on to the one that holds now rather
// than reopen the old one at zero; and for a throttle, what this node
// still holds of its lease.
//
// A throttle's tokens leased to nodes are outside its bucket, so the
// bucket keeps, per node, "L:<node>" = "<held>:<expiry>": it never refills
// past its burst minus what the nodes hold, and bucket and leases together
// never hold more than the burst, as one bucket would. A node reports what
// it holds each time it comes back; a dead node's share expires.
//
// Returns {1, now, start_1, took_1, ..., start_n, took_n} when admitted,
// where took_i is what counter i gave (cost plus the part of the lease it
// could spare: at most an eighth of what it had left after the cost, so
// that nodes share what remains), or {0, now, index, wait, end} when
// refused, wait in µs (-1: never) and end the refusing window's end (µs;
// the caller computes a window's wait from it in ns).
var chargeScript = redis.NewScript(scriptNow + `
local n = tonumber(ARGV[2])
local ticket = ARGV[3]
local resexp = tonumber(ARGV[4])
local node = ARGV[5]
local leasefor = tonumber(ARGV[6])
local cs = {}
local states = {}
local idx = KEYS[1]
local ki = 2
for i = 1, n do
  local b = 6 + (i - 1) * 14
  local c = {kind = tonumber(ARGV[b + 1]), rate = tonumber(ARGV[b + 2]), burst = tonumber(ARGV[b + 3]),
    limit = tonumber(ARGV[b + 4]), cost = tonumber(ARGV[b + 5]), take = tonumber(ARGV[b + 6]),
    start = tonumber(ARGV[b + 7]), en = tonumber(ARGV[b + 8]), def = ARGV[b + 9], whole = tonumber(ARGV[b + 10]), slot = ARGV[b + 11], nstart = tonumber(ARGV[b + 12]), nen = tonumber(ARGV[b + 13]), held = tonumber(ARGV[b + 14]), key = KEYS[ki]}
  ki = ki + 1
  if c.kind == 3 or c.kind == 4 then
    c.rkey = KEYS[ki]
    ki = ki + 1
  end
  local s = states[c.key]
  if s == nil then
    s = {}
    local h = redis.call('HMGET', c.key, 'tk', 'ls', 'st', 'en', 'u', 'd')
    if not h[1] and not h[3] then
      redis.call('SADD', idx, c.key)
      if c.rkey then redis.call('SADD', idx, c.rkey) end
      redis.call('PEXPIRE', idx, 3024000000) -- 35 days: longer than any window
    end
    if c.kind == 1 then
      s.tk, s.ls = tonumber(h[1]), tonumber(h[2])
      if s.tk == nil then
        s.tk, s.ls = c.burst, now
      end
      -- what the other nodes hold of it; leases of nodes gone quiet expire
      s.others, s.mine = 0, 0
      local fs = redis.call('HGETALL', c.key)
      for j = 1, #fs, 2 do
        local f = fs[j]
        if string.sub(f, 1, 2) == 'L:' then
          local amt, exp = string.match(fs[j + 1], '^(%d+):(%d+)$')
          if tonumber(exp) <= now then
            redis.call('HDEL', c.key, f)
          elseif f ~= 'L:' .. node then
            s.others = s.others + tonumber(amt)
          else
            s.mine = tonumber(amt)
          end
        end
      end
    else
      s.st, s.en, s.u, s.d = tonumber(h[3]), tonumber(h[4]), tonumber(h[5]), h[6]
      if s.st == nil then
        s.st, s.en, s.u, s.d = c.start, c.en, 0, c.def
      end
    end
    states[c.key] = s
    -- bring the state up to date: refill the bucket, roll the window
    if c.kind == 1 then
      -- until now this node held what it last reported (what it spent
      -- of that since was admitted: it does not come back)
      local cap = c.burst - s.others - s.mine
      if now > s.ls then
        if s.tk < cap then
          s.tk = math.min(s.tk + c.rate * (now - s.ls) / 1e6, cap)
        end
        s.ls = now
      end
      if s.tk > c.burst then s.tk = c.burst end
    elseif c.kind == 2 and c.def ~= s.d then
      -- the plan changed its window: keep what was used within the new one
      if s.st < c.start or s.st >= c.en then s.u = 0 end
      s.st, s.en, s.d = c.start, c.en, c.def
    elseif now >= s.en then
      -- roll forward only, to the window holding now
      if now < c.en and c.start >= s.en then
        s.st, s.en, s.u, s.d = c.start, c.en, 0, c.def
      elseif now < c.nen and c.nstart >= s.en then
        s.st, s.en, s.u, s.d = c.nstart, c.nen, 0, c.def
      else
        -- the caller's windows are both behind now (its clock lags by
        -- more than a window): decide nothing on them
        return {0, now, i, 1000000, 0}
      end
    end
    if c.rkey then
      -- release the reservations of requests never settled
      local gone = redis.call('ZRANGEBYSCORE', c.rkey, '-inf', now)
      for _, m in ipairs(gone) do
        local f = 'r:' .. m
        local v = redis.call('HGET', c.key, f)
        if v then
          local amt, st = string.match(v, '^(%d+):(%d+)$')
          if tonumber(st) == s.st then
            s.u = math.max(s.u - tonumber(amt), 0)
          end
          redis.call('HDEL', c.key, f)
        end
      end
      if #gone > 0 then redis.call('ZREMRANGEBYSCORE', c.rkey, '-inf', now) end
    end
    s.tk0, s.u0 = s.tk, s.u
  end
  c.s = s
  cs[i] = c
end

local function admits(c, tk, u)
  if c.kind == 1 and c.whole > c.burst then return false end
  if c.kind ~= 1 and c.whole > c.limit then return false end
  if c.cost == 0 then return true end
  if c.kind == 1 then return tk >= c.cost end
  return c.cost <= c.limit - u
end

-- TTLs are capped (400 days in ms) and whole, so that Redis always takes
-- them: a tiny rate would otherwise ask for an expiry Redis refuses, after
-- the state was written.
local function ttl(ms)
  return math.floor(math.min(math.max(ms, 1000), 34560000000))
end

local function wait(c)
  local s = c.s
  if c.kind == 1 then
    if c.whole > c.burst or c.rate == 0 then return -1 end
    local w = math.ceil((c.cost - s.tk0) * 1e6 / c.rate) + math.max(s.ls - now, 0)
    return math.max(w, 1)
  end
  if c.whole > c.limit then return -1 end
  return math.max(s.en - now, 0)
end

local took = {}
for i = 1, n do
  local c = cs[i]
  local s = c.s
  if not admits(c, s.tk, s.u) then
    -- nothing was written: the refusal is that of the counter, from i on,
    -- that keeps the request waiting longest
    local at, w = i, wait(c)
    for j = i + 1, n do
      local d = cs[j]
      if not admits(d, d.s.tk0, d.s.u0) then
        local dw = wait(d)
        if w ~= -1 and (dw == -1 or dw > w) then at, w = j, dw end
      end
    end
    return {0, now, at, w, cs[at].s.en or 0}
  end
  local left
  if c.kind == 1 then left = math.floor(s.tk) - c.cost else left = c.limit - s.u - c.cost end
  local extra = math.min(c.take - c.cost, math.floor(math.max(left, 0) / 8))
  local t = c.cost + math.max(extra, 0)
  if c.kind == 1 then s.tk = s.tk - t else s.u = s.u + t end
  took[i] = t
end

local out = {1, now}
for i = 1, n do
  local c = cs[i]
  local s = c.s
  if c.kind == 1 then
    redis.call('HSET', c.key, 'tk', string.format('%.17g', s.tk), 'ls', string.format('%d', s.ls))
    local mine = c.held + took[i] - c.cost
    if mine > 0 then
      redis.call('HSET', c.key, 'L:' .. node, string.format('%d:%d', mine, now + 2 * leasefor))
    else
      redis.call('HDEL', c.key, 'L:' .. node)
    end
    -- a full bucket is a new one: let the key go once it would be full
    -- (and its leases expired)
    if c.rate > 0 then
      redis.call('PEXPIRE', c.key, ttl((c.burst - s.tk) * 1000 / c.rate + 2 * leasefor / 1000 + 60000))
    else
      redis.call('PEXPIRE', c.key, ttl(34560000000))
    end
  else
    redis.call('HSET', c.key, 'st', string.format('%d', s.st), 'en', string.format('%d', s.en), 'u', string.format('%d', s.u), 'd', s.d)
    -- relative to now, the script's clock, not to Redis's own
    local keep = ttl(math.max(s.en - now, 0) / 1000 + 3600000)
    redis.call('PEXPIRE', c.key, keep)
    if c.rkey and took[i] > 0 then
      redis.call('HSET', c.key, 'r:' .. ticket .. ':' .. c.slot, string.format('%d:%d', took[i], s.st))
      redis.call('ZADD', c.rkey, resexp, ticket .. ':' .. c.slot)
      redis.call('PEXPIRE', c.rkey, keep)
    end
  end
  out[#out + 1] = s.st or 0
  out[#out + 1] = took[i]
end
return out
`)

// settleScript replaces reservations by what the requests used.
//
// KEYS: state key and reservation set of each token counter settled.
// ARGV: now, ticket, tokens, then per counter: its index in the charge,
// the cost reserved, the start of the window it was charged in.
//
// A reservation already released (its node was presumed dead) was given
// back in full, so the tokens used are added as they are. A counter whose
// window has ended is left alone. Returns nothing.
var settleScript = redis.NewScript(scriptNow + `
local ticket = ARGV[2]
local tokens = tonumber(ARGV[3])
local n = #KEYS / 2
for i = 1, n do
  local key, rkey = KEYS[2 * i - 1], KEYS[2 * i]
  local b = 3 + (i - 1) * 3
  local idx, cost, start = ARGV[b + 1], tonumber(ARGV[b + 2]), tonumber(ARGV[b + 3])
  local m = ticket .. ':' .. idx
  local d = tokens
  if redis.call('HDEL', key, 'r:' .. m) == 1 then
    redis.call('ZREM', rkey, m)
    d = tokens - cost
  end
  local h = redis.call('HMGET', key, 'st', 'en', 'u')
  local st, en, u = tonumber(h[1]), tonumber(h[2]), tonumber(h[3])
  if st ~= nil and st == start and now < en then
    u = u + d
    if u < 0 then u = 0 end
    if u > 9007199254740991 then u = 9007199254740991 end
    redis.call('HSET', key, 'u', string.format('%d', u))
  end
end
return 0
`)

// returnScript gives a node's unused lease back.
//
// KEYS: the counter's state key. ARGV: kind, amount, window start (µs, for
// a window counter), the node's name. A bucket takes the tokens back, and
// the node's lease entry goes (its burst caps it at the next charge); a
// window takes back what was leased in it, and nothing once it has rolled
// over.
var returnScript = redis.NewScript(`
local kind, amount, start = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
if kind == 1 then
  local tk = tonumber(redis.call('HGET', KEYS[1], 'tk'))
  if tk ~= nil and redis.call('HDEL', KEYS[1], 'L:' .. ARGV[4]) == 1 then
    redis.call('HSET', KEYS[1], 'tk', string.format('%.17g', tk + amount))
  end
  return 0
end
local h = redis.call('HMGET', KEYS[1], 'st', 'u')
local st, u = tonumber(h[1]), tonumber(h[2])
if st ~= nil and st == start then
  u = math.max(u - amount, 0)
  redis.call('HSET', KEYS[1], 'u', string.format('%d', u))
end
return 0
`)

// forgetScript deletes every counter of a key. KEYS: the key's index.
var forgetScript = redis.NewScript(`
local ks = redis.call('SMEMBERS', KEYS[1])
for _, k in ipairs(ks) do redis.call('DEL', k) end
redis.call('DEL', KEYS[1])
return #ks
`)
