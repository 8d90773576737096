-- wrk script for tests/bench/ingest.sh: every request is a NEW contact at a
-- NEW version (a repeated body would only measure the duplicate path).
-- One request in TWENTY_EVERY is a pre-signed Twenty person.created (from
-- ingest_gen.py, one file per wrk thread) while they last; the others are
-- Supabase inserts built here from a template, authenticated by the shared
-- secret. Environment: BENCH_DIR (the generated files), SUPABASE_SECRET.

local TWENTY_EVERY = 3

local threads = 0
function setup(thread)
    threads = threads + 1
    thread:set("id", threads)
end

local parts = {}    -- template pieces; placeholders as {name}
local twenty = {}   -- lines "TS SIG BODY"
local next_twenty = 1
local counter = 0
local secret

local function load_template(path)
    local f = assert(io.open(path, "rb"))
    local text = f:read("*a")
    f:close()
    local pos = 1
    while true do
        local s, e, name = text:find("@(%u+)@", pos)
        if not s then break end
        parts[#parts + 1] = text:sub(pos, s - 1)
        parts[#parts + 1] = {name}
        pos = e + 1
    end
    parts[#parts + 1] = text:sub(pos)
end

function init(args)
    local dir = assert(os.getenv("BENCH_DIR"), "BENCH_DIR not set")
    secret = assert(os.getenv("SUPABASE_SECRET"), "SUPABASE_SECRET not set")
    load_template(dir .. "/supabase.template")
    for line in io.lines(dir .. "/twenty." .. id) do
        twenty[#twenty + 1] = line
    end
end

local function supabase_body()
    local n = counter
    local values = {
        ID = string.format("%08x-0000-4000-8000-%012x", id, n),
        CONTACT = string.format("BENCH-%d-%d", id, n),
        TS = string.format("2025-01-%02dT%02d:%02d:%02d.%06d+00:00",
            1 + math.floor(n / 86400000000) % 28, math.floor(n / 3600000000) % 24,
            math.floor(n / 60000000) % 60, math.floor(n / 1000000) % 60, n % 1000000),
    }
    local out = {}
    for i, p in ipairs(parts) do
        out[i] = type(p) == "table" and values[p[1]] or p
    end
    return table.concat(out)
end

function request()
    counter = counter + 1
    if counter % TWENTY_EVERY == 0 and next_twenty <= #twenty then
        local ts, sig, body = twenty[next_twenty]:match("^(%d+) (%x+) (.*)$")
        twenty[next_twenty] = nil
        next_twenty = next_twenty + 1
        return wrk.format("POST", "/v1/webhooks/twenty", {
            ["Content-Type"] = "application/json",
            ["X-Twenty-Webhook-Timestamp"] = ts,
            ["X-Twenty-Webhook-Signature"] = sig,
        }, body)
    end
    return wrk.format("POST", "/v1/webhooks/supabase", {
        ["Content-Type"] = "application/json",
        ["X-Syncrelay-Secret"] = secret,
    }, supabase_body())
end
