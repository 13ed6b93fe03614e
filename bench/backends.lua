-- wrk script for bench/backends.sh: each request posts one batch of SPANS experiment spans
-- with span ids no other request uses (thread number, request counter) to the span intake.
local counter = 0
local next_thread = 0

function setup(thread)
    next_thread = next_thread + 1
    thread:set("thread_id", next_thread)
end

function init(args)
    counter = 0
end

local spans = tonumber(os.getenv("SPANS") or "50")
local eid = os.getenv("EXPERIMENT_ID")
local did = os.getenv("DATASET_ID")
local run = os.getenv("RUN_TAG") or "r"

request = function()
    counter = counter + 1
    local parts = {}
    for k = 1, spans do
        local sid = string.format("%s%d%07d%03d", run, thread_id, counter, k)
        parts[k] = string.format(
            '{"trace_id":"6b011af80000000055617504a9c8ca26","span_id":"%s","parent_id":"undefined",' ..
            '"name":"t","start_ns":1795234552385000000,"duration":5,"status":"ok",' ..
            '"meta":{"span":{"kind":"experiment"},"input":{"q":"%s"},"output":"x"},"metrics":{},' ..
            '"tags":["experiment_id:%s","dataset_id:%s","dataset_record_id:r%s"],' ..
            '"_dd":{"scope":"experiments","span_id":"%s","trace_id":"x"}}',
            sid, sid, eid, did, sid, sid)
    end
    local body = '[{"_dd.stage":"raw","event_type":"span","_dd.scope":"experiments","spans":[' ..
        table.concat(parts, ",") .. ']}]'
    return wrk.format("POST", nil, nil, body)
end
