-- wrk script for tests/bench/ingest.sh: every request is a NEW contact at a
-- NEW version (a repeated body would only measure the duplicate path).
-- One request in TWENTY_EVERY is a pre-signed Twenty person.created (from
-- ingest_gen.py, one file per wrk thread) while they last; the others are
-- Supabase inserts built here from a template, authenticated by the shared
-- secret. Environment: BENCH_DIR (the generated files), SUPABASE_SECRET.
--
-- wrk shares the bench machine's two cores with the relay and Redis, so a
-- request costs as little Lua as possible: the placeholders have fixed
-- widths, so a Supabase request is its pre-built head and template pieces
-- joined around three formatted values (no wrk.format, no header table),
-- and a Twenty request is its pre-signed line spliced into a fixed head.

local TWENTY_EVERY = 3

local threads = 0
function setup(thread)
    threads = threads + 1
    thread:set("id", threads)
end

local pieces = {}   -- the Supabase template split at its placeholders
local order = {}    -- placeholder names in template order
local twenty = {}   -- lines "TS SIG BODY"
local next_twenty = 1
local counter = 0
local secret
local sb_head, tw_head  -- request heads, built on the first request

local function load_template(path)
    local f = assert(io.open(path, "rb"))
    local text = f:read("*a")
    f:close()
    local pos = 1
    while true do
        local s, e, name = text:find("@(%u+)@", pos)
        if not s then break end
        pieces[#pieces + 1] = text:sub(pos, s - 1)
        order[#order + 1] = name
        pos = e + 1
    end
    pieces[#pieces + 1] = text:sub(pos)
end

function init(args)
    local dir = assert(os.getenv("BENCH_DIR"), "BENCH_DIR not set")
    secret = assert(os.getenv("SUPABASE_SECRET"), "SUPABASE_SECRET not set")
    load_template(dir .. "/supabase.template")
    for line in io.lines(dir .. "/twenty." .. id) do
        twenty[#twenty + 1] = line
    end
end

-- Fixed-width values: every Supabase body has the same length.
local function values(n)
    return {
        ID = string.format("%08x-0000-4000-8000-%012x", id, n),
        CONTACT = string.format("BENCH-%02d-%010d", id, n),
        TS = string.format("2025-01-%02dT%02d:%02d:%02d.%06d+00:00",
            1 + math.floor(n / 86400000000) % 28, math.floor(n / 3600000000) % 24,
            math.floor(n / 60000000) % 60, math.floor(n / 1000000) % 60, n % 1000000),
    }
end

local function supabase_body(n)
    local v = values(n)
    local out = {pieces[1]}
    for i, name in ipairs(order) do
        out[#out + 1] = v[name]
        out[#out + 1] = pieces[i + 1]
    end
    return table.concat(out)
end

local function build_heads()
    local host = wrk.headers["Host"]
    sb_head = "POST /v1/webhooks/supabase HTTP/1.1\r\nHost: " .. host ..
        "\r\nContent-Type: application/json\r\nX-Syncrelay-Secret: " .. secret ..
        "\r\nContent-Length: " .. #supabase_body(0) .. "\r\n\r\n"
    tw_head = "POST /v1/webhooks/twenty HTTP/1.1\r\nHost: " .. host ..
        "\r\nContent-Type: application/json\r\nX-Twenty-Webhook-Timestamp: "
end

local function twenty_request(line)
    local sp1 = line:find(" ", 1, true)
    local sp2 = line:find(" ", sp1 + 1, true)
    return tw_head .. line:sub(1, sp1 - 1) .. "\r\nX-Twenty-Webhook-Signature: " ..
        line:sub(sp1 + 1, sp2 - 1) .. "\r\nContent-Length: " .. (#line - sp2) ..
        "\r\n\r\n" .. line:sub(sp2 + 1)
end

function request()
    if not sb_head then build_heads() end
    counter = counter + 1
    if counter % TWENTY_EVERY == 0 and next_twenty <= #twenty then
        local line = twenty[next_twenty]
        twenty[next_twenty] = nil
        next_twenty = next_twenty + 1
        return twenty_request(line)
    end
    local v = values(counter)
    local p = pieces
    if #order == 3 then -- the usual template: one concatenation
        return sb_head .. p[1] .. v[order[1]] .. p[2] .. v[order[2]] .. p[3] ..
            v[order[3]] .. p[4]
    end
    return sb_head .. supabase_body(counter)
end
