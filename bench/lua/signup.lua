-- POST /api/v1/users/ (sign-up), every email new.
-- Script arguments: a tag unique to this run, the password.
local threads = 0

function setup(thread)
   threads = threads + 1
   thread:set("number", threads)
end

local tag, password
local sent = 0

function init(args)
   tag, password = args[1], args[2]
end

function request()
   sent = sent + 1
   local body = string.format(
      '{"email":"signup-%s-%d-%d@bench.example.com","password":"%s","full_name":"Bench Signup"}',
      tag, number, sent, password)
   return wrk.format("POST", "/api/v1/users/", nil, body)
end
